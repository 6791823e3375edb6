//! The AList-compatible admin surface: its users, their SSH public keys, and revoked
//! tokens (logout), shared by every instance.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum AdminUsers {
    Table,
    Id,
    Username,
    PasswordHash,
    PwdTs,
    BasePath,
    Role,
    Disabled,
    Permission,
    SsoId,
    OtpSecret,
}

#[derive(DeriveIden)]
pub enum AdminSshKeys {
    Table,
    Id,
    UserId,
    Title,
    Fingerprint,
    KeyStr,
    AddedTime,
    LastUsedTime,
}

#[derive(DeriveIden)]
pub enum AdminRevokedTokens {
    Table,
    TokenHash,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdminUsers::Table)
                    .col(
                        ColumnDef::new(AdminUsers::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdminUsers::Username)
                            .string_len(255)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(AdminUsers::PasswordHash).text().not_null())
                    .col(ColumnDef::new(AdminUsers::PwdTs).big_integer().not_null())
                    .col(ColumnDef::new(AdminUsers::BasePath).text().not_null())
                    .col(ColumnDef::new(AdminUsers::Role).integer().not_null())
                    .col(ColumnDef::new(AdminUsers::Disabled).boolean().not_null())
                    .col(ColumnDef::new(AdminUsers::Permission).integer().not_null())
                    .col(ColumnDef::new(AdminUsers::SsoId).string_len(255).not_null())
                    .col(
                        ColumnDef::new(AdminUsers::OtpSecret)
                            .string_len(255)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminSshKeys::Table)
                    .col(
                        ColumnDef::new(AdminSshKeys::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdminSshKeys::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSshKeys::Title)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSshKeys::Fingerprint)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdminSshKeys::KeyStr).text().not_null())
                    .col(
                        ColumnDef::new(AdminSshKeys::AddedTime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSshKeys::LastUsedTime)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AdminSshKeys::Table, AdminSshKeys::UserId)
                            .to(AdminUsers::Table, AdminUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_admin_ssh_keys_user_title")
                    .table(AdminSshKeys::Table)
                    .col(AdminSshKeys::UserId)
                    .col(AdminSshKeys::Title)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminRevokedTokens::Table)
                    .col(
                        ColumnDef::new(AdminRevokedTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdminRevokedTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminRevokedTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AdminSshKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AdminUsers::Table).to_owned())
            .await
    }
}
