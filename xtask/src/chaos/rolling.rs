//! Scenario 3: a rolling restart of two instances on one PostgreSQL behind a round-robin
//! proxy, then cross-instance freshness (a ban through one instance, a read on the other)
//! and a sign-in lockout counted over both.
//!
//! The proxy is this task's own, and does what a load balancer does: it probes each
//! instance's `/ready` every 100 ms and sends each new client connection to the next
//! instance that answered 200, skipping one whose connect fails. The load clients open a
//! connection per request through it, so a request that was written and got no answer is
//! a failure the restart caused, never a kept-alive connection the client reused.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;

/// How often the proxy probes `/ready`, like a load balancer's health check.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// `SHUTDOWN_DELAY_SECONDS` in this run: /ready 503 this long before the listener closes
/// (the default, 2 s, is many probe intervals here).
const SHUTDOWN_DELAY: Duration = Duration::from_secs(2);
/// The server's default `SHUTDOWN_GRACE_SECONDS` (not set in this run).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
const ADMIN_PASSWORD: &str = "chaos-Admin-Passw0rd-1";
/// Freshness rounds: as many as fit in this long, at most `ROUNDS`.
const ROUNDS: usize = 1000;
const ROUNDS_BUDGET: Duration = Duration::from_secs(60);

struct Backend {
    addr: SocketAddr,
    ready: AtomicBool,
}

/// The proxy's state: its backends and what it counted.
struct Balancer {
    backends: Vec<Backend>,
    next: AtomicUsize,
    connections: AtomicUsize,
    /// Connects that failed (the backend was then skipped for the next).
    skipped: AtomicUsize,
    /// Client connections closed because no backend could be connected.
    turned_away: AtomicUsize,
}

struct Proxy {
    addr: SocketAddr,
    balancer: Arc<Balancer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Proxy {
    async fn start(backends: &[SocketAddr]) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let balancer = Arc::new(Balancer {
            backends: backends
                .iter()
                .map(|&addr| Backend {
                    addr,
                    ready: AtomicBool::new(false),
                })
                .collect(),
            next: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            skipped: AtomicUsize::new(0),
            turned_away: AtomicUsize::new(0),
        });
        let mut tasks = Vec::new();
        for i in 0..backends.len() {
            let balancer = balancer.clone();
            tasks.push(tokio::spawn(async move {
                let backend = &balancer.backends[i];
                let ready = load::request("GET", "/ready", None, None);
                loop {
                    let status = match tokio::time::timeout(Duration::from_millis(500), async {
                        let mut conn = Connection::open(backend.addr).await?;
                        conn.send(&ready).await
                    })
                    .await
                    {
                        Ok(Ok((status, _))) => status,
                        _ => 0,
                    };
                    backend.ready.store(status == 200, Ordering::SeqCst);
                    tokio::time::sleep(PROBE_EVERY).await;
                }
            }));
        }
        let accepting = balancer.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let balancer = accepting.clone();
                tokio::spawn(async move {
                    balancer.connections.fetch_add(1, Ordering::SeqCst);
                    let Some(mut upstream) = balancer.connect().await else {
                        balancer.turned_away.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let mut client = client;
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        }));
        Ok(Self {
            addr,
            balancer,
            tasks,
        })
    }
}

impl Balancer {
    /// A connection to the next ready backend, skipping those whose connect fails.
    async fn connect(&self) -> Option<TcpStream> {
        let n = self.backends.len();
        let first = self.next.fetch_add(1, Ordering::SeqCst);
        for i in 0..n {
            let backend = &self.backends[(first + i) % n];
            if !backend.ready.load(Ordering::SeqCst) {
                continue;
            }
            match TcpStream::connect(backend.addr).await {
                Ok(stream) => return Some(stream),
                Err(_) => {
                    backend.ready.store(false, Ordering::SeqCst);
                    self.skipped.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        None
    }
}

/// What the probes of one instance saw from its SIGTERM until it exited.
struct Drain {
    /// SIGTERM → the probe that got the first `/ready` 503 was sent (a probe sent before
    /// the server has taken the signal may still get 200).
    first_503: Option<Duration>,
    /// `/ready` 200s after the first 503 (must be 0).
    ready_after_503: usize,
    /// `/ready` answers after SIGTERM, by status (0: refused, the listener closed).
    probes: String,
    /// SIGTERM → the process ended, and how.
    exited: Option<Duration>,
    exit_ok: bool,
    /// Start again → `/ready` 200.
    restart: Duration,
}

/// SIGTERM to `server`, probes of its `/ready` every 20 ms until it exits, and a start
/// again on the same port and data directory.
async fn restart(
    server: &mut Server,
    binary: &Path,
    dir: &Path,
    url: &str,
    env: &[(&str, String)],
) -> Result<Drain> {
    let addr = server.addr;
    server.terminate()?;
    let signalled = Instant::now();
    let mut first_503 = None;
    let mut ready_after_503 = 0;
    let mut statuses = Vec::new();
    let limit = SHUTDOWN_DELAY + SHUTDOWN_GRACE + Duration::from_secs(5);
    let exited = loop {
        if let Some(status) = server.child.try_wait()? {
            break Some((signalled.elapsed(), status.success()));
        }
        if signalled.elapsed() > limit {
            break None;
        }
        let sent = signalled.elapsed();
        let (status, _) = server.probe("/ready").await;
        statuses.push(status);
        match status {
            503 if first_503.is_none() => first_503 = Some(sent),
            200 if first_503.is_some() => ready_after_503 += 1,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_insert(0usize) += 1;
    }
    let probes = counts
        .iter()
        .map(|(s, n)| match s {
            0 => format!("refused: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let started = Instant::now();
    *server = Server::launch(binary, dir, Some(url), addr, env).await?;
    Ok(Drain {
        first_503,
        ready_after_503,
        probes,
        exited: exited.map(|(t, _)| t),
        exit_ok: exited.is_some_and(|(_, ok)| ok),
        restart: started.elapsed(),
    })
}

/// 16 clients, a connection per request through `proxy`, until `stop`.
async fn load_through(
    proxy: SocketAddr,
    token: Arc<str>,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Result<Vec<Sample>> {
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (token, stop) = (token.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut n: u64 = 0;
            while !stop.load(Ordering::SeqCst) {
                let op = OPS[(client + n as usize) % OPS.len()];
                n += 1;
                let request = op.request(&token, client, n);
                let sent = Instant::now();
                let status = match tokio::time::timeout(Duration::from_secs(40), async {
                    let mut conn = Connection::open(proxy).await?;
                    conn.send(&request).await
                })
                .await
                {
                    Ok(Ok((status, _))) => status,
                    _ => 0,
                };
                samples.push(Sample {
                    op,
                    at: sent - start,
                    took: sent.elapsed(),
                    status,
                });
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    Ok(all)
}

/// The admin surface's answer: its `code` field (the HTTP status is 200 throughout).
async fn admin_call(
    conn: &mut Connection,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<(i64, Value)> {
    let body = body.map(|b| b.to_string());
    let (_, answer) = conn
        .send(&load::request_with_authorization(
            method,
            path,
            token,
            body.as_deref(),
        ))
        .await?;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    Ok((answer["code"].as_i64().unwrap_or(0), answer))
}

async fn admin_login(addr: SocketAddr, username: &str, password: &str) -> Result<String> {
    let mut conn = Connection::open(addr).await?;
    let (code, answer) = admin_call(
        &mut conn,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await?;
    if code != 200 {
        bail!("admin sign-in of {username} answered {answer}");
    }
    answer["data"]["token"]
        .as_str()
        .map(str::to_string)
        .context("admin sign-in answered without a token")
}

/// Freshness: rounds of a ban through `a` and a read as the banned user on `b` (then the
/// same for the unban). Returns (rounds, stale rounds, slowest acknowledged write).
async fn freshness(a: SocketAddr, b: SocketAddr) -> Result<(usize, Vec<String>, Duration)> {
    let admin = admin_login(a, "admin", ADMIN_PASSWORD).await?;
    let mut on_a = Connection::open(a).await?;
    let (code, answer) = admin_call(
        &mut on_a,
        "POST",
        "/api/admin/user/create",
        Some(&admin),
        Some(json!({"username": "rounds", "password": "rounds-Passw0rd-1", "permission": 256})),
    )
    .await?;
    if code != 200 {
        bail!("creating the user rounds answered {answer}");
    }
    let user = admin_login(b, "rounds", "rounds-Passw0rd-1").await?;
    let mut on_b = Connection::open(b).await?;
    let (code, me) = admin_call(&mut on_b, "GET", "/api/me", Some(&user), None).await?;
    let id = me["data"]["id"]
        .as_i64()
        .with_context(|| format!("/api/me answered {code}: {me}"))?;
    let started = Instant::now();
    let mut rounds = 0;
    let mut stale = Vec::new();
    let mut slowest = Duration::ZERO;
    while rounds < ROUNDS && started.elapsed() < ROUNDS_BUDGET {
        let mut seen = [0i64; 2];
        for (i, disabled) in [true, false].into_iter().enumerate() {
            let t = Instant::now();
            let (code, answer) = admin_call(
                &mut on_a,
                "POST",
                "/api/admin/user/update",
                Some(&admin),
                Some(json!({"id": id, "username": "rounds", "disabled": disabled})),
            )
            .await?;
            slowest = slowest.max(t.elapsed());
            if code != 200 {
                bail!("round {rounds}: the update answered {answer}");
            }
            seen[i] = admin_call(&mut on_b, "GET", "/api/me", Some(&user), None)
                .await?
                .0;
        }
        if seen != [401, 200] {
            stale.push(format!("round {rounds}: {} then {}", seen[0], seen[1]));
        }
        rounds += 1;
    }
    Ok((rounds, stale, slowest))
}

/// Six failed sign-ins for one e-mail, alternating between the instances, then the right
/// password on each: both must refuse (429). Returns the statuses.
async fn lockout(a: &Server, b: &Server, token: &str) -> Result<(Vec<u16>, [u16; 2])> {
    a.call(
        "POST",
        "/console/api/account/register",
        Some(token),
        json!({"email": "lockout@example.com", "name": "Lockout", "password": PASSWORD}),
    )
    .await?;
    let sign_in = |password: &str| {
        load::request(
            "POST",
            "/console/api/login",
            None,
            Some(&json!({"email": "lockout@example.com", "password": password}).to_string()),
        )
    };
    let mut failures = Vec::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { a } else { b };
        failures.push(server.send(&sign_in("wrong-Passw0rd-9")).await?.0);
    }
    let right = [
        a.send(&sign_in(PASSWORD)).await?.0,
        b.send(&sign_in(PASSWORD)).await?.0,
    ];
    Ok((failures, right))
}

pub(super) async fn rolling(binary: &Path) -> Result<Section> {
    let pg = Pg::new()?;
    let url = pg.url();
    let secret: String = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos()
        .to_string();
    let env = [
        ("SECRET_KEY", format!("chaos-rolling-{secret}")),
        ("OPENLIST_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        (
            "SHUTDOWN_DELAY_SECONDS",
            SHUTDOWN_DELAY.as_secs().to_string(),
        ),
    ];
    let dirs = [pg.dir.join("a"), pg.dir.join("b")];
    let mut a = Server::launch(binary, &dirs[0], Some(&url), free_port()?, &env).await?;
    let token: Arc<str> = Arc::from(a.seed().await?);
    let mut b = Server::launch(binary, &dirs[1], Some(&url), free_port()?, &env).await?;
    let proxy = Proxy::start(&[a.addr, b.addr]).await?;
    // Until the proxy's first probes have found both ready.
    tokio::time::sleep(PROBE_EVERY * 3).await;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load_through(proxy.addr, token.clone(), start, stop.clone()));
    let pause = Duration::from_secs(3);
    tokio::time::sleep(pause).await;
    let drain_a = restart(&mut a, binary, &dirs[0], &url, &env).await?;
    tokio::time::sleep(pause).await;
    let drain_b = restart(&mut b, binary, &dirs[1], &url, &env).await?;
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::SeqCst);
    let samples = load.await??;
    let load_took = start.elapsed();

    let failures = samples
        .iter()
        .filter(|s| s.status == 0 || s.status >= 500)
        .count();
    let longest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    let balancer = &proxy.balancer;

    eprintln!("chaos: rolling: lockout and freshness rounds …");
    let (failed_sign_ins, locked) = lockout(&a, &b, &token).await?;
    let lockout_held = failed_sign_ins.iter().all(|&s| s == 401) && locked == [429, 429];
    let (rounds, stale, slowest) = freshness(a.addr, b.addr).await?;

    let drains_ok = [&drain_a, &drain_b].iter().all(|d| {
        d.first_503.is_some_and(|t| t < Duration::from_millis(500))
            && d.ready_after_503 == 0
            && d.exit_ok
    });
    let passed = failures == 0
        && !samples.is_empty()
        && drains_ok
        && balancer.turned_away.load(Ordering::SeqCst) == 0
        && rounds > 0
        && stale.is_empty()
        && lockout_held;

    let mut md = String::new();
    let _ = writeln!(
        md,
        "## 3. Rolling restart of two instances (PostgreSQL)\n\n\
         Two instances on one PostgreSQL behind a round-robin proxy of the task's own, which \
         probes each instance's `/ready` every {} ms (a load balancer's health check) and \
         sends each new connection to the next ready instance, skipping one whose connect \
         fails. {CLIENTS} clients run the mixed console load with a connection per request \
         through it (so every request without an answer was written to an instance and lost). \
         Each instance in turn gets SIGTERM and is started again on the same port once it has \
         exited; `SHUTDOWN_DELAY_SECONDS` = {}, `SHUTDOWN_GRACE_SECONDS` = {} (the default). \
         Then: {ROUNDS} rounds at most (as many as fit in {} s) of a ban through instance A \
         (admin `user/update`, `disabled`) and a read as that user on instance B (`/api/me`, \
         must be 401), then the unban and the read again (must be 200); and 6 failed sign-ins \
         for one e-mail, alternating between the instances, after which the right password \
         must be refused (429) on both.\n",
        PROBE_EVERY.as_millis(),
        SHUTDOWN_DELAY.as_secs(),
        SHUTDOWN_GRACE.as_secs(),
        ROUNDS_BUDGET.as_secs(),
    );
    let _ = writeln!(md, "| figure | value |\n|---|---|");
    let _ = writeln!(
        md,
        "| requests (in {:.1} s) | {} |",
        load_took.as_secs_f64(),
        samples.len()
    );
    let _ = writeln!(
        md,
        "| answers | {} |",
        by_status(&samples.iter().collect::<Vec<_>>())
    );
    let _ = writeln!(
        md,
        "| failures (no answer or 5xx; must be 0) | {failures} |"
    );
    let _ = writeln!(md, "| longest request | {} |", ms(longest));
    let _ = writeln!(
        md,
        "| proxy: connections / connects skipped (failed) / turned away (no instance) | {} / {} / {} |",
        balancer.connections.load(Ordering::SeqCst),
        balancer.skipped.load(Ordering::SeqCst),
        balancer.turned_away.load(Ordering::SeqCst)
    );
    for (name, d) in [("A", &drain_a), ("B", &drain_b)] {
        let _ = writeln!(
            md,
            "| instance {name}: SIGTERM → the first probe answered 503 was sent (probes every 20 ms; limit 500 ms) | {} |",
            d.first_503.map_or("never".to_string(), ms)
        );
        let _ = writeln!(
            md,
            "| instance {name}: `/ready` after SIGTERM | {} ({} × 200 after the first 503) |",
            d.probes, d.ready_after_503
        );
        let _ = writeln!(
            md,
            "| instance {name}: SIGTERM → exit / exit status | {} / {} |",
            d.exited.map_or("not within the grace".to_string(), ms),
            if d.exit_ok { "success" } else { "FAILED" }
        );
        let _ = writeln!(
            md,
            "| instance {name}: start again → `/ready` 200 | {} |",
            ms(d.restart)
        );
    }
    let _ = writeln!(
        md,
        "| freshness rounds (ban on A, read on B; unban, read) | {rounds} |"
    );
    let _ = writeln!(
        md,
        "| stale rounds (must be 0) | {}{} |",
        stale.len(),
        if stale.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                stale.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        }
    );
    let _ = writeln!(
        md,
        "| slowest acknowledged ban or unban | {} |",
        ms(slowest)
    );
    let _ = writeln!(
        md,
        "| lockout: 6 wrong passwords (A, B, A, …) / then the right one on A, B | {:?} / {:?} → {} |",
        failed_sign_ins,
        locked,
        if lockout_held { "held" } else { "NOT held" }
    );
    drop(proxy);
    drop(a);
    drop(b);
    drop(pg);
    Ok(Section {
        name: "rolling",
        passed,
        measured: true,
        markdown: md,
    })
}
