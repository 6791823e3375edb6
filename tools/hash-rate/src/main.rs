//! `hash-rate SECONDS`: verifies one password with the server's own `PasswordHasher` (its
//! argon2id parameters and its hashing threads, one per core), keeping every thread busy
//! for SECONDS, and prints `verifies_per_second=<f64>`.
//!
//! `cargo xtask bench` compares the server's login rate with this figure: the ceiling a
//! login can reach is one verification per request.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use console_server::auth::password::PasswordHasher;

fn main() -> ExitCode {
    let seconds: f64 = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 5.0,
        Some(Ok(s)) if s > 0.0 => s,
        Some(_) => {
            eprintln!("usage: hash-rate [SECONDS]");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hash-rate: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(measure(Duration::from_secs_f64(seconds))) {
        Ok(rate) => {
            println!("verifies_per_second={rate:.2}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hash-rate: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn measure(duration: Duration) -> Result<f64, String> {
    let hasher = PasswordHasher::default();
    let hash = hasher
        .hash("bench-password-1".to_string())
        .await
        .map_err(|e| e.to_string())?;
    // More tasks than hashing threads, so the hasher (not this loop) sets the parallelism,
    // as it does for the server's logins.
    let tasks = 4 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (hasher, hash) = (hasher.clone(), hash.clone());
        handles.push(tokio::spawn(async move {
            let mut done = 0u64;
            while start.elapsed() < duration {
                match hasher
                    .verify("bench-password-1".to_string(), hash.clone())
                    .await
                {
                    Ok(true) => done += 1,
                    Ok(false) => return Err("the password did not verify".to_string()),
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok(done)
        }));
    }
    let mut total = 0u64;
    for handle in handles {
        total += handle.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}
