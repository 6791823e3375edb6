//! A signed-in user's changes to their own account: name, avatar, language, theme,
//! timezone and password. Every change drops the account's cached view on every instance
//! before it returns.

use entity::{account, refresh_token};
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_views::AccountView;
use crate::domain::account_writes::AccountWrite;
use crate::domain::session::{
    self, Client, Origin, Session, SessionError, SignInMethod, TokenPair,
};
use crate::domain::settings::Settings;
use crate::domain::validate;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    InvalidParam(String),
    #[error("the current password is incorrect")]
    CurrentPasswordIncorrect,
    #[error("the new password and its repeat differ")]
    RepeatMismatch,
    #[error("the account is gone")]
    AccountGone,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// One field of the caller's own profile.
#[derive(Debug, Clone)]
pub enum Change<'a> {
    Name(&'a str),
    /// Empty clears it.
    Avatar(&'a str),
    InterfaceLanguage(&'a str),
    /// `light` or `dark` (the contract's enum).
    InterfaceTheme(&'a str),
    Timezone(&'a str),
}

/// Applies `change` to account `id` and returns its fresh view.
pub async fn update(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    id: Uuid,
    change: Change<'_>,
) -> Result<AccountView, ProfileError> {
    let invalid = ProfileError::InvalidParam;
    let (column, value) = match change {
        Change::Name(name) => (
            account::Column::Name,
            Some(validate::name(name, 30).map_err(invalid)?),
        ),
        Change::Avatar(avatar) => (
            account::Column::Avatar,
            Some(avatar.trim().to_string()).filter(|a| !a.is_empty()),
        ),
        Change::InterfaceLanguage(language) => (
            account::Column::InterfaceLanguage,
            Some(
                validate::known_language(language)
                    .map_err(invalid)?
                    .to_string(),
            ),
        ),
        Change::InterfaceTheme(theme) => (account::Column::InterfaceTheme, Some(theme.to_string())),
        Change::Timezone(timezone) => (
            account::Column::Timezone,
            Some(validate::timezone(timezone).map_err(invalid)?),
        ),
    };
    let mut write = AccountWrite::begin(db, accounts).await?;
    write
        .update_account(id, |u| {
            u.col_expr(column, Expr::value(value))
                .col_expr(account::Column::UpdatedAt, Expr::value(now))
        })
        .await?;
    write.commit().await?;
    let view = accounts
        .view(db, id)
        .await?
        .ok_or(ProfileError::AccountGone)?;
    Ok((*view).clone())
}

/// `POST /account/password`: checks the current password (against the sign-in limits),
/// sets the new one, ends every session of the account, and continues the caller's
/// session with a fresh pair. An account without a password (signed up through GitHub or
/// Google) sets its first one without a current password, as Dify allows.
pub async fn change_password(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    current: String,
    new: String,
    repeat: &str,
    client: &Client,
) -> Result<TokenPair, ProfileError> {
    validate::password(&new).map_err(ProfileError::InvalidParam)?;
    if !crate::auth::tokens::secrets_equal(&new, repeat) {
        return Err(ProfileError::RepeatMismatch);
    }
    let email = caller.account.email.as_str();
    if caller.account.password_hash.is_some() {
        match session::verify_password(db, hasher, settings, now, email, current, client.ip).await {
            Ok(()) => {}
            Err(SessionError::BadCredentials) => {
                return Err(ProfileError::CurrentPasswordIncorrect);
            }
            Err(err) => return Err(err.into()),
        }
    }
    let hash = hasher.hash(new).await?;
    // The caller's sign-in goes on under its id, with the details it began with.
    let live = refresh_token::Entity::find()
        .filter(refresh_token::Column::Family.eq(caller.family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .order_by_desc(refresh_token::Column::CreatedAt)
        .one(db)
        .await?;
    let (origin, signed_in_at) = match &live {
        Some(row) => (session::origin_of(row), row.signed_in_at),
        None => (Origin::new(SignInMethod::Password, client), now),
    };
    let mut write = AccountWrite::begin(db, accounts).await?;
    write
        .update_account(caller.account.id, |u| {
            u.col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
                .col_expr(
                    account::Column::TokenVersion,
                    Expr::col(account::Column::TokenVersion).add(1),
                )
                .col_expr(account::Column::UpdatedAt, Expr::value(now))
        })
        .await?;
    write.revoke_refresh_tokens(caller.account.id, now).await?;
    let account = account::Entity::find_by_id(caller.account.id)
        .one(write.conn())
        .await?
        .ok_or(ProfileError::AccountGone)?;
    let pair = session::start_family(
        settings,
        now,
        write.conn(),
        &account,
        caller.family,
        &origin,
        signed_in_at,
    )
    .await?;
    write.commit().await?;
    Ok(pair)
}
