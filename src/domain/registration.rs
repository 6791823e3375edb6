//! Self-registration: a code by mail, the code checked, the account created with its own
//! workspace. The code mechanics are `email_codes`; social sign-up creates its accounts
//! with [`create_account`] too.

use entity::roles::{AccountStatus, SystemRole};
use std::net::IpAddr;

use entity::account;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::{AccountWrite, NewAccount};
use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::session::{self, SessionError, TokenPair};
use crate::domain::session::{Client, Origin, SignInMethod};
use crate::domain::settings::Settings;
use crate::domain::{validate, workspaces};
use crate::mail::Mailer;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("registration is closed")]
    Closed,
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("{0}")]
    InvalidParam(String),
    #[error("the passwords do not match")]
    PasswordMismatch,
    #[error("the email already has an account")]
    EmailInUse,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn open(settings: &Settings<'_>) -> Result<(), RegisterError> {
    if settings.features.allow_register {
        Ok(())
    } else {
        Err(RegisterError::Closed)
    }
}

/// What a self-made account starts with.
pub struct NewMember<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: Option<String>,
    pub language: &'a str,
    pub now: i64,
}

/// Creates an active account with system role `normal` and its own workspace (owner).
/// A taken email fails on the unique index, so concurrent sign-ups make one account.
pub async fn create_account(
    write: &mut AccountWrite<'_>,
    member: NewMember<'_>,
) -> Result<account::Model, DbErr> {
    let (language, timezone) = validate::language(Some(member.language));
    let account = write
        .create_account(NewAccount {
            id: Uuid::now_v7(),
            email: member.email,
            name: member.name,
            password_hash: member.password_hash,
            language,
            timezone,
            status: AccountStatus::Active,
            system_role: Some(SystemRole::Normal),
            now: member.now,
        })
        .await?;
    workspaces::create_owned(
        write.conn(),
        account.id,
        &format!("{}'s Workspace", member.name),
        None,
        member.now,
    )
    .await?;
    Ok(account)
}

/// `POST /register`: mails a code, or, when the email already has an account, a mail
/// saying so without a code. The answer is the same either way.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<String, RegisterError> {
    open(settings)?;
    let purpose = Purpose::Register;
    let issued = email_codes::issue(db, settings, now, purpose, email, language, client_ip).await?;
    let mail = if issued.account.is_some() {
        email_codes::already_registered_mail(&issued.email, issued.language)
    } else {
        email_codes::code_mail(
            purpose,
            &issued.email,
            issued.language,
            &issued.code,
            purpose.minutes(settings.auth),
        )
    };
    email_codes::deliver(mailer, mail);
    Ok(issued.token)
}

/// `POST /register/validity`.
pub async fn check(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    code: &str,
    token: &str,
) -> Result<String, RegisterError> {
    open(settings)?;
    Ok(email_codes::check(db, settings, now, Purpose::Register, email, code, token).await?)
}

pub struct Finish<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub password: String,
    pub password_confirm: &'a str,
    pub token: &'a str,
}

/// `POST /register/finish`: creates the account and its workspace, spends the token, and
/// signs the account in.
pub async fn finish(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    input: Finish<'_>,
    client: &Client,
) -> Result<TokenPair, RegisterError> {
    open(settings)?;
    validate::password(&input.password).map_err(RegisterError::InvalidParam)?;
    if !crate::auth::tokens::secrets_equal(&input.password, input.password_confirm) {
        return Err(RegisterError::PasswordMismatch);
    }
    let row = email_codes::verified(db, now, Purpose::Register, input.email, input.token).await?;
    let name = validate::name(input.name.unwrap_or(&row.email), 255)
        .map_err(RegisterError::InvalidParam)?;
    let taken = account::Entity::find()
        .filter(account::Column::Email.eq(row.email.clone()))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(RegisterError::EmailInUse);
    }
    let hash = hasher.hash(input.password).await?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !email_codes::spend(write.conn(), row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    let created = create_account(
        &mut write,
        NewMember {
            email: &row.email,
            name: &name,
            password_hash: Some(hash),
            language: &row.language,
            now,
        },
    )
    .await;
    let account = match created {
        Ok(a) => a,
        Err(err) if is_unique_violation(&err) => return Err(RegisterError::EmailInUse),
        Err(err) => return Err(err.into()),
    };
    crate::audit::account(account.id, &account.email);
    crate::audit::target("account", account.id);
    write.commit().await?;
    let origin = Origin::new(SignInMethod::Registration, client);
    Ok(session::start_session(db, settings, now, &account, &origin).await?)
}
