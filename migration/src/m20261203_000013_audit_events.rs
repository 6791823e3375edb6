//! The audit trail: one row per state-changing call (and per sign-in attempt), append-only.
//! Rows are paged newest first by id (UUID v7, so by time), and filtered by actor, target,
//! operation, outcome and group.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    /// `console` or `admin`.
    Surface,
    /// `account`, `admin_user` or `anonymous`.
    ActorKind,
    ActorId,
    /// The e-mail or username the actor signed in with, or tried to.
    ActorName,
    ClientIp,
    UserAgent,
    RequestId,
    OperationId,
    TargetKind,
    TargetId,
    /// The group the target belongs to, when known: what a group's super_admin may see.
    GroupId,
    /// `success`, or the error code.
    Outcome,
    Status,
    /// JSON object of the fields changed, secrets left out.
    Changes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditEvents::At).big_integer().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::Surface)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::ActorKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::ActorId).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::ActorName).string().null())
                    .col(ColumnDef::new(AuditEvents::ClientIp).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::UserAgent).string().null())
                    .col(
                        ColumnDef::new(AuditEvents::RequestId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::OperationId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::TargetKind)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEvents::TargetId).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::GroupId).uuid().null())
                    .col(
                        ColumnDef::new(AuditEvents::Outcome)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::Status).integer().not_null())
                    .col(ColumnDef::new(AuditEvents::Changes).text().null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_audit_at", vec![AuditEvents::At]),
            (
                "idx_audit_actor",
                vec![AuditEvents::ActorId, AuditEvents::Id],
            ),
            (
                "idx_audit_actor_name",
                vec![AuditEvents::ActorName, AuditEvents::Id],
            ),
            (
                "idx_audit_target",
                vec![AuditEvents::TargetId, AuditEvents::Id],
            ),
            (
                "idx_audit_operation",
                vec![AuditEvents::OperationId, AuditEvents::Id],
            ),
            (
                "idx_audit_group",
                vec![AuditEvents::GroupId, AuditEvents::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
