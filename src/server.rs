//! Starting the service: connect, migrate, bind, serve until asked to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};

use crate::config::ServeConfig;
use crate::db;
use crate::state::{AppState, PhaseKind};

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
    #[error("{0}")]
    Metrics(String),
}

/// A running server: where it listens, and the task serving it.
pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// Serves `app` on `acceptor` in a background task until `stop`.
    pub fn spawn<A, E>(addr: SocketAddr, acceptor: A, app: E, grace: Duration) -> Self
    where
        A: Acceptor + 'static,
        E: poem::IntoEndpoint + Send + 'static,
        E::Endpoint: 'static,
    {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = stop_rx.await;
                    },
                    Some(grace),
                )
                .await
        });
        Self {
            addr,
            task,
            stop: Some(stop_tx),
        }
    }

    /// Stops accepting, lets in-flight requests finish (within the grace `bind` was given)
    /// and stops.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// How long `Running::stop` waits for in-flight requests when not told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Binds `listen` (port 0 picks a free port) and serves `state` in a background task, in
/// whatever phase `state` is; `open` moves a starting server to serving.
pub async fn bind(
    listen: SocketAddr,
    state: Arc<AppState>,
    grace: Duration,
) -> Result<Running, ServeError> {
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
    Ok(Running::spawn(
        addr,
        acceptor,
        crate::app::build(state),
        grace,
    ))
}

/// The last step of starting: the caches hear other instances' invalidations
/// (PostgreSQL), then the API surfaces and `/ready` open.
pub async fn open(state: &AppState) -> Result<(), ServeError> {
    crate::cache::listen(state.cache_subscribers(), &state.db, state.database.clone()).await?;
    state.phase.set(PhaseKind::Serving);
    Ok(())
}

/// Binds `listen` and serves `state`, ready at once (its database is migrated).
pub async fn start(listen: SocketAddr, state: Arc<AppState>) -> Result<Running, ServeError> {
    let running = bind(listen, state.clone(), DEFAULT_GRACE).await?;
    if let Err(err) = open(&state).await {
        let _ = running.stop().await;
        return Err(err);
    }
    Ok(running)
}

/// `console-server serve`: connect, listen (health answers, `/ready` says 503), migrate,
/// open; on Ctrl-C / SIGTERM drain (`/ready` 503 for `SHUTDOWN_DELAY_SECONDS` while
/// still serving), then stop accepting and give in-flight requests up to
/// `SHUTDOWN_GRACE_SECONDS`.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let url = db::database_url(&config.storage)?;
    let conn = db::connect_with_timeout(&url, config.storage.timeout()).await?;
    let secret = crate::auth::secret::load(config.secret_key.as_deref(), &config.storage.data_dir)?;
    let mailer = crate::mail::from_config(config.features.mail_type.as_deref(), &config.mail)?;
    let state = AppState::new(conn, config.features.clone(), secret)
        .with_auth(config.auth.clone())
        .with_mailer(Arc::from(mailer))
        .with_init_password(config.init_password.clone())
        .with_trusted_proxies(config.trusted_proxies.clone())
        .with_oauth(config.oauth.clone())
        .with_admin_web(&config.admin_web)
        .with_audit_trail(config.audit_trail == crate::config::AuditTrail::On);
    if !state.audit_trail {
        tracing::warn!(
            "AUDIT_TRAIL=off: no audit events are written; this is a measurement switch, not for production"
        );
    }
    state.phase.set(PhaseKind::Starting);
    let state = Arc::new(state);
    let metrics = match config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, state.clone()).await?),
        None => None,
    };
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let running = bind(config.listen, state.clone(), grace).await?;
    tracing::info!(
        "console-server listening on http://{addr}; starting",
        addr = running.addr
    );
    let started = async {
        db::migrate(&state.db).await?;
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
        open(&state).await
    };
    // A signal during start-up stops at once; nothing has been served yet.
    tokio::select! {
        result = started => result?,
        () = shutdown_signal() => {
            tracing::info!("shutting down before the start finished");
            running.stop().await?;
            return Ok(());
        }
    }
    tracing::info!(
        "console-server ready on http://{addr}; Swagger UI at http://{addr}/swagger-ui/",
        addr = running.addr
    );
    shutdown_signal().await;
    state.phase.set(PhaseKind::Draining);
    let delay = Duration::from_secs(config.shutdown_delay_seconds);
    tracing::info!(
        delay_seconds = config.shutdown_delay_seconds,
        grace_seconds = config.shutdown_grace_seconds,
        "draining: /ready answers 503; the listener closes after the delay"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    running.stop().await?;
    if let Some(metrics) = metrics {
        let _ = metrics.stop().await;
    }
    tracing::info!("stopped");
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

#[poem::handler]
fn scrape(state: poem::web::Data<&Arc<AppState>>) -> poem::Response {
    use poem::IntoResponse;
    match crate::metrics::render(&state.db, &state.hasher) {
        Some(text) => text
            .with_content_type("text/plain; version=0.0.4; charset=utf-8")
            .into_response(),
        None => poem::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Installs the metrics recorder and serves `/metrics` on `addr` in a background task.
async fn serve_metrics(addr: SocketAddr, state: Arc<AppState>) -> Result<Running, ServeError> {
    use poem::EndpointExt;
    crate::metrics::install().map_err(|e| ServeError::Metrics(e.to_string()))?;
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    tracing::info!("metrics at http://{bound}/metrics");
    let app = poem::Route::new().at("/metrics", poem::get(scrape.data(state)));
    Ok(Running::spawn(bound, acceptor, app, Duration::from_secs(1)))
}
