//! An emailed verification code and the token it was issued with. Only the token's SHA-256
//! and a hash binding the code to the token are stored.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// `reset_password` or `register`.
    pub purpose: String,
    pub email: String,
    /// The account the code was sent for, when one existed.
    pub account_id: Option<Uuid>,
    pub code_hash: String,
    /// `code` until the code is checked, then `verified`.
    pub phase: String,
    pub language: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
