//! Admin-surface two-factor sign-in (TOTP, RFC 6238): a new secret and its QR code, turning
//! it on with a first code, single use of each code, turning it off, sealing stored secrets.

use super::{AdminUserError, Result, TOTP_ISSUER, User, UserCache, find_model, forget};

use entity::admin_user;
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter,
};

use crate::auth::sealed::Sealer;
use crate::clock::Clock;

fn totp(secret_b32: &str, account: &str) -> Option<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).ok()?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_issuer(Some(TOTP_ISSUER.to_string()))
        .with_account_name(account.to_string())
        .build()
        .ok()
}

/// The time step `code` belongs to, if it is the secret's code now (give or take a step).
pub(super) fn totp_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
    let t = totp(secret_b32, "user")?;
    if code.len() != 6 {
        return None;
    }
    let step = t.check(code, u64::try_from(now).unwrap_or(0))?;
    i64::try_from(step).ok()
}

/// SECURITY: a code works once (RFC 6238 §5.2). Moves the user's last accepted step to
/// `step` only if it is later, in one conditional statement, so a replayed code, an
/// earlier step's code, or a second request racing with the same code is refused.
pub(super) async fn spend_totp_step(db: &DatabaseConnection, id: i64, step: i64) -> Result<bool> {
    let moved = admin_user::Entity::update_many()
        .col_expr(admin_user::Column::OtpLastStep, Expr::value(step))
        .filter(admin_user::Column::Id.eq(id))
        .filter(admin_user::Column::OtpLastStep.lt(step))
        .exec(db)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// A new secret (160 bits, base32) and its QR code as a `data:` URL. Nothing is saved.
/// Refused while the user has 2FA on (see `verify_2fa`).
pub fn generate_2fa(user: &User) -> Result<(String, String)> {
    if user.otp {
        return Err(AdminUserError::TwoFactorEnabled);
    }
    let username = user.username.as_str();
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill(&mut bytes);
    let secret = totp_rs::Secret::from(bytes.to_vec()).to_base32();
    let account = if username.is_empty() {
        "user"
    } else {
        username
    };
    let t = totp(&secret, account).ok_or_else(|| AdminUserError::Totp("bad secret".into()))?;
    let png = t
        .to_qr_base64()
        .map_err(|e| AdminUserError::Totp(e.to_string()))?;
    Ok((format!("data:image/png;base64,{png}"), secret))
}

/// Saves `secret` as the user's 2FA secret when `code` matches it. The enrolment spends
/// the code's step, as a sign-in does.
///
/// SECURITY: a user who has 2FA on cannot replace the secret (AList: "2FA is already
/// enabled"): with a stolen token alone, a new secret would take the second factor over.
/// An administrator's `cancel_2fa` turns it off first.
pub async fn verify_2fa(
    db: &DatabaseConnection,
    users: &UserCache,
    clock: &dyn Clock,
    sealer: &Sealer,
    id: i64,
    code: &str,
    secret: &str,
) -> Result<()> {
    let old = find_model(db, id).await?;
    if !old.otp_secret.is_empty() {
        return Err(AdminUserError::TwoFactorEnabled);
    }
    let step = totp_step(secret, code, clock.now()).ok_or(AdminUserError::VerifyOtp)?;
    let username = old.username.clone();
    let mut active = old.into_active_model();
    active.otp_secret = Set(sealer
        .seal(secret, &otp_context(id))
        .map_err(|e| AdminUserError::Totp(e.to_string()))?);
    active.otp_last_step = Set(step);
    active.update(db).await?;
    forget(db, users, &[username]).await
}

/// The associated data a user's sealed TOTP secret is bound to: its own row.
pub(super) fn otp_context(id: i64) -> String {
    format!("admin_user:{id}:otp")
}

/// Seals every TOTP secret still stored in plain text (written before sealing existed);
/// the number sealed. Run at start-up; each row is written only if it is still the
/// plain value read, so instances starting together do not seal one twice.
pub async fn seal_plain_otp_secrets(db: &DatabaseConnection, sealer: &Sealer) -> Result<u64> {
    let rows = admin_user::Entity::find()
        .filter(admin_user::Column::OtpSecret.ne(""))
        .filter(admin_user::Column::OtpSecret.not_like("v1:%"))
        .all(db)
        .await?;
    let mut sealed = 0;
    for row in rows {
        let value = sealer
            .seal(&row.otp_secret, &otp_context(row.id))
            .map_err(|e| AdminUserError::Totp(e.to_string()))?;
        let done = admin_user::Entity::update_many()
            .col_expr(admin_user::Column::OtpSecret, Expr::value(value))
            .filter(admin_user::Column::Id.eq(row.id))
            .filter(admin_user::Column::OtpSecret.eq(row.otp_secret.as_str()))
            .exec(db)
            .await?;
        sealed += done.rows_affected;
    }
    Ok(sealed)
}

/// Clears the user's TOTP secret (idempotent), and drops the user from the cache.
pub async fn cancel_2fa(db: &DatabaseConnection, users: &UserCache, id: i64) -> Result<()> {
    let old = find_model(db, id).await?;
    let username = old.username.clone();
    let mut active = old.into_active_model();
    active.otp_secret = Set(String::new());
    active.update(db).await?;
    forget(db, users, &[username]).await
}
