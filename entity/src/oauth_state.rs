//! The `state` of a social sign-in in flight: single-use, short-lived, stored as its SHA-256,
//! with the PKCE code verifier of its authorization request.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub provider: String,
    pub invite_token: Option<String>,
    /// RFC 7636 code verifier; the provider saw only its S256 challenge.
    pub pkce_verifier: String,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
