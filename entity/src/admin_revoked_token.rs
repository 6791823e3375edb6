//! A signed-out admin-surface token, kept until it would have expired anyway.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_revoked_tokens")]
pub struct Model {
    /// Lower-case hex SHA-256 of the token (the token itself is never stored).
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
