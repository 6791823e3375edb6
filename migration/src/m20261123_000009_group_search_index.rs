//! Dataset search counted within one group (issue 7). Migration 000008's trigram indexes
//! find a term's rows across all groups, then keep the group's; a common term in a big
//! group (4k of its 20k datasets) still cost 7–9 ms to count, because every candidate
//! row had to be visited. Here each database gets an index whose entries for one group
//! lie together, so counting reads only the group's matches:
//!
//! - SQLite: the FTS5 trigram table is keyed by a **group-clustered integer**:
//!   `(group key << 40) + n`, where the group key comes from `dataset_search_groups`
//!   and `n` counts the group's datasets (`dataset_search_keys` maps each key to its
//!   dataset). A search asks FTS5 for the term within the group's key range. Both
//!   tables have an `INTEGER PRIMARY KEY`, so VACUUM keeps the keys (the rowid link of
//!   000008 was only stable by SQLite's current behaviour). The FTS5 table is contentless:
//!   the text lives in `datasets`, and the triggers hand the old text to FTS5's `delete`.
//! - PostgreSQL: a narrow `dataset_search` table (id, group, workspace, creation time and
//!   the folded text) with the GIN trigram index, kept by triggers. A match is rechecked
//!   against a row of about 150 bytes instead of a `datasets` row with its retrieval
//!   settings, so the recheck reads about a quarter of the pages.
//!
//! Existing datasets are indexed by the migration; keys follow creation order.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261123_000008_dataset_search::{
    POSTGRES_TRGM as DATASETS_TRGM, SQLITE_SEARCH, try_extension,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let steps: Vec<String> = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => sqlite_up(),
            _ => {
                let mut steps: Vec<String> = POSTGRES_UP.iter().map(|s| String::from(*s)).collect();
                if try_extension(db, "pg_trgm").await? && try_extension(db, "btree_gin").await? {
                    steps.push(POSTGRES_TRGM.to_string());
                }
                steps
            }
        };
        for sql in steps {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for sql in SQLITE_DOWN.iter().chain(SQLITE_SEARCH.iter()) {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                for sql in POSTGRES_DOWN {
                    db.execute_unprepared(sql).await?;
                }
                if try_extension(db, "pg_trgm").await? && try_extension(db, "btree_gin").await? {
                    db.execute_unprepared(DATASETS_TRGM).await?;
                }
            }
        }
        Ok(())
    }
}

/// Bits of a key below the group key: room for 2^40 datasets per group and 2^23 groups.
pub const GROUP_SHIFT: u32 = 40;

/// Indexes dataset `new` (a trigger's row): its group gets a key if it has none, the
/// dataset the next key in the group's range, and FTS5 its text under that key.
fn sqlite_index_new() -> String {
    format!(
        "INSERT OR IGNORE INTO dataset_search_groups (group_id) \
         SELECT new.group_id WHERE new.group_id IS NOT NULL; \
         INSERT INTO dataset_search_keys (key, dataset_id) \
         SELECT COALESCE((SELECT MAX(k.key) FROM dataset_search_keys k \
         WHERE k.key > (g.key << {GROUP_SHIFT}) AND k.key < ((g.key + 1) << {GROUP_SHIFT})), \
         g.key << {GROUP_SHIFT}) + 1, new.id \
         FROM dataset_search_groups g WHERE g.group_id = new.group_id; \
         INSERT INTO datasets_search (rowid, search_name, search_description) \
         SELECT key, new.search_name, new.search_description \
         FROM dataset_search_keys WHERE dataset_id = new.id;"
    )
}

/// Removes dataset `old` from the index; FTS5's contentless `delete` needs the text the
/// entry was made with, which `old` still holds.
const SQLITE_UNINDEX_OLD: &str = "INSERT INTO datasets_search \
     (datasets_search, rowid, search_name, search_description) \
     SELECT 'delete', key, old.search_name, old.search_description \
     FROM dataset_search_keys WHERE dataset_id = old.id; \
     DELETE FROM dataset_search_keys WHERE dataset_id = old.id;";

fn sqlite_up() -> Vec<String> {
    let index_new = sqlite_index_new();
    let mut steps: Vec<String> = [
        "DROP TRIGGER IF EXISTS datasets_search_ai",
        "DROP TRIGGER IF EXISTS datasets_search_ad",
        "DROP TRIGGER IF EXISTS datasets_search_au",
        "DROP TABLE IF EXISTS datasets_search",
        // No declared type: the ids are stored exactly as `datasets` stores them.
        "CREATE TABLE dataset_search_groups (key INTEGER PRIMARY KEY, group_id NOT NULL UNIQUE)",
        "CREATE TABLE dataset_search_keys (key INTEGER PRIMARY KEY, dataset_id NOT NULL UNIQUE)",
        "CREATE VIRTUAL TABLE datasets_search USING fts5(search_name, search_description, \
         content='', tokenize='trigram case_sensitive 1')",
    ]
    .iter()
    .map(|s| String::from(*s))
    .collect();
    steps.extend(sqlite_backfill());
    steps.push(format!(
        "CREATE TRIGGER datasets_search_ai AFTER INSERT ON datasets BEGIN {index_new} END"
    ));
    steps.push(format!(
        "CREATE TRIGGER datasets_search_ad AFTER DELETE ON datasets BEGIN {SQLITE_UNINDEX_OLD} END"
    ));
    steps.push(format!(
        "CREATE TRIGGER datasets_search_au AFTER UPDATE OF id, group_id, search_name, \
         search_description ON datasets BEGIN {SQLITE_UNINDEX_OLD} {index_new} END"
    ));
    steps
}

/// Keys and FTS5 entries for the datasets that exist: groups numbered in order of their
/// first dataset, datasets in creation order within their group. Also the statements
/// that rebuild the index from scratch (docs/contract-notes.md).
fn sqlite_backfill() -> Vec<String> {
    vec![
        "INSERT INTO dataset_search_groups (group_id) SELECT group_id FROM datasets \
         WHERE group_id IS NOT NULL GROUP BY group_id ORDER BY MIN(created_at), group_id"
            .to_string(),
        format!(
            "INSERT INTO dataset_search_keys (key, dataset_id) \
             SELECT (g.key << {GROUP_SHIFT}) + ROW_NUMBER() OVER \
             (PARTITION BY g.key ORDER BY d.created_at, d.id), d.id \
             FROM datasets d JOIN dataset_search_groups g ON g.group_id = d.group_id"
        ),
        "INSERT INTO datasets_search (rowid, search_name, search_description) \
         SELECT k.key, d.search_name, d.search_description \
         FROM dataset_search_keys k JOIN datasets d ON d.id = k.dataset_id"
            .to_string(),
    ]
}

const SQLITE_DOWN: [&str; 6] = [
    "DROP TRIGGER IF EXISTS datasets_search_ai",
    "DROP TRIGGER IF EXISTS datasets_search_ad",
    "DROP TRIGGER IF EXISTS datasets_search_au",
    "DROP TABLE IF EXISTS datasets_search",
    "DROP TABLE IF EXISTS dataset_search_keys",
    "DROP TABLE IF EXISTS dataset_search_groups",
];

/// The narrow copy, its page-order index, and the triggers that keep it: one statement
/// per insert (a bulk insert copies its rows at once), one row per update; deletes
/// cascade.
const POSTGRES_UP: [&str; 8] = [
    "CREATE TABLE dataset_search (\
     dataset_id uuid PRIMARY KEY REFERENCES datasets (id) ON DELETE CASCADE ON UPDATE CASCADE, \
     group_id uuid NOT NULL, tenant_id uuid NOT NULL, created_at bigint NOT NULL, \
     search_name text NOT NULL, search_description text NOT NULL)",
    "INSERT INTO dataset_search \
     (dataset_id, group_id, tenant_id, created_at, search_name, search_description) \
     SELECT id, group_id, tenant_id, created_at, search_name, search_description \
     FROM datasets WHERE group_id IS NOT NULL",
    "CREATE INDEX ix_dataset_search_group ON dataset_search \
     (group_id, created_at DESC, dataset_id DESC)",
    "DROP INDEX IF EXISTS ix_datasets_search_trgm",
    "CREATE FUNCTION dataset_search_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     INSERT INTO dataset_search \
     (dataset_id, group_id, tenant_id, created_at, search_name, search_description) \
     SELECT id, group_id, tenant_id, created_at, search_name, search_description \
     FROM added WHERE group_id IS NOT NULL; RETURN NULL; END $$",
    "CREATE TRIGGER datasets_search_ai AFTER INSERT ON datasets \
     REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION dataset_search_added()",
    "CREATE FUNCTION dataset_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     DELETE FROM dataset_search WHERE dataset_id = NEW.id; \
     IF NEW.group_id IS NOT NULL THEN INSERT INTO dataset_search \
     (dataset_id, group_id, tenant_id, created_at, search_name, search_description) VALUES \
     (NEW.id, NEW.group_id, NEW.tenant_id, NEW.created_at, NEW.search_name, \
     NEW.search_description); END IF; RETURN NULL; END $$",
    "CREATE TRIGGER datasets_search_au AFTER UPDATE OF group_id, tenant_id, created_at, \
     search_name, search_description ON datasets \
     FOR EACH ROW EXECUTE FUNCTION dataset_search_changed()",
];

/// `fastupdate = off` for the reason migration 000008 gives.
const POSTGRES_TRGM: &str = "CREATE INDEX ix_dataset_search_trgm ON dataset_search USING gin \
     (group_id, search_name gin_trgm_ops, search_description gin_trgm_ops) \
     WITH (fastupdate = off)";

const POSTGRES_DOWN: [&str; 5] = [
    "DROP TRIGGER IF EXISTS datasets_search_au ON datasets",
    "DROP TRIGGER IF EXISTS datasets_search_ai ON datasets",
    "DROP FUNCTION IF EXISTS dataset_search_changed()",
    "DROP FUNCTION IF EXISTS dataset_search_added()",
    "DROP TABLE IF EXISTS dataset_search",
];
