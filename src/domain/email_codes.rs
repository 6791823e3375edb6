//! Emailed verification codes: the one mechanism behind forgot-password and
//! self-registration. No HTTP here.
//!
//! Sending a code returns an opaque token; the mail carries a 6-digit code. The row stores
//! the token's SHA-256 and the SHA-256 of `token:code`, so neither the token nor the code
//! can be read back from the database, and a code is only worth anything with its token.
//! A token lives in two phases: `code` until its code is checked, then `verified`, which
//! is what the final step (reset, finish) spends. Each step is a conditional UPDATE, so a
//! token moves forward once however many requests race for it.

use std::net::IpAddr;

use entity::{account, email_code};
use rand::Rng;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::auth::{attempts, tokens};
use crate::config::AuthConfig;
use crate::domain::settings::Settings;
use crate::domain::validate;
use crate::mail::Mail;
use crate::mail::Mailer;
use std::sync::Arc;

/// Wrong codes allowed for one email before it is locked for `FAILURE_WINDOW` (Dify: more
/// than 5 lock).
pub const FAILURE_LIMIT: u32 = 5;
/// How long wrong codes count against an email.
pub const FAILURE_WINDOW: i64 = 86_400;
/// One code per email per this many seconds.
const SEND_WINDOW: i64 = 60;

const PHASE_CODE: &str = "code";
const PHASE_VERIFIED: &str = "verified";

/// What a code is for. Each purpose has its own tokens, counters and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ResetPassword,
    Register,
    /// Sign-in with a mailed code (`/email-code-login`).
    Login,
    /// A change of e-mail, proving the current address.
    ChangeEmailOld,
    /// A change of e-mail, proving the new address.
    ChangeEmailNew,
    /// Deleting one's account.
    DeleteAccount,
    /// A workspace owner confirming an ownership transfer.
    OwnerTransfer,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset_password",
            Self::Register => "register",
            Self::Login => "email_code_login",
            Self::ChangeEmailOld => "change_email_old",
            Self::ChangeEmailNew => "change_email_new",
            Self::DeleteAccount => "delete_account",
            Self::OwnerTransfer => "owner_transfer",
        }
    }

    /// Codes one email may be sent per window: Dify allows one reset or registration mail
    /// a minute, and three sign-in mails per five minutes.
    fn send_limit(self) -> (i64, u32) {
        match self {
            Self::Login => (300, 3),
            _ => (SEND_WINDOW, 1),
        }
    }

    fn send_key(self, email: &str) -> String {
        format!("{}:send:{email}", self.as_str())
    }

    fn failure_key(self, email: &str) -> String {
        format!("{}:fail:{email}", self.as_str())
    }

    /// Seconds a token stays valid in each phase.
    fn lifetime(self, auth: &AuthConfig) -> i64 {
        let minutes = match self {
            Self::ResetPassword => auth.reset_password_token_expiry_minutes,
            Self::Register => auth.email_register_token_expiry_minutes,
            Self::Login => auth.email_code_login_token_expiry_minutes,
            // Dify's five minutes for these confirmations.
            Self::ChangeEmailOld
            | Self::ChangeEmailNew
            | Self::DeleteAccount
            | Self::OwnerTransfer => 5,
        };
        minutes.max(1) * 60
    }
}

fn ip_key(ip: Option<IpAddr>) -> String {
    format!(
        "mail:ip:{}",
        ip.map_or_else(|| "-".to_string(), |ip| ip.to_string())
    )
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("{0}")]
    InvalidParam(String),
    #[error("a code was sent to this email less than a minute ago")]
    SendRateLimited(Purpose),
    #[error("too many mails from this address")]
    AddressRateLimited,
    #[error("the token is invalid or has expired")]
    InvalidToken,
    #[error("the email does not match the token")]
    EmailMismatch,
    #[error("wrong code")]
    WrongCode,
    #[error("too many wrong codes for this email")]
    TooManyFailures(Purpose),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A code issued for an email: what the caller mails, and what the client gets back.
pub struct Issued {
    pub token: String,
    pub code: String,
    pub email: String,
    pub language: &'static str,
    /// The account with that email, if there is one.
    pub account: Option<account::Model>,
}

fn code_hash(token: &str, code: &str) -> String {
    tokens::token_hash(&format!("{token}:{code}"))
}

fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// Checks the limits, then stores a new token and code for `raw_email` (replacing any
/// earlier unspent one of the same purpose). The work is the same whether or not an
/// account has the email, so the answer cannot reveal it; the caller decides what to mail.
pub async fn issue(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    purpose: Purpose,
    raw_email: &str,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<Issued, CodeError> {
    let email = validate::email(raw_email).map_err(CodeError::InvalidParam)?;
    let (language, _) = validate::language(language);
    let language = if language == "zh-Hans" {
        "zh-Hans"
    } else {
        "en-US"
    };
    let sent_from_ip = attempts::record(db, &ip_key(client_ip), 60, now).await?;
    if sent_from_ip > settings.auth.email_send_ip_limit_per_minute {
        return Err(CodeError::AddressRateLimited);
    }
    let (window, limit) = purpose.send_limit();
    if attempts::record(db, &purpose.send_key(&email), window, now).await? > limit {
        return Err(CodeError::SendRateLimited(purpose));
    }
    let account = account::Entity::find()
        .filter(account::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    // One live token per email and purpose: a new code makes the earlier one useless.
    email_code::Entity::update_many()
        .col_expr(email_code::Column::UsedAt, Expr::value(now))
        .filter(email_code::Column::Purpose.eq(purpose.as_str()))
        .filter(email_code::Column::Email.eq(email.clone()))
        .filter(email_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let token = Uuid::new_v4().to_string();
    let code = new_code();
    email_code::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(tokens::token_hash(&token)),
        purpose: Set(purpose.as_str().to_string()),
        email: Set(email.clone()),
        account_id: Set(account.as_ref().map(|a| a.id)),
        code_hash: Set(code_hash(&token, &code)),
        phase: Set(PHASE_CODE.to_string()),
        language: Set(language.to_string()),
        expires_at: Set(now + purpose.lifetime(settings.auth)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Issued {
        token,
        code,
        email,
        language,
        account,
    })
}

/// Mails the code of `issued` to its address, in the background.
pub fn mail_code(
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    purpose: Purpose,
    issued: &Issued,
) {
    let mail = code_mail(
        purpose,
        &issued.email,
        issued.language,
        &issued.code,
        purpose.minutes(settings.auth),
    );
    deliver(mailer, mail);
}

/// A verified token of `purpose` that `account_id` asked for (with the address it went
/// to); anyone else's is refused as invalid.
pub async fn verified_for(
    db: &DatabaseConnection,
    now: i64,
    purpose: Purpose,
    token: &str,
    account_id: Uuid,
) -> Result<email_code::Model, CodeError> {
    live_for(db, now, purpose, token, PHASE_VERIFIED, account_id).await
}

/// A live token of `purpose` in `phase` that `account_id` asked for.
async fn live_for(
    db: &DatabaseConnection,
    now: i64,
    purpose: Purpose,
    token: &str,
    phase: &str,
    account_id: Uuid,
) -> Result<email_code::Model, CodeError> {
    let row = live(db, now, purpose, token, phase).await?;
    if row.account_id != Some(account_id) {
        return Err(CodeError::InvalidToken);
    }
    Ok(row)
}

/// Refuses (as an invalid token) a token of `purpose`, still waiting for its code, that
/// `account_id` did not ask for: checked before the code, so another account holding the
/// token cannot spend its check.
pub async fn ensure_owner(
    db: &DatabaseConnection,
    now: i64,
    purpose: Purpose,
    token: &str,
    account_id: Uuid,
) -> Result<(), CodeError> {
    live_for(db, now, purpose, token, PHASE_CODE, account_id)
        .await
        .map(drop)
}

/// Ties a just-issued token to `account_id` (the account acting, when the code goes to an
/// address that is not yet its own).
pub async fn bind(db: &DatabaseConnection, token: &str, account_id: Uuid) -> Result<(), DbErr> {
    email_code::Entity::update_many()
        .col_expr(email_code::Column::AccountId, Expr::value(Some(account_id)))
        .filter(email_code::Column::TokenHash.eq(tokens::token_hash(token)))
        .exec(db)
        .await?;
    Ok(())
}

/// Sends `mail` in the background: the answer does not wait for (or reveal) the mail
/// server, and a failure is logged without the message's content.
pub fn deliver(mailer: &Arc<dyn Mailer>, mail: Mail) {
    let mailer = mailer.clone();
    tokio::spawn(async move {
        if let Err(err) = mailer.send(&mail).await {
            tracing::warn!(error = %err, "verification mail not sent");
        }
    });
}

/// An unspent, unexpired token of `purpose` in `phase`.
async fn live(
    db: &DatabaseConnection,
    now: i64,
    purpose: Purpose,
    token: &str,
    phase: &str,
) -> Result<email_code::Model, CodeError> {
    email_code::Entity::find()
        .filter(email_code::Column::TokenHash.eq(tokens::token_hash(token)))
        .one(db)
        .await?
        .filter(|row| {
            row.purpose == purpose.as_str()
                && row.phase == phase
                && row.used_at.is_none()
                && row.expires_at > now
        })
        .ok_or(CodeError::InvalidToken)
}

/// Checks `code` against `token`. Wrong codes count against the email; past the limit
/// the email is locked for a day, right code or not. A right code moves the token to its
/// verified phase (it cannot be checked again) and returns the email.
pub async fn check(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    purpose: Purpose,
    raw_email: &str,
    code: &str,
    token: &str,
) -> Result<String, CodeError> {
    let email = validate::email(raw_email).map_err(CodeError::InvalidParam)?;
    let failure_key = purpose.failure_key(&email);
    // SECURITY: the guess takes its place in the counter before the code is compared, so
    // a burst of concurrent guesses is never compared past the limit (the place after the
    // last allowed failure answers "too many" and locks the email).
    let held = attempts::reserve(db, &failure_key, FAILURE_LIMIT + 1, FAILURE_WINDOW, now)
        .await?
        .ok_or(CodeError::TooManyFailures(purpose))?;
    let row = match live(db, now, purpose, token, PHASE_CODE).await {
        Ok(row) if row.email == email => row,
        // Not a guess at the code: the place goes back.
        found => {
            attempts::release(db, &[(failure_key.as_str(), held)]).await?;
            return Err(match found {
                Ok(_) => CodeError::EmailMismatch,
                Err(err) => err,
            });
        }
    };
    if !tokens::secrets_equal(&code_hash(token, code.trim()), &row.code_hash) {
        return Err(if held.count > FAILURE_LIMIT {
            CodeError::TooManyFailures(purpose)
        } else {
            CodeError::WrongCode
        });
    }
    let moved = email_code::Entity::update_many()
        .col_expr(email_code::Column::Phase, Expr::value(PHASE_VERIFIED))
        .col_expr(
            email_code::Column::ExpiresAt,
            Expr::value(now + purpose.lifetime(settings.auth)),
        )
        .filter(email_code::Column::Id.eq(row.id))
        .filter(email_code::Column::Phase.eq(PHASE_CODE))
        .filter(email_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Err(CodeError::InvalidToken);
    }
    attempts::clear(db, &failure_key).await?;
    Ok(email)
}

/// The verified token the final step needs, checked against the email sent with it. It
/// is not spent yet: the final step spends it with [`spend`] in its own transaction.
pub async fn verified(
    db: &DatabaseConnection,
    now: i64,
    purpose: Purpose,
    raw_email: &str,
    token: &str,
) -> Result<email_code::Model, CodeError> {
    let row = live(db, now, purpose, token, PHASE_VERIFIED).await?;
    let email = validate::email(raw_email).map_err(|_| CodeError::EmailMismatch)?;
    if row.email != email {
        return Err(CodeError::EmailMismatch);
    }
    Ok(row)
}

/// Spends a verified token: only one caller can, and only before it expires.
pub async fn spend<C: ConnectionTrait>(db: &C, id: Uuid, now: i64) -> Result<bool, DbErr> {
    let spent = email_code::Entity::update_many()
        .col_expr(email_code::Column::UsedAt, Expr::value(now))
        .filter(email_code::Column::Id.eq(id))
        .filter(email_code::Column::Phase.eq(PHASE_VERIFIED))
        .filter(email_code::Column::UsedAt.is_null())
        .filter(email_code::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(spent.rows_affected == 1)
}

/// The mail with a code, in `language` (zh-Hans or en-US).
pub fn code_mail(purpose: Purpose, to: &str, language: &str, code: &str, minutes: i64) -> Mail {
    let (subject, body) = match (purpose, language) {
        (Purpose::ResetPassword, "zh-Hans") => (
            "重置您的密码".to_string(),
            format!(
                "您的验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果您没有申请重置密码，请忽略此邮件。\n"
            ),
        ),
        (Purpose::ResetPassword, _) => (
            "Reset your password".to_string(),
            format!(
                "Your verification code is: {code}\n\nIt is valid for {minutes} minutes. If you did not ask to reset your password, ignore this mail.\n"
            ),
        ),
        (Purpose::Register, "zh-Hans") => (
            "注册您的账户".to_string(),
            format!(
                "您的验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果您没有申请注册，请忽略此邮件。\n"
            ),
        ),
        (Purpose::Register, _) => (
            "Create your account".to_string(),
            format!(
                "Your verification code is: {code}\n\nIt is valid for {minutes} minutes. If you did not ask to create an account, ignore this mail.\n"
            ),
        ),
        (Purpose::Login, "zh-Hans") => (
            "登录验证码".to_string(),
            format!(
                "您的登录验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果不是您本人在登录，请忽略此邮件。\n"
            ),
        ),
        (Purpose::ChangeEmailOld | Purpose::ChangeEmailNew, "zh-Hans") => (
            "更改您的邮箱".to_string(),
            format!(
                "您的验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果您没有申请更改邮箱，请忽略此邮件。\n"
            ),
        ),
        (Purpose::ChangeEmailOld | Purpose::ChangeEmailNew, _) => (
            "Change your e-mail".to_string(),
            format!(
                "Your verification code is: {code}\n\nIt is valid for {minutes} minutes. If you did not ask to change your e-mail, ignore this mail.\n"
            ),
        ),
        (Purpose::DeleteAccount, "zh-Hans") => (
            "删除您的账户".to_string(),
            format!(
                "您的验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果您没有申请删除账户，请立即修改密码。\n"
            ),
        ),
        (Purpose::DeleteAccount, _) => (
            "Delete your account".to_string(),
            format!(
                "Your verification code is: {code}\n\nIt is valid for {minutes} minutes. If you did not ask to delete your account, change your password now.\n"
            ),
        ),
        (Purpose::OwnerTransfer, "zh-Hans") => (
            "转让工作空间所有权".to_string(),
            format!(
                "您的验证码是：{code}\n\n验证码 {minutes} 分钟内有效。如果您没有申请转让所有权，请立即修改密码。\n"
            ),
        ),
        (Purpose::OwnerTransfer, _) => (
            "Transfer your workspace".to_string(),
            format!(
                "Your verification code is: {code}\n\nIt is valid for {minutes} minutes. If you did not ask to transfer your workspace, change your password now.\n"
            ),
        ),
        (Purpose::Login, _) => (
            "Your sign-in code".to_string(),
            format!(
                "Your sign-in code is: {code}\n\nIt is valid for {minutes} minutes. If you are not signing in, ignore this mail.\n"
            ),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        body,
    }
}

/// The mail a registration attempt for an existing account gets: no code, a pointer to
/// signing in and resetting the password instead.
pub fn already_registered_mail(to: &str, language: &str) -> Mail {
    let (subject, body) = if language == "zh-Hans" {
        (
            "您已经拥有账户",
            "有人（可能是您）尝试用此邮箱注册。此邮箱已经拥有账户，请直接登录；如果忘记了密码，可以在登录页重置。\n",
        )
    } else {
        (
            "You already have an account",
            "Someone (probably you) tried to register with this email. It already has an account: sign in instead, or reset your password from the sign-in page if you forgot it.\n",
        )
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        body: body.to_string(),
    }
}

impl Purpose {
    /// Minutes a code is valid, for the mail's text.
    pub fn minutes(self, auth: &AuthConfig) -> i64 {
        self.lifetime(auth) / 60
    }
}
