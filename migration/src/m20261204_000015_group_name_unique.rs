//! An active enterprise group's name is unique among the active groups: enforced by the
//! database, not only by the check before the insert, which two concurrent creations on
//! PostgreSQL could both pass. Archived groups may share a name.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_enterprise_groups_active_name \
                 ON enterprise_groups (name) WHERE status = 'active'",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ux_enterprise_groups_active_name")
            .await
            .map(|_| ())
    }
}
