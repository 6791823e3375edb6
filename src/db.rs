//! Connecting to the database and migrating it.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
};

use crate::config::StorageConfig;

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

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(if sqlite { SQLITE_POOL } else { POSTGRES_POOL })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // PostgreSQL's first connections are opened together by `warm_up`.
        .connect_lazy(!sqlite);
    let db = Database::connect(options).await?;
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

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// True for failures that mean the database cannot be reached (answered 503, not 500).
pub fn is_unavailable(err: &DbErr) -> bool {
    matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
}

/// True when an insert or update hit a unique index (a taken email, username, key title…).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Serializes the transactions that take the same `key` until they end: on PostgreSQL an
/// advisory transaction lock; on SQLite nothing is needed, because its first write waits
/// for every other writer and the transaction then reads what they committed.
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
