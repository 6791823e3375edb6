//! PKCE for social sign-in (issue 15): each sign-in's `state` row keeps the PKCE code
//! verifier its authorization request was challenged with (RFC 7636, S256), so the code
//! exchange can prove it is the sign-in that asked for the code.
//!
//! The table is rebuilt rather than altered: SQLite cannot add a `NOT NULL` column
//! without a default, and the rows there are sign-ins in flight (10 minutes at most)
//! that cannot finish after the upgrade anyway, since they set no state cookie and have
//! no verifier. Their users start again.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    Provider,
    InviteToken,
    PkceVerifier,
    ExpiresAt,
    CreatedAt,
}

/// `oauth_states` as migration 000006 made it, plus the verifier when `pkce`.
fn states_table(pkce: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table
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
        );
    if pkce {
        // RFC 7636 4.1: 43 to 128 characters.
        table.col(
            ColumnDef::new(OauthStates::PkceVerifier)
                .string_len(128)
                .not_null(),
        );
    }
    table
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
        .to_owned()
}

async fn rebuild(manager: &SchemaManager<'_>, pkce: bool) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(OauthStates::Table).to_owned())
        .await?;
    manager.create_table(states_table(pkce)).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, false).await
    }
}
