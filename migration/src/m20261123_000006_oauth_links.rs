//! Social sign-in: which provider identity belongs to which account, and the single-use
//! `state` of each sign-in in flight (stored as its SHA-256).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthLinks {
    Table,
    Id,
    AccountId,
    Provider,
    OpenId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    Provider,
    InviteToken,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthLinks::Table)
                    .col(
                        ColumnDef::new(OauthLinks::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OauthLinks::AccountId).uuid().not_null())
                    .col(
                        ColumnDef::new(OauthLinks::Provider)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthLinks::OpenId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthLinks::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthLinks::Table, OauthLinks::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_oauth_links_provider_open_id")
                    .table(OauthLinks::Table)
                    .col(OauthLinks::Provider)
                    .col(OauthLinks::OpenId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_oauth_links_account_provider")
                    .table(OauthLinks::Table)
                    .col(OauthLinks::AccountId)
                    .col(OauthLinks::Provider)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .col(
                        ColumnDef::new(OauthStates::StateHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::Provider)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::InviteToken)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthStates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OauthLinks::Table).to_owned())
            .await
    }
}
