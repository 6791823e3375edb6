//! Personal access tokens: long-lived secrets a person makes for scripts, CI jobs and the
//! SDK, accepted in place of an access token and narrowed by a scope
//! (`policy::token_admits` decides what each scope may call).
//!
//! Only the SHA-256 of a secret is stored: the secret carries 256 random bits, so a fast
//! hash is enough, and a lookup by hash reveals nothing a timing could use. A token in use
//! is cached by its hash, like accounts (`crate::cache`): revoking one drops it on every
//! instance before the call returns. The owner is checked on every request through the
//! account cache, so a banned, closed or deleted owner's tokens stop with the account.
//! When a token was last used is written at most once a minute per token (and when its
//! address changes), off the request's path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use entity::access_token;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::auth::tokens::{secrets_equal, token_hash};
use crate::cache::KeyedCache;
use crate::clock::Clock;

/// What every personal access token begins with, so a credential's kind is known without
/// trying to decode it (and secret scanners can find leaked ones).
pub const PREFIX: &str = "pat_";
/// Unrevoked tokens one account may hold.
pub const MAX_PER_ACCOUNT: u64 = 50;
/// The PostgreSQL channel invalidations travel on.
pub const CHANNEL: &str = "console_access_token_cache";
const TTL_SECONDS: i64 = 300;
/// How often, at most, a token's last use is written.
const USAGE_WRITE_INTERVAL: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Only GET operations.
    Read,
    /// Every operation the owner may call, except tokens and the account's credentials.
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// A stored scope; anything unknown counts as the narrower one.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "write" => Self::Write,
            _ => Self::Read,
        }
    }
}

/// What a request made with a personal access token carries instead of a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGrant {
    pub id: Uuid,
    pub scope: TokenScope,
}

/// A token as the cache holds it: enough to admit a request.
#[derive(Debug, Clone)]
pub struct Held {
    pub id: Uuid,
    pub account_id: Uuid,
    pub scope: TokenScope,
    pub expires_at: Option<i64>,
    pub token_hash: String,
}

pub type TokenCache = KeyedCache<Arc<Held>>;

pub fn new_cache(clock: Arc<dyn Clock>) -> TokenCache {
    KeyedCache::new(CHANNEL, TTL_SECONDS, clock)
}

#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account holds at most {MAX_PER_ACCOUNT} personal access tokens")]
    TooMany,
    #[error("personal access token not found")]
    NotFound,
    #[error("account not found")]
    AccountNotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What the caller asks for.
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    pub expires_in_days: Option<i64>,
}

/// A new secret: the prefix and 32 random bytes, URL-safe base64 without padding.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Makes a token for `account_id`; the secret is returned this once and never stored.
/// `max_days` is `PAT_MAX_DAYS`: 0 also allows a token without an expiry.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    now: i64,
    max_days: u16,
    account_id: Uuid,
    new: NewToken,
) -> Result<(access_token::Model, String), AccessTokenError> {
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(AccessTokenError::Invalid("name must not be blank".into()));
    }
    let expires_at = match new.expires_in_days {
        None if max_days == 0 => None,
        None => {
            return Err(AccessTokenError::Invalid(format!(
                "expires_in_days is required (at most {max_days})"
            )));
        }
        Some(days) if days < 1 || (max_days > 0 && days > i64::from(max_days)) => {
            return Err(AccessTokenError::Invalid(format!(
                "expires_in_days must be between 1 and {}",
                if max_days == 0 { 365 } else { max_days }
            )));
        }
        Some(days) => Some(now + days * 86_400),
    };
    let held = unrevoked(account_id).count(db).await?;
    if held >= MAX_PER_ACCOUNT {
        return Err(AccessTokenError::TooMany);
    }
    let secret = new_secret();
    let row = access_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        name: Set(name),
        scope: Set(new.scope.as_str().to_string()),
        token_hash: Set(token_hash(&secret)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        last_used_ip: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((row, secret))
}

fn unrevoked(account_id: Uuid) -> sea_orm::Select<access_token::Entity> {
    access_token::Entity::find()
        .filter(access_token::Column::AccountId.eq(account_id))
        .filter(access_token::Column::RevokedAt.is_null())
}

/// The account's unrevoked tokens, newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
) -> Result<Vec<access_token::Model>, DbErr> {
    unrevoked(account_id)
        .order_by_desc(access_token::Column::CreatedAt)
        .order_by_desc(access_token::Column::Id)
        .all(db)
        .await
}

/// An administrator's view of account `account_id`'s tokens.
pub async fn list_of_account<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
) -> Result<Vec<access_token::Model>, AccessTokenError> {
    require_account(db, account_id).await?;
    Ok(list(db, account_id).await?)
}

pub async fn require_account<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
) -> Result<(), AccessTokenError> {
    match entity::account::Entity::find_by_id(account_id)
        .one(db)
        .await?
    {
        Some(_) => Ok(()),
        None => Err(AccessTokenError::AccountNotFound),
    }
}

/// Revokes one token of `account_id` (`Some`) or all of them (`None`), then drops them from
/// every instance's cache. Returns the revoked rows (as they were), for the audit.
pub async fn revoke(
    db: &DatabaseConnection,
    cache: &TokenCache,
    now: i64,
    account_id: Uuid,
    token_id: Option<Uuid>,
) -> Result<Vec<access_token::Model>, AccessTokenError> {
    let mut query = unrevoked(account_id);
    if let Some(id) = token_id {
        query = query.filter(access_token::Column::Id.eq(id));
    }
    let rows = query.all(db).await?;
    if token_id.is_some() && rows.is_empty() {
        return Err(AccessTokenError::NotFound);
    }
    if rows.is_empty() {
        return Ok(rows);
    }
    access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(now))
        .filter(access_token::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .filter(access_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let keys: Vec<&str> = rows.iter().map(|r| r.token_hash.as_str()).collect();
    cache.invalidate(db, &keys).await?;
    Ok(rows)
}

/// The unrevoked, unexpired token whose secret is `secret`, from the cache or the
/// database; `None` for anything else. The owner is not checked here.
pub async fn find_live(
    db: &DatabaseConnection,
    cache: &TokenCache,
    now: i64,
    secret: &str,
) -> Result<Option<Arc<Held>>, DbErr> {
    let hash = token_hash(secret);
    let held = match cache.get(&hash) {
        Some(held) => held,
        None => {
            let load = cache.start_load(&hash);
            let Some(row) = access_token::Entity::find()
                .filter(access_token::Column::TokenHash.eq(&hash))
                .filter(access_token::Column::RevokedAt.is_null())
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            let held = Arc::new(Held {
                id: row.id,
                account_id: row.account_id,
                scope: TokenScope::parse(&row.scope),
                expires_at: row.expires_at,
                token_hash: row.token_hash,
            });
            load.finish(held.clone());
            held
        }
    };
    // The lookup matched on the hash already; comparing again in constant time costs
    // nothing and keeps the rule "secrets are compared in constant time" unconditional.
    if !secrets_equal(&held.token_hash, &hash) {
        return Ok(None);
    }
    if held.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    Ok(Some(held))
}

/// When each token's use was last written, and from where, in this process.
#[derive(Default)]
pub struct Usage {
    seen: Mutex<HashMap<Uuid, (i64, Option<IpAddr>)>>,
}

/// What [`Usage::note`] found about a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseNoted {
    /// Nothing to write.
    Quiet,
    /// Time to write the last use.
    Write,
    /// The address differs from the last one this process saw for the token.
    NewAddress,
}

impl Usage {
    /// Notes a use of `token` at `now` from `ip`, and says whether it is due to be written.
    pub fn note(&self, token: Uuid, now: i64, ip: Option<IpAddr>) -> UseNoted {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&token) {
            Some((_, last_ip)) if *last_ip != ip => {
                seen.insert(token, (now, ip));
                UseNoted::NewAddress
            }
            Some((at, _)) if now - at < USAGE_WRITE_INTERVAL => UseNoted::Quiet,
            _ => {
                seen.insert(token, (now, ip));
                UseNoted::Write
            }
        }
    }
}

/// Writes a token's last use. Returns the address it was last used from before, when it
/// differs (a use from a new address).
pub async fn record_use<C: ConnectionTrait>(
    db: &C,
    token: Uuid,
    now: i64,
    ip: Option<IpAddr>,
) -> Result<Option<Option<String>>, DbErr> {
    let ip = ip.map(|a| a.to_string());
    let before = access_token::Entity::find_by_id(token).one(db).await?;
    access_token::Entity::update_many()
        .col_expr(access_token::Column::LastUsedAt, Expr::value(now))
        .col_expr(access_token::Column::LastUsedIp, Expr::value(ip.clone()))
        .filter(access_token::Column::Id.eq(token))
        .exec(db)
        .await?;
    Ok(before
        .filter(|b| b.last_used_ip.is_some() && b.last_used_ip != ip)
        .map(|b| b.last_used_ip))
}
