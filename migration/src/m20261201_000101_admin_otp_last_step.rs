//! The last TOTP time step each admin-surface user signed in with (or enrolled with), so
//! a code works once (RFC 6238 §5.2): a code of that step or an earlier one is refused.
use sea_orm_migration::prelude::*;

use crate::m20261123_000100_admin_users::AdminUsers;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    OtpLastStep,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AdminUsers::Table)
                    .add_column(
                        ColumnDef::new(Added::OtpLastStep)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AdminUsers::Table)
                    .drop_column(Added::OtpLastStep)
                    .to_owned(),
            )
            .await
    }
}
