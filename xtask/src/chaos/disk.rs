//! Scenario 4: the SQLite data directory's disk fills up while the server runs, then has
//! room again.
//!
//! The data directory is a small tmpfs of its own (16 MiB), filled with a file until the
//! kernel says ENOSPC. That is the fault a running server can meet: `chmod` changes
//! nothing for files the server holds open (and root ignores it anyway), and the kernel
//! refuses to remount a file system read-only while a file on it is open for writing
//! (EBUSY; the scenario tries, and reports what happened). Without a tmpfs (no permission
//! to mount) the scenario reports that it could not be measured rather than fill the
//! machine's real disk.

use std::io::Write as _;

use super::*;

const TMPFS_SIZE: &str = "16m";
const DISK_OPS: [Op; 4] = [Op::Profile, Op::Members, Op::Invite, Op::Rename];

fn is_write(op: Op) -> bool {
    matches!(op, Op::Invite | Op::Rename)
}

/// One request of a phase: its operation, status (0: no answer) and whether a 503 came in
/// the console's error envelope (`code` `service_unavailable`).
struct Answer {
    op: Op,
    status: u16,
    envelope: bool,
}

/// `CLIENTS` clients on keep-alive connections for `duration`.
async fn phase(addr: SocketAddr, token: &Arc<str>, duration: Duration) -> Result<Vec<Answer>> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut conn: Option<Connection> = None;
            let mut n: u64 = 0;
            while start.elapsed() < duration {
                let op = DISK_OPS[(client + n as usize) % DISK_OPS.len()];
                n += 1;
                if conn.is_none() {
                    conn = Connection::open(addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    answers.push(Answer {
                        op,
                        status: 0,
                        envelope: false,
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let request = op.request(&token, client, n);
                let answer =
                    match tokio::time::timeout(Duration::from_secs(30), c.send(&request)).await {
                        Ok(Ok((status, body))) => {
                            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            Answer {
                                op,
                                status,
                                envelope: body["code"] == "service_unavailable"
                                    && body["status"] == 503,
                            }
                        }
                        _ => {
                            conn = None;
                            Answer {
                                op,
                                status: 0,
                                envelope: false,
                            }
                        }
                    };
                answers.push(answer);
            }
            answers
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    Ok(all)
}

/// `200: 12, 503: 4` for the answers to `ops`.
fn statuses(answers: &[Answer], pick: impl Fn(Op) -> bool) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for a in answers.iter().filter(|a| pick(a.op)) {
        *counts.entry(a.status).or_insert(0usize) += 1;
    }
    if counts.is_empty() {
        return "none".to_string();
    }
    counts
        .iter()
        .map(|(s, n)| match s {
            0 => format!("no answer: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fills the file system under `dir` with `dir/filler` until the kernel refuses: the bytes
/// written and the error that stopped it.
fn fill(dir: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::create(dir.join("filler"))?;
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        loop {
            match file.write_all(&buf) {
                Ok(()) => written += chunk as u64,
                Err(err) => {
                    if chunk == 1 {
                        return Ok((written, err.to_string()));
                    }
                    break;
                }
            }
        }
        // What did not fit of the last chunk may be partly written: sync the length.
        written = file.metadata()?.len();
    }
    Ok((written, "no error".to_string()))
}

fn run_tool(program: &str, args: &[&str]) -> std::result::Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        )),
        Err(err) => Err(format!("{program}: {err}")),
    }
}

pub(super) async fn disk(binary: &Path) -> Result<Section> {
    let scratch = Scratch::new("disk")?;
    let data = scratch.0.join("data");
    std::fs::create_dir_all(&data)?;
    let data_arg = data.display().to_string();
    let options = format!("size={TMPFS_SIZE},mode=0700");
    let section = match run_tool(
        "mount",
        &["-t", "tmpfs", "-o", &options, "tmpfs", &data_arg],
    ) {
        Ok(()) => {
            let result = measure(binary, &scratch.0, &data).await;
            let _ = run_tool("umount", &["-l", &data_arg]);
            result
        }
        Err(why) => Ok(Section {
            name: "disk",
            passed: false,
            measured: false,
            markdown: format!(
                "## 4. Disk trouble (SQLite)\n\nNot measurable on this machine: the scenario \
                 needs a small file system of its own to fill (a tmpfs) and could not mount one \
                 ({why}). It does not fill the machine's real disk, and `chmod` is no \
                 substitute: it changes nothing for files the server holds open.\n"
            ),
        }),
    };
    drop(scratch);
    section
}

async fn measure(binary: &Path, scratch: &Path, data: &Path) -> Result<Section> {
    const BEFORE: Duration = Duration::from_secs(2);
    const FULL: Duration = Duration::from_secs(5);
    const AFTER: Duration = Duration::from_secs(3);
    let mut server = Server::launch(binary, scratch, None, free_port()?, &[]).await?;
    let token: Arc<str> = Arc::from(server.seed().await?);
    let before = phase(server.addr, &token, BEFORE).await?;
    let log_before = std::fs::read_to_string(&server.log).unwrap_or_default();
    let (filled, stopped_by) = fill(data)?;

    let full = phase(server.addr, &token, FULL).await?;
    // A read-only remount, tried while the database is open: the kernel refuses it (EBUSY)
    // as long as a file is open for writing.
    let data_arg = data.display().to_string();
    let remount = run_tool("mount", &["-o", "remount,ro", &data_arg]);
    let read_only = match &remount {
        Ok(()) => {
            let answers = phase(server.addr, &token, Duration::from_secs(3)).await?;
            run_tool("mount", &["-o", "remount,rw", &data_arg]).map_err(|e| anyhow::anyhow!(e))?;
            Some(answers)
        }
        Err(_) => None,
    };
    let log_full = std::fs::read_to_string(&server.log).unwrap_or_default();
    let new_lines: Vec<&str> = log_full
        .get(log_before.len()..)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains("database unavailable"))
        .collect();
    let full_cause = new_lines
        .iter()
        .filter(|l| l.contains("disk is full"))
        .count();
    let example = new_lines
        .iter()
        .find(|l| l.contains("disk is full"))
        .or(new_lines.first())
        .map(|l| {
            // Without the ANSI colours and the timestamp.
            let plain = strip_ansi(l);
            plain
                .split_once("database unavailable")
                .map_or(plain.clone(), |(_, rest)| {
                    format!("database unavailable{rest}")
                })
        });

    std::fs::remove_file(data.join("filler"))?;
    let freed = Instant::now();
    let mut recovered = None;
    let rename = Op::Rename.request(&token, 0, 0);
    while freed.elapsed() < Duration::from_secs(15) {
        if let Ok((status, _)) = server.send(&rename).await
            && (200..300).contains(&status)
        {
            recovered = Some(freed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = phase(server.addr, &token, AFTER).await?;
    let restarts = server.child.id();
    let still_same = server.child.try_wait()?.is_none();
    drop(server);

    let bad = |a: &Answer| a.status == 0 || (a.status >= 500 && a.status != 503);
    let full_writes: Vec<&Answer> = full.iter().filter(|a| is_write(a.op)).collect();
    let refused_writes = full_writes.iter().filter(|a| a.status == 503).count();
    let enveloped = full_writes
        .iter()
        .filter(|a| a.status == 503 && a.envelope)
        .count();
    let reads_ok = full
        .iter()
        .filter(|a| !is_write(a.op))
        .all(|a| a.status == 200);
    let passed = before.iter().all(|a| (200..300).contains(&a.status))
        && !full.iter().any(bad)
        && refused_writes > 0
        && enveloped == refused_writes
        && full_writes
            .iter()
            .all(|a| a.status == 503 || (200..300).contains(&a.status))
        && reads_ok
        && full_cause > 0
        && recovered.is_some()
        && still_same
        && !after.is_empty()
        && after.iter().all(|a| (200..300).contains(&a.status));

    let mut md = String::new();
    let _ = writeln!(
        md,
        "## 4. Disk full (SQLite)\n\n\
         The data directory is a {TMPFS_SIZE} tmpfs of its own; {CLIENTS} clients run profile \
         reads, member pages, invitations (of a few addresses per client, again and again, so they \
         add little new data) and account edits on keep-alive connections: {} s \
         before, {} s while the file system is full (a file written until ENOSPC), and {} s after \
         it is removed, without a restart. Required while full: writes answer 503 in the console \
         envelope (or succeed, where SQLite still has room in pages it holds), never 500; reads \
         answer 200; the log names the cause; after: writes succeed again. A read-only disk \
         cannot be made for a running server here: `chmod` changes nothing for the files it holds \
         open (and root, which this task may run as, ignores it), and a read-only remount is \
         refused while a file is open for writing — the scenario tries that too (below).\n",
        BEFORE.as_secs(),
        FULL.as_secs(),
        AFTER.as_secs()
    );
    let _ = writeln!(md, "| figure | value |\n|---|---|");
    let _ = writeln!(
        md,
        "| before: reads / writes | {} / {} |",
        statuses(&before, |op| !is_write(op)),
        statuses(&before, is_write)
    );
    let _ = writeln!(
        md,
        "| filled | {:.1} MiB, stopped by: {stopped_by} |",
        filled as f64 / f64::from(1 << 20)
    );
    let _ = writeln!(
        md,
        "| full: profile reads | {} |",
        statuses(&full, |op| op == Op::Profile)
    );
    let _ = writeln!(
        md,
        "| full: member pages | {} |",
        statuses(&full, |op| op == Op::Members)
    );
    let _ = writeln!(
        md,
        "| full: invitations | {} |",
        statuses(&full, |op| op == Op::Invite)
    );
    let _ = writeln!(
        md,
        "| full: account edits | {} |",
        statuses(&full, |op| op == Op::Rename)
    );
    let _ = writeln!(
        md,
        "| full: 503s in the console envelope (`service_unavailable`) | {enveloped} of {refused_writes} |"
    );
    let _ = writeln!(
        md,
        "| full: log lines `database unavailable` / naming the full disk | {} / {full_cause} |",
        new_lines.len()
    );
    if let Some(example) = example {
        let _ = writeln!(md, "| a log line | `{}` |", example.replace('|', "\\|"));
    }
    let _ = writeln!(
        md,
        "| read-only remount while serving | {} |",
        match (&remount, &read_only) {
            (Ok(()), Some(answers)) => format!(
                "done; reads {}, writes {}",
                statuses(answers, |op| !is_write(op)),
                statuses(answers, is_write)
            ),
            (Err(why), _) => format!("refused: {}", why.replace('\n', " ")),
            (Ok(()), None) => "done".to_string(),
        }
    );
    let _ = writeln!(
        md,
        "| room again → first successful write (no restart, pid {restarts}) | {} |",
        recovered.map_or("never (15 s)".to_string(), ms)
    );
    let _ = writeln!(
        md,
        "| after: reads / writes | {} / {} |",
        statuses(&after, |op| !is_write(op)),
        statuses(&after, is_write)
    );
    Ok(Section {
        name: "disk",
        passed,
        measured: true,
        markdown: md,
    })
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
