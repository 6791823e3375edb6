//! The audit trail's indexes on columns most events leave empty (the group, the actor's id,
//! the target) hold only the events that have one. An event is written in the transaction
//! of the change it records, so every index it touches is pages the change's commit must
//! write too: most events (sign-ins, an account's own changes) have no group, and an
//! anonymous sign-in has no actor id. The filters that use these indexes compare the column
//! with a value, which both databases read as implying `IS NOT NULL`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (the full index, the partial one that replaces it, the column). New names, so each
/// partial index is made before its full one goes.
const PARTIAL: [(&str, &str, &str); 3] = [
    ("idx_audit_group", "idx_audit_group_set", "group_id"),
    ("idx_audit_actor", "idx_audit_actor_set", "actor_id"),
    ("idx_audit_target", "idx_audit_target_set", "target_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (full, partial, col) in PARTIAL {
            db.execute_unprepared(&format!(
                "CREATE INDEX {partial} ON audit_events ({col}, id) WHERE {col} IS NOT NULL"
            ))
            .await?;
            db.execute_unprepared(&format!("DROP INDEX {full}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (full, partial, col) in PARTIAL {
            db.execute_unprepared(&format!("CREATE INDEX {full} ON audit_events ({col}, id)"))
                .await?;
            db.execute_unprepared(&format!("DROP INDEX {partial}"))
                .await?;
        }
        Ok(())
    }
}
