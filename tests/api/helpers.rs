//! The test harness: the real app on 127.0.0.1:0 against its own fresh database, called
//! through the generated clients.

use std::sync::Arc;

use console_client::{admin, console};
use console_server::clock::Clock;
use console_server::config::FeatureConfig;
use console_server::db;
use console_server::domain::admin_users;
use console_server::server::{self, Running};
use console_server::state::AppState;
use sea_orm::{ConnectionTrait, Database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists only for one test: a SQLite file in a temporary directory, or a
/// PostgreSQL database created on `TEST_DATABASE_URL`'s server and dropped afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// `None` when the backend is PostgreSQL and `TEST_DATABASE_URL` is unset.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let server = std::env::var("TEST_DATABASE_URL").ok()?;
                let name = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&server)
                    .await
                    .expect("connect TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = match server.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("TEST_DATABASE_URL needs a database path: {server}"),
                };
                Some(Self {
                    url,
                    _dir: None,
                    postgres: Some((server, name)),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime we may block on, so use a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&server).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The password `TestApp` gives the admin-surface user `admin`.
pub const ADMIN_PASSWORD: &str = "admin-Passw0rd";

pub struct TestApp {
    pub backend: Backend,
    /// The database URL (for a second instance or the CLI).
    pub db_url: String,
    pub base: String,
    pub state: Arc<AppState>,
    pub console: console::Client,
    pub admin: admin::Client,
    pub http: reqwest::Client,
    running: Option<Running>,
    /// Held so the database lives as long as the app (`None` for a second instance).
    _db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, FeatureConfig::defaults()).await
    }

    pub async fn spawn_with(backend: Backend, features: FeatureConfig) -> Option<Self> {
        Self::spawn_custom(backend, move |state| AppState { features, ..state }).await
    }

    /// An app whose clock the test moves.
    pub async fn spawn_with_clock(backend: Backend, clock: Arc<dyn Clock>) -> Option<Self> {
        Self::spawn_custom(backend, move |state| state.with_clock(clock)).await
    }

    /// An app whose state `customize` adjusts (clock, limits, features) before it starts.
    pub async fn spawn_custom(
        backend: Backend,
        customize: impl FnOnce(AppState) -> AppState,
    ) -> Option<Self> {
        let test_db = TestDb::new(backend).await?;
        let url = test_db.url.clone();
        let mut app = Self::start(backend, &url, customize, None).await;
        app._db = Some(test_db);
        Some(app)
    }

    /// A second instance on this app's database, with the same signing secret, features,
    /// clock, sign-in limits and trusted proxies.
    pub async fn second_instance(&self) -> Self {
        let (features, clock) = (self.state.features.clone(), self.state.clock.clone());
        let (auth, proxies) = (self.state.auth.clone(), self.state.trusted_proxies.clone());
        Self::start(
            self.backend,
            &self.db_url,
            move |state| {
                AppState { features, ..state }
                    .with_clock(clock)
                    .with_auth(auth)
                    .with_trusted_proxies(proxies)
            },
            Some(self.state.secret.clone()),
        )
        .await
    }

    async fn start(
        backend: Backend,
        url: &str,
        customize: impl FnOnce(AppState) -> AppState,
        secret: Option<Vec<u8>>,
    ) -> Self {
        let conn = db::connect(url).await.expect("connect test database");
        db::migrate(&conn).await.expect("migrate test database");
        let state = AppState::new(
            conn,
            FeatureConfig::defaults(),
            secret.unwrap_or_else(console_server::auth::secret::random),
        );
        let state = Arc::new(customize(state));
        admin_users::bootstrap(
            &state.db,
            &state.hasher,
            state.clock.as_ref(),
            Some(ADMIN_PASSWORD.to_string()),
        )
        .await
        .expect("bootstrap admin users");
        let running = server::start("127.0.0.1:0".parse().expect("addr"), state.clone())
            .await
            .expect("start server");
        let base = format!("http://{}", running.addr);
        Self {
            backend,
            db_url: url.to_string(),
            console: console::Client::new(&base),
            admin: admin::Client::new(&base),
            http: reqwest::Client::new(),
            base,
            state,
            running: Some(running),
            _db: None,
        }
    }

    /// The admin client sending `token` as the raw `Authorization` header.
    pub fn admin_as(&self, token: &str) -> admin::Client {
        let http = sending_header(reqwest::header::AUTHORIZATION.as_str(), token);
        admin::Client::new_with_client(&self.base, http)
    }

    /// A console client that sends `Authorization: Bearer <token>`.
    pub fn console_as(&self, token: &str) -> console::Client {
        let http = sending_header(
            reqwest::header::AUTHORIZATION.as_str(),
            &format!("Bearer {token}"),
        );
        console::Client::new_with_client(&self.base, http)
    }

    /// A console client whose requests say they were forwarded for `client`.
    pub fn console_forwarded_for(&self, client: &str) -> console::Client {
        console::Client::new_with_client(&self.base, sending_header("x-forwarded-for", client))
    }

    /// An admin client whose requests say they were forwarded for `client`.
    pub fn admin_forwarded_for(&self, client: &str) -> admin::Client {
        admin::Client::new_with_client(&self.base, sending_header("x-forwarded-for", client))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `METHOD path` with a bearer token and a JSON body the typed client cannot express
    /// (it enforces the contract's patterns and enums itself): (status, body).
    pub async fn raw_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    /// Sends raw JSON text (for requests the typed client cannot express).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: body is not JSON: {text:?}"));
        (status, json)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}

/// Declares one test that runs on SQLite and, when `TEST_DATABASE_URL` is set, on
/// PostgreSQL, each with its own app and database.
#[macro_export]
macro_rules! db_test {
    (async fn $name:ident($app:ident) $body:block) => {
        $crate::db_test!(async fn $name($app) using |state| state; $body);
    };
    (async fn $name:ident($app:ident) using $customize:expr; $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_custom($crate::helpers::Backend::Sqlite, $customize)
                    .await
                    .expect("sqlite app");
                run(app).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::TestApp::spawn_custom($crate::helpers::Backend::Postgres, $customize).await {
                    Some(app) => run(app).await,
                    None => eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped"),
                }
            }
        }
    };
}

/// The `{code, message, status}` of a console error body.
pub fn console_error(body: &serde_json::Value) -> (&str, u64) {
    (
        body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {body}")),
        body["status"]
            .as_u64()
            .unwrap_or_else(|| panic!("no status in {body}")),
    )
}

/// An HTTP client that sends `name: value` with every request.
fn sending_header(name: &'static str, value: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        name,
        reqwest::header::HeaderValue::from_str(value).expect("header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}
