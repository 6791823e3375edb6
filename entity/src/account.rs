//! Console accounts (people who sign in with an email).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stored lower-cased, so the unique index makes emails unique case-insensitively.
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    /// argon2id PHC string; `None` until a pending account sets a password.
    pub password_hash: Option<String>,
    pub avatar: Option<String>,
    pub interface_language: String,
    pub interface_theme: String,
    pub timezone: String,
    pub status: super::roles::AccountStatus,
    pub last_login_at: Option<i64>,
    pub last_login_ip: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub initialized_at: Option<i64>,
    /// Part of every access token; bumping it (password change, ban, close) invalidates
    /// every token issued before.
    pub token_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::account_role::Entity")]
    Role,
    #[sea_orm(has_one = "super::account_extension::Entity")]
    Extension,
    #[sea_orm(has_many = "super::group_member::Entity")]
    Memberships,
}

impl Related<super::account_role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::account_extension::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Extension.def()
    }
}

impl Related<super::group_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// An account's membership of its current enterprise group (at most one).
pub struct CurrentMembership;

impl Linked for CurrentMembership {
    type FromEntity = Entity;
    type ToEntity = super::group_member::Entity;

    fn link(&self) -> Vec<RelationDef> {
        use sea_orm::sea_query::{ExprTrait, IntoCondition};
        vec![Relation::Memberships.def().on_condition(|_, member| {
            sea_orm::sea_query::Expr::col((member, super::group_member::Column::Current))
                .eq(true)
                .into_condition()
        })]
    }
}
