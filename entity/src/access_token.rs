//! Personal access tokens: only the SHA-256 of each secret is stored. A revoked token keeps
//! its row, with `revoked_at` set.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    /// `read` or `write` (`AccessTokenScope`'s wire names).
    pub scope: String,
    /// Lower-case hex SHA-256 of the secret.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: i64,
    /// None: never expires (only when `PAT_MAX_DAYS` is 0).
    pub expires_at: Option<i64>,
    /// Recorded at most once a minute per token.
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
