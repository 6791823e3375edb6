//! Enterprise groups, built (issue 7): datasets with their partial-member lists, the
//! model-provider and default-model records the repair operations copy from a group's
//! shadow workspace, and the indexes every group page query walks.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    Provider,
    Permission,
    DataSourceType,
    IndexingTechnique,
    AppCount,
    DocumentCount,
    WordCount,
    CreatedBy,
    CreatedAt,
    UpdatedBy,
    UpdatedAt,
    EmbeddingModel,
    EmbeddingModelProvider,
    RetrievalModel,
    DocForm,
    Icon,
    IconBackground,
}

#[derive(DeriveIden)]
enum DatasetPermissions {
    Table,
    Id,
    DatasetId,
    AccountId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantModelProviders {
    Table,
    Id,
    TenantId,
    ProviderName,
    Config,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantDefaultModels {
    Table,
    Id,
    TenantId,
    ModelType,
    ProviderName,
    ModelName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    GroupId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EnterpriseGroups {
    Table,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum TenantMembers {
    Table,
    AccountId,
    TenantId,
}

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for col in cols {
        idx.col(col);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Datasets::Table)
                    .col(ColumnDef::new(Datasets::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Datasets::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Datasets::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Datasets::Description).text().null())
                    .col(ColumnDef::new(Datasets::Provider).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Datasets::Permission)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Datasets::DataSourceType)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Datasets::IndexingTechnique)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(Datasets::AppCount).integer().not_null())
                    .col(ColumnDef::new(Datasets::DocumentCount).integer().not_null())
                    .col(ColumnDef::new(Datasets::WordCount).big_integer().not_null())
                    .col(ColumnDef::new(Datasets::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Datasets::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Datasets::UpdatedBy).uuid().null())
                    .col(ColumnDef::new(Datasets::UpdatedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(Datasets::EmbeddingModel)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Datasets::EmbeddingModelProvider)
                            .string_len(255)
                            .null(),
                    )
                    .col(ColumnDef::new(Datasets::RetrievalModel).text().not_null())
                    .col(ColumnDef::new(Datasets::DocForm).string_len(64).null())
                    .col(ColumnDef::new(Datasets::Icon).string_len(255).null())
                    .col(
                        ColumnDef::new(Datasets::IconBackground)
                            .string_len(255)
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Datasets::Table, Datasets::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Datasets::Table, Datasets::CreatedBy)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetPermissions::Table)
                    .col(
                        ColumnDef::new(DatasetPermissions::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DatasetPermissions::DatasetId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DatasetPermissions::AccountId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DatasetPermissions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DatasetPermissions::Table, DatasetPermissions::DatasetId)
                            .to(Datasets::Table, Datasets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DatasetPermissions::Table, DatasetPermissions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantModelProviders::Table)
                    .col(
                        ColumnDef::new(TenantModelProviders::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TenantModelProviders::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantModelProviders::ProviderName)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantModelProviders::Config)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantModelProviders::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantModelProviders::Table, TenantModelProviders::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantDefaultModels::Table)
                    .col(
                        ColumnDef::new(TenantDefaultModels::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TenantDefaultModels::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantDefaultModels::ModelType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantDefaultModels::ProviderName)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantDefaultModels::ModelName)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantDefaultModels::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantDefaultModels::Table, TenantDefaultModels::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let unique = |mut idx: IndexCreateStatement| {
            idx.unique();
            idx
        };
        for idx in [
            // Page queries: newest first, ties by id, inside their filter.
            index(
                "ix_datasets_tenant_created",
                Datasets::Table,
                vec![
                    Datasets::TenantId.into_iden(),
                    Datasets::CreatedAt.into_iden(),
                    Datasets::Id.into_iden(),
                ],
            ),
            index(
                "ix_datasets_created",
                Datasets::Table,
                vec![Datasets::CreatedAt.into_iden(), Datasets::Id.into_iden()],
            ),
            unique(index(
                "ux_dataset_permissions_dataset_account",
                DatasetPermissions::Table,
                vec![
                    DatasetPermissions::DatasetId.into_iden(),
                    DatasetPermissions::AccountId.into_iden(),
                ],
            )),
            index(
                "ix_dataset_permissions_account",
                DatasetPermissions::Table,
                vec![DatasetPermissions::AccountId.into_iden()],
            ),
            unique(index(
                "ux_tenant_model_providers_tenant_provider",
                TenantModelProviders::Table,
                vec![
                    TenantModelProviders::TenantId.into_iden(),
                    TenantModelProviders::ProviderName.into_iden(),
                ],
            )),
            unique(index(
                "ux_tenant_default_models_tenant_type",
                TenantDefaultModels::Table,
                vec![
                    TenantDefaultModels::TenantId.into_iden(),
                    TenantDefaultModels::ModelType.into_iden(),
                ],
            )),
            index(
                "ix_tenants_group_created",
                Tenants::Table,
                vec![
                    Tenants::GroupId.into_iden(),
                    Tenants::CreatedAt.into_iden(),
                    Tenants::Id.into_iden(),
                ],
            ),
            index(
                "ix_enterprise_groups_created",
                EnterpriseGroups::Table,
                vec![
                    EnterpriseGroups::CreatedAt.into_iden(),
                    EnterpriseGroups::Id.into_iden(),
                ],
            ),
            index(
                "ix_group_members_group_created",
                GroupMembers::Table,
                vec![
                    GroupMembers::GroupId.into_iden(),
                    GroupMembers::CreatedAt.into_iden(),
                    GroupMembers::Id.into_iden(),
                ],
            ),
            index(
                "ix_tenant_members_account_tenant",
                TenantMembers::Table,
                vec![
                    TenantMembers::AccountId.into_iden(),
                    TenantMembers::TenantId.into_iden(),
                ],
            ),
        ] {
            manager.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_tenants_group_created", Tenants::Table.into_iden()),
            (
                "ix_enterprise_groups_created",
                EnterpriseGroups::Table.into_iden(),
            ),
            (
                "ix_group_members_group_created",
                GroupMembers::Table.into_iden(),
            ),
            (
                "ix_tenant_members_account_tenant",
                TenantMembers::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for table in [
            TenantDefaultModels::Table.into_iden(),
            TenantModelProviders::Table.into_iden(),
            DatasetPermissions::Table.into_iden(),
            Datasets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
