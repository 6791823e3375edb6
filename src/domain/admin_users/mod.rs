//! Users of the AList-compatible admin surface: bootstrap, CRUD with AList's rules, and the
//! cache of users by name, here; sign-in (AList's static client hash under argon2id,
//! per-IP lockout) in `sign_in`, tokens (HS256 JWT) in `tokens`, TOTP in `two_factor` and
//! SSH public keys in `ssh_keys`. No HTTP here: each failure is an [`AdminUserError`],
//! which the admin surface maps to its envelope.

use std::sync::Arc;

use entity::{admin_ssh_key, admin_user};
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

mod sign_in;
mod ssh_keys;
mod tokens;
mod two_factor;

pub use sign_in::{Login, cached_user, login};
pub use ssh_keys::{
    SshKey, add_ssh_key, delete_own_ssh_key, delete_ssh_key, fingerprint, list_ssh_keys,
    list_user_ssh_keys,
};
pub use tokens::{Claims, TokenProblem, decode_token, is_revoked, issue_token, revoke_token};
pub use two_factor::{cancel_2fa, generate_2fa, seal_plain_otp_secrets, verify_2fa};

use crate::auth::password::{HashError, PasswordHasher};
use crate::cache::KeyedCache;
use crate::clock::Clock;
use crate::db::is_unique_violation;
use crate::domain::paging::{Page, offset};

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

/// SECURITY: the one way a cached user is dropped: after the write that changed it has
/// committed, at once in this process and, on PostgreSQL, on every instance before the
/// caller answers. Every function of this module that changes a user row ends here, and
/// no other module writes `admin_users` (the xtask test
/// `cached_rows_are_written_only_by_their_owners`).
pub(super) async fn forget(
    db: &DatabaseConnection,
    users: &UserCache,
    names: &[String],
) -> Result<()> {
    let keys: Vec<&str> = names.iter().map(String::as_str).collect();
    users.invalidate(db, &keys).await?;
    Ok(())
}

/// `del_cache`: drops user `username` from the cache on every instance.
pub async fn forget_user(db: &DatabaseConnection, users: &UserCache, username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(AdminUserError::UsernameEmpty);
    }
    find_by_username(db, username)
        .await?
        .ok_or(AdminUserError::NotFound)?;
    forget(db, users, &[username.to_string()]).await
}

/// Sets the admin's password (the `admin-user reset-password` command); ends its sessions,
/// on every running instance on PostgreSQL (on SQLite a server's cache is its own: restart
/// it, or call `del_cache`). Returns the admin's username.
pub async fn reset_admin_password(
    db: &DatabaseConnection,
    users: &UserCache,
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
    forget(db, users, std::slice::from_ref(&username)).await?;
    Ok(username)
}

/// AList's bounds as a page number and size: `page` < 1 is 1; `per_page` < 1 is the
/// maximum (1000).
pub fn bounds(page: i32, per_page: i32) -> (u64, u64) {
    let page = page.max(1) as u64;
    let per_page = if per_page < 1 { 1000 } else { per_page as u64 };
    (page, per_page)
}

/// The most users one list answer carries: AList answers every user when `per_page` is
/// missing (its web front end asks so, and has no pager); this cap keeps such an answer
/// bounded (about 1.3 MB of JSON). `openapi/admin.yaml` states it as `per_page`'s maximum.
pub const USER_LIST_CAP: i32 = 10_000;

/// `page` < 1 is 1; a missing `per_page`, or one < 1, is every user up to the cap.
pub fn user_bounds(page: i32, per_page: Option<i32>) -> (u64, u64) {
    let per_page = match per_page {
        Some(n) if n >= 1 => n.min(USER_LIST_CAP),
        _ => USER_LIST_CAP,
    };
    bounds(page, per_page)
}

pub async fn list_users(
    db: &DatabaseConnection,
    page: i32,
    per_page: Option<i32>,
) -> Result<Page<User>> {
    let (page, limit) = user_bounds(page, per_page);
    let total = admin_user::Entity::find().count(db).await?;
    let rows = admin_user::Entity::find()
        .order_by_asc(admin_user::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .all(db)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(User::from).collect(),
        total,
    })
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

/// Applies `changes`; the old and the new username leave the cache.
pub async fn update_user(
    db: &DatabaseConnection,
    users: &UserCache,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    changes: UserChanges,
) -> Result<()> {
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
        Ok(_) => forget(db, users, &stale).await,
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a general user and their SSH keys, and drops it from the cache.
pub async fn delete_user(db: &DatabaseConnection, users: &UserCache, id: i64) -> Result<()> {
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
    forget(db, users, &[old.username]).await
}

/// The caller's own profile change (`/api/me/update`); the old and the new username leave
/// the cache.
pub async fn update_me(
    db: &DatabaseConnection,
    users: &UserCache,
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    id: i64,
    username: String,
    password: Option<String>,
    sso_id: Option<String>,
) -> Result<()> {
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
        Ok(_) => forget(db, users, &stale).await,
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
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
