//! Admin-surface access tokens: HS256 JWTs naming the user and its password time, and
//! the revocation list that sign-out writes.

use super::{AdminUserError, Result, User};

use entity::admin_revoked_token;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::auth::tokens::token_hash;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub username: String,
    pub pwd_ts: i64,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// Unique per token: two sign-ins in one second must not share a token, or signing
    /// out one device signs out the other (revocation is by the token's hash). Tokens
    /// issued before it existed have none.
    #[serde(default)]
    pub jti: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Malformed, signed with another key, or revoked.
    Invalid,
    Expired,
    NotYetValid,
}

pub fn issue_token(secret: &[u8], user: &User, now: i64, ttl: i64) -> Result<String> {
    let claims = Claims {
        username: user.username.clone(),
        pwd_ts: user.pwd_ts,
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| AdminUserError::Token(e.to_string()))
}

/// Checks the signature and the times (against the injected clock, not the system's).
pub fn decode_token(
    secret: &[u8],
    token: &str,
    now: i64,
) -> std::result::Result<Claims, TokenProblem> {
    let validation = crate::auth::tokens::clock_checked_validation();
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|_| TokenProblem::Invalid)?;
    let claims = data.claims;
    if claims.exp <= now {
        return Err(TokenProblem::Expired);
    }
    if claims.nbf > now {
        return Err(TokenProblem::NotYetValid);
    }
    Ok(claims)
}

/// Records `token` as signed out until it expires; forgets revocations that have expired.
pub async fn revoke_token(db: &DatabaseConnection, token: &str, exp: i64, now: i64) -> Result<()> {
    admin_revoked_token::Entity::delete_many()
        .filter(admin_revoked_token::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = admin_revoked_token::ActiveModel {
        token_hash: Set(token_hash(token)),
        expires_at: Set(exp),
    };
    admin_revoked_token::Entity::insert(row)
        .on_conflict(
            OnConflict::column(admin_revoked_token::Column::TokenHash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn is_revoked(db: &DatabaseConnection, token: &str) -> Result<bool> {
    Ok(admin_revoked_token::Entity::find_by_id(token_hash(token))
        .one(db)
        .await?
        .is_some())
}
