//! Dataset search at scale (issue 7). Each dataset carries its group (`group_id`, copied
//! from its workspace, which never changes group) and its name and description folded to
//! lower case by the server (`search_name`, `search_description`: Unicode-correct and the
//! same on both databases). The group listing walks `(group_id, created_at, id)` in page
//! order, and a trigram index finds the rows a search term can match:
//!
//! - SQLite: an FTS5 `trigram` table over the two folded columns, external content
//!   (`datasets`, by rowid), kept by triggers.
//! - PostgreSQL: a GIN index over `group_id` (btree_gin) and the two folded columns
//!   (pg_trgm `gin_trgm_ops`), made only when both extensions can be created; without
//!   them the listing still answers, by walking the group's rows.
//!
//! Existing rows are backfilled (the folding is Rust's `str::to_lowercase`, as on every
//! write since).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Datasets {
    Table,
    GroupId,
    SearchName,
    SearchDescription,
}

/// Rows backfilled per read.
const CHUNK: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // The backfill and the index are one step on both databases.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ColumnDef::new(Datasets::GroupId).uuid().null().to_owned(),
            ColumnDef::new(Datasets::SearchName)
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(Datasets::SearchDescription)
                .text()
                .not_null()
                .default("")
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Datasets::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(
            "UPDATE datasets SET group_id = \
             (SELECT tenants.group_id FROM tenants WHERE tenants.id = datasets.tenant_id)",
        )
        .await?;
        backfill_search(db, backend).await?;
        // Only the group listing ordered datasets by creation; with `group_id` it walks
        // the index below. Left in place, PostgreSQL would walk this one backwards
        // through every group's newer rows to find a big, old group's first page.
        db.execute_unprepared("DROP INDEX IF EXISTS ix_datasets_created")
            .await?;
        match backend {
            DatabaseBackend::Sqlite => {
                // The page order inside a group, with the folded text so that counting
                // and filtering a group's rows reads only this index.
                db.execute_unprepared(
                    "CREATE INDEX ix_datasets_group_created ON datasets \
                     (group_id, created_at DESC, id DESC, search_name, search_description)",
                )
                .await?;
                for sql in SQLITE_SEARCH {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                // No text in this B-tree: PostgreSQL caps an index entry at ~2.7 kB and a
                // description is unbounded.
                db.execute_unprepared(
                    "CREATE INDEX ix_datasets_group_created ON datasets \
                     (group_id, created_at DESC, id DESC)",
                )
                .await?;
                // `fastupdate = off`: new rows go straight into the index. With GIN's
                // pending list every search would also read up to 4 MB of unmerged
                // entries (a 100k-row load measured 7 ms per scan instead of 0.1 ms).
                if try_extension(db, "pg_trgm").await? && try_extension(db, "btree_gin").await? {
                    db.execute_unprepared(POSTGRES_TRGM).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for sql in [
                    "DROP TRIGGER IF EXISTS datasets_search_ai",
                    "DROP TRIGGER IF EXISTS datasets_search_ad",
                    "DROP TRIGGER IF EXISTS datasets_search_au",
                    "DROP TABLE IF EXISTS datasets_search",
                    "DROP INDEX IF EXISTS ix_datasets_group_created",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                db.execute_unprepared("DROP INDEX IF EXISTS ix_datasets_search_trgm")
                    .await?;
                db.execute_unprepared("DROP INDEX IF EXISTS ix_datasets_group_created")
                    .await?;
            }
        }
        db.execute_unprepared("CREATE INDEX ix_datasets_created ON datasets (created_at, id)")
            .await?;
        for col in [
            Datasets::SearchDescription,
            Datasets::SearchName,
            Datasets::GroupId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Datasets::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// The GIN trigram index over the group and the folded text (migration 000009 moves it to
/// `dataset_search`, and puts it back here when undone).
pub(crate) const POSTGRES_TRGM: &str = "CREATE INDEX ix_datasets_search_trgm ON datasets \
     USING gin (group_id, search_name gin_trgm_ops, search_description gin_trgm_ops) \
     WITH (fastupdate = off)";

/// The FTS5 trigram index of the folded text. `case_sensitive 1`: the text is folded
/// already, and the server folds the term the same way, so the index matches exactly
/// what `LIKE` on the columns does. External content: the text is stored once, in
/// `datasets`; the triggers keep the index in step with every insert, update and delete.
pub(crate) const SQLITE_SEARCH: [&str; 5] = [
    "CREATE VIRTUAL TABLE datasets_search USING fts5(search_name, search_description, \
     content='datasets', content_rowid='rowid', tokenize='trigram case_sensitive 1')",
    "CREATE TRIGGER datasets_search_ai AFTER INSERT ON datasets BEGIN \
     INSERT INTO datasets_search(rowid, search_name, search_description) \
     VALUES (new.rowid, new.search_name, new.search_description); END",
    "CREATE TRIGGER datasets_search_ad AFTER DELETE ON datasets BEGIN \
     INSERT INTO datasets_search(datasets_search, rowid, search_name, search_description) \
     VALUES ('delete', old.rowid, old.search_name, old.search_description); END",
    "CREATE TRIGGER datasets_search_au AFTER UPDATE OF search_name, search_description \
     ON datasets BEGIN \
     INSERT INTO datasets_search(datasets_search, rowid, search_name, search_description) \
     VALUES ('delete', old.rowid, old.search_name, old.search_description); \
     INSERT INTO datasets_search(rowid, search_name, search_description) \
     VALUES (new.rowid, new.search_name, new.search_description); END",
    "INSERT INTO datasets_search(datasets_search) VALUES ('rebuild')",
];

/// Creates a PostgreSQL extension if it can be (both are trusted extensions, but an
/// operator's server may not ship them); a failure is undone and reported as `false`.
pub(crate) async fn try_extension(
    db: &SchemaManagerConnection<'_>,
    name: &str,
) -> Result<bool, DbErr> {
    db.execute_unprepared("SAVEPOINT search_extension").await?;
    let sql = match name {
        "pg_trgm" => "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        _ => "CREATE EXTENSION IF NOT EXISTS btree_gin",
    };
    match db.execute_unprepared(sql).await {
        Ok(_) => {
            db.execute_unprepared("RELEASE SAVEPOINT search_extension")
                .await?;
            Ok(true)
        }
        Err(_) => {
            db.execute_unprepared("ROLLBACK TO SAVEPOINT search_extension")
                .await?;
            Ok(false)
        }
    }
}

/// Folds the name and description of every existing dataset, a chunk at a time in id
/// order.
async fn backfill_search(
    db: &SchemaManagerConnection<'_>,
    backend: DatabaseBackend,
) -> Result<(), DbErr> {
    let (read, write) = match backend {
        DatabaseBackend::Sqlite => (
            "SELECT id, name, description FROM datasets WHERE id > ? ORDER BY id LIMIT ?",
            "UPDATE datasets SET search_name = ?, search_description = ? WHERE id = ?",
        ),
        _ => (
            "SELECT id, name, description FROM datasets WHERE id > $1 ORDER BY id LIMIT $2",
            "UPDATE datasets SET search_name = $1, search_description = $2 WHERE id = $3",
        ),
    };
    let mut after = Uuid::nil();
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                read,
                [Value::Uuid(Some(after)), Value::BigInt(Some(CHUNK as i64))],
            ))
            .await?;
        for row in &rows {
            let id: Uuid = row.try_get_by_index(0)?;
            let name: String = row.try_get_by_index(1)?;
            let description: Option<String> = row.try_get_by_index(2)?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                write,
                [
                    Value::String(Some(name.to_lowercase())),
                    Value::String(Some(
                        description.as_deref().unwrap_or_default().to_lowercase(),
                    )),
                    Value::Uuid(Some(id)),
                ],
            ))
            .await?;
            after = id;
        }
        if (rows.len() as u64) < CHUNK {
            return Ok(());
        }
    }
}
