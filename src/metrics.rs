//! Prometheus metrics, served at `http://METRICS_ADDR/metrics` on a listener of their own
//! (never on the API's), in the Prometheus text format.
//!
//! Counters and histograms are recorded through the `metrics` facade wherever the event
//! happens (the request line, the hasher, the caches, the sign-in errors, the mailer);
//! without `METRICS_ADDR` no recorder is installed and each of those is a no-op. Gauges
//! that describe a state (the database pool, the hash queue) are read when scraped.
//!
//! Names:
//! - `http_requests_total{surface,operation,status}`, `http_request_duration_seconds{surface,operation}`
//! - `db_statements_total{surface,operation}` (statements the requests ran; per request:
//!   divided by `http_requests_total`)
//! - `db_pool_connections{state="open"|"idle"|"in_use"|"max"}`
//! - `password_hash_queue_depth`, `password_hash_duration_seconds`
//! - `cache_hits_total{cache}`, `cache_misses_total{cache}`, `cache_invalidations_total{cache}`
//! - `sign_in_failures_total{surface}`, `sign_in_locked_total{surface}`
//! - `mail_send_failures_total`

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

use crate::auth::password::PasswordHasher;

/// Request metrics need the request's operationId, a walk of the route table: only done
/// once a recorder is installed.
static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether metrics are being recorded (`METRICS_ADDR` is set).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Latency buckets, in seconds: a cached read is well under a millisecond, a sign-in tens
/// of milliseconds, a request waiting for a database that is down up to `DATABASE_TIMEOUT`.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics: {0}")]
    Build(#[from] metrics_exporter_prometheus::BuildError),
    #[error("metrics: another metrics recorder is installed")]
    Installed,
}

/// Installs the process's Prometheus recorder (once; later calls reuse it).
pub fn install() -> Result<&'static PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::Installed)?;
    describe();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(HANDLE.get_or_init(|| handle))
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "Requests answered, by surface, operationId (\"-\" for none) and HTTP status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its answer, by surface and operationId"
    );
    describe_gauge!(
        "db_pool_connections",
        "Database pool connections: open, idle, in use, and the pool's maximum"
    );
    describe_gauge!(
        "password_hash_queue_depth",
        "Password hashes and checks waiting for a hashing thread"
    );
    describe_histogram!(
        "password_hash_duration_seconds",
        Unit::Seconds,
        "Time a hashing thread spends on one password hash or check"
    );
    describe_counter!("cache_hits_total", "Cache reads served from memory");
    describe_counter!(
        "cache_misses_total",
        "Cache reads that went to the database"
    );
    describe_counter!(
        "cache_invalidations_total",
        "Keys invalidated, by this instance's writes or other instances' notifications"
    );
    describe_counter!(
        "sign_in_failures_total",
        "Sign-ins refused for a wrong email, username or password"
    );
    describe_counter!(
        "sign_in_locked_total",
        "Sign-ins refused because the email, user or address is locked out"
    );
    describe_counter!(
        "mail_send_failures_total",
        "Mails the mail server did not take"
    );
}

/// Records one answered request.
pub fn request(
    surface: &'static str,
    operation: &'static str,
    status: u16,
    took: Duration,
    statements: u32,
) {
    metrics::counter!(
        "http_requests_total",
        "surface" => surface,
        "operation" => operation,
        "status" => status_label(status),
    )
    .increment(1);
    metrics::histogram!(
        "http_request_duration_seconds",
        "surface" => surface,
        "operation" => operation,
    )
    .record(took.as_secs_f64());
    // Divided by `http_requests_total`: the statements an operation runs per request.
    metrics::counter!(
        "db_statements_total",
        "surface" => surface,
        "operation" => operation,
    )
    .increment(u64::from(statements));
}

/// The status as a label without an allocation for the usual ones.
fn status_label(status: u16) -> metrics::SharedString {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (501, "501"),
        (503, "503"),
    ];
    match KNOWN.iter().find(|(code, _)| *code == status) {
        Some((_, text)) => metrics::SharedString::const_str(text),
        None => metrics::SharedString::from(status.to_string()),
    }
}

/// Which surface a path belongs to, for the request metrics.
pub fn surface_of(path: &str) -> &'static str {
    if path.starts_with("/console/api") {
        "console"
    } else if path == "/api" || path.starts_with("/api/") {
        "admin"
    } else {
        "other"
    }
}

/// The gauges read at scrape time.
fn observe(db: &DatabaseConnection, hasher: &PasswordHasher) {
    use sea_orm::DbBackend;
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    let gauge = |which: &'static str, value: u32| {
        metrics::gauge!("db_pool_connections", "state" => which).set(f64::from(value));
    };
    gauge("open", size);
    gauge("idle", idle);
    gauge("in_use", size.saturating_sub(idle));
    gauge("max", max);
    metrics::gauge!("password_hash_queue_depth").set(hasher.queued() as f64);
}

/// What a scrape answers, in the Prometheus text format; `None` before `install`.
pub fn render(db: &DatabaseConnection, hasher: &PasswordHasher) -> Option<String> {
    let handle = HANDLE.get()?;
    observe(db, hasher);
    handle.run_upkeep();
    Some(handle.render())
}
