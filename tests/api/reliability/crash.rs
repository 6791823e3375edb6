//! The quick version of `cargo xtask chaos`'s crash scenario: the real binary gets SIGKILL
//! while clients create accounts and enterprise groups, is started again on the same data
//! directory (or database), and the database is then read directly. Every write a client
//! got a 2xx for must be there, no object may be partial, and SQLite's
//! `PRAGMA integrity_check` must say `ok`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::{Server, ThrowawayPg};

const EMAIL: &str = "crash@example.com";
const PASSWORD: &str = "crash-Passw0rd";
const CLIENTS: usize = 6;

/// Objects missing a row that the transaction creating them writes with them.
const PARTIAL: [(&str, &str); 3] = [
    (
        "active account without its role row",
        "SELECT count(*) FROM accounts a WHERE a.status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id)",
    ),
    (
        "group without its shadow workspace",
        "SELECT count(*) FROM enterprise_groups g \
         WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = g.id AND t.group_id = g.id)",
    ),
    (
        "group without its super_admin",
        "SELECT count(*) FROM enterprise_groups g WHERE NOT EXISTS \
         (SELECT 1 FROM group_members m WHERE m.group_id = g.id \
          AND m.group_role = 'super_admin')",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Account,
    Group,
}

/// Keys (`crash-…` names) of `kind` that the database holds.
async fn present(db: &sea_orm::DatabaseConnection, kind: Kind) -> BTreeSet<(Kind, String)> {
    let sql = match kind {
        Kind::Account => "SELECT name FROM accounts WHERE name LIKE 'crash-%'",
        Kind::Group => "SELECT name FROM enterprise_groups WHERE name LIKE 'crash-%'",
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read back")
        .iter()
        .map(|row| (kind, row.try_get_by_index::<String>(0).expect("name")))
        .collect()
}

async fn crash_and_restart(data_dir: &std::path::Path, env: &[(&str, String)], db_url: &str) {
    let mut server = Server::start_in(data_dir, env).await;
    let token: Arc<str> = Arc::from(server.set_up_console(EMAIL, PASSWORD).await);
    let base = server.base.clone();
    let http = reqwest::Client::new();

    let killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, token, killed) =
            (http.clone(), base.clone(), token.clone(), killed.clone());
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !killed.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(10) {
                let key = format!("crash-{client}-{n}");
                let (kind, path, body) = if n % 2 == 0 {
                    let email = format!("{key}@example.com");
                    let body = json!({"email": email, "name": key, "password": PASSWORD});
                    (Kind::Account, "/console/api/account/register", body)
                } else {
                    (
                        Kind::Group,
                        "/console/api/enterprise-groups",
                        json!({"name": key}),
                    )
                };
                n += 1;
                let answer = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    acknowledged.push((kind, key));
                }
            }
            acknowledged
        }));
    }
    // A moment 1.0–2.0 s in that differs from run to run (the clock's nanoseconds).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    tokio::time::sleep(Duration::from_millis(1000 + u64::from(nanos % 1000))).await;
    killed.store(true, Ordering::SeqCst);
    server.kill();
    let mut acknowledged = BTreeSet::new();
    for client in clients {
        acknowledged.extend(client.await.expect("client"));
    }
    assert!(
        acknowledged.len() >= 4,
        "too few writes before the kill to prove anything: {acknowledged:?}; log:\n{}",
        server.log_text()
    );
    drop(server);

    let server = Server::start_in(data_dir, env).await;
    assert!(
        server.ready_within(Duration::from_secs(20)).await.is_some(),
        "never ready after the crash; log:\n{}",
        server.log_text()
    );
    let token = server.sign_in(EMAIL, PASSWORD).await;
    let group = http
        .post(format!("{}/console/api/enterprise-groups", server.base))
        .bearer_auth(&token)
        .json(&json!({"name": "after the crash"}))
        .send()
        .await
        .expect("a write after the restart");
    assert!(group.status().is_success(), "{}", group.status());
    drop(server);

    let db = sea_orm::Database::connect(db_url).await.expect("connect");
    let mut found = present(&db, Kind::Account).await;
    found.extend(present(&db, Kind::Group).await);
    let missing: Vec<_> = acknowledged.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {missing:?} ({} acknowledged)",
        acknowledged.len()
    );
    for (what, sql) in PARTIAL {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("count")
            .expect("a row");
        let n: i64 = row.try_get_by_index(0).expect("count");
        assert_eq!(n, 0, "partial objects: {what}");
    }
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let row = db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .expect("integrity_check")
            .expect("a row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "ok");
    }
    eprintln!(
        "crash: {} acknowledged writes, all found after the restart",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_on_sqlite_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let url = format!("sqlite://{}?mode=rw", data.join("console.db").display());
    crash_and_restart(&data, &[], &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_on_postgresql_loses_no_acknowledged_write() {
    let Some(pg) = ThrowawayPg::new() else {
        eprintln!("no PostgreSQL binaries (initdb, pg_ctl): crash test skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    crash_and_restart(
        &dir.path().join("data"),
        &[("DATABASE_URL", pg.url())],
        &pg.url(),
    )
    .await;
}
