//! A user of the AList-compatible admin surface (AList's `x_users`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    /// argon2id PHC string of AList's static client hash of the password.
    pub password_hash: String,
    /// Bumped on every password change; tokens carry it and die when it moves.
    pub pwd_ts: i64,
    pub base_path: String,
    /// 0 general, 1 guest, 2 admin.
    pub role: i32,
    pub disabled: bool,
    pub permission: i32,
    pub sso_id: String,
    /// Base32 TOTP secret; empty when 2FA is off.
    pub otp_secret: String,
    /// The last TOTP time step accepted for this user; a code works once.
    pub otp_last_step: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
