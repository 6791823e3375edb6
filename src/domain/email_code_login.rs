//! Sign-in with a mailed code (Dify's `/email-code-login`), on the shared code engine
//! (`email_codes`): single use, expiry, Dify's send limit, the wrong-code limit, and the
//! same answer whether or not the address has an account.

use entity::roles::AccountStatus;
use std::net::IpAddr;

use entity::account;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};

use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::registration::{self, NewMember};
use crate::domain::session::{self, Client, Origin, SessionError, SignInMethod, TokenPair};
use crate::domain::settings::Settings;
use crate::mail::Mailer;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CodeLoginError {
    #[error("email code sign-in is disabled")]
    Disabled,
    #[error("account is banned")]
    Banned,
    #[error("no account has this email")]
    AccountNotFound,
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn enabled(settings: &Settings<'_>) -> Result<(), CodeLoginError> {
    if settings.features.enable_email_code_login {
        Ok(())
    } else {
        Err(CodeLoginError::Disabled)
    }
}

/// `POST /email-code-login`: mails a code to an active account, or to an address without
/// one when registration is open (the code then creates it). The answer is the token
/// either way, so it tells nothing about the address.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<String, CodeLoginError> {
    enabled(settings)?;
    let purpose = Purpose::Login;
    let issued = email_codes::issue(db, settings, now, purpose, email, language, client_ip).await?;
    let mailable = match &issued.account {
        Some(account) => account.status == AccountStatus::Active,
        None => settings.features.allow_register,
    };
    if mailable {
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

/// `POST /email-code-login/validity`: checks the code, spends the token, and signs the
/// account in (creating it first when the address has none and registration is open).
pub async fn sign_in(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    code: &str,
    token: &str,
    client: &Client,
) -> Result<TokenPair, CodeLoginError> {
    enabled(settings)?;
    crate::audit::attempted(email);
    let email = email_codes::check(db, settings, now, Purpose::Login, email, code, token).await?;
    let row = email_codes::verified(db, now, Purpose::Login, &email, token).await?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !email_codes::spend(write.conn(), row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    let found = account::Entity::find()
        .filter(account::Column::Email.eq(email.clone()))
        .one(write.conn())
        .await?;
    let account = match found {
        Some(account) if account.status == AccountStatus::Active => account,
        Some(account) if account.status == AccountStatus::Banned => {
            return Err(CodeLoginError::Banned);
        }
        // Pending accounts are set up through their invitation; closed ones not at all.
        Some(_) => return Err(CodeLoginError::AccountNotFound),
        None if settings.features.allow_register => {
            let created = registration::create_account(
                &mut write,
                NewMember {
                    email: &email,
                    name: &email,
                    password_hash: None,
                    language: &row.language,
                    now,
                },
            )
            .await;
            match created {
                Ok(account) => account,
                // Created concurrently by another sign-up: sign in again to use it.
                Err(err) if is_unique_violation(&err) => {
                    return Err(CodeError::InvalidToken.into());
                }
                Err(err) => return Err(err.into()),
            }
        }
        None => return Err(CodeLoginError::AccountNotFound),
    };
    let ip = client.ip.map(|ip| ip.to_string());
    write
        .update_account(account.id, |u| {
            u.col_expr(account::Column::LastLoginAt, Expr::value(now))
                .col_expr(account::Column::LastLoginIp, Expr::value(ip))
        })
        .await?;
    write.commit().await?;
    let origin = Origin::new(SignInMethod::EmailCode, client);
    Ok(session::start_session(db, settings, now, &account, &origin).await?)
}
