//! Changing the e-mail one signs in with (Dify 1.x's `/account/change-email`): a code to
//! the current address, then a code to the new one, then the change. Each step's token
//! belongs to the account that asked for it.

use std::net::IpAddr;

use entity::account;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_views::AccountView;
use crate::domain::account_writes::AccountWrite;
use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::session::Session;
use crate::domain::settings::Settings;
use crate::domain::validate;
use crate::mail::Mail;
use crate::mail::Mailer;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("the email is already in use")]
    InUse,
    #[error("the account is gone")]
    AccountGone,
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Which address a send is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Old,
    New,
}

/// 400 `email_already_in_use` when an account has `email`.
pub async fn ensure_unused(db: &DatabaseConnection, raw: &str) -> Result<String, EmailChangeError> {
    let email = validate::email(raw).map_err(EmailChangeError::InvalidEmail)?;
    let taken = account::Entity::find()
        .filter(account::Column::Email.eq(email.clone()))
        .count(db)
        .await?
        > 0;
    if taken {
        Err(EmailChangeError::InUse)
    } else {
        Ok(email)
    }
}

/// `POST /account/change-email`: mails a code to the current address (`Old`) or, with the
/// checked token of that phase, to the new one (`New`). The token to check it with.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    phase: Phase,
    raw_email: &str,
    old_token: Option<&str>,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<String, EmailChangeError> {
    let purpose = match phase {
        Phase::Old => {
            let email = validate::email(raw_email).map_err(EmailChangeError::InvalidEmail)?;
            if email != caller.account.email {
                return Err(EmailChangeError::InvalidEmail(
                    "This is not your current e-mail.".into(),
                ));
            }
            Purpose::ChangeEmailOld
        }
        Phase::New => {
            let token = old_token.ok_or(CodeError::InvalidToken)?;
            email_codes::verified_for(db, now, Purpose::ChangeEmailOld, token, caller.account.id)
                .await?;
            ensure_unused(db, raw_email).await?;
            Purpose::ChangeEmailNew
        }
    };
    let issued =
        email_codes::issue(db, settings, now, purpose, raw_email, language, client_ip).await?;
    // The current address's code is already the caller's (`issue` finds its account); the
    // new address has none, so its code is tied to the caller here.
    if phase == Phase::New {
        email_codes::bind(db, &issued.token, caller.account.id).await?;
    }
    email_codes::mail_code(mailer, settings, purpose, &issued);
    Ok(issued.token)
}

/// `POST /account/change-email/validity`: checks a code of either phase.
pub async fn check(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    raw_email: &str,
    code: &str,
    token: &str,
) -> Result<String, EmailChangeError> {
    let email = validate::email(raw_email).map_err(EmailChangeError::InvalidEmail)?;
    let purpose = if email == caller.account.email {
        Purpose::ChangeEmailOld
    } else {
        Purpose::ChangeEmailNew
    };
    email_codes::ensure_owner(db, now, purpose, token, caller.account.id).await?;
    Ok(email_codes::check(db, settings, now, purpose, &email, code, token).await?)
}

/// `POST /account/change-email/reset`: the change itself; a notice goes to the old address.
pub async fn reset(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    mailer: &Arc<dyn Mailer>,
    now: i64,
    caller: &Session,
    raw_new: &str,
    token: &str,
) -> Result<AccountView, EmailChangeError> {
    let new = ensure_unused(db, raw_new).await?;
    let row = email_codes::verified_for(db, now, Purpose::ChangeEmailNew, token, caller.account.id)
        .await?;
    if row.email != new {
        return Err(EmailChangeError::InvalidEmail(
            "The token was not sent to this e-mail.".into(),
        ));
    }
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !email_codes::spend(write.conn(), row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    let changed = write
        .update_account(caller.account.id, |u| {
            u.col_expr(account::Column::Email, Expr::value(new.clone()))
                .col_expr(account::Column::UpdatedAt, Expr::value(now))
        })
        .await;
    match changed {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => return Err(EmailChangeError::InUse),
        Err(err) => return Err(err.into()),
    }
    write.commit().await?;
    email_codes::deliver(
        mailer,
        Mail {
            to: caller.account.email.clone(),
            subject: "Your e-mail was changed".to_string(),
            body: format!(
                "The e-mail you sign in with was changed to {new}. If you did not do this, reset your password at once and contact your administrator.\n"
            ),
        },
    );
    let view = accounts
        .view(db, caller.account.id)
        .await?
        .ok_or(EmailChangeError::AccountGone)?;
    Ok((*view).clone())
}
