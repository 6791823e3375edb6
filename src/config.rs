//! One typed configuration, from command-line flags, the environment and an optional
//! configuration file (each flag names its variable in `console-server serve --help`).
//!
//! The file (`--config FILE` or `CONFIG_FILE`) holds the same variables as `KEY=VALUE`
//! lines, as a Dify `.env` does, so an operator can reuse one. Flags win over the
//! environment, and the environment wins over the file.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};
use ipnet::IpNet;

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
    /// Seconds a request waits for the database (a connection to open or come free)
    /// before it is answered 503 (`/ready` waits at most a second, whatever this is).
    #[arg(long, env = "DATABASE_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub database_timeout: u64,
}

impl StorageConfig {
    /// `DATABASE_TIMEOUT` as a duration.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.database_timeout)
    }
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
    /// Kept for Dify compatibility; `enable_social_oauth_login` reports whether a GitHub or
    /// Google client is configured (`GITHUB_CLIENT_ID`, `GOOGLE_CLIENT_ID`), as Dify's
    /// backend decides by the configured providers.
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

/// Token lifetimes, sign-in limits and invitation links (Dify's variable names).
#[derive(Args, Clone, Debug)]
pub struct AuthConfig {
    /// Lifetime of an access token, in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 60)]
    pub access_token_expire_minutes: i64,
    /// Lifetime of a refresh token, in days.
    #[arg(long, env = "REFRESH_TOKEN_EXPIRE_DAYS", default_value_t = 30)]
    pub refresh_token_expire_days: i64,
    /// Window, in seconds, in which failed sign-ins for one email are counted, per client
    /// address: after 6 failures from one address, that address is locked out of that
    /// email until the window ends. Also the window of `LOGIN_EMAIL_CEILING`.
    #[arg(long, env = "LOGIN_LOCKOUT_DURATION", default_value_t = 86_400)]
    pub login_lockout_duration: i64,
    /// Failed sign-ins for one email, from all addresses together, per
    /// `LOGIN_LOCKOUT_DURATION`; once reached, that email is locked for every address
    /// until the window ends.
    #[arg(long, env = "LOGIN_EMAIL_CEILING", default_value_t = 100)]
    pub login_email_ceiling: u32,
    /// Failed sign-ins allowed from one client address per `LOGIN_IP_WINDOW` seconds.
    #[arg(long, env = "LOGIN_IP_LIMIT", default_value_t = 50)]
    pub login_ip_limit: u32,
    /// Window, in seconds, of `LOGIN_IP_LIMIT`.
    #[arg(long, env = "LOGIN_IP_WINDOW", default_value_t = 900)]
    pub login_ip_window: i64,
    /// Hours an invitation's activation link stays valid.
    #[arg(long, env = "INVITE_EXPIRY_HOURS", default_value_t = 72)]
    pub invite_expiry_hours: i64,
    /// Where the console front end lives; activation links point there.
    #[arg(long, env = "CONSOLE_WEB_URL", default_value = "http://127.0.0.1:3000")]
    pub console_web_url: String,
    /// Verification mails (forgot-password, registration) one client address may trigger
    /// per minute.
    #[arg(long, env = "EMAIL_SEND_IP_LIMIT_PER_MINUTE", default_value_t = 50)]
    pub email_send_ip_limit_per_minute: u32,
    /// Minutes a forgot-password code (and the token it came with) stays valid.
    #[arg(long, env = "RESET_PASSWORD_TOKEN_EXPIRY_MINUTES", default_value_t = 5)]
    pub reset_password_token_expiry_minutes: i64,
    /// Minutes a registration code (and the token it came with) stays valid.
    #[arg(long, env = "EMAIL_REGISTER_TOKEN_EXPIRY_MINUTES", default_value_t = 5)]
    pub email_register_token_expiry_minutes: i64,
    /// Minutes a sign-in code (and the token it came with) stays valid.
    #[arg(
        long,
        env = "EMAIL_CODE_LOGIN_TOKEN_EXPIRY_MINUTES",
        default_value_t = 5
    )]
    pub email_code_login_token_expiry_minutes: i64,
    /// The longest a personal access token may live, in days (1–365); 0 also allows
    /// tokens that never expire.
    #[arg(long, env = "PAT_MAX_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u16).range(0..=365))]
    pub pat_max_days: u16,
}

impl AuthConfig {
    pub fn defaults() -> Self {
        Self {
            access_token_expire_minutes: 60,
            refresh_token_expire_days: 30,
            login_lockout_duration: 86_400,
            login_email_ceiling: 100,
            login_ip_limit: 50,
            login_ip_window: 900,
            invite_expiry_hours: 72,
            console_web_url: "http://127.0.0.1:3000".to_string(),
            email_send_ip_limit_per_minute: 50,
            reset_password_token_expiry_minutes: 5,
            email_register_token_expiry_minutes: 5,
            email_code_login_token_expiry_minutes: 5,
            pat_max_days: 365,
        }
    }
}

/// SMTP settings (Dify's variable names); used when `MAIL_TYPE=smtp`.
#[derive(Args, Clone, Debug, Default)]
pub struct MailConfig {
    #[arg(long, env = "SMTP_SERVER")]
    pub smtp_server: Option<String>,
    #[arg(long, env = "SMTP_PORT", default_value_t = 465)]
    pub smtp_port: u16,
    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// TLS to the SMTP server (implicit TLS, or STARTTLS with `SMTP_OPPORTUNISTIC_TLS`).
    #[arg(long, env = "SMTP_USE_TLS", default_value_t = true, action = ArgAction::Set)]
    pub smtp_use_tls: bool,
    #[arg(long, env = "SMTP_OPPORTUNISTIC_TLS", default_value_t = false, action = ArgAction::Set)]
    pub smtp_opportunistic_tls: bool,
    /// The sender, e.g. `Console <no-reply@example.com>`.
    #[arg(long, env = "MAIL_DEFAULT_SEND_FROM")]
    pub mail_default_send_from: Option<String>,
}

/// Social sign-in providers. A provider is offered when its client id and secret are set;
/// its endpoints default to the real ones and can point elsewhere (a test provider, an
/// enterprise GitHub).
#[derive(Args, Clone, Debug)]
pub struct OAuthConfig {
    #[arg(long, env = "GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,
    #[arg(long, env = "GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<String>,
    #[arg(long, env = "GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    #[arg(long, env = "GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    #[arg(long, env = "OAUTH_GITHUB_AUTHORIZE_URL", default_value = GITHUB_AUTHORIZE_URL)]
    pub github_authorize_url: String,
    #[arg(long, env = "OAUTH_GITHUB_TOKEN_URL", default_value = GITHUB_TOKEN_URL)]
    pub github_token_url: String,
    /// GitHub's REST API; `/user` and `/user/emails` are read under it.
    #[arg(long, env = "OAUTH_GITHUB_API_URL", default_value = GITHUB_API_URL)]
    pub github_api_url: String,
    #[arg(long, env = "OAUTH_GOOGLE_AUTHORIZE_URL", default_value = GOOGLE_AUTHORIZE_URL)]
    pub google_authorize_url: String,
    #[arg(long, env = "OAUTH_GOOGLE_TOKEN_URL", default_value = GOOGLE_TOKEN_URL)]
    pub google_token_url: String,
    #[arg(long, env = "OAUTH_GOOGLE_USERINFO_URL", default_value = GOOGLE_USERINFO_URL)]
    pub google_userinfo_url: String,
    /// Where this API is reached from browsers; providers send users back to
    /// `{CONSOLE_API_URL}/console/api/oauth/authorize/{provider}`.
    #[arg(long, env = "CONSOLE_API_URL", default_value = "http://127.0.0.1:5001")]
    pub console_api_url: String,
    /// How a finished social sign-in hands the token pair to the web app
    /// (`CONSOLE_WEB_URL`): `query` (`?access_token=…&refresh_token=…`, what Dify's web app
    /// reads) or `fragment` (`#access_token=…`, never sent to a server nor in a Referer).
    #[arg(long = "oauth-token-delivery", env = "OAUTH_TOKEN_DELIVERY", value_enum, default_value_t = TokenDelivery::Query)]
    pub token_delivery: TokenDelivery,
}

/// Where the token pair of a social sign-in rides in the redirect to the web app.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenDelivery {
    /// `CONSOLE_WEB_URL?access_token=…&refresh_token=…` (Dify's web app).
    #[default]
    Query,
    /// `CONSOLE_WEB_URL#access_token=…&refresh_token=…`.
    Fragment,
}

/// Whether audited calls write their events (`AUDIT_TRAIL`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditTrail {
    #[default]
    On,
    /// No events: for measuring what the trail costs, not for production.
    Off,
}

pub const GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_URL: &str = "https://api.github.com";
pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";

impl OAuthConfig {
    /// No provider configured, real endpoints.
    pub fn defaults() -> Self {
        Self {
            github_client_id: None,
            github_client_secret: None,
            google_client_id: None,
            google_client_secret: None,
            github_authorize_url: GITHUB_AUTHORIZE_URL.to_string(),
            github_token_url: GITHUB_TOKEN_URL.to_string(),
            github_api_url: GITHUB_API_URL.to_string(),
            google_authorize_url: GOOGLE_AUTHORIZE_URL.to_string(),
            google_token_url: GOOGLE_TOKEN_URL.to_string(),
            google_userinfo_url: GOOGLE_USERINFO_URL.to_string(),
            console_api_url: "http://127.0.0.1:5001".to_string(),
            token_delivery: TokenDelivery::Query,
        }
    }
}

/// AList's default logo, reported when `ADMIN_SITE_LOGO` is unset.
pub const DEFAULT_SITE_LOGO: &str = "https://cdn.jsdelivr.net/gh/alist-org/logo@main/logo.svg";

/// What the AList web front end is told about the site and its storage
/// (`GET /api/public/settings`, `POST /api/fs/dirs`).
#[derive(Args, Clone, Debug)]
pub struct AdminWebConfig {
    /// The site's title in the AList web front end (`site_title`).
    #[arg(
        long = "admin-site-title",
        env = "ADMIN_SITE_TITLE",
        default_value = "AList"
    )]
    pub site_title: String,
    /// The site's logo URL, or two lines (light, dark) (`logo`; `favicon` is the first).
    #[arg(long = "admin-site-logo", env = "ADMIN_SITE_LOGO", default_value = DEFAULT_SITE_LOGO)]
    pub site_logo: String,
    /// Folders of the storage (served elsewhere) an administrator can pick as a user's base
    /// path, comma-separated (`/,/team,/team/docs`); parents are added. Unset: the root alone.
    #[arg(
        long = "admin-base-paths",
        env = "ADMIN_BASE_PATHS",
        value_delimiter = ','
    )]
    pub base_paths: Vec<String>,
}

impl AdminWebConfig {
    pub fn defaults() -> Self {
        Self {
            site_title: "AList".to_string(),
            site_logo: DEFAULT_SITE_LOGO.to_string(),
            base_paths: Vec::new(),
        }
    }
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
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub mail: MailConfig,
    #[command(flatten)]
    pub oauth: OAuthConfig,
    #[command(flatten)]
    pub admin_web: AdminWebConfig,
    /// Secret that signs tokens (at least 32 characters). Generated once into the data
    /// directory when unset; instances sharing a database must share it.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// When set, `POST /console/api/setup` first needs `POST /console/api/init` with this
    /// password from the same client address, so a fresh server cannot be claimed by a stranger.
    #[arg(long, env = "INIT_PASSWORD", hide_env_values = true)]
    pub init_password: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For`
    /// names the client; sign-in limits then count the client, not the proxy. Empty: the
    /// peer is the client and forwarded-for headers are ignored.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Days audit events are kept; older ones are deleted in the background, in batches.
    /// 0 keeps them for ever.
    #[arg(long, env = "AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
    /// `off` writes no audit events at all: a measurement switch (the benchmark compares
    /// audited writes and sign-ins with and without their events), never for production.
    /// The server logs a warning at start while it is off.
    #[arg(long, env = "AUDIT_TRAIL", value_enum, default_value_t = AuditTrail::On)]
    pub audit_trail: AuditTrail,
    /// Password of the admin-surface user `admin` created on first start (an empty users
    /// table); a random one is generated and logged once when unset.
    #[arg(long, env = "OPENLIST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// On SIGTERM or Ctrl-C: how long requests already started may take to finish before
    /// the server stops anyway.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// On SIGTERM or Ctrl-C: how long the server keeps accepting and serving while `/ready`
    /// answers 503, so load balancers stop sending before the listener closes (set it to
    /// the balancer's probe interval times its failure threshold).
    #[arg(long, env = "SHUTDOWN_DELAY_SECONDS", default_value_t = 2)]
    pub shutdown_delay_seconds: u64,
    /// Serve Prometheus metrics at `http://METRICS_ADDR/metrics`, on a listener of their
    /// own (never on the API's); off when unset.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
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

/// The variable that names a configuration file when `--config` is not given.
pub const CONFIG_FILE_VAR: &str = "CONFIG_FILE";

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the configuration file {path}: {message}")]
    Unreadable { path: String, message: String },
}

/// The configuration file named on the command line (`--config FILE`, `--config=FILE`) or,
/// failing that, by `CONFIG_FILE`. Read before the arguments are parsed, because the
/// file's settings must be in place when the parser reads the environment.
pub fn config_file_path(args: &[OsString], env: Option<OsString>) -> Option<PathBuf> {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    env.filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// The settings of the file at `path` that `is_set` (the environment) does not already
/// have, in file order.
pub fn file_settings(
    path: &Path,
    is_set: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, ConfigFileError> {
    let unreadable = |message: String| ConfigFileError::Unreadable {
        path: path.display().to_string(),
        message,
    };
    let mut settings = Vec::new();
    for item in dotenvy::from_path_iter(path).map_err(|e| unreadable(e.to_string()))? {
        let (key, value) = item.map_err(|e| unreadable(e.to_string()))?;
        if !is_set(&key) && !settings.iter().any(|(k, _)| *k == key) {
            settings.push((key, value));
        }
    }
    Ok(settings)
}

/// Parses one `TRUSTED_PROXIES` entry: an address (`10.0.0.7`) or a range (`10.0.0.0/8`).
pub fn parse_proxy(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{entry}` is neither an IP address nor a CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn auth_defaults_match_the_flags_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            auth: AuthConfig,
        }
        // The environment of the test run could set these; clap would read them.
        for var in [
            "LOGIN_EMAIL_CEILING",
            "LOGIN_LOCKOUT_DURATION",
            "LOGIN_IP_LIMIT",
        ] {
            if std::env::var_os(var).is_some() {
                return;
            }
        }
        let parsed = Cli::try_parse_from(["cs"]).expect("parse").auth;
        let defaults = AuthConfig::defaults();
        assert_eq!(parsed.login_email_ceiling, 100);
        assert_eq!(defaults.login_email_ceiling, 100);
        assert_eq!(
            (parsed.login_lockout_duration, parsed.login_ip_limit),
            (defaults.login_lockout_duration, defaults.login_ip_limit)
        );
        let set = Cli::try_parse_from(["cs", "--login-email-ceiling", "7"]).expect("parse");
        assert_eq!(set.auth.login_email_ceiling, 7);
    }

    #[test]
    fn admin_base_paths_are_a_comma_separated_list() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            web: AdminWebConfig,
        }
        use clap::Parser as _;
        for var in ["ADMIN_BASE_PATHS", "ADMIN_SITE_TITLE", "ADMIN_SITE_LOGO"] {
            if std::env::var_os(var).is_some() {
                return;
            }
        }
        let web = Cli::try_parse_from(["cs"]).expect("parse").web;
        assert!(web.base_paths.is_empty());
        assert_eq!(web.site_title, AdminWebConfig::defaults().site_title);
        assert_eq!(web.site_logo, DEFAULT_SITE_LOGO);
        let web = Cli::try_parse_from(["cs", "--admin-base-paths", "/,/team,/team/docs"])
            .expect("parse")
            .web;
        assert_eq!(web.base_paths, ["/", "/team", "/team/docs"]);
    }

    #[test]
    fn the_flag_wins_over_the_variable() {
        let env = Some(OsString::from("/from/env"));
        assert_eq!(
            config_file_path(&os(&["cs", "serve", "--config", "/a"]), env.clone()),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            config_file_path(&os(&["cs", "--config=/b", "migrate"]), env.clone()),
            Some(PathBuf::from("/b"))
        );
        assert_eq!(
            config_file_path(&os(&["cs", "serve"]), env),
            Some(PathBuf::from("/from/env"))
        );
        assert_eq!(config_file_path(&os(&["cs", "serve"]), None), None);
        assert_eq!(
            config_file_path(&os(&["cs", "--", "--config", "/c"]), None),
            None
        );
    }

    #[test]
    fn oauth_token_delivery_is_query_unless_set_to_fragment() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            oauth: OAuthConfig,
        }
        use clap::Parser as _;
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.oauth.token_delivery);
        // The default: unless OAUTH_TOKEN_DELIVERY is set in the environment running
        // the tests, which nothing here does.
        if std::env::var_os("OAUTH_TOKEN_DELIVERY").is_none() {
            assert_eq!(parse(&["cs"]).ok(), Some(TokenDelivery::Query));
            assert_eq!(OAuthConfig::defaults().token_delivery, TokenDelivery::Query);
        }
        assert_eq!(
            parse(&["cs", "--oauth-token-delivery", "fragment"]).ok(),
            Some(TokenDelivery::Fragment)
        );
        assert_eq!(
            parse(&["cs", "--oauth-token-delivery=query"]).ok(),
            Some(TokenDelivery::Query)
        );
        assert!(parse(&["cs", "--oauth-token-delivery", "cookie"]).is_err());
    }

    #[test]
    fn the_audit_trail_is_on_unless_set_off() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeConfig,
        }
        use clap::Parser as _;
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.serve.audit_trail);
        // The default: unless AUDIT_TRAIL is set in the environment running the tests.
        if std::env::var_os("AUDIT_TRAIL").is_none() {
            assert_eq!(parse(&["cs"]).ok(), Some(AuditTrail::On));
        }
        assert_eq!(
            parse(&["cs", "--audit-trail", "off"]).ok(),
            Some(AuditTrail::Off)
        );
        assert_eq!(
            parse(&["cs", "--audit-trail=on"]).ok(),
            Some(AuditTrail::On)
        );
        assert!(parse(&["cs", "--audit-trail", "false"]).is_err());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("config-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join(".env");
        std::fs::write(
            &file,
            "# a Dify .env\nSECRET_KEY=from-file\nLISTEN_ADDR=\"127.0.0.1:9\"\n\nDATA_DIR=/data # kept\n",
        )
        .expect("write");
        let settings = file_settings(&file, |k| k == "SECRET_KEY").expect("read");
        assert_eq!(
            settings,
            vec![
                ("LISTEN_ADDR".to_string(), "127.0.0.1:9".to_string()),
                ("DATA_DIR".to_string(), "/data".to_string()),
            ]
        );
        let missing = file_settings(&dir.join("missing"), |_| false).expect_err("missing");
        assert!(missing.to_string().contains("missing"), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
