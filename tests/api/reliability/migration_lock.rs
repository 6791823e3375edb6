//! Migrations on PostgreSQL run under an advisory lock: two instances migrating one fresh
//! database at once both succeed and apply each migration once, and a server that waits
//! for the lock (another instance migrating) listens meanwhile with `/ready` 503 and its
//! API surfaces 503, then opens once the migrations are done.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnectionTrait, Statement};

use super::Server;
use crate::helpers::{Backend, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_migrating_at_once_migrate_once() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let a = console_server::db::connect(&test_db.url).await.expect("a");
    let b = console_server::db::connect(&test_db.url).await.expect("b");
    let (ra, rb) = tokio::join!(
        console_server::db::migrate(&a),
        console_server::db::migrate(&b)
    );
    ra.expect("instance a migrates");
    rb.expect("instance b migrates");
    let row = a
        .query_one_raw(Statement::from_string(
            a.get_database_backend(),
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .expect("count")
        .expect("row");
    let applied: i64 = row.try_get("", "n").expect("n");
    assert_eq!(applied as usize, Migrator::migrations().len());
    a.close().await.ok();
    b.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_waiting_on_migrations_is_not_ready() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    // Another "instance" holds the migration lock.
    let mut holder = sqlx::PgConnection::connect(&test_db.url)
        .await
        .expect("connect");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(console_server::db::MIGRATION_LOCK)
        .execute(&mut holder)
        .await
        .expect("lock");
    let server = Server::start(&[("DATABASE_URL", test_db.url.clone())]).await;
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = http
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    let features = http
        .get(format!("{}/console/api/system-features", server.base))
        .send()
        .await
        .expect("features");
    assert_eq!(features.status(), 503);
    let body: serde_json::Value = features.json().await.expect("json");
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        server.log_text().contains("another instance is migrating"),
        "{}",
        server.log_text()
    );

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(console_server::db::MIGRATION_LOCK)
        .execute(&mut holder)
        .await
        .expect("unlock");
    let took = server.ready_within(Duration::from_secs(20)).await;
    assert!(took.is_some(), "never ready; log:\n{}", server.log_text());
    let log = server.log_text();
    assert!(log.contains("applying migration"), "{log}");
    assert!(log.contains("migrations done"), "{log}");
    let features = http
        .get(format!("{}/console/api/system-features", server.base))
        .send()
        .await
        .expect("features");
    assert_eq!(features.status(), 200);
    drop(server);
    holder.close().await.ok();
}
