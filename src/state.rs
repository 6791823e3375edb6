//! What every handler shares: the database, the hasher, the clock and the configuration.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::password::PasswordHasher;
use crate::clock::{Clock, SystemClock};
use crate::config::FeatureConfig;

pub struct AppState {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub features: FeatureConfig,
    /// Signs and checks every token of both surfaces (see `auth::secret`).
    pub secret: Vec<u8>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, features: FeatureConfig, secret: Vec<u8>) -> Self {
        Self {
            db,
            hasher: PasswordHasher::default(),
            clock: Arc::new(SystemClock),
            features,
            secret,
        }
    }
}
