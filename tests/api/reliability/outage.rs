//! The database goes away under a running server (a throwaway PostgreSQL stopped with
//! `pg_ctl -m fast`, then started): requests that need it answer 503 in their surface's
//! envelope within `DATABASE_TIMEOUT`, never 500; `/health` stays 200 and `/ready`
//! answers 503 in well under a second; once the database is back the server serves again
//! without a restart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, ThrowawayPg};

const PASSWORD: &str = "outage-Passw0rd";
const ADMIN_PASSWORD: &str = "outage-admin-Passw0rd";
/// `DATABASE_TIMEOUT` for this test, in seconds.
const TIMEOUT: u64 = 2;

struct Answer {
    what: &'static str,
    http: u16,
    body: Value,
    took: Duration,
}

async fn call(what: &'static str, request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let resp = request
        .timeout(Duration::from_secs(TIMEOUT + 10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let http = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        what,
        http,
        body,
        took: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_in_time_and_heals_without_a_restart() {
    let Some(pg) = ThrowawayPg::new() else {
        eprintln!("no PostgreSQL binaries (initdb, pg_ctl): outage test skipped");
        return;
    };
    let server = Server::start(&[
        ("DATABASE_URL", pg.url()),
        ("DATABASE_TIMEOUT", TIMEOUT.to_string()),
        ("OPENLIST_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
    ])
    .await;
    let access = server.set_up_console("outage@example.com", PASSWORD).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let login = json!({"email": "outage@example.com", "password": PASSWORD});
    let admin: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("admin login")
        .json()
        .await
        .expect("admin json");
    let admin_token = admin["data"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("admin token: {admin}"))
        .to_string();
    let profile = || {
        http.get(format!("{base}/console/api/account/profile"))
            .bearer_auth(&access)
    };
    assert_eq!(call("profile", profile()).await.http, 200);

    pg.stop();

    let answers = futures::future::join_all([
        Box::pin(call("health", http.get(format!("{base}/health"))))
            as std::pin::Pin<Box<dyn Future<Output = Answer> + Send>>,
        Box::pin(call("ready", http.get(format!("{base}/ready")))),
        Box::pin(call("profile", profile())),
        Box::pin(call("profile again", profile())),
        Box::pin(call(
            "login",
            http.post(format!("{base}/console/api/login")).json(&login),
        )),
        Box::pin(call(
            "admin me",
            http.get(format!("{base}/api/me"))
                .header("Authorization", &admin_token),
        )),
    ])
    .await;
    let report: Vec<String> = answers
        .iter()
        .map(|a| format!("{}: {} {} in {:?}", a.what, a.http, a.body, a.took))
        .collect();
    let limit = Duration::from_millis(TIMEOUT * 1000 + 1500);
    for a in &answers {
        assert_ne!(a.http, 500, "{report:?}");
        assert!(a.took < limit, "{} took {:?}: {report:?}", a.what, a.took);
        match a.what {
            "health" => assert_eq!(a.http, 200, "{report:?}"),
            "ready" => {
                assert_eq!(a.http, 503, "{report:?}");
                assert!(a.took < Duration::from_millis(900), "{report:?}");
            }
            "admin me" => {
                // AList's envelope: HTTP 200, the status in `code`.
                assert_eq!(
                    (a.http, a.body["code"].as_u64()),
                    (200, Some(503)),
                    "{report:?}"
                );
            }
            _ => {
                assert_eq!(a.http, 503, "{report:?}");
                assert_eq!(a.body["code"], "service_unavailable", "{report:?}");
                assert_eq!(a.body["status"], 503, "{report:?}");
            }
        }
    }
    let log = server.log_text();
    assert!(
        log.contains("database unavailable") || log.contains("the database does not answer"),
        "no log line names the outage"
    );

    pg.start();
    let back = Instant::now();
    let recovered = server
        .ready_within(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("not ready again; log:\n{}", server.log_text()));
    // The first request after the database is back may still find a dead connection in the
    // pool; none of them may fail for long.
    let mut healed = None;
    while back.elapsed() < Duration::from_secs(10) {
        if call("profile", profile()).await.http == 200
            && call(
                "login",
                http.post(format!("{base}/console/api/login")).json(&login),
            )
            .await
            .http
                == 200
        {
            healed = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let healed = healed.unwrap_or_else(|| panic!("not serving again; log:\n{}", server.log_text()));
    eprintln!("outage: {report:?}; ready again after {recovered:?}, serving after {healed:?}");
    assert!(healed < Duration::from_secs(5), "recovery took {healed:?}");
    assert!(
        !server.log_text().contains("status=500"),
        "a 500 in the log:\n{}",
        server.log_text()
    );
}
