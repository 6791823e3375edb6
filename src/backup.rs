//! `console-server backup` and `restore` for SQLite: a consistent copy of a live database
//! (`VACUUM INTO`, which reads one snapshot while the server goes on writing), and putting
//! such a copy in place as a data directory's database. PostgreSQL has `pg_dump` and
//! `pg_restore` for this (README).

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::config::StorageConfig;
use crate::db::{self, DbSetupError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup and restore are for SQLite; for PostgreSQL use pg_dump and pg_restore (see README)"
    )]
    NotSqlite,
    #[error("{0} already exists; choose a new file")]
    TargetExists(PathBuf),
    #[error(
        "{0} already holds a database; restore into a fresh data directory, or stop the server and move the file away first"
    )]
    DatabaseExists(PathBuf),
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} is not a sound SQLite database: {1}")]
    NotABackup(PathBuf, String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Setup(#[from] DbSetupError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The SQLite file of a data directory (`DATABASE_URL` unset), or `NotSqlite`.
fn database_file(storage: &StorageConfig) -> Result<PathBuf, BackupError> {
    match &storage.database_url {
        None => Ok(storage.data_dir.join("console.db")),
        Some(_) => Err(BackupError::NotSqlite),
    }
}

/// A file that is there and not empty (`serve` creates an empty one before SQLite opens it).
fn holds_data(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// Writes a consistent copy of the database `conn` is connected to into `to` (a new file),
/// made readable by the server's user only.
pub async fn backup_to(conn: &DatabaseConnection, to: &Path) -> Result<(), BackupError> {
    if conn.get_database_backend() != DbBackend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_path_buf()));
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [to.display().to_string().into()],
    ))
    .await?;
    private(to)
}

/// `console-server backup --to FILE`.
pub async fn backup(storage: &StorageConfig, to: &Path) -> Result<(), BackupError> {
    let file = database_file(storage)?;
    if !holds_data(&file) {
        return Err(BackupError::NoDatabase(file));
    }
    let conn = db::connect(&db::database_url(storage)?).await?;
    let result = backup_to(&conn, to).await;
    conn.close().await.ok();
    result
}

/// `console-server restore --from FILE`: checks the copy and puts it in place as the data
/// directory's database. Never overwrites one: a running server's database stays whole.
pub async fn restore(storage: &StorageConfig, from: &Path) -> Result<(), BackupError> {
    let target = database_file(storage)?;
    if holds_data(&target) {
        return Err(BackupError::DatabaseExists(target));
    }
    check(from).await?;
    db::database_url(storage)?;
    let partial = target.with_extension("db.restoring");
    std::fs::copy(from, &partial).map_err(io(&partial))?;
    private(&partial)?;
    std::fs::rename(&partial, &target).map_err(io(&target))?;
    Ok(())
}

/// The copy opens as SQLite and passes `PRAGMA integrity_check`.
async fn check(from: &Path) -> Result<(), BackupError> {
    let not = |why: String| BackupError::NotABackup(from.to_path_buf(), why);
    if !holds_data(from) {
        return Err(not("missing or empty".into()));
    }
    let url = format!("sqlite://{}?mode=ro", from.display());
    let conn = sea_orm::Database::connect(url.as_str())
        .await
        .map_err(|e| not(e.to_string()))?;
    let verdict = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .map_err(|e| not(e.to_string()))?
        .and_then(|row| row.try_get_by_index::<String>(0).ok());
    conn.close().await.ok();
    match verdict.as_deref() {
        Some("ok") => Ok(()),
        other => Err(not(other.unwrap_or("no answer").to_string())),
    }
}

/// SECURITY: a copy holds what the database holds; only the server's user reads it.
fn private(path: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(())
}
