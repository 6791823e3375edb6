//! What every handler shares: the database, the hasher, the clock and the configuration.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::password::PasswordHasher;
use crate::clock::{Clock, SystemClock};
use crate::config::FeatureConfig;
use crate::domain::admin_users::{self, UserCache};

pub struct AppState {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub features: FeatureConfig,
    /// Signs and checks every token of both surfaces (see `auth::secret`).
    pub secret: Vec<u8>,
    /// The AList-compatible admin surface's own state.
    pub admin: AdminState,
}

pub struct AdminState {
    /// Recently used admin-surface users, by username, invalidated on every instance.
    pub users: Arc<UserCache>,
    /// Lifetime of admin-surface tokens, in seconds (AList: 48 hours).
    pub token_ttl: i64,
}

/// AList's default token lifetime.
pub const ADMIN_TOKEN_TTL: i64 = 48 * 3600;

impl AppState {
    pub fn new(db: DatabaseConnection, features: FeatureConfig, secret: Vec<u8>) -> Self {
        Self::with_clock(db, features, secret, Arc::new(SystemClock))
    }

    pub fn with_clock(
        db: DatabaseConnection,
        features: FeatureConfig,
        secret: Vec<u8>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            hasher: PasswordHasher::default(),
            admin: AdminState {
                users: Arc::new(admin_users::new_user_cache(clock.clone())),
                token_ttl: ADMIN_TOKEN_TTL,
            },
            clock,
            features,
            secret,
        }
    }
}
