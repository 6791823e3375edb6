//! A throwaway PostgreSQL cluster: the machine's `initdb` and `pg_ctl`, a directory and a
//! port of the caller's choosing, never a shared server. Used by `cargo xtask chaos` and,
//! included with `#[path]`, by the integration tests (`tests/api/reliability/mod.rs`), so
//! it depends on the standard library only; errors are messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Cluster {
    /// Holds the cluster's data (`data/`), its log and its socket.
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    /// `initdb` refuses to run as root: then the cluster belongs to `postgres`.
    run_as: Option<&'static str>,
    max_connections: u32,
}

impl Cluster {
    /// Creates a cluster in `dir` (which must exist and be empty) and starts it on `port`.
    /// `Ok(None)` when this machine has no PostgreSQL binaries.
    pub fn create(dir: &Path, port: u16, max_connections: u32) -> Result<Option<Self>, String> {
        let Some(bin) = bindir() else {
            return Ok(None);
        };
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let run_as = root.then_some("postgres");
        if let Some(user) = run_as {
            let ok = Command::new("chown")
                .args([user, &dir.display().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("cannot chown {} to {user}", dir.display()));
            }
        }
        let cluster = Self {
            dir: dir.to_path_buf(),
            bin,
            port,
            run_as,
            max_connections,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.start()?;
        Ok(Some(cluster))
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// The URL of the `postgres` database on `port` (the cluster's, or a proxy's in front).
    pub fn url_on(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    pub fn url(&self) -> String {
        self.url_on(self.port)
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.current_dir(&self.dir);
        command
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .map_err(|e| format!("running {tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{tool} {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    pub fn start(&self) -> Result<(), String> {
        let log = self.dir.join("log").display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections={}",
            self.port,
            self.dir.display(),
            self.max_connections
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    /// A fast shutdown: sessions are ended at once, as when a database server goes down.
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }
}

impl Drop for Cluster {
    /// An immediate shutdown; the directory is the caller's to remove (or keep).
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, else Debian's layout.
fn bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").exists() && dir.join("pg_ctl").exists();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has_tools(d))
        .collect();
    found.sort();
    found.pop()
}
