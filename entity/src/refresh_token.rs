//! Refresh tokens: only the SHA-256 of each is stored. Tokens of one sign-in form a
//! family; rotation marks the presented token used, and presenting a used one again
//! revokes the whole family.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_id: Uuid,
    pub family: Uuid,
    /// Lower-case hex SHA-256 of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// The client address the sign-in began from.
    pub client_ip: Option<String>,
    /// The user agent the sign-in began from (at most 255 characters).
    pub user_agent: Option<String>,
    /// How the sign-in began (`SignInMethod`'s wire names).
    pub method: String,
    /// When the sign-in (the family's first token) began.
    pub signed_in_at: i64,
    /// When the user ended the session; its access tokens end with it.
    pub ended_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
