//! What every handler shares: the database, the hasher, the clock and the configuration.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::password::PasswordHasher;
use crate::clock::{Clock, SystemClock};
use crate::config::{AdminWebConfig, AuthConfig, FeatureConfig, OAuthConfig};
use crate::domain::access_tokens::{self, TokenCache, Usage};
use crate::domain::account_cache::AccountCache;
use crate::domain::admin_users::{self, UserCache};
use crate::domain::session::Authenticator;
use crate::domain::settings::Settings;
use crate::domain::storage_folders::StorageFolders;
use crate::mail::{LogMailer, Mailer};

pub struct AppState {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub features: FeatureConfig,
    /// Signs and checks every token of both surfaces (see `auth::secret`).
    pub secret: Vec<u8>,
    pub auth: AuthConfig,
    pub mailer: Arc<dyn Mailer>,
    /// `INIT_PASSWORD`, when set.
    pub init_password: Option<String>,
    /// Set once setup is seen finished; it never goes back, so later requests skip the
    /// database read.
    pub setup_done: std::sync::atomic::AtomicBool,
    /// Console accounts by id, as signed-in requests see them, invalidated on every instance.
    pub accounts: Arc<AccountCache>,
    /// Personal access tokens in use, by the hash of their secret, invalidated on every
    /// instance; and when each was last used, so that is written at most once a minute.
    pub access_tokens: Arc<TokenCache>,
    pub token_usage: Arc<Usage>,
    /// The AList-compatible admin surface's own state.
    pub admin: AdminState,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Social sign-in providers.
    pub oauth: OAuthConfig,
    /// Starting (migrating), serving or draining: what `/ready` says and whether the API
    /// surfaces take requests yet.
    pub phase: Phase,
    /// Whether the database answers (see `db::Health`).
    pub database: Arc<crate::db::Health>,
    /// `AUDIT_TRAIL`: `false` writes no audit events (a measurement switch).
    pub audit_trail: bool,
}

/// Where the server is in its life. A server made by `AppState::new` is serving; `serve`
/// starts it at `Starting` (listening, migrating) and moves it on.
#[derive(Debug)]
pub struct Phase(std::sync::atomic::AtomicU8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// Listening, but migrations (or the start-up that follows them) are not done: `/ready`
    /// answers 503 and the API surfaces 503.
    Starting,
    Serving,
    /// Asked to stop: `/ready` answers 503 so load balancers send no more, requests are
    /// still served (each answer closes its connection) until the listener stops.
    Draining,
}

impl Phase {
    pub fn new(kind: PhaseKind) -> Self {
        Self(std::sync::atomic::AtomicU8::new(kind as u8))
    }

    pub fn get(&self) -> PhaseKind {
        match self.0.load(std::sync::atomic::Ordering::SeqCst) {
            0 => PhaseKind::Starting,
            1 => PhaseKind::Serving,
            _ => PhaseKind::Draining,
        }
    }

    pub fn set(&self, kind: PhaseKind) {
        self.0
            .store(kind as u8, std::sync::atomic::Ordering::SeqCst);
    }
}

pub struct AdminState {
    /// Recently used admin-surface users, by username, invalidated on every instance.
    pub users: Arc<UserCache>,
    /// Lifetime of admin-surface tokens, in seconds (AList: 48 hours).
    pub token_ttl: i64,
    /// What the AList web front end is told: the site's title and logo, the storage folders.
    pub web: AdminWeb,
}

/// The site as the AList web front end shows it (`ADMIN_SITE_TITLE`, `ADMIN_SITE_LOGO`,
/// `ADMIN_BASE_PATHS`).
#[derive(Debug, Clone)]
pub struct AdminWeb {
    pub site_title: String,
    pub site_logo: String,
    pub folders: StorageFolders,
}

impl AdminWeb {
    pub fn from_config(config: &AdminWebConfig) -> Self {
        Self {
            site_title: config.site_title.clone(),
            site_logo: config.site_logo.clone(),
            folders: StorageFolders::new(&config.base_paths),
        }
    }
}

/// AList's default token lifetime.
pub const ADMIN_TOKEN_TTL: i64 = 48 * 3600;

impl AppState {
    pub fn new(db: DatabaseConnection, features: FeatureConfig, secret: Vec<u8>) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let auth = AuthConfig::defaults();
        Self {
            db,
            hasher: PasswordHasher::default(),
            admin: AdminState {
                users: Arc::new(admin_users::new_user_cache(clock.clone())),
                token_ttl: ADMIN_TOKEN_TTL,
                web: AdminWeb::from_config(&AdminWebConfig::defaults()),
            },
            accounts: Arc::new(AccountCache::new(
                clock.clone(),
                auth.access_token_expire_minutes,
            )),
            access_tokens: Arc::new(access_tokens::new_cache(clock.clone())),
            token_usage: Arc::new(Usage::default()),
            clock,
            features,
            secret,
            auth,
            mailer: Arc::new(LogMailer),
            init_password: None,
            setup_done: std::sync::atomic::AtomicBool::new(false),
            trusted_proxies: Vec::new(),
            oauth: OAuthConfig::defaults(),
            phase: Phase::new(PhaseKind::Serving),
            database: Arc::new(crate::db::Health::default()),
            audit_trail: true,
        }
    }

    /// The configuration domain functions read.
    pub fn settings(&self) -> Settings<'_> {
        Settings {
            auth: &self.auth,
            features: &self.features,
            oauth: &self.oauth,
            secret: &self.secret,
            init_password: self.init_password.as_deref(),
        }
    }

    /// What checking a console credential touches.
    pub fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            db: &self.db,
            accounts: &self.accounts,
            tokens: &self.access_tokens,
            usage: &self.token_usage,
            secret: &self.secret,
            audit_trail: self.audit_trail,
        }
    }

    /// Every cache whose invalidations travel between instances.
    pub fn cache_subscribers(&self) -> Vec<std::sync::Weak<dyn crate::cache::Subscriber>> {
        let users: Arc<dyn crate::cache::Subscriber> = self.admin.users.clone();
        let accounts: Arc<dyn crate::cache::Subscriber> = self.accounts.clone();
        let tokens: Arc<dyn crate::cache::Subscriber> = self.access_tokens.clone();
        vec![
            Arc::downgrade(&users),
            Arc::downgrade(&accounts),
            Arc::downgrade(&tokens),
        ]
    }

    pub fn with_oauth(mut self, oauth: OAuthConfig) -> Self {
        self.oauth = oauth;
        self
    }

    pub fn with_admin_web(mut self, config: &AdminWebConfig) -> Self {
        self.admin.web = AdminWeb::from_config(config);
        self
    }

    /// Replaces the sign-in settings; the account cache, which remembers ended sessions
    /// for as long as an access token lives, follows.
    pub fn with_auth(mut self, auth: AuthConfig) -> Self {
        self.accounts = Arc::new(AccountCache::new(
            self.clock.clone(),
            auth.access_token_expire_minutes,
        ));
        self.auth = auth;
        self
    }

    pub fn with_trusted_proxies(mut self, proxies: Vec<ipnet::IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn with_init_password(mut self, password: Option<String>) -> Self {
        self.init_password = password.filter(|p| !p.is_empty());
        self
    }

    /// `AUDIT_TRAIL=off` (`false`): audited calls run without writing their events.
    pub fn with_audit_trail(mut self, on: bool) -> Self {
        self.audit_trail = on;
        self
    }

    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Replaces the clock (tests move time instead of sleeping); the caches, whose entries
    /// expire by it, follow.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.admin.users = Arc::new(admin_users::new_user_cache(clock.clone()));
        self.accounts = Arc::new(AccountCache::new(
            clock.clone(),
            self.auth.access_token_expire_minutes,
        ));
        self.access_tokens = Arc::new(access_tokens::new_cache(clock.clone()));
        self.clock = clock;
        self
    }
}
