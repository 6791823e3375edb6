//! Admin-surface sign-in: the user behind a token (through the cache), and the login
//! with its per-address lockout, password check and TOTP.

use super::two_factor::{otp_context, spend_totp_step, totp_step};
use super::{
    AdminUserError, LOGIN_FAILURE_WINDOW, LOGIN_LOCK_SECONDS, LOGIN_MAX_FAILURES, Result, User,
    UserCache, find_by_username,
};

use entity::admin_user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::auth::attempts;
use crate::auth::password::PasswordHasher;
use crate::auth::sealed::Sealer;
use crate::clock::Clock;

/// The user a token names, through the cache.
pub async fn cached_user(
    db: &DatabaseConnection,
    cache: &UserCache,
    username: &str,
) -> Result<Option<User>> {
    if let Some(u) = cache.get(username) {
        return Ok(Some(u));
    }
    let load = cache.start_load(username);
    let user = find_by_username(db, username).await?;
    if let Some(u) = &user {
        load.finish(u.clone());
    }
    Ok(user)
}

pub struct Login<'a> {
    pub username: &'a str,
    /// AList's static client hash of the password.
    pub password_hash: &'a str,
    pub otp_code: Option<&'a str>,
    /// The client's address, for the lockout counter.
    pub client: &'a str,
}

fn fail_key(client: &str) -> String {
    format!("admin-login:fail:{client}")
}

/// Signs in: lockout check, password, TOTP. Counts failures per client address (AList
/// has no per-username limit, so nobody can lock another address out).
///
/// The attempt takes its place among the allowed failures before the password is hashed,
/// so a burst of concurrent guesses on any number of instances gets at most
/// `LOGIN_MAX_FAILURES` evaluated; the others are refused as a lockout. The lockout is
/// the full window itself, held for `LOGIN_LOCK_SECONDS` after the failure that filled
/// it: every guess that took a place before it is still evaluated, and none after it
/// gets one.
pub async fn login(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    sealer: &Sealer,
    req: Login<'_>,
) -> Result<User> {
    let now = clock.now();
    crate::audit::attempted(req.username);
    let fail = fail_key(req.client);
    // A window that ends `LOGIN_LOCK_SECONDS` from now.
    let locked_from = now - LOGIN_FAILURE_WINDOW + LOGIN_LOCK_SECONDS;
    let Some(slot) =
        attempts::reserve(db, &fail, LOGIN_MAX_FAILURES, LOGIN_FAILURE_WINDOW, now).await?
    else {
        // Locked out, or every allowed failure is taken by guesses still being checked;
        // either way each refused attempt starts the lockout again.
        attempts::hold_window(db, &fail, locked_from).await?;
        return Err(AdminUserError::LockedOut);
    };
    let outcome = check_credentials(db, hasher, sealer, now, &req).await;
    match &outcome {
        // A failure keeps its place; the last allowed one locks.
        Err(AdminUserError::InvalidCredentials | AdminUserError::LoginOtp) => {
            if slot.count >= LOGIN_MAX_FAILURES {
                attempts::hold_window(db, &fail, locked_from).await?;
            }
        }
        Ok(_) => attempts::clear(db, &fail).await?,
        // Not a guess that failed (a disabled user, an error): the place goes back.
        Err(_) => attempts::release(db, &[(&fail, slot)]).await?,
    }
    outcome
}

async fn check_credentials(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    sealer: &Sealer,
    now: i64,
    req: &Login<'_>,
) -> Result<User> {
    let model = admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq(req.username))
        .one(db)
        .await?;
    // An unknown username costs what a wrong password costs, so timing cannot tell
    // which usernames exist (AList answers those at once).
    let matches = hasher
        .verify_stored(
            req.password_hash.to_string(),
            model.as_ref().map(|m| m.password_hash.clone()),
        )
        .await?;
    let Some(model) = model.filter(|_| matches && !req.password_hash.is_empty()) else {
        return Err(AdminUserError::InvalidCredentials);
    };
    if model.disabled {
        return Err(AdminUserError::Disabled);
    }
    if !model.otp_secret.is_empty() {
        let code = req.otp_code.unwrap_or_default();
        let secret = sealer
            .open(&model.otp_secret, &otp_context(model.id))
            .map_err(|e| AdminUserError::Totp(e.to_string()))?;
        let step = totp_step(&secret, code, now).ok_or(AdminUserError::LoginOtp)?;
        if !spend_totp_step(db, model.id, step).await? {
            return Err(AdminUserError::LoginOtp);
        }
    }
    crate::audit::actor(crate::audit::Actor::AdminUser {
        id: model.id,
        username: model.username.clone(),
    });
    Ok(model.into())
}
