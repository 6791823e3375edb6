//! Scenario 2: `kill -9` under write load, on SQLite and on PostgreSQL.
//!
//! 16 clients create accounts (the administrator's `account/register`), invitations
//! (`members/invite-email`, each a pending account with its membership, group membership
//! and invitation), enterprise groups (each with its shadow workspace and its super_admin)
//! and workspaces in the default group (each with its owner) until the server is killed
//! with SIGKILL at a random moment 3–6 s in. The server is then started again on the same
//! data directory or database, and the database is read directly: every write a client got
//! a 2xx for must be there, no object may be partial, and SQLite's `PRAGMA
//! integrity_check` must say `ok`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Write {
    Account,
    Invitation,
    Group,
    Workspace,
}

const WRITES: [Write; 4] = [
    Write::Account,
    Write::Invitation,
    Write::Group,
    Write::Workspace,
];

impl Write {
    fn name(self) -> &'static str {
        match self {
            Write::Account => "account (register)",
            Write::Invitation => "invitation",
            Write::Group => "enterprise group",
            Write::Workspace => "workspace",
        }
    }

    /// The request that creates the object named `key`.
    fn request(self, token: &str, group: &str, key: &str) -> Vec<u8> {
        let email = format!("{key}@example.com");
        let (path, body) = match self {
            Write::Account => (
                "/console/api/account/register".to_string(),
                json!({"email": email, "name": key, "password": PASSWORD}),
            ),
            Write::Invitation => (
                "/console/api/workspaces/current/members/invite-email".to_string(),
                json!({"emails": [email], "role": "normal", "language": "en-US"}),
            ),
            Write::Group => (
                "/console/api/enterprise-groups".to_string(),
                json!({"name": key}),
            ),
            Write::Workspace => (
                format!("/console/api/enterprise-groups/{group}/tenants"),
                json!({"name": key}),
            ),
        };
        load::request("POST", &path, Some(token), Some(&body.to_string()))
    }

    /// The keys of this kind the database holds, of those the load made (`crash-…`).
    fn present_sql(self) -> &'static str {
        match self {
            // A registered account is active from the start.
            Write::Account => {
                "SELECT name FROM accounts WHERE name LIKE 'crash-%' AND status = 'active'"
            }
            // An invitation's pending account is named after its address's local part.
            Write::Invitation => {
                "SELECT a.name FROM accounts a JOIN invitations i ON i.account_id = a.id \
                 WHERE a.name LIKE 'crash-%' AND a.status = 'pending'"
            }
            Write::Group => "SELECT name FROM enterprise_groups WHERE name LIKE 'crash-%'",
            // Not a shadow workspace (those share their group's id and name).
            Write::Workspace => {
                "SELECT name FROM tenants WHERE name LIKE 'crash-%' \
                 AND (group_id IS NULL OR id <> group_id)"
            }
        }
    }
}

/// Partial objects: each query counts the objects missing a row that the transaction
/// creating them writes with them.
const PARTIAL: [(&str, &str); 7] = [
    (
        "active account without its role row",
        "SELECT count(*) FROM accounts a WHERE a.status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id)",
    ),
    (
        "invited (pending) account without its membership",
        "SELECT count(*) FROM accounts a WHERE a.status = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM tenant_members m WHERE m.account_id = a.id)",
    ),
    (
        "invited (pending) account without its invitation",
        "SELECT count(*) FROM accounts a WHERE a.status = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.account_id = a.id)",
    ),
    (
        "group without its shadow workspace",
        "SELECT count(*) FROM enterprise_groups g \
         WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = g.id AND t.group_id = g.id)",
    ),
    (
        "group without its super_admin",
        "SELECT count(*) FROM enterprise_groups g WHERE NOT EXISTS \
         (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.group_role = 'super_admin')",
    ),
    (
        "workspace without its owner",
        "SELECT count(*) FROM tenants t WHERE (t.group_id IS NULL OR t.id <> t.group_id) \
         AND NOT EXISTS (SELECT 1 FROM tenant_members m WHERE m.tenant_id = t.id AND m.role = 'owner')",
    ),
    (
        "workspace member outside the workspace's group",
        "SELECT count(*) FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id \
         WHERE t.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM group_members g \
         WHERE g.group_id = t.group_id AND g.account_id = m.account_id)",
    ),
];

/// One create request of the load: its kind, the object's key, its status (0: no answer).
struct Attempt {
    kind: Write,
    key: String,
    status: u16,
}

/// What one backend's run found.
struct Figures {
    killed_at: Duration,
    requests: usize,
    answers: String,
    acknowledged: BTreeSet<(Write, String)>,
    unanswered: BTreeSet<(Write, String)>,
    found: BTreeSet<(Write, String)>,
    restart: Duration,
    read_after: u16,
    write_after: u16,
    partial: Vec<(&'static str, i64)>,
    integrity: Option<String>,
}

impl Figures {
    fn missing(&self) -> Vec<&(Write, String)> {
        self.acknowledged.difference(&self.found).collect()
    }

    fn partial_total(&self) -> i64 {
        self.partial.iter().map(|(_, n)| n).sum()
    }

    fn passed(&self) -> bool {
        !self.acknowledged.is_empty()
            && self.missing().is_empty()
            && self.partial_total() == 0
            && self.integrity.as_deref().is_none_or(|i| i == "ok")
            && (200..300).contains(&self.read_after)
            && (200..300).contains(&self.write_after)
    }
}

/// A pseudo-random moment in `from..to` (the clock's nanoseconds: no generator needed).
fn random_between(from: Duration, to: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let span = (to - from).as_millis().max(1) as u64;
    from + Duration::from_millis(u64::from(nanos) % span)
}

pub(super) async fn crash(binary: &Path) -> Result<Section> {
    eprintln!("chaos: crash on SQLite …");
    let sqlite_dir = Scratch::new("crash")?;
    let sqlite = run(binary, &sqlite_dir.0, None).await;
    drop(sqlite_dir);
    let sqlite = sqlite?;
    eprintln!("chaos: crash on PostgreSQL …");
    let pg = Pg::new()?;
    let postgres = run(binary, &pg.dir.join("server"), Some(&pg)).await?;
    drop(pg);

    let both = [&sqlite, &postgres];
    let passed = both.iter().all(|f| f.passed());
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## 2. Crash under write load (SQLite and PostgreSQL)\n\n\
         {CLIENTS} clients create accounts (`account/register`), invitations (`invite-email`, a \
         pending account with its membership and invitation), enterprise groups (with their \
         shadow workspace and super_admin) and workspaces (with their owner) on keep-alive \
         connections; the server gets SIGKILL at a random moment 3–6 s in and is started again \
         on the same data directory / database, which is then read directly (SQL). Required: \
         every acknowledged (2xx) write is there, no partial object, SQLite's \
         `PRAGMA integrity_check` says `ok`, and the restarted server reads and writes.\n"
    );
    let _ = writeln!(md, "| figure | SQLite | PostgreSQL |\n|---|---|---|");
    let row = |md: &mut String, name: &str, f: &dyn Fn(&Figures) -> String| {
        let _ = writeln!(md, "| {name} | {} | {} |", f(&sqlite), f(&postgres));
    };
    row(&mut md, "killed (SIGKILL) at", &|f| ms(f.killed_at));
    row(&mut md, "create requests sent", &|f| f.requests.to_string());
    row(&mut md, "answers", &|f| f.answers.clone());
    row(&mut md, "acknowledged writes (2xx)", &|f| {
        f.acknowledged.len().to_string()
    });
    for kind in WRITES {
        row(&mut md, &format!("acknowledged: {}", kind.name()), &|f| {
            let acked = f.acknowledged.iter().filter(|(k, _)| *k == kind).count();
            let found = f
                .acknowledged
                .iter()
                .filter(|(k, _)| *k == kind)
                .filter(|w| f.found.contains(w))
                .count();
            format!("{acked} (found {found})")
        });
    }
    row(
        &mut md,
        "acknowledged writes found after the restart",
        &|f| {
            format!(
                "{} of {}",
                f.acknowledged.len() - f.missing().len(),
                f.acknowledged.len()
            )
        },
    );
    row(&mut md, "missing", &|f| {
        let missing = f.missing();
        if missing.is_empty() {
            "0".to_string()
        } else {
            format!(
                "{}: {}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .map(|(k, key)| format!("{} {key}", k.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    });
    row(
        &mut md,
        "writes in flight at the kill (no answer): committed anyway",
        &|f| {
            let landed = f.unanswered.intersection(&f.found).count();
            format!("{} sent: {landed}", f.unanswered.len())
        },
    );
    for (i, (name, _)) in PARTIAL.iter().enumerate() {
        row(&mut md, &format!("partial: {name}"), &|f| {
            f.partial[i].1.to_string()
        });
    }
    row(&mut md, "partial objects (must be 0)", &|f| {
        f.partial_total().to_string()
    });
    row(&mut md, "`PRAGMA integrity_check`", &|f| {
        f.integrity.clone().unwrap_or_else(|| "n/a".to_string())
    });
    row(&mut md, "restart: start → `/ready` 200", &|f| {
        ms(f.restart)
    });
    row(
        &mut md,
        "after the restart: profile read / a new group",
        &|f| format!("{} / {}", f.read_after, f.write_after),
    );
    Ok(Section {
        name: "crash",
        passed,
        measured: true,
        markdown: md,
    })
}

/// One run: on SQLite in `dir` (`pg` `None`) or on `pg`'s database.
async fn run(binary: &Path, dir: &Path, pg: Option<&Pg>) -> Result<Figures> {
    let url = pg.map(|pg| pg.url());
    let mut server = Server::launch(binary, dir, url.as_deref(), free_port()?, &[]).await?;
    let token: Arc<str> = Arc::from(server.seed().await?);
    let group = server
        .call(
            "GET",
            "/console/api/enterprise-groups/current",
            Some(&token),
            Value::Null,
        )
        .await?["id"]
        .as_str()
        .map(Arc::<str>::from)
        .context("the current group has no id")?;
    let killed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (token, group, killed, addr) =
            (token.clone(), group.clone(), killed.clone(), server.addr);
        tasks.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut conn: Option<Connection> = None;
            let mut n = 0usize;
            // Until the kill, and no longer than 10 s whatever happens.
            while !killed.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
                let kind = WRITES[(client + n) % WRITES.len()];
                let key = format!("crash-{client}-{n}");
                n += 1;
                if conn.is_none() {
                    conn = Connection::open(addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    break;
                };
                let request = kind.request(&token, &group, &key);
                let status =
                    match tokio::time::timeout(Duration::from_secs(30), c.send(&request)).await {
                        Ok(Ok((status, _))) => status,
                        _ => {
                            conn = None;
                            0
                        }
                    };
                attempts.push(Attempt { kind, key, status });
            }
            attempts
        }));
    }
    let kill_at = random_between(Duration::from_secs(3), Duration::from_secs(6));
    tokio::time::sleep(kill_at).await;
    killed.store(true, Ordering::SeqCst);
    server.child.kill().context("SIGKILL")?;
    let _ = server.child.wait();
    let killed_at = start.elapsed();
    let mut attempts = Vec::new();
    for task in tasks {
        attempts.extend(task.await?);
    }
    drop(server);

    let restarted = Instant::now();
    let server = Server::launch(binary, dir, url.as_deref(), free_port()?, &[]).await?;
    let restart = restarted.elapsed();
    let token = server.seed_login().await?;
    let (read_after, _) = server
        .send(&load::request(
            "GET",
            "/console/api/account/profile",
            Some(&token),
            None,
        ))
        .await?;
    let (write_after, _) = server
        .send(&Write::Group.request(&token, "", "after-the-crash"))
        .await?;
    server.terminate()?;
    let mut server = server;
    server.exited(Duration::from_secs(40)).await?;
    drop(server);

    let url = url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rw",
            dir.join("data").join("console.db").display()
        )
    });
    let db = sea_orm::Database::connect(&url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let mut found = BTreeSet::new();
    for kind in WRITES {
        for key in strings(&db, kind.present_sql()).await? {
            found.insert((kind, key));
        }
    }
    let mut partial = Vec::new();
    for (name, sql) in PARTIAL {
        partial.push((name, count(&db, sql).await?));
    }
    let integrity = if pg.is_none() {
        Some(strings(&db, "PRAGMA integrity_check").await?.join("; "))
    } else {
        None
    };
    db.close().await?;

    let acknowledged = attempts
        .iter()
        .filter(|a| (200..300).contains(&a.status))
        .map(|a| (a.kind, a.key.clone()))
        .collect();
    let unanswered = attempts
        .iter()
        .filter(|a| a.status == 0)
        .map(|a| (a.kind, a.key.clone()))
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for a in &attempts {
        *statuses.entry(a.status).or_insert(0usize) += 1;
    }
    let answers = statuses
        .iter()
        .map(|(s, n)| match s {
            0 => format!("no answer: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Figures {
        killed_at,
        requests: attempts.len(),
        answers,
        acknowledged,
        unanswered,
        found,
        restart,
        read_after,
        write_after,
        partial,
        integrity,
    })
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .with_context(|| sql.to_string())?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).map_err(anyhow::Error::from))
        .collect()
}

async fn count(db: &DatabaseConnection, sql: &str) -> Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .with_context(|| sql.to_string())?
        .context("count(*) returned no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}
