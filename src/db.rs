//! Connecting to the database and migrating it.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
};

use crate::config::StorageConfig;

pub mod statements;

/// SQLite allows one writer at a time; a few readers in WAL mode nearly double read
/// throughput over a single connection (see DESIGN.md, "Where the time goes").
const SQLITE_POOL: u32 = 4;
const POSTGRES_POOL: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The URL `serve` and `migrate` use: `DATABASE_URL`, or a SQLite file in the data dir.
pub fn database_url(storage: &StorageConfig) -> Result<String, DbSetupError> {
    if let Some(url) = &storage.database_url {
        return Ok(url.clone());
    }
    let dir_error = |source| DbSetupError::DataDir {
        path: storage.data_dir.display().to_string(),
        source,
    };
    private_dir(&storage.data_dir).map_err(dir_error)?;
    let file = storage.data_dir.join("console.db");
    private_file(&file).map_err(dir_error)?;
    warn_if_readable_by_others(&storage.data_dir, &file);
    Ok(format!("sqlite://{}?mode=rwc", file.display()))
}

/// SECURITY: the database holds password hashes and TOTP secrets, so the data directory
/// is created 0700 (only the server's user), not the umask's 0755.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the SQLite file 0600 before SQLite opens it; SQLite gives its `-wal` and `-shm`
/// files the database file's permissions, so they are private too.
fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file).map(drop)
}

/// Files made by an older version, or by hand, keep their permissions; say so at start-up.
fn warn_if_readable_by_others(dir: &std::path::Path, file: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let wal = file.with_extension("db-wal");
        let shm = file.with_extension("db-shm");
        for path in [dir, file, wal.as_path(), shm.as_path()] {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "readable by other local users; it holds password hashes and 2FA secrets (chmod go-rwx)"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, file);
}

/// `DATABASE_TIMEOUT`'s default: how long a request waits for a database connection.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects with the default `DATABASE_TIMEOUT` (the commands other than `serve`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with_timeout(url, DEFAULT_TIMEOUT).await
}

/// Connects; `timeout` bounds how long anything waits for a connection (opening one, or
/// one of the pool's to come free), so a request that needs a database that is down
/// fails after at most that long (503) instead of hanging.
pub async fn connect_with_timeout(
    url: &str,
    timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(if sqlite { SQLITE_POOL } else { POSTGRES_POOL })
        .min_connections(1)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false)
        // PostgreSQL's first connections are opened together by `warm_up`.
        .connect_lazy(!sqlite);
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(statements::on_statement);
    if db.get_database_backend() == DbBackend::Postgres {
        warm_up(&db).await?;
    }
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers run beside the writer; it is a property of the file, so once is enough.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

/// Connections the start-up needs (migrations hold a few at once, the cache listener one),
/// opened side by side rather than one after another as each is first wanted: a
/// PostgreSQL connection with TLS takes ~100 ms to set up here, most of it waiting (sqlx
/// 0.9 does not set TCP_NODELAY, so its handshake writes meet delayed ACKs).
const POSTGRES_WARM: usize = 4;

async fn warm_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..POSTGRES_WARM {
        let pool = db.get_postgres_connection_pool().clone();
        opening.spawn(async move { pool.acquire().await });
    }
    // Held together, so the pool must open that many; released at once.
    let held = opening.join_all().await;
    if !held.iter().all(Result::is_err) {
        return Ok(());
    }
    // The database cannot be reached at all: the pool only says it timed out, so connect
    // once more directly to tell the operator why (refused, bad password, no database).
    use sea_orm::sqlx::Connection as _;
    let options = db.get_postgres_connection_pool().connect_options();
    let err = match sea_orm::sqlx::PgConnection::connect_with(&options).await {
        Err(err) => err,
        Ok(conn) => {
            let _ = conn.close().await;
            match held.into_iter().find_map(Result::err) {
                Some(err) => err,
                None => return Ok(()),
            }
        }
    };
    Err(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())))
}

/// The advisory lock key under which migrations run on PostgreSQL (any fixed number no
/// other lock of this program uses; these are its bytes: "cs-migr").
pub const MIGRATION_LOCK: i64 = 0x0063_732d_6d69_6772;

/// Applies pending migrations one at a time, logging each. On PostgreSQL the whole run
/// holds a session advisory lock, so instances starting together against one database
/// take turns: the first migrates, the others then find nothing pending.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return migrate_unlocked(db).await;
    }
    use sea_orm::sqlx;
    let to_db = |e: sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    // The lock belongs to a session: hold one connection for the lock and its release.
    let mut lock = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(to_db)?;
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .fetch_one(&mut *lock)
        .await
        .map_err(to_db)?;
    if !taken {
        tracing::info!("another instance is migrating the database; waiting for it");
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *lock)
            .await
            .map_err(to_db)?;
    }
    let result = migrate_unlocked(db).await;
    let released = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *lock)
        .await;
    if released.is_err() {
        // Ending the session releases it: do not give this connection back to the pool.
        lock.detach();
    }
    result
}

async fn migrate_unlocked(db: &DatabaseConnection) -> Result<(), DbErr> {
    let pending = Migrator::get_pending_migrations(db).await?;
    if pending.is_empty() {
        tracing::debug!("database schema up to date");
        return Ok(());
    }
    tracing::info!(pending = pending.len(), "migrating the database");
    for migration in &pending {
        let started = std::time::Instant::now();
        tracing::info!(migration = migration.name(), "applying migration");
        Migrator::up(db, Some(1)).await?;
        tracing::info!(
            migration = migration.name(),
            millis = started.elapsed().as_millis() as u64,
            "migration applied"
        );
    }
    tracing::info!("migrations done");
    Ok(())
}

/// True for failures that mean the database cannot be reached or cannot take the request
/// now (answered 503, not 500): no connection to be had, a connection that died under a
/// query (reset, closed, shut down by the server), a server that is starting or stopping
/// or out of connections, and on SQLite a database that is busy, read-only or whose disk
/// is full or failing. Everything else (a bug, a constraint) stays a 500.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => match runtime {
            sea_orm::RuntimeErr::SqlxError(sqlx) => sqlx_unavailable(sqlx),
            _ => false,
        },
        _ => false,
    }
}

fn sqlx_unavailable(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed => true,
        E::WorkerCrashed => true,
        E::Database(db) => match db.code() {
            Some(code) if is_sqlite(&**db) => sqlite_unavailable(&code),
            Some(code) => sqlstate_unavailable(&code),
            None => false,
        },
        _ => false,
    }
}

fn is_sqlite(err: &dyn sea_orm::sqlx::error::DatabaseError) -> bool {
    err.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some()
}

/// SQLite's primary result code (the low byte of the extended one): BUSY 5, LOCKED 6,
/// READONLY 8, IOERR 10, FULL 13, CANTOPEN 14.
fn sqlite_primary(code: &str) -> Option<u32> {
    code.parse::<u32>().ok().map(|c| c & 0xff)
}

/// SQLite result codes that mean "not now" (busy, read-only, disk full or failing), not
/// "wrong".
fn sqlite_unavailable(code: &str) -> bool {
    matches!(sqlite_primary(code), Some(5 | 6 | 8 | 10 | 13 | 14))
}

/// PostgreSQL SQLSTATEs that mean "not now": class 08 (connection exception), class 53
/// (insufficient resources: too many connections, disk full, out of memory), 57P01–57P03
/// (shutting down, crashed, starting up).
fn sqlstate_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Why the database is unavailable, in a few words for the log line (`cause`), so an
/// operator reading it knows where to look: the disk, the server, the pool.
pub fn unavailable_cause(err: &DbErr) -> &'static str {
    use sea_orm::sqlx::Error as E;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return "no database connection free or to be opened in time",
        DbErr::Conn(_) => return "cannot connect to the database",
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e,
        _ => return "database error",
    };
    match &**sqlx {
        E::Io(_) | E::Tls(_) | E::Protocol(_) => "the database connection was lost",
        E::PoolTimedOut => "no database connection free or to be opened in time",
        E::PoolClosed | E::WorkerCrashed => "the database pool is closed",
        E::Database(db) if is_sqlite(&**db) => {
            match db.code().as_deref().and_then(sqlite_primary) {
                Some(13) => "the database's disk is full",
                Some(8) => {
                    "the database is read-only (file or directory permissions, or a read-only file system)"
                }
                Some(10 | 14) => "the database file cannot be read or written (I/O error)",
                Some(5 | 6) => "the database is busy",
                _ => "database error",
            }
        }
        E::Database(db) => match db.code().as_deref() {
            Some("53100") => "the database server's disk is full",
            Some(code) if code.starts_with("53") => "the database server is out of resources",
            Some(code) if code.starts_with("57P") => {
                "the database server is shutting down or starting"
            }
            Some(code) if code.starts_with("08") => "the database connection was lost",
            _ => "database error",
        },
        _ => "database error",
    }
}

/// Whether the database can be reached, as far as this instance knows. A connection-level
/// failure (the cache listener losing its connection, a request answered 503) makes it
/// *suspect*: one task then pings until the database answers, and while those pings fail
/// the database is *down*, so requests are answered 503 at once instead of each waiting
/// `DATABASE_TIMEOUT` for a connection, and — the point — none of them piles up in the
/// pool, which then serves again as soon as a ping answers.
#[derive(Debug, Default)]
pub struct Health {
    down: std::sync::atomic::AtomicBool,
    probing: std::sync::atomic::AtomicBool,
    /// Woken when the database is found down, for the requests waiting on it (`went_down`).
    fell: tokio::sync::Notify,
}

/// How long one ping of the prober may take, and the pause between two.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const PROBE_PAUSE: Duration = Duration::from_millis(200);

impl Health {
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the database is found down (at once if it is). A request races its
    /// work against this: one that is waiting for a connection when the outage is noticed
    /// is answered 503 then, rather than after its own `DATABASE_TIMEOUT` (and a sign-in,
    /// which hashes between its read and its write, after more than that).
    pub async fn went_down(&self) {
        let fell = self.fell.notified();
        tokio::pin!(fell);
        fell.as_mut().enable();
        if self.is_down() {
            return;
        }
        fell.await;
    }

    /// Starts the prober unless it runs already.
    pub fn suspect(self: &std::sync::Arc<Self>, db: &DatabaseConnection) {
        use std::sync::atomic::Ordering;
        if self.probing.swap(true, Ordering::SeqCst) {
            return;
        }
        let health = self.clone();
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                match tokio::time::timeout(PROBE_TIMEOUT, reachable(&db)).await {
                    Ok(Ok(())) => {
                        if health.down.swap(false, Ordering::SeqCst) {
                            tracing::info!("the database answers again");
                        }
                        break;
                    }
                    _ => {
                        if !health.down.swap(true, Ordering::SeqCst) {
                            health.fell.notify_waiters();
                            tracing::error!(
                                "the database does not answer; requests that need it get 503 until it does"
                            );
                        }
                    }
                }
                tokio::time::sleep(PROBE_PAUSE).await;
            }
            health.probing.store(false, Ordering::SeqCst);
        });
    }
}

/// Whether the database server answers. On PostgreSQL through a connection of its own,
/// not the pool's: a pool that is busy (every connection in a slow query) is not a
/// database that is down, and must not make every request answer 503.
async fn reachable(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return db.ping().await;
    }
    use sea_orm::sqlx::Connection as _;
    let options = db.get_postgres_connection_pool().connect_options();
    let to_db = |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let mut conn = sea_orm::sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(to_db)?;
    let pinged = conn.ping().await.map_err(to_db);
    let _ = conn.close().await;
    pinged
}

/// True when an insert or update hit a unique index (a taken email, username, key title…).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Begins a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken (waiting its turn, up to the busy timeout) before the transaction's first read.
/// A deferred transaction that reads and then writes cannot wait for the lock: when
/// another writer commits between its read and its first write, SQLite refuses the write
/// at once with SQLITE_BUSY ("database is locked"), so concurrent writes such as group
/// creations failed with 503 under load (`cargo xtask chaos --only crash` found it). On
/// PostgreSQL a plain `BEGIN`.
pub async fn begin_write<C: sea_orm::TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// How many rows `q` finds, and whether the row `exists` selects is there, in one
/// statement: a list of something an id names (a user's keys, an account's workspaces)
/// answers "not found" for an unknown id without a second read.
pub async fn count_and_exists<E, C>(
    db: &C,
    q: sea_orm::Select<E>,
    counted: impl sea_orm::sea_query::IntoColumnRef,
    exists: sea_orm::sea_query::SelectStatement,
) -> Result<(u64, bool), DbErr>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::{Expr, ExprTrait};
    let (total, known): (i64, bool) = q
        .select_only()
        .column_as(Expr::col(counted).count(), "total")
        .column_as(Expr::exists(exists), "known")
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, false));
    Ok((u64::try_from(total).unwrap_or_default(), known))
}

/// Serializes the transactions that take the same `key` until they end: on PostgreSQL an
/// advisory transaction lock; on SQLite nothing is needed, because a write transaction
/// ([`begin_write`]) holds the database's one write lock from its start and reads what
/// every writer before it committed.
///
/// For rules that read, then write (“at least one super_admin must remain”): two
/// transactions that each count the other's row could otherwise both commit.
pub async fn lock_for_transaction<C: sea_orm::ConnectionTrait>(
    txn: &C,
    key: i64,
) -> Result<(), DbErr> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [key.into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as SqlxError;
    use std::sync::Arc;

    fn query(err: SqlxError) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
    }

    #[test]
    fn a_connection_lost_under_a_query_is_unavailable_not_a_bug() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&query(SqlxError::Io(reset))));
        assert!(is_unavailable(&query(SqlxError::PoolTimedOut)));
        assert!(is_unavailable(&query(SqlxError::PoolClosed)));
        assert!(is_unavailable(&DbErr::Exec(RuntimeErr::SqlxError(
            Arc::new(SqlxError::Protocol("unexpected end".into()))
        ))));
        assert!(!is_unavailable(&query(SqlxError::RowNotFound)));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
        assert!(!is_unavailable(&DbErr::Custom("bug".into())));
    }

    #[test]
    fn server_and_disk_codes_that_mean_not_now() {
        for code in ["08006", "08001", "57P01", "57P03", "53300", "53100"] {
            assert!(sqlstate_unavailable(code), "{code}");
        }
        // Unique and foreign-key violations, a syntax error, a statement timeout.
        for code in ["23505", "23503", "42601", "57014"] {
            assert!(!sqlstate_unavailable(code), "{code}");
        }
        // SQLite: BUSY, READONLY (and READONLY_DIRECTORY, 1544), IOERR_WRITE (778), FULL.
        for code in ["5", "8", "1544", "778", "13"] {
            assert!(sqlite_unavailable(code), "{code}");
        }
        // Constraint (19; UNIQUE 2067), a generic error (1).
        for code in ["19", "2067", "1"] {
            assert!(!sqlite_unavailable(code), "{code}");
        }
    }
}
