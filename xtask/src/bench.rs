//! `cargo xtask bench [--database-url URL] [--seconds N] [--out FILE] [--no-build] [--scale]`
//!
//! Builds the release server and `hash-rate`, starts the server on SQLite (and on
//! PostgreSQL when `--database-url` names a server; a fresh database is created on it and
//! dropped afterwards), seeds an administrator and one account per load connection, and
//! measures, one phase after another: `/health`, the profile call, logins, the profile
//! call while every connection logs in non-stop, an audited write and logins with and
//! without the audit trail (a second server with `AUDIT_TRAIL=off`), idle RSS and
//! start-to-ready time. The
//! figures, their ratios and the targets go to BENCHMARKS.md. `--scale` adds, per backend
//! and on a server of its own, the group pages on a large generated data set
//! (`bench_scale.rs`).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::load::{self, Connection};

/// Connections of each load phase, as the benchmark asks.
const CONNECTIONS: usize = 16;
/// Restarts timed for start-to-ready (the median is reported).
const RESTARTS: usize = 5;

/// Profile clients measured while the login storm runs.
const STORM_PROFILE_CONNECTIONS: usize = 4;
const PASSWORD: &str = "bench-password-1";
/// The admin-surface `admin` password the server is started with.
const ADMIN_SURFACE_PASSWORD: &str = "bench-admin-password-1";

pub struct Options {
    pub database_url: Option<String>,
    pub seconds: f64,
    pub out: PathBuf,
    pub build: bool,
    pub scale: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            database_url: None,
            seconds: 10.0,
            out: PathBuf::from("BENCHMARKS.md"),
            build: true,
            scale: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--database-url" => options.database_url = Some(value("--database-url")?),
                "--seconds" => {
                    options.seconds = value("--seconds")?
                        .parse()
                        .context("--seconds takes a number")?;
                    if options.seconds <= 0.0 {
                        bail!("--seconds must be positive");
                    }
                }
                "--out" => options.out = PathBuf::from(value("--out")?),
                "--no-build" => options.build = false,
                "--scale" => options.scale = true,
                other => bail!(
                    "unknown argument {other}; usage: cargo xtask bench [--database-url URL] [--seconds N] [--out FILE] [--no-build] [--scale]"
                ),
            }
        }
        Ok(options)
    }
}

/// What one storage backend measured.
struct Figures {
    backend: &'static str,
    cold_ready: Duration,
    /// Restarts, fastest first.
    warm_ready: Vec<Duration>,
    /// The raw verification rate just before and just after the login phase: the machine's
    /// speed drifts (a shared VM), so the ceiling is measured beside what it bounds.
    hash_rates: [f64; 2],
    idle_rss_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    health: load::Outcome,
    profile: load::Outcome,
    /// The same profile call made with personal access tokens.
    pat_profile: load::Outcome,
    login: load::Outcome,
    storm_login: load::Outcome,
    storm_profile: load::Outcome,
    /// The same calls on a server with the audit trail and one with `AUDIT_TRAIL=off`.
    audit_cost: AuditCost,
    /// (operationId, requests, statements) of a separate run with metrics on.
    statements: Vec<(&'static str, f64, f64)>,
}

/// Audited calls with and without their events.
struct AuditCost {
    write: [load::Outcome; 2],
    login: [load::Outcome; 2],
}

/// Slices each side of an on/off comparison is cut into, run alternately (on, off, off,
/// on, …) so the machine's drift (a shared VM) weighs on both sides alike.
const AUDIT_SLICES: u32 = 4;

/// Runs `requests` against `on` and `off` alternately, `duration` in all on each; returns
/// what each measured, on first.
async fn on_and_off(
    on: SocketAddr,
    off: SocketAddr,
    requests: &[Vec<u8>],
    duration: Duration,
) -> Result<[load::Outcome; 2]> {
    let slice = duration / AUDIT_SLICES;
    let mut sides = [load::Outcome::default(), load::Outcome::default()];
    for round in 0..AUDIT_SLICES {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let addr = if side == 0 { on } else { off };
            let o = load::run(addr, CONNECTIONS, slice, requests.to_vec(), 200).await?;
            let total = &mut sides[side];
            total.latencies_us.extend(o.latencies_us);
            total.errors += o.errors;
            total.elapsed += o.elapsed;
        }
    }
    Ok(sides)
}

pub fn run(root: &Path, options: &Options) -> Result<()> {
    let release = target_dir(root).join("release");
    if options.build {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args([
                "build",
                "--release",
                "-p",
                "console-server",
                "-p",
                "hash-rate",
                "--bin",
                "console-server",
                "--bin",
                "hash-rate",
            ])
            .status()
            .context("running cargo build --release")?;
        if !status.success() {
            bail!("the release build failed");
        }
    }
    let server = release.join("console-server");
    let duration = Duration::from_secs_f64(options.seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let hash_rate = release.join("hash-rate");
    let mut all = vec![runtime.block_on(bench_backend(&server, &hash_rate, None, duration))?];
    if let Some(url) = &options.database_url {
        all.push(runtime.block_on(bench_backend(&server, &hash_rate, Some(url), duration))?);
    }
    let mut report = report(root, options, &mut all)?;
    if options.scale {
        let mut backends = vec![None];
        if let Some(url) = &options.database_url {
            backends.push(Some(url.as_str()));
        }
        for admin_url in backends {
            let (backend, mut scale) =
                runtime.block_on(scale_backend(&server, admin_url, duration))?;
            crate::bench_scale::report(&mut report, backend, options.seconds, &mut scale)?;
        }
    }
    std::fs::write(root.join(&options.out), &report)
        .with_context(|| format!("writing {}", options.out.display()))?;
    print!("{report}");
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

async fn hash_rate(binary: &Path, seconds: f64) -> Result<f64> {
    let binary = binary.to_path_buf();
    tokio::task::spawn_blocking(move || hash_rate_blocking(&binary, seconds)).await?
}

fn hash_rate_blocking(binary: &Path, seconds: f64) -> Result<f64> {
    let out = Command::new(binary)
        .arg(seconds.to_string())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !out.status.success() {
        bail!("hash-rate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("verifies_per_second=")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unexpected hash-rate output {text:?}"))
}

/// A running release server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server and returns once `/ready` answers 200, with the time that took.
    async fn start(
        binary: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> Result<(Self, Duration)> {
        Self::start_with(binary, data_dir, database_url, true, None).await
    }

    /// `start`, with the audit trail on or (`AUDIT_TRAIL=off`, a server of its own log) off.
    /// With `metrics`, the server also serves `/metrics` there (`METRICS_ADDR`).
    async fn start_with(
        binary: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
        audit_trail: bool,
        metrics: Option<SocketAddr>,
    ) -> Result<(Self, Duration)> {
        let addr = free_port()?;
        let log_name = match (audit_trail, metrics) {
            (_, Some(_)) => "server-metrics.log",
            (true, None) => "server.log",
            (false, None) => "server-audit-off.log",
        };
        let log = std::fs::File::create(data_dir.join(log_name))?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .env("OPENLIST_ADMIN_PASSWORD", ADMIN_SURFACE_PASSWORD)
            .env_remove("DATABASE_URL")
            .env_remove("CONFIG_FILE")
            .env("AUDIT_TRAIL", if audit_trail { "on" } else { "off" })
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(metrics) = metrics {
            command.env("METRICS_ADDR", metrics.to_string());
        }
        let started = Instant::now();
        let child = command.spawn().context("starting the server")?;
        let mut server = Self { child, addr };
        let ready = load::request("GET", "/ready", None, None);
        loop {
            if let Ok(mut conn) = Connection::open(addr).await
                && let Ok((200, _)) = conn.send(&ready).await
            {
                return Ok((server, started.elapsed()));
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited with {status}; see {}",
                    data_dir.join(log_name).display()
                );
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the server was not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn rss_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<Value> {
        let body = if body.is_null() {
            None
        } else {
            Some(body.to_string())
        };
        let mut conn = Connection::open(self.addr).await?;
        let (status, answer) = conn
            .send(&load::request(method, path, token, body.as_deref()))
            .await?;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    async fn login(&self, email: &str) -> Result<String> {
        let answer = self
            .call(
                "POST",
                "/console/api/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await?;
        answer["data"]["access_token"]
            .as_str()
            .map(str::to_string)
            .context("login answered without an access token")
    }
}

fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A scratch directory (and PostgreSQL database) for one backend, removed when dropped.
struct Scratch {
    dir: PathBuf,
    database: Option<(String, String)>,
}

impl Scratch {
    async fn new(admin_url: Option<&str>) -> Result<Self> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("console-bench-{stamp}"));
        std::fs::create_dir_all(&dir)?;
        let database = match admin_url {
            None => None,
            Some(url) => {
                let name = format!("console_bench_{stamp}");
                execute(url, &format!("CREATE DATABASE {name}")).await?;
                Some((url.to_string(), name))
            }
        };
        Ok(Self { dir, database })
    }

    fn database_url(&self) -> Option<String> {
        self.database
            .as_ref()
            .map(|(url, name)| with_database(url, name))
    }

    async fn remove(self) -> Result<()> {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((url, name)) = &self.database {
            execute(url, &format!("DROP DATABASE IF EXISTS {name}")).await?;
        }
        Ok(())
    }
}

async fn execute(url: &str, sql: &str) -> Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}

async fn bench_backend(
    binary: &Path,
    hash_rate: &Path,
    admin_url: Option<&str>,
    duration: Duration,
) -> Result<Figures> {
    let backend = if admin_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("bench: {backend}");
    let scratch = Scratch::new(admin_url).await?;
    let result = measure(binary, hash_rate, &scratch, backend, duration).await;
    scratch.remove().await?;
    result
}

async fn measure(
    binary: &Path,
    hash_rate_tool: &Path,
    scratch: &Scratch,
    backend: &'static str,
    duration: Duration,
) -> Result<Figures> {
    let url = scratch.database_url();
    // The first start creates the database; the figure that matters is a restart.
    let (server, cold_ready) = Server::start(binary, &scratch.dir, url.as_deref()).await?;
    drop(server);
    let mut warm_ready = Vec::new();
    for _ in 1..RESTARTS {
        let (server, ready) = Server::start(binary, &scratch.dir, url.as_deref()).await?;
        warm_ready.push(ready);
        drop(server);
    }
    let (server, ready) = Server::start(binary, &scratch.dir, url.as_deref()).await?;
    warm_ready.push(ready);
    warm_ready.sort();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kib = server.rss_kib("VmRSS:");

    let admin = "admin@bench.example";
    server
        .call(
            "POST",
            "/console/api/setup",
            None,
            json!({ "email": admin, "name": "Bench", "password": PASSWORD }),
        )
        .await?;
    let admin_token = server.login(admin).await?;
    let mut emails = Vec::new();
    for i in 0..CONNECTIONS {
        let email = format!("user{i}@bench.example");
        server
            .call(
                "POST",
                "/console/api/account/register",
                Some(&admin_token),
                json!({ "email": email, "name": format!("User {i}"), "password": PASSWORD }),
            )
            .await?;
        emails.push(email);
    }
    let mut profile_requests = Vec::new();
    let mut pat_profile_requests = Vec::new();
    let mut write_requests = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        let token = server.login(email).await?;
        let me = server
            .call(
                "GET",
                "/console/api/account/profile",
                Some(&token),
                Value::Null,
            )
            .await?;
        let id = me["id"]
            .as_str()
            .context("the profile answered without an id")?;
        let body = json!({ "name": format!("Bench User {i}") }).to_string();
        write_requests.push(load::request(
            "PUT",
            &format!("/console/api/account-ex/id?id={id}"),
            Some(&admin_token),
            Some(&body),
        ));
        profile_requests.push(load::request(
            "GET",
            "/console/api/account/profile",
            Some(&token),
            None,
        ));
        let made = server
            .call(
                "POST",
                "/console/api/account/tokens",
                Some(&token),
                json!({ "name": "bench", "scope": "read", "expires_in_days": 1 }),
            )
            .await?;
        let pat = made["token"]
            .as_str()
            .context("create_access_token answered without a token")?;
        pat_profile_requests.push(load::request(
            "GET",
            "/console/api/account/profile",
            Some(pat),
            None,
        ));
    }
    let login_requests: Vec<Vec<u8>> = emails
        .iter()
        .map(|email| {
            let body = json!({ "email": email, "password": PASSWORD }).to_string();
            load::request("POST", "/console/api/login", None, Some(&body))
        })
        .collect();

    let addr = server.addr;
    // A short warm-up so the first phase does not pay for cold caches and connections.
    load::run(
        addr,
        CONNECTIONS,
        Duration::from_secs(1),
        profile_requests.clone(),
        200,
    )
    .await?;
    eprintln!("bench: {backend}: GET /health");
    let health = load::run(
        addr,
        CONNECTIONS,
        duration,
        vec![load::request("GET", "/health", None, None)],
        200,
    )
    .await?;
    eprintln!("bench: {backend}: GET /console/api/account/profile");
    let profile = load::run(addr, CONNECTIONS, duration, profile_requests.clone(), 200).await?;
    eprintln!("bench: {backend}: GET /console/api/account/profile with personal access tokens");
    let pat_profile = load::run(addr, CONNECTIONS, duration, pat_profile_requests, 200).await?;
    eprintln!("bench: {backend}: raw password verification rate, then POST /console/api/login");
    let before = hash_rate(hash_rate_tool, duration.as_secs_f64()).await?;
    let login = load::run(addr, CONNECTIONS, duration, login_requests.clone(), 200).await?;
    let after = hash_rate(hash_rate_tool, duration.as_secs_f64()).await?;
    let login_requests_cost = login_requests.clone();
    let profile_requests_warm = profile_requests.clone();
    eprintln!("bench: {backend}: profile during a login storm");
    let (storm_login, storm_profile) = tokio::join!(
        load::run(addr, CONNECTIONS, duration, login_requests, 200),
        load::run(
            addr,
            STORM_PROFILE_CONNECTIONS,
            duration,
            profile_requests,
            200
        ),
    );
    let peak_rss_kib = server.rss_kib("VmHWM:");
    eprintln!(
        "bench: {backend}: PUT /console/api/account-ex/id and POST /console/api/login, with and without the audit trail"
    );
    // A second server on the same database and secret, with AUDIT_TRAIL=off.
    let (off, _) = Server::start_with(binary, &scratch.dir, url.as_deref(), false, None).await?;
    load::run(
        off.addr,
        CONNECTIONS,
        Duration::from_secs(1),
        profile_requests_warm.clone(),
        200,
    )
    .await?;
    let write = on_and_off(addr, off.addr, &write_requests, duration).await?;
    let login_cost = on_and_off(addr, off.addr, &login_requests_cost, duration).await?;
    drop(off);
    drop(server);
    eprintln!("bench: {backend}: statements per request (a server with METRICS_ADDR)");
    let statements = statements_per_request(
        binary,
        &scratch.dir,
        url.as_deref(),
        &[
            ("get_account_profile", profile_requests_warm.clone()),
            ("login", login_requests_cost.clone()),
            ("update_account_ex", write_requests.clone()),
        ],
    )
    .await?;
    Ok(Figures {
        backend,
        cold_ready,
        warm_ready,
        hash_rates: [before, after],
        idle_rss_kib,
        peak_rss_kib,
        health,
        profile,
        pat_profile,
        login,
        storm_login: storm_login?,
        storm_profile: storm_profile?,
        audit_cost: AuditCost {
            write,
            login: login_cost,
        },
        statements,
    })
}

/// Statements per request of each operation: a server of its own with metrics on (so the
/// timed servers pay nothing for them) runs each load for a second, then
/// `db_statements_total` over `http_requests_total` is read from its `/metrics`.
async fn statements_per_request(
    binary: &Path,
    dir: &Path,
    database_url: Option<&str>,
    loads: &[(&'static str, Vec<Vec<u8>>)],
) -> Result<Vec<(&'static str, f64, f64)>> {
    let metrics = free_port()?;
    let (server, _) = Server::start_with(binary, dir, database_url, true, Some(metrics)).await?;
    for (_, requests) in loads {
        load::run(
            server.addr,
            CONNECTIONS,
            Duration::from_secs(1),
            requests.clone(),
            200,
        )
        .await?;
    }
    let scrape = load::request("GET", "/metrics", None, None);
    let (status, body) = Connection::open(metrics).await?.send(&scrape).await?;
    if status != 200 {
        bail!("/metrics answered {status}");
    }
    let text = String::from_utf8_lossy(&body);
    // `name{labels} value`, summed over the lines of `name` whose labels name `operation`.
    let sum = |name: &str, operation: &str| -> f64 {
        let label = format!("operation=\"{operation}\"");
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    drop(server);
    Ok(loads
        .iter()
        .map(|(op, _)| {
            (
                *op,
                sum("http_requests_total", op),
                sum("db_statements_total", op),
            )
        })
        .collect())
}

/// The scale benchmark of one backend, on a fresh server and database of its own.
async fn scale_backend(
    binary: &Path,
    admin_url: Option<&str>,
    duration: Duration,
) -> Result<(&'static str, crate::bench_scale::Scale)> {
    let backend = if admin_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("bench: scale: {backend}");
    let scratch = Scratch::new(admin_url).await?;
    let result = async {
        let url = scratch.database_url();
        let (server, _) = Server::start(binary, &scratch.dir, url.as_deref()).await?;
        let admin = "admin@bench.example";
        server
            .call(
                "POST",
                "/console/api/setup",
                None,
                json!({ "email": admin, "name": "Bench", "password": PASSWORD }),
            )
            .await?;
        let token = server.login(admin).await?;
        let admin_token = server
            .call(
                "POST",
                "/api/auth/login",
                None,
                json!({ "username": "admin", "password": ADMIN_SURFACE_PASSWORD }),
            )
            .await?["data"]["token"]
            .as_str()
            .map(str::to_string)
            .context("the admin-surface login answered without a token")?;
        // The server's own SQLite file (see `db::database_url`).
        let db_url = url.unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                scratch.dir.join("console.db").display()
            )
        });
        crate::bench_scale::run(server.addr, &db_url, admin, &token, &admin_token, duration).await
    }
    .await;
    scratch.remove().await?;
    Ok((backend, result?))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn report(root: &Path, options: &Options, all: &mut [Figures]) -> Result<String> {
    let mut r = String::new();
    writeln!(r, "# Benchmarks\n")?;
    writeln!(
        r,
        "Written by `cargo xtask bench` ({}). Release build, {} load connections, {} s per \
         phase; the load generator (`xtask/src/load.rs`, closed loop, HTTP/1.1 keep-alive) \
         runs on the same machine as the server and shares its cores.\n",
        command_line(options),
        CONNECTIONS,
        options.seconds
    )?;
    writeln!(
        r,
        "- date: {}",
        shell(root, "date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    )?;
    writeln!(r, "- machine: {}", machine())?;
    writeln!(r, "- rustc: {}", shell(root, "rustc", &["-V"]))?;
    writeln!(
        r,
        "- commit: {}",
        shell(root, "git", &["rev-parse", "--short", "HEAD"])
    )?;
    writeln!(
        r,
        "\nThe login target's ceiling is the raw password verification rate \
         (`tools/hash-rate`: the server's own hasher and parameters on all cores), measured \
         just before and just after each login phase, with the server idle; the ratio uses \
         their mean. Start-to-ready is the median of {RESTARTS} restarts.\n"
    )?;
    for f in all.iter_mut() {
        let health_rate = f.health.rate();
        let profile_rate = f.profile.rate();
        let login_rate = f.login.rate();
        let profile_share = profile_rate / health_rate;
        let hash_rate = (f.hash_rates[0] + f.hash_rates[1]) / 2.0;
        let login_share = login_rate / hash_rate;
        let ready = f.warm_ready[f.warm_ready.len() / 2];
        let storm_p99 = f.storm_profile.quantile_ms(0.99);
        let idle_mib = f.idle_rss_kib.map(|k| k as f64 / 1024.0);
        writeln!(r, "## {}\n", f.backend)?;
        writeln!(r, "| measure | req/s | p50 ms | p99 ms | errors |")?;
        writeln!(r, "|---|---:|---:|---:|---:|")?;
        for (name, o) in [
            ("`GET /health`", &mut f.health),
            ("`GET /console/api/account/profile`", &mut f.profile),
            ("profile with a personal access token", &mut f.pat_profile),
            ("`POST /console/api/login`", &mut f.login),
            ("login, during the storm", &mut f.storm_login),
            (
                "profile, during the storm (4 connections)",
                &mut f.storm_profile,
            ),
        ] {
            writeln!(
                r,
                "| {name} | {:.0} | {:.2} | {:.2} | {} |",
                o.rate(),
                o.quantile_ms(0.5),
                o.quantile_ms(0.99),
                o.errors
            )?;
        }
        writeln!(r)?;
        writeln!(r, "| target | figure | |")?;
        writeln!(r, "|---|---:|---|")?;
        writeln!(
            r,
            "| profile ≥ 40% of `/health` req/s | {:.0}% | {} |",
            profile_share * 100.0,
            verdict(profile_share >= 0.4)
        )?;
        let pat_share = f.pat_profile.rate() / profile_rate;
        writeln!(
            r,
            "| profile with a PAT ≥ 90% of the JWT rate | {:.0}% | {} |",
            pat_share * 100.0,
            verdict(pat_share >= 0.9)
        )?;
        writeln!(
            r,
            "| login ≥ 90% of raw verification rate ({:.1}/s, {:.1}/s) | {:.0}% | {} |",
            f.hash_rates[0],
            f.hash_rates[1],
            login_share * 100.0,
            verdict(login_share >= 0.9)
        )?;
        writeln!(
            r,
            "| profile p99 < 20 ms during the login storm | {storm_p99:.2} ms | {} |",
            verdict(storm_p99 < 20.0)
        )?;
        match idle_mib {
            Some(mib) => writeln!(
                r,
                "| idle RSS < 30 MiB | {mib:.1} MiB | {} |",
                verdict(mib < 30.0)
            )?,
            None => writeln!(r, "| idle RSS < 30 MiB | not measured (no /proc) | |")?,
        }
        writeln!(
            r,
            "| start-to-ready < 300 ms (restart; slowest {:.0} ms) | {:.0} ms | {} |",
            f.warm_ready
                .last()
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            ready.as_secs_f64() * 1000.0,
            verdict(ready < Duration::from_millis(300))
        )?;
        writeln!(r)?;
        audit_cost_report(&mut r, &mut f.audit_cost)?;
        writeln!(
            r,
            "Statements per request (a separate server with `METRICS_ADDR`, 1 s of each load, \
             `db_statements_total` / `http_requests_total`; budgets in docs/query-budget.md):\n"
        )?;
        writeln!(r, "| operation | requests | statements | per request |")?;
        writeln!(r, "|---|---:|---:|---:|")?;
        for (op, requests, statements) in &f.statements {
            writeln!(
                r,
                "| `{op}` | {requests:.0} | {statements:.0} | {:.2} |",
                statements / requests.max(1.0)
            )?;
        }
        writeln!(r)?;
        writeln!(
            r,
            "First start, creating the database and running every migration: {:.0} ms. Peak \
             RSS over the whole run: {}.\n",
            f.cold_ready.as_secs_f64() * 1000.0,
            f.peak_rss_kib
                .map_or("not measured".to_string(), |k| format!(
                    "{:.1} MiB",
                    k as f64 / 1024.0
                ))
        )?;
    }
    Ok(r)
}

/// The with/without table and its two targets.
fn audit_cost_report(r: &mut String, cost: &mut AuditCost) -> Result<()> {
    writeln!(
        r,
        "The audit trail's cost: the same calls on this server and on a second one on the same \
         database with `AUDIT_TRAIL=off` (no events written), {} slices each, alternately, \
         {} connections. The write is an administrator's `PUT /console/api/account-ex/id` \
         renaming one account per connection; cost = 1 − rate with / rate without.\n",
        AUDIT_SLICES, CONNECTIONS
    )?;
    writeln!(
        r,
        "| measure | with: req/s | p50 ms | without: req/s | p50 ms | errors | cost |"
    )?;
    writeln!(r, "|---|---:|---:|---:|---:|---:|---:|")?;
    let mut costs = Vec::new();
    for (name, [on, off]) in [
        ("`PUT /console/api/account-ex/id`", &mut cost.write),
        ("`POST /console/api/login`", &mut cost.login),
    ] {
        let share = 1.0 - on.rate() / off.rate();
        writeln!(
            r,
            "| {name} | {:.0} | {:.2} | {:.0} | {:.2} | {} | {:.1}% |",
            on.rate(),
            on.quantile_ms(0.5),
            off.rate(),
            off.quantile_ms(0.5),
            on.errors + off.errors,
            share * 100.0
        )?;
        costs.push(share);
    }
    writeln!(r)?;
    writeln!(r, "| target | figure | |")?;
    writeln!(r, "|---|---:|---|")?;
    writeln!(
        r,
        "| an audited write within 10% of the same write without its event | {:.1}% | {} |",
        costs[0] * 100.0,
        verdict(costs[0] <= 0.10)
    )?;
    writeln!(
        r,
        "| sign-in throughput within 5% with and without auditing | {:.1}% | {} |",
        costs[1] * 100.0,
        verdict(costs[1] <= 0.05)
    )?;
    writeln!(r)?;
    Ok(())
}

fn command_line(options: &Options) -> String {
    let mut c = String::from("cargo xtask bench");
    if options.database_url.is_some() {
        c.push_str(" --database-url postgres://…");
    }
    if options.seconds != 10.0 {
        c.push_str(&format!(" --seconds {}", options.seconds));
    }
    if options.scale {
        c.push_str(" --scale");
    }
    c
}

fn shell(root: &Path, program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_string(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
        )
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("unknown memory".to_string(), |k| {
            format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores, {memory}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b2"),
            "postgres://u:p@h/b2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "b3"), "postgres://h:1/b3");
    }
}
