//! SIGTERM drains: `/ready` answers 503 at once while requests are still served (each
//! answer closing its connection), the listener closes only after
//! `SHUTDOWN_DELAY_SECONDS`, and a request already under way when the signal came — here
//! one whose body is still arriving after the listener has closed — gets its answer.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_finishes_requests_in_flight() {
    let mut server = Server::start(&[
        ("SHUTDOWN_DELAY_SECONDS", "1".to_string()),
        ("SHUTDOWN_GRACE_SECONDS", "10".to_string()),
    ])
    .await;
    assert!(server.ready_within(Duration::from_secs(10)).await.is_some());
    let addr = format!("127.0.0.1:{}", server.port);
    let body = r#"{"email":"drain@example.com","password":"drain-Passw0rd","remember_me":true}"#;
    let (head, tail) = body.split_at(10);
    let mut in_flight = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    in_flight
        .write_all(
            format!(
                "POST /console/api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("send the head");
    // Let the server read the head: the request is now under way.
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.terminate();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .expect("/ready while draining");
    assert_eq!(ready.status(), 503, "/ready while draining");
    let health = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .expect("still serving while draining");
    assert_eq!(health.status(), 200);
    assert_eq!(
        health
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close"),
        "answers close their connection while draining"
    );

    // Past the delay the listener is closed ...
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "still accepting after the delay"
    );
    // ... and the request under way still gets its answer.
    in_flight
        .write_all(tail.as_bytes())
        .await
        .expect("send the rest");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), in_flight.read_to_end(&mut answer))
        .await
        .expect("the answer in time")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 "),
        "no answer to the request in flight: {answer:?}; log:\n{}",
        server.log_text()
    );
    assert!(!answer.starts_with("HTTP/1.1 5"), "{answer}");
    let status = server
        .exited(Duration::from_secs(10))
        .await
        .expect("the server stops once the request is answered");
    assert!(status.success(), "{status:?}; log:\n{}", server.log_text());
    let log = server.log_text();
    assert!(log.contains("draining"), "{log}");
}
