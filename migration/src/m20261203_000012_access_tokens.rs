//! Personal access tokens (`/account/tokens`): only the SHA-256 of each secret is stored,
//! and a revoked token keeps its row (revoked_at) so an audit can name it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
    AccountId,
    Name,
    /// `read` or `write`.
    Scope,
    /// Lower-case hex SHA-256 of the secret.
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    LastUsedIp,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(
                        ColumnDef::new(AccessTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccessTokens::AccountId).uuid().not_null())
                    .col(ColumnDef::new(AccessTokens::Name).string_len(64).not_null())
                    .col(
                        ColumnDef::new(AccessTokens::Scope)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessTokens::ExpiresAt).big_integer().null())
                    .col(
                        ColumnDef::new(AccessTokens::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(AccessTokens::LastUsedIp).string().null())
                    .col(ColumnDef::new(AccessTokens::RevokedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccessTokens::Table, AccessTokens::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_tokens_account")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessTokens::Table).to_owned())
            .await
    }
}
