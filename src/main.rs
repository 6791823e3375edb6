//! `console-server`: serve (the default), migrate, or print a spec.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC};
use console_server::config::{ServeConfig, StorageConfig};
use console_server::{db, server};

#[derive(Parser)]
#[command(
    name = "console-server",
    version,
    about = "The zgi-next console API and an AList-compatible admin user API"
)]
struct Cli {
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
    /// Print an API spec (the YAML as written).
    Openapi {
        #[arg(value_enum, default_value = "console")]
        surface: SpecSurface,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SpecSurface {
    Console,
    Admin,
}

fn main() -> ExitCode {
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
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

async fn migrate(storage: StorageConfig) -> Result<(), String> {
    let url = db::database_url(&storage).map_err(|e| e.to_string())?;
    let conn = db::connect(&url).await.map_err(|e| e.to_string())?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    tracing::info!("migrations applied");
    Ok(())
}
