//! Console accounts as their views (account row, system role, extension, group role),
//! cached in process by id, so a signed-in request — and the profile calls, which show
//! exactly this — costs no database round trip.
//!
//! Every write to those rows must call `forget` after it commits: the entry is dropped
//! here and, on PostgreSQL, on every instance before `forget` returns (see `crate::cache`).
//! The TTL only bounds what a missed call could cost.

use std::sync::Arc;

use entity::account;
use sea_orm::{DbErr, EntityTrait};
use uuid::Uuid;

use crate::cache::KeyedCache;
use crate::clock::Clock;
use crate::domain::accounts::{self, AccountView};
use crate::domain::sign_ins;
use crate::state::AppState;

/// The PostgreSQL channel invalidations travel on.
pub const CHANNEL: &str = "console_account_cache";
const TTL_SECONDS: i64 = 300;

pub type AccountCache = KeyedCache<Arc<AccountView>>;

pub fn new(clock: Arc<dyn Clock>) -> AccountCache {
    KeyedCache::new(CHANNEL, TTL_SECONDS, clock)
}

/// The view of account `id`, from the cache or the database; `None` when there is no such
/// account.
pub async fn get(state: &AppState, id: Uuid) -> Result<Option<Arc<AccountView>>, DbErr> {
    let cache = &state.accounts;
    let key = id.to_string();
    if let Some(view) = cache.get(&key) {
        return Ok(Some(view));
    }
    let load = cache.start_load(&key);
    let found = accounts::views_of(&state.db, account::Entity::find_by_id(id)).await?;
    let Some(mut view) = found.into_iter().next() else {
        return Ok(None);
    };
    // An ended session's access tokens outlive its refresh tokens by at most their
    // lifetime: those sessions are what every instance refuses from the cached view.
    let since = state.clock.now() - state.auth.access_token_expire_minutes * 60;
    view.ended_sessions = sign_ins::ended_since(&state.db, id, since).await?;
    let view = Arc::new(view);
    load.finish(view.clone());
    Ok(Some(view))
}

/// Drops the cached views of `ids` on every instance. Call after the write has committed.
pub async fn forget(state: &AppState, ids: &[Uuid]) -> Result<(), DbErr> {
    let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    state.accounts.invalidate(&state.db, &keys).await
}
