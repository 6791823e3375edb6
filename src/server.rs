//! Starting the service: connect, migrate, bind, serve until asked to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};

use crate::config::ServeConfig;
use crate::db;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Setup(#[from] db::DbSetupError),
    #[error(transparent)]
    Secret(#[from] crate::auth::secret::SecretError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("creating the first admin-surface users: {0}")]
    Bootstrap(String),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// A running server: where it listens, and the task serving it.
pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// Asks the server to finish in-flight requests and stop.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `state` in a background task.
pub async fn start(listen: SocketAddr, state: Arc<AppState>) -> Result<Running, ServeError> {
    let acceptor = TcpListener::bind(listen)
        .into_acceptor()
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(listen);
    // The caches hear other instances' invalidations (PostgreSQL) before serving.
    crate::cache::listen(state.cache_subscribers(), &state.db).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = crate::app::build(state);
    let task = tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stop_rx.await;
                },
                Some(Duration::from_secs(10)),
            )
            .await
    });
    Ok(Running {
        addr,
        task,
        stop: Some(stop_tx),
    })
}

/// `console-server serve`: connect and migrate, then serve until Ctrl-C / SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let url = db::database_url(&config.storage)?;
    let conn = db::connect(&url).await?;
    db::migrate(&conn).await?;
    let secret = crate::auth::secret::load(config.secret_key.as_deref(), &config.storage.data_dir)?;
    let mailer = crate::mail::from_config(config.features.mail_type.as_deref(), &config.mail)?;
    let state = Arc::new(
        AppState::new(conn, config.features.clone(), secret)
            .with_auth(config.auth.clone())
            .with_mailer(Arc::from(mailer))
            .with_init_password(config.init_password.clone())
            .with_trusted_proxies(config.trusted_proxies.clone())
            .with_oauth(config.oauth.clone())
            .with_admin_web(&config.admin_web),
    );
    match crate::domain::admin_users::bootstrap(
        &state.db,
        &state.hasher,
        state.clock.as_ref(),
        config.admin_password.clone(),
    )
    .await
    {
        Ok(Some(password)) => tracing::info!(
            "created the admin user `admin` with password {password} (shown once; change it, or reset it with `console-server admin-user reset-password`)"
        ),
        Ok(None) => {}
        Err(err) => return Err(ServeError::Bootstrap(err.to_string())),
    }
    let sealer = crate::auth::sealed::Sealer::new(&state.secret);
    match crate::domain::admin_users::seal_plain_otp_secrets(&state.db, &sealer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sealed {n} admin 2FA secret(s) stored in plain text"),
        Err(err) => return Err(ServeError::Bootstrap(err.to_string())),
    }
    spawn_audit_retention(state.clone(), config.audit_retention_days);
    let running = start(config.listen, state).await?;
    tracing::info!(
        "console-server listening on http://{addr}; Swagger UI at http://{addr}/swagger-ui/",
        addr = running.addr
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await?;
    Ok(())
}

/// Deletes audit events older than `days` at start and hourly, 1000 at a time with a pause
/// between batches, so the deletion never holds the database for long.
fn spawn_audit_retention(state: Arc<AppState>, days: u32) {
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            let before = state.clock.now() - i64::from(days) * 86_400;
            let mut deleted = 0;
            loop {
                match crate::domain::audit_events::delete_older(&state.db, before, 1000).await {
                    Ok(n) => {
                        deleted += n;
                        if n < 1000 {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "audit retention pass failed; retrying later");
                        break;
                    }
                }
            }
            if deleted > 0 {
                tracing::info!(deleted, days, "deleted audit events past their retention");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
