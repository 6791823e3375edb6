//! Issue 18's faults, the quick versions: the real binary against a database that goes
//! away (a throwaway PostgreSQL stopped and started), a shutdown under way, the metrics
//! listener, migrations behind their lock. `cargo xtask chaos` runs the long versions.

mod crash;
mod drain;
mod metrics;
mod migration_lock;
mod outage;
/// Shared with `cargo xtask chaos`.
#[path = "../../../xtask/src/pg_cluster.rs"]
mod pg_cluster;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// The real `console-server serve`, its log lines kept.
pub struct Server {
    child: Child,
    pub port: u16,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts the binary with `env` on a fresh data directory and waits until it answers
    /// `/health` (not `/ready`: tests of start-up look at that themselves).
    pub async fn start(env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Self::start_in(&dir.path().join("data"), env).await;
        server._dir = Some(dir);
        server
    }

    /// As [`Server::start`], on the data directory `data_dir`, which the caller keeps (a
    /// restart after a crash starts again on the same one).
    pub async fn start_in(data_dir: &std::path::Path, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_console-server"));
        command
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("CONFIG_FILE")
            .env_remove("METRICS_ADDR")
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "text")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start console-server");
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        let server = Self {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: None,
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if http
                .get(format!("{}/health", server.base))
                .send()
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not start; log:\n{}", server.log_text());
    }

    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Sends SIGKILL and waits for the process to end: a crash, nothing flushed or drained.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Waits for the process to end, at most `limit`; its exit status.
    pub async fn exited(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Waits until the server is ready, sets the console up with its first account and signs
    /// that account in; its access token.
    pub async fn set_up_console(&self, email: &str, password: &str) -> String {
        assert!(
            self.ready_within(Duration::from_secs(20)).await.is_some(),
            "never ready; log:\n{}",
            self.log_text()
        );
        let setup = reqwest::Client::new()
            .post(format!("{}/console/api/setup", self.base))
            .json(&serde_json::json!({"email": email, "name": "First", "password": password}))
            .send()
            .await
            .expect("setup");
        assert!(setup.status().is_success(), "setup: {}", setup.status());
        self.sign_in(email, password).await
    }

    /// Signs a console account in; its access token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let pair: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/console/api/login", self.base))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login json");
        pair["data"]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("access token: {pair}"))
            .to_string()
    }

    /// Polls `/ready` until it answers 200, at most `limit`; how long that took.
    pub async fn ready_within(&self, limit: Duration) -> Option<Duration> {
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(resp) = http
                .get(format!("{}/ready", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                && resp.status() == 200
            {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL server of the test's own (the machine's `initdb` and `pg_ctl`, a temporary
/// directory, a free port), which the test may stop and start. Never the shared one.
pub struct ThrowawayPg {
    // Dropped in this order: the cluster stops, then its directory goes.
    cluster: pg_cluster::Cluster,
    _dir: tempfile::TempDir,
}

impl ThrowawayPg {
    /// `None` (the test is skipped) when this machine has no PostgreSQL binaries.
    pub fn new() -> Option<Self> {
        let dir = tempfile::Builder::new()
            .prefix("cs-pg-")
            .tempdir()
            .expect("tempdir");
        let cluster = pg_cluster::Cluster::create(dir.path(), free_port(), 60)
            .unwrap_or_else(|e| panic!("a throwaway PostgreSQL: {e}"))?;
        Some(Self { cluster, _dir: dir })
    }

    pub fn url(&self) -> String {
        self.cluster.url()
    }

    pub fn start(&self) {
        self.cluster.start().unwrap_or_else(|e| panic!("{e}"));
    }

    /// A fast shutdown: sessions are ended at once, as when a database server goes down.
    pub fn stop(&self) {
        self.cluster.stop().unwrap_or_else(|e| panic!("{e}"));
    }
}
