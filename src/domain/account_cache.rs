//! Console accounts as their views (account row, system role, extension, group role),
//! cached in process by id, so a signed-in request — and the profile calls, which show
//! exactly this — costs no database round trip.
//!
//! Those rows are written only through `domain::account_writes`, whose `AccountWrite`
//! calls `forget` once it commits: the entry is dropped here and, on PostgreSQL, on every
//! instance before `forget` returns (see `crate::cache`). The TTL bounds what a write
//! outside the server (an operator's SQL) costs.

use std::sync::Arc;

use entity::account;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

use crate::cache::{KeyedCache, Subscriber};
use crate::clock::Clock;
use crate::domain::account_views::{self, AccountView};

/// The PostgreSQL channel invalidations travel on.
pub const CHANNEL: &str = "console_account_cache";
const TTL_SECONDS: i64 = 300;

pub struct AccountCache {
    views: KeyedCache<Arc<AccountView>>,
    clock: Arc<dyn Clock>,
    /// How long an access token lives, in seconds: how far back a cached view remembers
    /// the sessions the user ended.
    access_token_ttl: i64,
}

impl AccountCache {
    pub fn new(clock: Arc<dyn Clock>, access_token_minutes: i64) -> Self {
        Self {
            views: KeyedCache::new(CHANNEL, TTL_SECONDS, clock.clone()),
            clock,
            access_token_ttl: access_token_minutes * 60,
        }
    }

    /// The cached view under `key` (an account id), without reading the database.
    pub fn get(&self, key: &str) -> Option<Arc<AccountView>> {
        self.views.get(key)
    }

    /// The view of account `id`, from the cache or the database; `None` when there is no
    /// such account.
    pub async fn view(
        &self,
        db: &DatabaseConnection,
        id: Uuid,
    ) -> Result<Option<Arc<AccountView>>, DbErr> {
        let key = id.to_string();
        if let Some(view) = self.views.get(&key) {
            return Ok(Some(view));
        }
        let load = self.views.start_load(&key);
        let found = account_views::views_of(db, account::Entity::find_by_id(id)).await?;
        let Some(mut view) = found.into_iter().next() else {
            return Ok(None);
        };
        // An ended session's access tokens outlive its refresh tokens by at most their
        // lifetime: those sessions are what every instance refuses from the cached view.
        let since = self.clock.now() - self.access_token_ttl;
        view.ended_sessions = account_views::ended_since(db, id, since).await?;
        let view = Arc::new(view);
        load.finish(view.clone());
        Ok(Some(view))
    }

    /// Drops the cached views of `ids` on every instance, after their write committed
    /// (`AccountWrite::commit`).
    pub async fn forget(&self, db: &DatabaseConnection, ids: &[Uuid]) -> Result<(), DbErr> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.views.invalidate(db, &keys).await
    }
}

impl Subscriber for AccountCache {
    fn channel(&self) -> &'static str {
        self.views.channel()
    }

    fn resume(&self) {
        self.views.resume();
    }

    fn suspend(&self) {
        self.views.suspend();
    }

    fn received(&self, payload: &str) -> bool {
        Subscriber::received(&self.views, payload)
    }

    fn set_listener(&self, id: i64) {
        self.views.set_listener(id);
    }
}
