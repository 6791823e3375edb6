//! Users of the AList-compatible admin surface: bootstrap, CRUD with AList's rules, sign-in
//! (AList's static client hash under argon2id, per-IP lockout, TOTP), tokens (HS256 JWT),
//! and SSH public keys. No HTTP here: each failure is an [`AdminUserError`], which the
//! admin surface maps to its envelope.

use std::sync::Arc;

use entity::{admin_revoked_token, admin_ssh_key, admin_user};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::Rng;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::attempts;
use crate::auth::password::{HashError, PasswordHasher};
use crate::auth::sealed::Sealer;
use crate::auth::tokens::{self, token_hash};
use crate::cache::KeyedCache;
use crate::clock::Clock;
use crate::db::is_unique_violation;

pub const ROLE_GENERAL: i32 = 0;
pub const ROLE_GUEST: i32 = 1;
pub const ROLE_ADMIN: i32 = 2;
/// The first admin's permission mask (OpenList's bootstrap value).
pub const ADMIN_PERMISSION: i32 = 0x71FF;
/// AList's fixed suffix of the static client hash.
pub const STATIC_HASH_SUFFIX: &str = "-https://github.com/alist-org/alist";
/// Failed sign-ins from one address before it is locked out.
pub const LOGIN_MAX_FAILURES: u32 = 5;
/// How long a lockout lasts; every refused attempt starts it again.
pub const LOGIN_LOCK_SECONDS: i64 = 300;
/// Window in which failures are counted towards a lockout.
pub const LOGIN_FAILURE_WINDOW: i64 = 3600;
/// How long a cached user is served before it is read again.
pub const USER_CACHE_TTL: i64 = 3600;
/// The `NOTIFY` channel of the user cache.
pub const USER_CACHE_CHANNEL: &str = "admin_user_cache";
/// The issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "OpenList";

#[derive(Debug, thiserror::Error)]
pub enum AdminUserError {
    #[error("user not found")]
    NotFound,
    #[error("username already exists")]
    UsernameTaken,
    #[error("admin or guest user can not be created")]
    AdminOrGuestCreate,
    #[error("role can not be changed")]
    RoleChanged,
    #[error("admin user can not be disabled")]
    AdminDisabled,
    #[error("cannot delete admin or guest")]
    DeleteAdminOrGuest,
    #[error("username is empty")]
    UsernameEmpty,
    #[error("user invalid")]
    UserInvalid,
    #[error("Invalid username or password")]
    InvalidCredentials,
    #[error("Current user is disabled, replace please")]
    Disabled,
    #[error(
        "Too many unsuccessful sign-in attempts have been made using an incorrect username or password, Try again later."
    )]
    LockedOut,
    /// A sign-in whose TOTP code is missing or wrong (402).
    #[error("Invalid 2FA code")]
    LoginOtp,
    /// A 2FA verification whose code is wrong (400).
    #[error("Invalid 2FA code")]
    VerifyOtp,
    /// Generating or verifying a secret while one is set (400).
    #[error("2FA is already enabled")]
    TwoFactorEnabled,
    #[error("request invalid")]
    TitleEmpty,
    #[error("key with the same title already exists")]
    DuplicateKeyTitle,
    #[error("provided key invalid")]
    KeyInvalid,
    #[error("failed to get public key")]
    KeyNotFound,
    #[error("token: {0}")]
    Token(String),
    #[error("two-factor set-up failed: {0}")]
    Totp(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

type Result<T, E = AdminUserError> = std::result::Result<T, E>;

/// A user as requests see it: no password hash, no TOTP secret (only whether one is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub pwd_ts: i64,
    pub base_path: String,
    pub role: i32,
    pub disabled: bool,
    pub permission: i32,
    pub sso_id: String,
    pub otp: bool,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == ROLE_ADMIN
    }
    pub fn is_guest(&self) -> bool {
        self.role == ROLE_GUEST
    }
}

impl From<admin_user::Model> for User {
    fn from(m: admin_user::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            pwd_ts: m.pwd_ts,
            base_path: m.base_path,
            role: m.role,
            disabled: m.disabled,
            permission: m.permission,
            sso_id: m.sso_id,
            otp: !m.otp_secret.is_empty(),
        }
    }
}

/// The users cache: recently used users by username, dropped on every instance on change.
pub type UserCache = KeyedCache<User>;

pub fn new_user_cache(clock: Arc<dyn Clock>) -> UserCache {
    KeyedCache::new(USER_CACHE_CHANNEL, USER_CACHE_TTL, clock)
}

/// AList's static client hash: lower-case hex SHA-256 of the password and the fixed suffix.
pub fn static_hash(password: &str) -> String {
    hex::encode(Sha256::digest(format!("{password}{STATIC_HASH_SUFFIX}")))
}

/// AList's `FixAndCleanPath`: `\` to `/`, a leading `/`, then `path.Clean`.
pub fn normalize_base_path(raw: &str) -> String {
    let replaced = raw.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for seg in replaced.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A password timestamp that differs from `old` even within one second.
fn next_pwd_ts(old: i64, now: i64) -> i64 {
    now.max(old + 1)
}

async fn hash_password(hasher: &PasswordHasher, password: &str) -> Result<String> {
    Ok(hasher.hash(static_hash(password)).await?)
}

/// What a new user's password is stored as. SECURITY: no password is no password sign-in
/// (the stored `""` matches nothing, as the guest's), not a sign-in with `""`.
async fn stored_password(hasher: &PasswordHasher, password: &str) -> Result<String> {
    if password.is_empty() {
        return Ok(String::new());
    }
    hash_password(hasher, password).await
}

/// A random 12-character password of letters and digits (AList uses 8) for the first admin.
pub fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..12)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// On an empty users table: creates `admin` (with `admin_password`, else a random one) and
/// a disabled `guest`. Returns the admin's password when it was generated here, so the
/// caller can print it once. Concurrent first starts create each user once.
pub async fn bootstrap(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    admin_password: Option<String>,
) -> Result<Option<String>> {
    if admin_user::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let generated = admin_password.is_none();
    let password = admin_password.unwrap_or_else(random_password);
    let now = clock.now();
    let admin = admin_user::ActiveModel {
        username: Set("admin".into()),
        password_hash: Set(hash_password(hasher, &password).await?),
        pwd_ts: Set(now),
        base_path: Set("/".into()),
        role: Set(ROLE_ADMIN),
        disabled: Set(false),
        permission: Set(ADMIN_PERMISSION),
        sso_id: Set(String::new()),
        otp_secret: Set(String::new()),
        ..Default::default()
    };
    // The guest never signs in with a password: its hash matches nothing.
    let guest = admin_user::ActiveModel {
        username: Set("guest".into()),
        password_hash: Set(String::new()),
        pwd_ts: Set(now),
        base_path: Set("/".into()),
        role: Set(ROLE_GUEST),
        disabled: Set(true),
        permission: Set(0),
        sso_id: Set(String::new()),
        otp_secret: Set(String::new()),
        ..Default::default()
    };
    let mut created_admin = false;
    for (model, is_admin) in [(admin, true), (guest, false)] {
        let inserted = admin_user::Entity::insert(model)
            .on_conflict(
                OnConflict::column(admin_user::Column::Username)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        if is_admin {
            created_admin = inserted > 0;
        }
    }
    Ok((created_admin && generated).then_some(password))
}

/// Sets the admin's password (the `admin-user reset-password` command); ends its sessions.
pub async fn reset_admin_password(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    password: &str,
) -> Result<String> {
    let admin = admin_user::Entity::find()
        .filter(admin_user::Column::Role.eq(ROLE_ADMIN))
        .order_by_asc(admin_user::Column::Id)
        .one(db)
        .await?
        .ok_or(AdminUserError::NotFound)?;
    let username = admin.username.clone();
    let pwd_ts = next_pwd_ts(admin.pwd_ts, clock.now());
    let mut active = admin.into_active_model();
    active.password_hash = Set(hash_password(hasher, password).await?);
    active.pwd_ts = Set(pwd_ts);
    active.update(db).await?;
    Ok(username)
}

/// `page` < 1 is 1; `per_page` < 1 is the maximum (1000).
pub fn page_window(page: i32, per_page: i32) -> (u64, u64) {
    let page = page.max(1) as u64;
    let per_page = if per_page < 1 { 1000 } else { per_page as u64 };
    ((page - 1) * per_page, per_page)
}

/// The most users one list answer carries: AList answers every user when `per_page` is
/// missing (its web front end asks so, and has no pager); this cap keeps such an answer
/// bounded (about 1.3 MB of JSON). `openapi/admin.yaml` states it as `per_page`'s maximum.
pub const USER_LIST_CAP: i32 = 10_000;

/// `page` < 1 is 1; a missing `per_page`, or one < 1, is every user up to the cap.
pub fn user_page_window(page: i32, per_page: Option<i32>) -> (u64, u64) {
    let per_page = match per_page {
        Some(n) if n >= 1 => n.min(USER_LIST_CAP),
        _ => USER_LIST_CAP,
    };
    page_window(page, per_page)
}

pub async fn list_users(
    db: &DatabaseConnection,
    page: i32,
    per_page: Option<i32>,
) -> Result<(Vec<User>, i64)> {
    let (offset, limit) = user_page_window(page, per_page);
    let total = admin_user::Entity::find().count(db).await?;
    let rows = admin_user::Entity::find()
        .order_by_asc(admin_user::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((
        rows.into_iter().map(User::from).collect(),
        i64::try_from(total).unwrap_or(i64::MAX),
    ))
}

async fn find_model(db: &DatabaseConnection, id: i64) -> Result<admin_user::Model> {
    admin_user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AdminUserError::NotFound)
}

pub async fn get_user(db: &DatabaseConnection, id: i64) -> Result<User> {
    Ok(find_model(db, id).await?.into())
}

pub async fn find_by_username(db: &DatabaseConnection, username: &str) -> Result<Option<User>> {
    Ok(admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq(username))
        .one(db)
        .await?
        .map(User::from))
}

/// The guest user (found by role, as it may be renamed).
pub async fn guest(db: &DatabaseConnection) -> Result<Option<User>> {
    Ok(admin_user::Entity::find()
        .filter(admin_user::Column::Role.eq(ROLE_GUEST))
        .order_by_asc(admin_user::Column::Id)
        .one(db)
        .await?
        .map(User::from))
}

pub struct NewUser {
    pub username: String,
    pub password: String,
    pub base_path: String,
    pub role: i32,
    pub permission: i32,
    pub disabled: bool,
    pub sso_id: String,
}

pub async fn create_user(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    input: NewUser,
) -> Result<User> {
    if input.role == ROLE_ADMIN || input.role == ROLE_GUEST {
        return Err(AdminUserError::AdminOrGuestCreate);
    }
    if input.username.is_empty() {
        return Err(AdminUserError::UsernameEmpty);
    }
    let model = admin_user::ActiveModel {
        username: Set(input.username),
        password_hash: Set(stored_password(hasher, &input.password).await?),
        pwd_ts: Set(clock.now()),
        base_path: Set(normalize_base_path(&input.base_path)),
        role: Set(input.role),
        disabled: Set(input.disabled),
        permission: Set(input.permission),
        sso_id: Set(input.sso_id),
        otp_secret: Set(String::new()),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// A partial update: `None` keeps the stored value; an empty password keeps the password.
pub struct UserChanges {
    pub id: i64,
    pub username: String,
    pub password: Option<String>,
    pub base_path: Option<String>,
    pub role: Option<i32>,
    pub permission: Option<i32>,
    pub disabled: Option<bool>,
    pub sso_id: Option<String>,
}

/// Applies `changes`; returns the usernames to drop from the cache (old and new).
pub async fn update_user(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    changes: UserChanges,
) -> Result<Vec<String>> {
    let old = find_model(db, changes.id).await?;
    if changes.role.is_some_and(|r| r != old.role) {
        return Err(AdminUserError::RoleChanged);
    }
    if old.role == ROLE_ADMIN && changes.disabled == Some(true) {
        return Err(AdminUserError::AdminDisabled);
    }
    let stale = vec![old.username.clone(), changes.username.clone()];
    let old_ts = old.pwd_ts;
    let mut active = old.into_active_model();
    active.username = Set(changes.username);
    if let Some(pw) = changes.password.filter(|p| !p.is_empty()) {
        active.password_hash = Set(hash_password(hasher, &pw).await?);
        active.pwd_ts = Set(next_pwd_ts(old_ts, clock.now()));
    }
    if let Some(b) = changes.base_path {
        active.base_path = Set(normalize_base_path(&b));
    }
    if let Some(p) = changes.permission {
        active.permission = Set(p);
    }
    if let Some(d) = changes.disabled {
        active.disabled = Set(d);
    }
    if let Some(s) = changes.sso_id {
        active.sso_id = Set(s);
    }
    match active.update(db).await {
        Ok(_) => Ok(stale),
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a general user and their SSH keys; returns the username to drop from the cache.
pub async fn delete_user(db: &DatabaseConnection, id: i64) -> Result<String> {
    let old = find_model(db, id).await?;
    if old.role == ROLE_ADMIN || old.role == ROLE_GUEST {
        return Err(AdminUserError::DeleteAdminOrGuest);
    }
    let txn = crate::db::begin_write(db).await?;
    admin_ssh_key::Entity::delete_many()
        .filter(admin_ssh_key::Column::UserId.eq(id))
        .exec(&txn)
        .await?;
    admin_user::Entity::delete_by_id(id).exec(&txn).await?;
    crate::audit::commit(txn).await?;
    Ok(old.username)
}

/// Clears the user's TOTP secret (idempotent); returns the username to drop from the cache.
pub async fn cancel_2fa(db: &DatabaseConnection, id: i64) -> Result<String> {
    let old = find_model(db, id).await?;
    let username = old.username.clone();
    let mut active = old.into_active_model();
    active.otp_secret = Set(String::new());
    active.update(db).await?;
    Ok(username)
}

/// The caller's own profile change (`/api/me/update`); returns usernames to drop.
pub async fn update_me(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    id: i64,
    username: String,
    password: Option<String>,
    sso_id: Option<String>,
) -> Result<Vec<String>> {
    let old = find_model(db, id).await?;
    let stale = vec![old.username.clone(), username.clone()];
    let old_ts = old.pwd_ts;
    let mut active = old.into_active_model();
    active.username = Set(username);
    active.sso_id = Set(sso_id.unwrap_or_default());
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        active.password_hash = Set(hash_password(hasher, &pw).await?);
        active.pwd_ts = Set(next_pwd_ts(old_ts, clock.now()));
    }
    match active.update(db).await {
        Ok(_) => Ok(stale),
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- sign-in and tokens

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub username: String,
    pub pwd_ts: i64,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// Unique per token: two sign-ins in one second must not share a token, or signing
    /// out one device signs out the other (revocation is by the token's hash). Tokens
    /// issued before it existed have none.
    #[serde(default)]
    pub jti: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Malformed, signed with another key, or revoked.
    Invalid,
    Expired,
    NotYetValid,
}

pub fn issue_token(secret: &[u8], user: &User, now: i64, ttl: i64) -> Result<String> {
    let claims = Claims {
        username: user.username.clone(),
        pwd_ts: user.pwd_ts,
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| AdminUserError::Token(e.to_string()))
}

/// Checks the signature and the times (against the injected clock, not the system's).
pub fn decode_token(
    secret: &[u8],
    token: &str,
    now: i64,
) -> std::result::Result<Claims, TokenProblem> {
    let validation = tokens::clock_checked_validation();
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|_| TokenProblem::Invalid)?;
    let claims = data.claims;
    if claims.exp <= now {
        return Err(TokenProblem::Expired);
    }
    if claims.nbf > now {
        return Err(TokenProblem::NotYetValid);
    }
    Ok(claims)
}

/// Records `token` as signed out until it expires; forgets revocations that have expired.
pub async fn revoke_token(db: &DatabaseConnection, token: &str, exp: i64, now: i64) -> Result<()> {
    admin_revoked_token::Entity::delete_many()
        .filter(admin_revoked_token::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = admin_revoked_token::ActiveModel {
        token_hash: Set(token_hash(token)),
        expires_at: Set(exp),
    };
    admin_revoked_token::Entity::insert(row)
        .on_conflict(
            OnConflict::column(admin_revoked_token::Column::TokenHash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn is_revoked(db: &DatabaseConnection, token: &str) -> Result<bool> {
    Ok(admin_revoked_token::Entity::find_by_id(token_hash(token))
        .one(db)
        .await?
        .is_some())
}

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

fn lock_key(client: &str) -> String {
    format!("admin-login:lock:{client}")
}

/// Signs in: lockout check, password, TOTP. Counts failures per client address (AList
/// has no per-username limit, so nobody can lock another address out).
///
/// The attempt takes its place among the allowed failures before the password is hashed,
/// so a burst of concurrent guesses on any number of instances gets at most
/// `LOGIN_MAX_FAILURES` evaluated; the others are refused as a lockout.
pub async fn login(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    sealer: &Sealer,
    req: Login<'_>,
) -> Result<User> {
    let now = clock.now();
    crate::audit::attempted(req.username);
    let (fail, lock) = (fail_key(req.client), lock_key(req.client));
    let Some(slot) =
        attempts::reserve(db, &fail, LOGIN_MAX_FAILURES, LOGIN_FAILURE_WINDOW, now).await?
    else {
        // Every allowed failure is taken by guesses still being checked.
        return Err(AdminUserError::LockedOut);
    };
    // Checked after the reservation: the failure that locks sets the lock before it
    // clears the failures, so an attempt that finds the failures cleared finds the lock.
    if attempts::count(db, &lock, LOGIN_LOCK_SECONDS, now).await? > 0 {
        attempts::release(db, &[(&fail, slot)]).await?;
        // Each refused attempt starts the lockout again.
        attempts::restart(db, &lock, now).await?;
        return Err(AdminUserError::LockedOut);
    }
    let outcome = check_credentials(db, hasher, sealer, now, &req).await;
    match &outcome {
        // A failure keeps its place; the last allowed one locks.
        Err(AdminUserError::InvalidCredentials | AdminUserError::LoginOtp) => {
            if slot.count >= LOGIN_MAX_FAILURES {
                attempts::restart(db, &lock, now).await?;
                attempts::clear(db, &fail).await?;
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

// ---------------------------------------------------------------- two-factor

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
fn totp_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
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
async fn spend_totp_step(db: &DatabaseConnection, id: i64, step: i64) -> Result<bool> {
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
    clock: &dyn Clock,
    sealer: &Sealer,
    id: i64,
    code: &str,
    secret: &str,
) -> Result<String> {
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
    Ok(username)
}

/// The associated data a user's sealed TOTP secret is bound to: its own row.
fn otp_context(id: i64) -> String {
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

// ---------------------------------------------------------------- SSH keys

#[derive(Debug, Clone)]
pub struct SshKey {
    pub id: i64,
    pub title: String,
    pub fingerprint: String,
    pub added_time: i64,
    pub last_used_time: i64,
}

impl From<admin_ssh_key::Model> for SshKey {
    fn from(m: admin_ssh_key::Model) -> Self {
        Self {
            id: m.id,
            title: m.title,
            fingerprint: m.fingerprint,
            added_time: m.added_time,
            last_used_time: m.last_used_time,
        }
    }
}

/// `SHA256:` + unpadded base64 of the key blob's digest (as `ssh-keygen -l`).
pub fn fingerprint(key: &str) -> Result<(String, String)> {
    let trimmed = key.trim();
    let parsed =
        ssh_key::PublicKey::from_openssh(trimmed).map_err(|_| AdminUserError::KeyInvalid)?;
    Ok((
        parsed.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        trimmed.to_string(),
    ))
}

pub async fn list_ssh_keys(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
) -> Result<(Vec<SshKey>, i64)> {
    let (_, total) = count_ssh_keys(db, user_id).await?;
    Ok((ssh_key_page(db, user_id, page, per_page).await?, total))
}

/// The admin view: a user that does not exist is `UserInvalid`.
pub async fn list_user_ssh_keys(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
) -> Result<(Vec<SshKey>, i64)> {
    let (known, total) = count_ssh_keys(db, user_id).await?;
    if !known {
        return Err(AdminUserError::UserInvalid);
    }
    Ok((ssh_key_page(db, user_id, page, per_page).await?, total))
}

/// Whether user `user_id` exists, and how many SSH keys it has: one statement.
async fn count_ssh_keys(db: &DatabaseConnection, user_id: i64) -> Result<(bool, i64)> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let (total, known): (i64, bool) = admin_ssh_key::Entity::find()
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .select_only()
        .column_as(
            Expr::col((admin_ssh_key::Entity, admin_ssh_key::Column::Id)).count(),
            "total",
        )
        .column_as(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(admin_user::Entity)
                    .and_where(admin_user::Column::Id.eq(user_id))
                    .to_owned(),
            ),
            "known",
        )
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, false));
    Ok((known, total))
}

async fn ssh_key_page(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
) -> Result<Vec<SshKey>> {
    let (offset, limit) = page_window(page, per_page);
    Ok(admin_ssh_key::Entity::find()
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .order_by_asc(admin_ssh_key::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(SshKey::from)
        .collect())
}

pub async fn add_ssh_key(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    user_id: i64,
    title: &str,
    key: &str,
) -> Result<SshKey> {
    if title.is_empty() {
        return Err(AdminUserError::TitleEmpty);
    }
    let taken = admin_ssh_key::Entity::find()
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .filter(admin_ssh_key::Column::Title.eq(title))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AdminUserError::DuplicateKeyTitle);
    }
    let (fingerprint, key_str) = fingerprint(key)?;
    let now = clock.now();
    let row = admin_ssh_key::ActiveModel {
        user_id: Set(user_id),
        title: Set(title.to_string()),
        fingerprint: Set(fingerprint),
        key_str: Set(key_str),
        added_time: Set(now),
        last_used_time: Set(now),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::DuplicateKeyTitle),
        Err(e) => Err(e.into()),
    }
}

/// Deletes one of `user_id`'s keys; someone else's key is `KeyNotFound`.
pub async fn delete_own_ssh_key(db: &DatabaseConnection, user_id: i64, id: i64) -> Result<()> {
    let deleted = admin_ssh_key::Entity::delete_many()
        .filter(admin_ssh_key::Column::Id.eq(id))
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AdminUserError::KeyNotFound);
    }
    Ok(())
}

/// The admin view: deletes any user's key; a missing key is not an error (as AList).
pub async fn delete_ssh_key(db: &DatabaseConnection, id: i64) -> Result<()> {
    admin_ssh_key::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_cleaned_like_alist() {
        assert_eq!(normalize_base_path(""), "/");
        assert_eq!(normalize_base_path("a\\b"), "/a/b");
        assert_eq!(normalize_base_path("/a/./b/../c/"), "/a/c");
        assert_eq!(normalize_base_path("../.."), "/");
    }

    #[test]
    fn static_hash_is_alists() {
        // sha256("x-https://github.com/alist-org/alist"), computed with Python's hashlib.
        assert_eq!(
            static_hash("x"),
            "04086ab6ec38a7838c88cd893e02bcfa3c4449bc5702383e5fc41c69c85533e5"
        );
    }

    #[test]
    fn pwd_ts_always_moves() {
        assert_eq!(next_pwd_ts(100, 50), 101);
        assert_eq!(next_pwd_ts(100, 200), 200);
    }
}
