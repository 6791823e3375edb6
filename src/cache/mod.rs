//! An in-process cache of recently used records, keyed by string (a username, an id), with
//! a time to live and invalidation that reaches every instance.
//!
//! Invalidation drops the entry here at once. On PostgreSQL it is also published with
//! `NOTIFY` on the cache's channel; every instance (this one included) `LISTEN`s and drops
//! the key when the notification arrives. PostgreSQL hands a notification to every
//! listener at the same commit, but each instance reads and applies it when its listening
//! task next runs, so "told" is not "applied": the caller therefore waits (bounded by
//! `ECHO_WAIT`) for its own echo *and* for an acknowledgement from every other instance
//! listening, which each sends, on its listening connection, once it has dropped the key.
//! The live instances are read from `pg_locks`: each holds an advisory lock of its own on
//! its listening connection for as long as it listens. By the time the call that
//! invalidated returns, every live instance has applied it. If the listening connection
//! is lost, the whole cache is dropped (and bypassed until listening resumes), so a missed
//! notification cannot leave a stale entry behind. On SQLite (one instance per file)
//! invalidation is local only.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::sync::broadcast;

use crate::clock::Clock;

/// How long `invalidate` waits for its own notification to come back.
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// The pause before listening again after the listening connection was lost.
const RELISTEN_PAUSE: Duration = Duration::from_millis(250);

pub struct KeyedCache<V: Clone + Send + 'static> {
    channel: &'static str,
    ttl: i64,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner<V>>,
    /// False on PostgreSQL until the listener runs, and again while it reconnects.
    usable: AtomicBool,
    /// Payloads received on the channel, for `invalidate` to wait on its own.
    echoes: broadcast::Sender<String>,
    nonce: AtomicU64,
    instance: String,
    /// Whether `listen` runs in this process (only then is there an echo to wait for).
    listening: AtomicBool,
    /// The number under which this process's listener is known to the other instances
    /// (its advisory lock, see `listen`); 0 while not listening.
    listener: AtomicI64,
}

struct Inner<V> {
    entries: HashMap<String, (V, i64)>,
    /// Loads under way (`start_load`), by number: the key and whether it was invalidated
    /// since the load began. Per key, so a write to one record does not keep every other
    /// record that was being read at that moment out of the cache (under a slow database
    /// a cache-wide counter meant a busy instance cached almost nothing).
    loads: HashMap<u64, (String, bool)>,
    next_load: u64,
}

impl<V> Inner<V> {
    fn remove(&mut self, key: &str) {
        self.entries.remove(key);
        for (loading, stale) in self.loads.values_mut() {
            if loading == key {
                *stale = true;
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        for (_, stale) in self.loads.values_mut() {
            *stale = true;
        }
    }
}

/// A value of `key` being read from the database, to be cached with `finish` unless the
/// key was invalidated meanwhile: the value may then have been read before that write,
/// and caching it would bring the old value back.
pub struct Load<'a, V: Clone + Send + 'static> {
    cache: &'a KeyedCache<V>,
    id: u64,
}

impl<V: Clone + Send + 'static> Load<'_, V> {
    pub fn finish(self, value: V) {
        let cache = self.cache;
        if !cache.usable.load(Ordering::SeqCst) {
            return;
        }
        let now = cache.clock.now();
        let mut inner = cache.lock();
        if let Some((key, false)) = inner.loads.remove(&self.id) {
            inner.entries.insert(key, (value, now));
        }
    }
}

impl<V: Clone + Send + 'static> Drop for Load<'_, V> {
    fn drop(&mut self) {
        self.cache.lock().loads.remove(&self.id);
    }
}

impl<V: Clone + Send + 'static> KeyedCache<V> {
    /// `channel` must be a plain SQL identifier (it names the PostgreSQL channel).
    pub fn new(channel: &'static str, ttl_seconds: i64, clock: Arc<dyn Clock>) -> Self {
        let (echoes, _) = broadcast::channel(256);
        Self {
            channel,
            ttl: ttl_seconds,
            clock,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                loads: HashMap::new(),
                next_load: 0,
            }),
            usable: AtomicBool::new(true),
            echoes,
            nonce: AtomicU64::new(0),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            listening: AtomicBool::new(false),
            listener: AtomicI64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock cannot leave a half-written map: recover it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value of `key`, unless absent, expired, or the cache is not usable.
    pub fn get(&self, key: &str) -> Option<V> {
        if !self.usable.load(Ordering::SeqCst) {
            metrics::counter!("cache_misses_total", "cache" => self.channel).increment(1);
            return None;
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let found = match inner.entries.get(key) {
            Some((v, at)) if at + self.ttl > now => Some(v.clone()),
            Some(_) => {
                inner.entries.remove(key);
                None
            }
            None => None,
        };
        drop(inner);
        let counter = if found.is_some() {
            "cache_hits_total"
        } else {
            "cache_misses_total"
        };
        metrics::counter!(counter, "cache" => self.channel).increment(1);
        found
    }

    /// Call before reading `key`'s value from the database, and `finish` the load with it.
    pub fn start_load(&self, key: &str) -> Load<'_, V> {
        let mut inner = self.lock();
        let id = inner.next_load;
        inner.next_load = id.wrapping_add(1);
        inner.loads.insert(id, (key.to_string(), false));
        Load { cache: self, id }
    }

    /// Drops `key` in this process only.
    pub fn remove_local(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn clear_local(&self) {
        self.lock().clear();
    }

    /// Drops `keys` here and on every instance sharing `db`.
    pub async fn invalidate(&self, db: &DatabaseConnection, keys: &[&str]) -> Result<(), DbErr> {
        for key in keys {
            self.remove_local(key);
        }
        metrics::counter!("cache_invalidations_total", "cache" => self.channel, "origin" => "local")
            .increment(keys.len() as u64);
        if db.get_database_backend() != DbBackend::Postgres || keys.is_empty() {
            return Ok(());
        }
        let mut echoes = self.echoes.subscribe();
        // The other instances listening now, asked before publishing: one that starts
        // listening later has started with an empty cache after this write committed. The
        // first key's notification and the question are one statement (one round trip
        // less per write): its notification is delivered when the statement ends, after
        // the listeners were read.
        let own = self.listener.load(Ordering::SeqCst);
        let ask = own != 0 && self.usable.load(Ordering::SeqCst);
        let mut others = Vec::new();
        let mut waiting = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let n = self.nonce.fetch_add(1, Ordering::SeqCst);
            let payload = format!("{}.{n}:{key}", self.instance);
            let listed = if i == 0 && ask {
                match notify_and_list(db, self.channel, &payload).await {
                    Ok(all) => {
                        others = all.into_iter().filter(|id| *id != own).collect();
                        true
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot list the instances listening");
                        false
                    }
                }
            } else {
                false
            };
            if !listed {
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [self.channel.into(), payload.clone().into()],
                ))
                .await?;
            }
            waiting.push(payload);
        }
        // Every payload waits for its own echo and for each other instance's acknowledgement.
        let acks: Vec<String> = waiting
            .iter()
            .flat_map(|payload| others.iter().map(|other| ack_payload(*other, payload)))
            .collect();
        waiting.extend(acks);
        if !self.listening.load(Ordering::SeqCst) || !self.usable.load(Ordering::SeqCst) {
            return Ok(());
        }
        let wait = async {
            while !waiting.is_empty() {
                match echoes.recv().await {
                    Ok(p) => waiting.retain(|w| *w != p),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        };
        if tokio::time::timeout(ECHO_WAIT, wait).await.is_err() {
            tracing::warn!(
                channel = self.channel,
                instances = others.len(),
                "cache invalidation not confirmed by every instance in time"
            );
        }
        Ok(())
    }

    /// Applies a notification; true when it came from another instance, which then waits
    /// for this one's acknowledgement.
    fn received(&self, payload: &str) -> bool {
        let mut foreign = false;
        if !payload.starts_with(ACK_PREFIX)
            && let Some((from, key)) = payload.split_once(':')
        {
            self.remove_local(key);
            if !from.starts_with(self.instance.as_str()) {
                foreign = true;
                metrics::counter!("cache_invalidations_total", "cache" => self.channel, "origin" => "remote")
                    .increment(1);
            }
        }
        let _ = self.echoes.send(payload.to_string());
        foreign
    }
}

/// Acknowledgements travel on the cache's own channel: `ack|<listener>|<payload>`.
const ACK_PREFIX: &str = "ack|";

fn ack_payload(listener: i64, payload: &str) -> String {
    format!("{ACK_PREFIX}{listener}|{payload}")
}

/// The advisory lock class under which each listening instance holds a lock of its own
/// (`pg_advisory_lock(LISTENER_CLASS, id)`) on its listening connection for as long as it
/// listens: `pg_locks` then names every live listener, and one whose connection is gone
/// is gone from it too.
const LISTENER_CLASS: i32 = 0x6361_6368; // "cach"

/// Publishes `payload` on `channel` and answers the ids of the instances listening on this
/// database, in one statement. The listeners are read while the statement runs; the
/// notification is delivered when it ends, so every instance listed was listening before
/// the notification went out.
async fn notify_and_list(
    db: &DatabaseConnection,
    channel: &str,
    payload: &str,
) -> Result<Vec<i64>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)::text AS notified, \
             (SELECT string_agg(objid::text, ',') FROM pg_locks \
              WHERE locktype = 'advisory' AND objsubid = 2 AND granted \
              AND classid = $3::int8::oid \
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) \
             AS ids",
            [
                channel.into(),
                payload.into(),
                i64::from(LISTENER_CLASS).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("pg_notify answered no row".into()))?;
    let ids: Option<String> = row.try_get("", "ids")?;
    ids.unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|e| DbErr::Custom(format!("listener id {id:?}: {e}")))
        })
        .collect()
}

/// Takes a listener id of this database's own on `listener`'s connection.
async fn claim_listener_id(
    listener: &mut sea_orm::sqlx::postgres::PgListener,
) -> Result<i64, sea_orm::sqlx::Error> {
    use rand::Rng;
    loop {
        let id: i32 = rand::thread_rng().gen_range(1..i32::MAX);
        let taken: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LISTENER_CLASS)
            .bind(id)
            .fetch_one(&mut *listener)
            .await?;
        if taken {
            return Ok(i64::from(id));
        }
    }
}

/// What the listener needs of a cache, whatever its value type.
pub trait Subscriber: Send + Sync {
    fn channel(&self) -> &'static str;
    /// Listening started, or resumed after a gap: notifications may have been missed.
    fn resume(&self);
    /// Listening stopped: the cache must not be used until it resumes.
    fn suspend(&self);
    /// Applies a notification; true when it came from another instance (acknowledge it).
    fn received(&self, payload: &str) -> bool;
    /// The id this process's listener holds (0: none).
    fn set_listener(&self, id: i64);
}

impl<V: Clone + Send + Sync + 'static> Subscriber for KeyedCache<V> {
    fn channel(&self) -> &'static str {
        self.channel
    }

    fn resume(&self) {
        self.clear_local();
        self.usable.store(true, Ordering::SeqCst);
        self.listening.store(true, Ordering::SeqCst);
    }

    fn suspend(&self) {
        self.usable.store(false, Ordering::SeqCst);
        self.clear_local();
    }

    fn received(&self, payload: &str) -> bool {
        KeyedCache::received(self, payload)
    }

    fn set_listener(&self, id: i64) {
        self.listener.store(id, Ordering::SeqCst);
    }
}

/// Starts listening for the invalidations of `caches` on PostgreSQL (a no-op on SQLite),
/// on one connection for all of them. Returns once the listener is subscribed, so
/// invalidations published afterwards are seen.
pub async fn listen(
    caches: Vec<std::sync::Weak<dyn Subscriber>>,
    db: &DatabaseConnection,
    health: Arc<crate::db::Health>,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres || caches.is_empty() {
        return Ok(());
    }
    use sea_orm::sqlx::postgres::PgListener;
    let live = |caches: &[std::sync::Weak<dyn Subscriber>]| -> Vec<Arc<dyn Subscriber>> {
        caches.iter().filter_map(std::sync::Weak::upgrade).collect()
    };
    let channels: Vec<&'static str> = live(&caches).iter().map(|c| c.channel()).collect();
    for cache in live(&caches) {
        cache.suspend();
    }
    let pool = db.get_postgres_connection_pool().clone();
    let to_db = |e: sea_orm::sqlx::Error| DbErr::Custom(format!("cache listener: {e}"));
    let mut listener = PgListener::connect_with(&pool).await.map_err(to_db)?;
    // A lost connection must reach the caches at once (they stop serving), not after
    // sqlx has tried to reconnect for up to the pool's timeout: reconnecting is ours.
    listener.eager_reconnect(false);
    listener
        .listen_all(channels.iter().copied())
        .await
        .map_err(to_db)?;
    let id = claim_listener_id(&mut listener).await.map_err(to_db)?;
    for cache in live(&caches) {
        cache.set_listener(id);
        cache.resume();
    }
    let db = db.clone();
    tokio::spawn(async move {
        let mut listener = Some((listener, id));
        loop {
            let Some(active) = listener.as_mut() else {
                // Listening failed: hand the connection back (so the pool can close), wait,
                // and listen again; the caches stay bypassed meanwhile.
                tokio::time::sleep(RELISTEN_PAUSE).await;
                if live(&caches).is_empty() || pool.is_closed() {
                    return;
                }
                if let Ok(mut l) = PgListener::connect_with(&pool).await
                    && l.listen_all(channels.iter().copied()).await.is_ok()
                    && let Ok(id) = claim_listener_id(&mut l).await
                {
                    l.eager_reconnect(false);
                    tracing::info!("cache listener listening again");
                    for cache in live(&caches) {
                        cache.set_listener(id);
                        cache.resume();
                    }
                    listener = Some((l, id));
                }
                continue;
            };
            let (active, id) = (&mut active.0, active.1);
            // `try_recv` reports a lost connection as `Ok(None)` (not reconnected: see
            // `eager_reconnect` above).
            let event = active.try_recv().await;
            let caches_now = live(&caches);
            if caches_now.is_empty() {
                return;
            }
            match event {
                Ok(Some(n)) => {
                    let mut foreign = false;
                    for cache in caches_now.iter().filter(|c| c.channel() == n.channel()) {
                        foreign |= cache.received(n.payload());
                    }
                    // Applied: tell the writer, which waits for every live instance. On
                    // the listening connection, so a busy pool cannot hold it up.
                    if foreign
                        && let Err(err) = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(n.channel())
                            .bind(ack_payload(id, n.payload()))
                            .execute(&mut *active)
                            .await
                    {
                        tracing::warn!(error = %err, "cannot acknowledge a cache invalidation");
                    }
                }
                Ok(None) => {
                    // Notifications may be missed from now on: stop serving cached values
                    // until listening again (which starts the caches empty).
                    for cache in &caches_now {
                        cache.suspend();
                    }
                    listener = None;
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!("cache listener lost its connection");
                    health.suspect(&db);
                }
                Err(err) => {
                    for cache in &caches_now {
                        cache.suspend();
                    }
                    listener = None;
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %err, "cache listener failed");
                    health.suspect(&db);
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn cache() -> KeyedCache<u32> {
        KeyedCache::new("test_cache", 60, ManualClock::new(1_000))
    }

    #[test]
    fn a_load_is_cached_unless_its_own_key_was_invalidated_meanwhile() {
        let cache = cache();
        let a = cache.start_load("a");
        let b = cache.start_load("b");
        // A write to another record must not keep this one out of the cache.
        cache.remove_local("b");
        a.finish(1);
        b.finish(2);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), None, "read before its invalidation");
        let b = cache.start_load("b");
        b.finish(3);
        assert_eq!(cache.get("b"), Some(3));
    }

    #[test]
    fn clearing_the_cache_stales_every_load_and_an_abandoned_load_leaves_nothing() {
        let cache = cache();
        let a = cache.start_load("a");
        cache.clear_local();
        a.finish(1);
        assert_eq!(cache.get("a"), None);
        drop(cache.start_load("c"));
        assert!(cache.lock().loads.is_empty());
    }
}
