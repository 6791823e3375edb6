//! Forgot password: a code by mail, the code checked, a new password set. The code
//! mechanics are `email_codes`; this module adds what is particular to resetting.

use entity::roles::AccountStatus;
use std::net::IpAddr;

use entity::account;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};

use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::session::{self, SessionError, TokenPair};
use crate::domain::session::{Client, Origin, SignInMethod};
use crate::domain::settings::Settings;
use crate::domain::validate;
use crate::mail::Mailer;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("email and password sign-in is disabled")]
    Disabled,
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("{0}")]
    InvalidParam(String),
    #[error("the passwords do not match")]
    PasswordMismatch,
    #[error("account not found")]
    AccountNotFound,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn enabled(settings: &Settings<'_>) -> Result<(), ResetError> {
    if settings.features.enable_email_password_login {
        Ok(())
    } else {
        Err(ResetError::Disabled)
    }
}

/// `POST /forgot-password`: mails a code when the email has an account; the answer (the
/// token) is the same either way.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<String, ResetError> {
    enabled(settings)?;
    let purpose = Purpose::ResetPassword;
    let issued = email_codes::issue(db, settings, now, purpose, email, language, client_ip).await?;
    if issued.account.is_some() {
        let mail = email_codes::code_mail(
            purpose,
            &issued.email,
            issued.language,
            &issued.code,
            purpose.minutes(settings.auth),
        );
        email_codes::deliver(mailer, mail);
    }
    Ok(issued.token)
}

/// `POST /forgot-password/validity`.
pub async fn check(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    code: &str,
    token: &str,
) -> Result<String, ResetError> {
    enabled(settings)?;
    Ok(email_codes::check(
        db,
        settings,
        now,
        Purpose::ResetPassword,
        email,
        code,
        token,
    )
    .await?)
}

/// `POST /forgot-password/resets`: sets the password, ends every session of the account,
/// forgets its failed sign-ins, spends the token, and signs the account in.
pub async fn reset(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    token: &str,
    password: String,
    password_confirm: &str,
    client: &Client,
) -> Result<TokenPair, ResetError> {
    enabled(settings)?;
    validate::password(&password).map_err(ResetError::InvalidParam)?;
    if !crate::auth::tokens::secrets_equal(&password, password_confirm) {
        return Err(ResetError::PasswordMismatch);
    }
    let row = email_codes::verified(db, now, Purpose::ResetPassword, email, token).await?;
    let account = match row.account_id {
        Some(id) => account::Entity::find_by_id(id).one(db).await?,
        None => None,
    }
    .filter(|a| a.email == row.email && a.status == AccountStatus::Active)
    .ok_or(ResetError::AccountNotFound)?;
    let hash = hasher.hash(password).await?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !email_codes::spend(write.conn(), row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    write
        .edit_account(account.clone(), |row| {
            row.password_hash = Set(Some(hash));
            row.updated_at = Set(now);
        })
        .await?;
    write.end_all_sessions(account.id, now).await?;
    write.commit().await?;
    session::clear_lockout(db, &account.email).await?;
    let account = account::Entity::find_by_id(account.id)
        .one(db)
        .await?
        .ok_or(ResetError::AccountNotFound)?;
    let origin = Origin::new(SignInMethod::PasswordReset, client);
    Ok(session::start_session(db, settings, now, &account, &origin).await?)
}
