//! What a user sees of their sign-ins (`GET /account/sessions`): where and how each began,
//! and an explicit end. Each refresh token of a family carries its sign-in's details, so
//! the live token alone describes the session.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
}

#[derive(DeriveIden)]
enum Added {
    /// The client address the sign-in began from.
    ClientIp,
    /// Its user agent, cut to 255 characters.
    UserAgent,
    /// How it began: password, email_code, github, google, invitation, registration,
    /// password_reset.
    Method,
    /// When the sign-in (the family's first token) began.
    SignedInAt,
    /// When the user ended the session (`DELETE /account/sessions/{id}`): unlike a
    /// logout's revocation, it also ends the family's access tokens.
    EndedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(Added::ClientIp).string().null().to_owned(),
        ColumnDef::new(Added::UserAgent).string().null().to_owned(),
        ColumnDef::new(Added::Method)
            .string()
            .not_null()
            .default("password")
            .to_owned(),
        ColumnDef::new(Added::SignedInAt)
            .big_integer()
            .not_null()
            .default(0)
            .to_owned(),
        ColumnDef::new(Added::EndedAt)
            .big_integer()
            .null()
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshTokens::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Families that began before this migration: their oldest known time is the row's.
        manager
            .get_connection()
            .execute_unprepared("UPDATE refresh_tokens SET signed_in_at = created_at")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Added::EndedAt,
            Added::SignedInAt,
            Added::Method,
            Added::UserAgent,
            Added::ClientIp,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshTokens::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
