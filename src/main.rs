//! `console-server`: serve (the default), migrate, back up or restore, or print a spec.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC};
use console_server::config::{self, ServeConfig, StorageConfig};
use console_server::{db, server};

#[derive(Parser)]
#[command(
    name = "console-server",
    version,
    about = "The zgi-next console API and an AList-compatible admin user API"
)]
struct Cli {
    /// A file of `KEY=VALUE` settings (the variables below, as in a Dify `.env`); the
    /// environment wins over it.
    #[arg(long, global = true, env = "CONFIG_FILE", value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Parser)]
struct DefaultServe {
    #[command(flatten)]
    config: ServeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve both APIs (the default when no command is given).
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations and exit.
    Migrate(StorageConfig),
    /// Copy a live SQLite database into FILE, consistently, while the server runs.
    Backup {
        #[command(flatten)]
        storage: StorageConfig,
        /// The copy to write (a new file).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Put a backup in place as the database of a data directory that has none.
    Restore {
        #[command(flatten)]
        storage: StorageConfig,
        /// The backup to restore.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// Manage the admin surface's users.
    #[command(subcommand)]
    AdminUser(AdminUserCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print an API spec (the YAML as written).
    Openapi {
        #[arg(value_enum, default_value = "console")]
        surface: SpecSurface,
    },
}

#[derive(Subcommand)]
enum AdminUserCommand {
    /// Set the password of the admin-surface user `admin` (ends its sessions).
    ResetPassword {
        #[command(flatten)]
        storage: StorageConfig,
        /// Generate a random password and print it.
        #[arg(long, conflicts_with = "password")]
        random: bool,
        /// The new password.
        #[arg(long, required_unless_present = "random")]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write the events of both surfaces to stdout as JSON lines, oldest first (for a SIEM).
    Export {
        #[command(flatten)]
        storage: StorageConfig,
        /// Only events at or after this time (Unix seconds).
        #[arg(long)]
        since: Option<i64>,
        /// Only events before this time (Unix seconds).
        #[arg(long)]
        until: Option<i64>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SpecSurface {
    Console,
    Admin,
}

fn main() -> ExitCode {
    if let Err(err) = load_config_file() {
        eprintln!("console-server: {err}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // No command means `serve` with its flags taken from the environment and defaults.
    let command = cli.command.unwrap_or_else(|| {
        Command::Serve(Box::new(
            DefaultServe::parse_from(["console-server"]).config,
        ))
    });
    if let Command::Openapi { surface } = command {
        print!(
            "{}",
            match surface {
                SpecSurface::Console => CONSOLE_SPEC,
                SpecSurface::Admin => ADMIN_SPEC,
            }
        );
        return ExitCode::SUCCESS;
    }
    // The export's stdout is its data: its log goes to stderr.
    init_logging(matches!(command, Command::Audit(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("console-server: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve(config) => server::serve(*config).await.map_err(|e| e.to_string()),
            Command::Migrate(storage) => migrate(storage).await,
            Command::Backup { storage, to } => {
                console_server::backup::backup(&storage, &to)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("backed up to {}", to.display());
                Ok(())
            }
            Command::Restore { storage, from } => {
                console_server::backup::restore(&storage, &from)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "restored {} into {}",
                    from.display(),
                    storage.data_dir.display()
                );
                Ok(())
            }
            Command::AdminUser(AdminUserCommand::ResetPassword {
                storage, password, ..
            }) => reset_admin_password(storage, password).await,
            Command::Audit(AuditCommand::Export {
                storage,
                since,
                until,
            }) => export_audit(storage, since, until).await,
            Command::Openapi { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("console-server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `LOG_FORMAT=json`: one JSON object per line (the request's id, operation, method, path,
/// status and latency on each request line), for log shippers; anything else: text, in
/// colour only on a terminal.
fn init_logging(to_stderr: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if to_stderr {
        builder.with_writer(std::io::stderr).with_ansi(false).init();
    } else if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stdout().is_terminal()).init();
    }
}

async fn export_audit(
    storage: StorageConfig,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<(), String> {
    use console_server::domain::audit_events;
    use std::io::Write;
    let url = db::database_url(&storage).map_err(|e| e.to_string())?;
    let conn = db::connect(&url).await.map_err(|e| e.to_string())?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let count = audit_events::for_each(&conn, since, until, |event| {
        writeln!(out, "{}", audit_events::to_json(event))
    })
    .await
    .map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    tracing::info!(count, "audit events exported");
    Ok(())
}

async fn migrate(storage: StorageConfig) -> Result<(), String> {
    let url = db::database_url(&storage).map_err(|e| e.to_string())?;
    let conn = db::connect(&url).await.map_err(|e| e.to_string())?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn reset_admin_password(
    storage: StorageConfig,
    password: Option<String>,
) -> Result<(), String> {
    use console_server::auth::password::PasswordHasher;
    use console_server::clock::SystemClock;
    use console_server::domain::admin_users;
    let url = db::database_url(&storage).map_err(|e| e.to_string())?;
    let conn = db::connect(&url).await.map_err(|e| e.to_string())?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    let hasher = PasswordHasher::default();
    admin_users::bootstrap(&conn, &hasher, &SystemClock, None)
        .await
        .map_err(|e| e.to_string())?;
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (admin_users::random_password(), true),
    };
    // Running servers on PostgreSQL drop their cached copy (SQLite: restart the server,
    // or call `del_cache`, for old tokens to stop working before the cache entry expires).
    let cache = admin_users::new_user_cache(std::sync::Arc::new(SystemClock));
    let username =
        admin_users::reset_admin_password(&conn, &cache, &hasher, &SystemClock, &password)
            .await
            .map_err(|e| e.to_string())?;
    if generated {
        println!("the password of `{username}` is now: {password}");
    } else {
        println!("the password of `{username}` has been set");
    }
    Ok(())
}

/// Puts the configuration file's settings into the environment, where the argument parser
/// reads them, unless the environment already has them.
fn load_config_file() -> Result<(), config::ConfigFileError> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let Some(path) = config::config_file_path(&args, std::env::var_os(config::CONFIG_FILE_VAR))
    else {
        return Ok(());
    };
    for (key, value) in config::file_settings(&path, |k| std::env::var_os(k).is_some())? {
        // SAFETY: this runs first thing in `main`, before the runtime or any other thread
        // exists, so nothing can be reading the environment concurrently.
        unsafe { std::env::set_var(key, value) };
    }
    Ok(())
}
