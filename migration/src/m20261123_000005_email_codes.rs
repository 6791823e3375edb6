//! Emailed verification codes (forgot-password, self-registration): one row per token,
//! with only the SHA-256 of the token and a hash of the code bound to it stored.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailCodes {
    Table,
    Id,
    TokenHash,
    Purpose,
    Email,
    AccountId,
    CodeHash,
    Phase,
    Language,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailCodes::Table)
                    .col(
                        ColumnDef::new(EmailCodes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(EmailCodes::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EmailCodes::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(EmailCodes::Email).string_len(255).not_null())
                    .col(ColumnDef::new(EmailCodes::AccountId).uuid().null())
                    .col(
                        ColumnDef::new(EmailCodes::CodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(EmailCodes::Phase).string_len(32).not_null())
                    .col(
                        ColumnDef::new(EmailCodes::Language)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EmailCodes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(EmailCodes::UsedAt).big_integer().null())
                    .col(
                        ColumnDef::new(EmailCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_email_codes_token_hash")
                    .table(EmailCodes::Table)
                    .col(EmailCodes::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_email_codes_purpose_email")
                    .table(EmailCodes::Table)
                    .col(EmailCodes::Purpose)
                    .col(EmailCodes::Email)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailCodes::Table).to_owned())
            .await
    }
}
