//! The sign-ins (sessions) a user sees and ends: one per refresh-token family, described by
//! its live token. Ending one revokes its refresh tokens and marks it ended; the account
//! cache then carries the ended family to every instance, so its access tokens stop at
//! their next request without a database read per request.

use std::collections::HashSet;

use entity::refresh_token;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::session::SignInMethod;

/// One active sign-in.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub id: Uuid,
    pub signed_in_at: i64,
    /// When its live refresh token was issued (the sign-in or its last refresh).
    pub last_used_at: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: SignInMethod,
}

/// The account's active sign-ins, newest first: each family's live (unused, unrevoked,
/// unexpired) refresh token.
pub async fn active(
    db: &DatabaseConnection,
    account_id: Uuid,
    now: i64,
) -> Result<Vec<SignIn>, DbErr> {
    let rows = refresh_token::Entity::find()
        .filter(refresh_token::Column::AccountId.eq(account_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(now))
        .order_by_desc(refresh_token::Column::SignedInAt)
        .order_by_desc(refresh_token::Column::CreatedAt)
        .all(db)
        .await?;
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.family))
        .map(|r| SignIn {
            id: r.family,
            signed_in_at: r.signed_in_at,
            last_used_at: r.created_at,
            client_ip: r.client_ip,
            user_agent: r.user_agent,
            method: SignInMethod::parse(&r.method),
        })
        .collect())
}

/// Ends the account's sign-ins `families` (all but `keep` when `families` is `None`);
/// the number ended. Their refresh tokens stop at once; their access tokens at their
/// next request, on every instance, once the account's cached view is dropped.
async fn end_where(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    account_id: Uuid,
    families: Option<&[Uuid]>,
    keep: Option<Uuid>,
) -> Result<u64, DbErr> {
    let mut write = AccountWrite::begin(db, accounts).await?;
    let ended = write.end_sign_ins(account_id, now, families, keep).await?;
    if ended > 0 {
        write.commit().await?;
    }
    // Else nothing changed: the transaction rolls back, and the call's refusal, if it is
    // one, is recorded by its layer.
    Ok(ended)
}

/// Ends one sign-in of the account; `false` when it has no such active sign-in.
pub async fn end(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    account_id: Uuid,
    family: Uuid,
) -> Result<bool, DbErr> {
    Ok(end_where(db, accounts, now, account_id, Some(&[family]), None).await? > 0)
}

/// Ends every sign-in of the account but `keep`.
pub async fn end_others(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    account_id: Uuid,
    keep: Uuid,
) -> Result<u64, DbErr> {
    end_where(db, accounts, now, account_id, None, Some(keep)).await
}
