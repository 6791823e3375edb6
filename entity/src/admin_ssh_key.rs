//! An SSH public key of an admin-surface user (AList's `x_ssh_public_keys`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_ssh_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub fingerprint: String,
    pub key_str: String,
    /// Unix seconds.
    pub added_time: i64,
    /// Unix seconds.
    pub last_used_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
