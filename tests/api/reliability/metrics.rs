//! `METRICS_ADDR`: Prometheus metrics on a listener of their own, read back with a
//! Prometheus text parser; the API listener does not serve them.

use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value as Prom};
use serde_json::json;

use super::{Server, free_port};

const PASSWORD: &str = "metrics-Passw0rd";

fn find<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn number(sample: Option<&Sample>) -> f64 {
    match sample.map(|s| &s.value) {
        Some(Prom::Counter(n) | Prom::Gauge(n) | Prom::Untyped(n)) => *n,
        _ => f64::NAN,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_apart_and_parse_as_prometheus_text() {
    let metrics_port = free_port();
    let server = Server::start(&[("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))]).await;
    assert!(server.ready_within(Duration::from_secs(10)).await.is_some());
    let base = &server.base;
    let http = reqwest::Client::new();
    let post =
        |path: &str, body: serde_json::Value| http.post(format!("{base}{path}")).json(&body).send();
    post(
        "/console/api/setup",
        json!({"email": "metrics@example.com", "name": "Metrics", "password": PASSWORD}),
    )
    .await
    .expect("setup");
    let pair: serde_json::Value = post(
        "/console/api/login",
        json!({"email": "metrics@example.com", "password": PASSWORD}),
    )
    .await
    .expect("login")
    .json()
    .await
    .expect("json");
    let wrong = post(
        "/console/api/login",
        json!({"email": "metrics@example.com", "password": "not-the-password-1"}),
    )
    .await
    .expect("wrong login");
    assert_eq!(wrong.status(), 401);
    let access = pair["data"]["access_token"].as_str().expect("token");
    for _ in 0..3 {
        let profile = http
            .get(format!("{base}/console/api/account/profile"))
            .bearer_auth(access)
            .send()
            .await
            .expect("profile");
        assert_eq!(profile.status(), 200);
    }
    let on_api = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("api");
    assert_eq!(
        on_api.status(),
        404,
        "metrics must not be on the API listener"
    );

    let resp = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/plain")),
    );
    let text = resp.text().await.expect("text");
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parse");

    let requests = |op: &str, status: &str| {
        number(find(
            &scrape,
            "http_requests_total",
            &[
                ("surface", "console"),
                ("operation", op),
                ("status", status),
            ],
        ))
    };
    assert_eq!(requests("login", "200"), 1.0, "{text}");
    assert_eq!(requests("login", "401"), 1.0, "{text}");
    assert_eq!(requests("get_account_profile", "200"), 3.0, "{text}");
    match find(
        &scrape,
        "http_request_duration_seconds",
        &[("operation", "get_account_profile")],
    )
    .map(|s| &s.value)
    {
        Some(Prom::Histogram(buckets)) => {
            let all = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
            assert_eq!(all, 3.0, "{text}");
        }
        other => panic!("no latency histogram for the profile read: {other:?}\n{text}"),
    }
    assert_eq!(
        number(find(
            &scrape,
            "sign_in_failures_total",
            &[("surface", "console")]
        )),
        1.0,
        "{text}"
    );
    // Setup hashes once, each sign-in once.
    match find(&scrape, "password_hash_duration_seconds", &[]).map(|s| &s.value) {
        Some(Prom::Histogram(buckets)) => {
            let all = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
            assert!(all >= 3.0, "{text}");
        }
        other => panic!("no hash time histogram: {other:?}\n{text}"),
    }
    assert_eq!(number(find(&scrape, "password_hash_queue_depth", &[])), 0.0);
    assert!(number(find(&scrape, "db_pool_connections", &[("state", "open")])) >= 1.0);
    assert_eq!(
        number(find(&scrape, "db_pool_connections", &[("state", "max")])),
        4.0,
        "SQLite's pool"
    );
    // The profile reads after the first come from the account cache.
    assert!(
        number(find(
            &scrape,
            "cache_hits_total",
            &[("cache", "console_account_cache")]
        )) >= 1.0,
        "{text}"
    );
    assert!(
        number(find(
            &scrape,
            "cache_misses_total",
            &[("cache", "console_account_cache")]
        )) >= 1.0,
        "{text}"
    );
}
