//! A small closed-loop HTTP/1.1 load generator: each connection sends one request, reads
//! the whole answer, and sends the next, until the deadline. Hand-written on tokio so the
//! client costs as little CPU as possible on a machine it shares with the server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
    line: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            line: String::new(),
        })
    }

    /// Sends `request` (a complete HTTP/1.1 request) and returns the status and body.
    pub async fn send(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        self.stream.get_mut().write_all(request).await?;
        self.line.clear();
        if self.stream.read_line(&mut self.line).await? == 0 {
            bail!("the server closed the connection");
        }
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {:?}", self.line))?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                bail!("the server closed the connection mid-answer");
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().context("bad content-length")?;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked answers are not supported by the load generator");
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// A complete request: `GET`/`POST` with optional bearer token and JSON body.
pub fn request(method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Vec<u8> {
    let authorization = token.map(|t| format!("Bearer {t}"));
    request_with_authorization(method, path, authorization.as_deref(), body)
}

/// A request whose `Authorization` header is `authorization` as it is (the admin surface
/// takes the raw token, AList's way, with no scheme).
pub fn request_with_authorization(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&str>,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
    if let Some(value) = authorization {
        r.push_str(&format!("Authorization: {value}\r\n"));
    }
    match body {
        Some(body) => r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => r.push_str("\r\n"),
    }
    r.into_bytes()
}

/// What a run of one or more connections measured.
#[derive(Default)]
pub struct Outcome {
    /// Latency of every answered request, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Answers whose status was not the expected one, plus transport failures.
    pub errors: u64,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn requests(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn rate(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
    }
}

/// Runs `connections` closed loops for `duration`; connection `i` sends `requests[i % n]`.
/// Only answers with status `expect` count as successes.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    requests: Vec<Vec<u8>>,
    expect: u16,
) -> Result<Outcome> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for i in 0..connections {
        let request = requests[i % requests.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            let mut conn = Connection::open(addr).await?;
            while Instant::now() < deadline {
                let sent = Instant::now();
                match conn.send(&request).await {
                    Ok((status, _)) if status == expect => {
                        let us = sent.elapsed().as_micros().min(u128::from(u32::MAX));
                        outcome.latencies_us.push(us as u32);
                    }
                    Ok(_) => outcome.errors += 1,
                    Err(_) => {
                        outcome.errors += 1;
                        conn = Connection::open(addr).await?;
                    }
                }
            }
            anyhow::Ok(outcome)
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        total.merge(task.await??);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
