//! How a console account is presented: the account row with its system role, its
//! extension profile and its role in its current group, read in one statement; and what
//! the account cache adds to it (the sessions the user ended).

use entity::roles::{GroupRole, SystemRole};
use entity::{account, account_extension, account_role, refresh_token};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// An account with everything its views show.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: account::Model,
    /// `None` when the account has no system role row (shown as `account_role: null`).
    pub role_type: Option<SystemRole>,
    pub extension: Option<account_extension::Model>,
    /// The account's role in its current enterprise group.
    pub group_role: Option<GroupRole>,
    /// Sessions (refresh families) the user ended whose access tokens may still be alive;
    /// filled by the account cache, which is what `session::authenticate` reads.
    pub ended_sessions: Vec<Uuid>,
}

impl AccountView {
    /// An account with the rows read beside it; `group_role` is the group the reader asks
    /// about (the current one, or the group whose members are listed).
    pub fn new(
        account: account::Model,
        role: Option<account_role::Model>,
        extension: Option<account_extension::Model>,
        group_role: Option<GroupRole>,
    ) -> Self {
        Self {
            role_type: role.map(|r| r.role_type),
            extension,
            group_role,
            ended_sessions: Vec::new(),
            account,
        }
    }
}

/// The views of the accounts `select` finds, in its order, in one statement: each account
/// with its system role, its extension and its current group membership (each at most
/// one, so the page's limit counts accounts).
pub async fn views_of(
    db: &DatabaseConnection,
    select: sea_orm::Select<account::Entity>,
) -> Result<Vec<AccountView>, DbErr> {
    let rows = select
        .find_also_linked(account::CurrentMembership)
        .find_also(account::Entity, account_role::Entity)
        .find_also(account::Entity, account_extension::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(account, member, role, extension)| {
            AccountView::new(account, role, extension, member.map(|m| m.group_role))
        })
        .collect())
}

/// The families of the account the user ended after `since`.
pub async fn ended_since<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    since: i64,
) -> Result<Vec<Uuid>, DbErr> {
    let rows = refresh_token::Entity::find()
        .filter(refresh_token::Column::AccountId.eq(account_id))
        .filter(refresh_token::Column::EndedAt.gt(since))
        .all(db)
        .await?;
    let mut families: Vec<Uuid> = rows.into_iter().map(|r| r.family).collect();
    families.sort_unstable();
    families.dedup();
    Ok(families)
}
