//! Console accounts: how one is presented (with its system role, extension profile and
//! role in its current group) and how an administrator registers one.

use entity::{account, account_extension, account_role, group_member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::password::HashError;
use crate::domain::validate;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0}")]
    InvalidParam(String),
    #[error("email already exists")]
    EmailExists,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// An account with everything its views show.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: account::Model,
    /// `None` when the account has no system role row (shown as `account_role: null`).
    pub role_type: Option<String>,
    pub extension: Option<account_extension::Model>,
    /// The account's role in its current enterprise group.
    pub group_role: Option<String>,
}

pub async fn view(db: &DatabaseConnection, account: account::Model) -> Result<AccountView, DbErr> {
    let role_type = account_role::Entity::find_by_id(account.id)
        .one(db)
        .await?
        .map(|r| r.role_type);
    let extension = account_extension::Entity::find_by_id(account.id)
        .one(db)
        .await?;
    let group_role = group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account.id))
        .filter(group_member::Column::Current.eq(true))
        .one(db)
        .await?
        .map(|m| m.group_role);
    Ok(AccountView {
        account,
        role_type,
        extension,
        group_role,
    })
}

/// `POST /account/register`: an administrator creates an active account with the system
/// role `normal`.
pub async fn register(
    state: &AppState,
    email: &str,
    name: &str,
    password: String,
) -> Result<Uuid, AccountError> {
    let email = validate::email(email).map_err(AccountError::InvalidEmail)?;
    let name = validate::name(name, 255).map_err(AccountError::InvalidParam)?;
    validate::password(&password).map_err(AccountError::InvalidParam)?;
    let db = &state.db;
    let taken = account::Entity::find()
        .filter(account::Column::Email.eq(email.clone()))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AccountError::EmailExists);
    }
    let hash = state.hasher.hash(password).await?;
    let (language, timezone) = validate::language(None);
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let txn = db.begin().await?;
    let inserted = account::ActiveModel {
        id: Set(id),
        email: Set(email),
        name: Set(name),
        password_hash: Set(Some(hash)),
        avatar: Set(None),
        interface_language: Set(language.to_string()),
        interface_theme: Set("light".to_string()),
        timezone: Set(timezone.to_string()),
        status: Set("active".to_string()),
        last_login_at: Set(None),
        last_login_ip: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        initialized_at: Set(Some(now)),
        token_version: Set(0),
    }
    .insert(&txn)
    .await;
    if let Err(err) = inserted {
        // Two registrations of one email at once: the unique index decides.
        return Err(match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => AccountError::EmailExists,
            _ => AccountError::Db(err),
        });
    }
    account_role::ActiveModel {
        account_id: Set(id),
        role_type: Set("normal".to_string()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(id)
}
