//! Console access tokens (HS256 JWTs shaped like the seed's) and refresh tokens (random,
//! stored only as hashes). Expiry is judged by the injected clock, not the system's.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `sub` of every console access token, as in the seed's example.
pub const SUBJECT: &str = "Console API Passport";
/// The `iss` of every console access token (Dify writes its edition here).
pub const ISSUER: &str = "SELF_HOSTED";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub user_id: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub sub: String,
    /// The account's token version when issued; a mismatch means the token was revoked.
    pub ver: i32,
    /// The refresh-token family of the sign-in this token belongs to (what logout ends).
    pub fam: Uuid,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("token is malformed or its signature is wrong")]
    Invalid,
    #[error("token has expired")]
    Expired,
    #[error("token could not be signed")]
    Sign,
}

pub fn issue_access(secret: &[u8], claims: &AccessClaims) -> Result<String, TokenError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|_| TokenError::Sign)
}

/// HS256 validation for every token this server signs: signature and algorithm only.
/// Times (`exp`, `nbf`) are judged by the caller against the injected clock, never by the
/// library against the system clock, so tests can move time.
pub fn clock_checked_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    validation
}

/// The validation of console access tokens: `clock_checked_validation` held to this
/// server's issuer and subject. Built once: it is the same for every request.
static ACCESS_VALIDATION: std::sync::LazyLock<Validation> = std::sync::LazyLock::new(|| {
    let mut validation = clock_checked_validation();
    validation.set_issuer(&[ISSUER]);
    validation.sub = Some(SUBJECT.to_string());
    validation
});

thread_local! {
    /// The decoding key of the secret last verified with on this thread, so a request
    /// does not copy the secret into a new key; another secret (tests run several
    /// servers in one process) replaces it.
    static DECODING_KEY: std::cell::RefCell<Option<(Vec<u8>, DecodingKey)>> =
        const { std::cell::RefCell::new(None) };
}

/// `f` with the decoding key of `secret`.
fn with_decoding_key<R>(secret: &[u8], f: impl FnOnce(&DecodingKey) -> R) -> R {
    DECODING_KEY.with(|cell| {
        let mut held = cell.borrow_mut();
        match held.as_ref() {
            Some((known, key)) if known.as_slice() == secret => f(key),
            _ => {
                let key = DecodingKey::from_secret(secret);
                let out = f(&key);
                *held = Some((secret.to_vec(), key));
                out
            }
        }
    })
}

/// Checks signature, algorithm, issuer and subject, and expiry against `now`.
pub fn verify_access(secret: &[u8], token: &str, now: i64) -> Result<AccessClaims, TokenError> {
    let data = with_decoding_key(secret, |key| {
        jsonwebtoken::decode::<AccessClaims>(token, key, &ACCESS_VALIDATION)
    })
    .map_err(|_| TokenError::Invalid)?;
    if data.claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(data.claims)
}

/// A new refresh token: 128 hex characters (64 random bytes).
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a token: its SHA-256, lower-case hex. The token's 512 bits of
/// entropy make a slow hash unnecessary, and lookups by hash compare in the database
/// rather than byte by byte in our code.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether two secrets are equal, in time that depends only on their digests' length:
/// both are hashed first, so neither length nor content leaks through timing.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            user_id: Uuid::now_v7(),
            exp,
            iat: exp - 3600,
            iss: ISSUER.into(),
            sub: SUBJECT.into(),
            ver: 0,
            fam: Uuid::now_v7(),
        }
    }

    #[test]
    fn round_trip_and_expiry_by_the_given_clock() {
        let c = claims(2_000);
        let token = issue_access(b"secret-one-secret-one-secret-one", &c).expect("sign");
        assert_eq!(
            verify_access(b"secret-one-secret-one-secret-one", &token, 1_999),
            Ok(c)
        );
        assert_eq!(
            verify_access(b"secret-one-secret-one-secret-one", &token, 2_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn other_keys_and_tampering_are_rejected() {
        let token =
            issue_access(b"secret-one-secret-one-secret-one", &claims(2_000)).expect("sign");
        assert_eq!(
            verify_access(b"secret-two-secret-two-secret-two", &token, 1_000),
            Err(TokenError::Invalid)
        );
        let mut tampered = token.clone();
        tampered.pop();
        assert_eq!(
            verify_access(b"secret-one-secret-one-secret-one", &tampered, 1_000),
            Err(TokenError::Invalid)
        );
        let mut wrong_sub = claims(2_000);
        wrong_sub.sub = "Web API Passport".into();
        let token = issue_access(b"secret-one-secret-one-secret-one", &wrong_sub).expect("sign");
        assert_eq!(
            verify_access(b"secret-one-secret-one-secret-one", &token, 1_000),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn secrets_compare() {
        assert!(secrets_equal("open sesame", "open sesame"));
        assert!(!secrets_equal("open sesame", "open sesamE"));
        assert!(!secrets_equal("open sesame", "open sesame "));
        assert!(!secrets_equal("", "x"));
    }

    #[test]
    fn refresh_tokens_are_long_random_and_hashed() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_eq!(a.len(), 128);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
