//! One audited call: who, from where, which operation on what, and how it ended.
//! Append-only: only the retention job deletes rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// UUID v7: its order is the events' order (the paging cursor).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: i64,
    /// `console` or `admin`.
    pub surface: String,
    /// `account`, `admin_user` or `anonymous`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// The e-mail or username signed in with, or tried.
    pub actor_name: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub operation_id: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// The group the target belongs to, when known.
    pub group_id: Option<Uuid>,
    /// `success`, or the error code the caller was answered with.
    pub outcome: String,
    pub status: i32,
    /// JSON object of the fields changed; never a password, token, code or secret.
    pub changes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
