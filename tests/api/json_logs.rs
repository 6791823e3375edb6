//! `LOG_FORMAT=json` (issue 18): one JSON object per line from the real binary, each
//! request line naming its request id, operation, status and latency — and nothing in the
//! whole log that a client sent as a secret or got as a credential.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const PASSWORD: &str = "log-secret-pass-1";
const WRONG: &str = "log-wrong-guess-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_each_request_and_hold_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_console-server"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("CONFIG_FILE")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start console-server");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        // Ready, not merely alive: the API surfaces answer 503 until migrations are done.
        if http
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    post(
        "/console/api/setup",
        json!({"email": "log@example.com", "name": "Log", "password": PASSWORD}),
    )
    .await
    .expect("setup");
    let pair: Value = post(
        "/console/api/login",
        json!({"email": "log@example.com", "password": PASSWORD}),
    )
    .await
    .expect("login")
    .json()
    .await
    .expect("json");
    post(
        "/console/api/login",
        json!({"email": "log@example.com", "password": WRONG}),
    )
    .await
    .expect("wrong login");
    let access = pair["data"]["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let refresh = pair["data"]["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    http.get(format!("{base}/console/api/account/profile"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("profile");
    child.kill().ok();
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    child.wait().ok();
    assert!(!lines.is_empty(), "no log lines");
    let mut requests = Vec::new();
    for line in &lines {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["fields"]["message"] == "request done" {
            requests.push(entry);
        }
        for secret in [PASSWORD, WRONG, access.as_str(), refresh.as_str()] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    let profile = requests
        .iter()
        .find(|r| r["span"]["operation"] == "get_account_profile")
        .unwrap_or_else(|| panic!("no request line for the profile read: {requests:?}"));
    assert_eq!(profile["fields"]["status"], 200);
    assert!(profile["fields"]["micros"].is_u64());
    assert!(
        profile["span"]["id"]
            .as_str()
            .is_some_and(|id| id.len() == 32)
    );
    assert!(
        requests
            .iter()
            .any(|r| r["span"]["operation"] == "login" && r["fields"]["status"] == 401)
    );
}
