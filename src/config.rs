//! One typed configuration, from command-line flags and the environment (each flag names
//! its variable in `console-server serve --help`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args};

/// Where the data lives.
#[derive(Args, Clone, Debug)]
pub struct StorageConfig {
    /// Directory for the SQLite database (created when missing).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL (`postgres://…` or `sqlite://…`); the SQLite file in the data directory
    /// when unset.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// The public feature switches reported by `GET /console/api/system-features`.
#[derive(Args, Clone, Debug)]
pub struct FeatureConfig {
    /// Allow people to create their own account (`is_allow_register`).
    #[arg(long, env = "ALLOW_REGISTER", default_value_t = false, action = ArgAction::Set)]
    pub allow_register: bool,
    /// Allow accounts to create workspaces (`is_allow_create_workspace`).
    #[arg(long, env = "ALLOW_CREATE_WORKSPACE", default_value_t = false, action = ArgAction::Set)]
    pub allow_create_workspace: bool,
    /// Sign-in with an emailed code (`enable_email_code_login`).
    #[arg(long, env = "ENABLE_EMAIL_CODE_LOGIN", default_value_t = false, action = ArgAction::Set)]
    pub enable_email_code_login: bool,
    /// Sign-in with email and password (`enable_email_password_login`).
    #[arg(long, env = "ENABLE_EMAIL_PASSWORD_LOGIN", default_value_t = true, action = ArgAction::Set)]
    pub enable_email_password_login: bool,
    /// Sign-in with GitHub/Google (`enable_social_oauth_login`).
    #[arg(long, env = "ENABLE_SOCIAL_OAUTH_LOGIN", default_value_t = false, action = ArgAction::Set)]
    pub enable_social_oauth_login: bool,
    /// Show the plugin marketplace (`enable_marketplace`).
    #[arg(long, env = "MARKETPLACE_ENABLED", default_value_t = true, action = ArgAction::Set)]
    pub enable_marketplace: bool,
    /// Largest plugin package, in bytes (`max_plugin_package_size`).
    #[arg(long, env = "PLUGIN_MAX_PACKAGE_SIZE", default_value_t = 52_428_800)]
    pub max_plugin_package_size: i64,
    /// The mailer in use (`smtp`, …); `is_email_setup` is true when set.
    #[arg(long, env = "MAIL_TYPE")]
    pub mail_type: Option<String>,
    /// Whether this is a public (multi-tenant) deployment (`is_public_deployment`).
    #[arg(long, env = "IS_PUBLIC_DEPLOYMENT", default_value_t = false, action = ArgAction::Set)]
    pub is_public_deployment: bool,
}

/// Everything `serve` needs.
#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:5001")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub features: FeatureConfig,
    /// Secret that signs tokens (at least 32 characters). Generated once into the data
    /// directory when unset; instances sharing a database must share it.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Password of the admin-surface user `admin` created on first start (an empty users
    /// table); a random one is generated and logged once when unset.
    #[arg(long, env = "OPENLIST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

impl FeatureConfig {
    /// The defaults, as `serve` with no flags and no environment would have them.
    pub fn defaults() -> Self {
        Self {
            allow_register: false,
            allow_create_workspace: false,
            enable_email_code_login: false,
            enable_email_password_login: true,
            enable_social_oauth_login: false,
            enable_marketplace: true,
            max_plugin_package_size: 52_428_800,
            mail_type: None,
            is_public_deployment: false,
        }
    }
}
