//! argon2id password hashing on a few dedicated threads (one per core), so a storm of
//! sign-ins cannot starve every other request, and so the 19 MiB each hash needs is
//! allocated again and again by the same threads: on tokio's blocking pool every new
//! thread kept its own malloc arena with its own copy, and the peak RSS of a login storm
//! reached hundreds of MiB.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed")]
    Task,
}

type Job = Box<dyn FnOnce() + Send>;

/// Cheap to clone; the worker threads end when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_threads(cores)
    }
}

impl PasswordHasher {
    pub fn with_threads(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // Holding the lock only while waiting: the next worker waits
                        // for the lock, then for the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `work` on a hashing thread. A job whose caller has gone away (a cancelled
    /// request) is skipped rather than computed for nobody.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            if let Ok(value) = std::panic::catch_unwind(AssertUnwindSafe(work)) {
                let _ = done.send(value);
            }
        });
        self.jobs.send(job).map_err(|_| HashError::Task)?;
        result.await.map_err(|_| HashError::Task)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`): OWASP's argon2id parameters.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Hash(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, HashError> {
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_malformed_hashes_never_match() {
        let hasher = PasswordHasher::with_threads(2);
        let hash = hasher.hash("correct horse 1".into()).await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("correct horse 1".into(), hash.clone())
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("wrong horse 1".into(), hash)
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("x".into(), "not a hash".into())
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn concurrent_callers_all_get_their_answer() {
        let hasher = PasswordHasher::with_threads(2);
        let hash = hasher.hash("pw-12345678".into()).await.expect("hash");
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (hasher, hash) = (hasher.clone(), hash.clone());
                let password = if i % 2 == 0 {
                    "pw-12345678"
                } else {
                    "nope-1234"
                };
                tokio::spawn(async move { hasher.verify(password.into(), hash).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task").expect("verify"));
        }
        assert_eq!(results, vec![true, false, true, false, true, false]);
    }
}
