//! Refresh tokens (hashed, in rotation families) and the account extension profile.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    AccountId,
    Family,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AccountExtensions {
    Table,
    AccountId,
    Mobile,
    Wechat,
    Address,
    Gender,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(
                        ColumnDef::new(RefreshTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RefreshTokens::AccountId).uuid().not_null())
                    .col(ColumnDef::new(RefreshTokens::Family).uuid().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefreshTokens::UsedAt).big_integer().null())
                    .col(
                        ColumnDef::new(RefreshTokens::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col, unique) in [
            ("ux_refresh_tokens_hash", RefreshTokens::TokenHash, true),
            ("ix_refresh_tokens_family", RefreshTokens::Family, false),
            ("ix_refresh_tokens_account", RefreshTokens::AccountId, false),
        ] {
            let mut index = Index::create();
            index.name(name).table(RefreshTokens::Table).col(col);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AccountExtensions::Table)
                    .col(
                        ColumnDef::new(AccountExtensions::AccountId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AccountExtensions::Mobile)
                            .string_len(32)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccountExtensions::Wechat)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccountExtensions::Address)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccountExtensions::Gender)
                            .string_len(16)
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountExtensions::Table, AccountExtensions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountExtensions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await
    }
}
