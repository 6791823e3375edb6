//! argon2id password hashing on a few dedicated threads (one per core), so a storm of
//! sign-ins cannot starve every other request.
//!
//! Each thread keeps the 19 MiB of memory a hash needs and reuses it for every hash. The
//! argon2 crate's own entry points allocate (zeroed) memory per call: that cost a 19 MiB
//! memset per sign-in, and glibc kept the freed blocks in per-thread arenas that it never
//! trimmed, so a login storm left the server at ~370 MiB resident. Reused, the memory is
//! bounded by threads × 19 MiB, and argon2 overwrites every block before reading it, so it
//! needs no zeroing between hashes.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed")]
    Task,
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// The working memory of one hashing thread, kept between hashes.
struct Scratch(Vec<Block>);

impl Scratch {
    /// `count` blocks. Memory for our own parameters is kept; a larger request (a hash
    /// made with other parameters) gets memory of its own, so one such hash cannot make
    /// the thread hold more from then on.
    fn with_blocks<T>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if count > Params::DEFAULT.block_count() {
            return f(&mut vec![Block::default(); count]);
        }
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        f(&mut self.0[..count])
    }
}

/// Cheap to clone; the worker threads end when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// Hashes computed so far (verifications included).
    computed: Arc<AtomicU64>,
    /// Jobs sent and not yet taken by a thread.
    queued: Arc<AtomicU64>,
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
                    let mut scratch = Scratch(Vec::new());
                    loop {
                        // Holding the lock only while waiting: the next worker waits
                        // for the lock, then for the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(&mut scratch),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        Self {
            jobs,
            computed: Arc::new(AtomicU64::new(0)),
            queued: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Hashes and checks waiting for a thread (the metrics' `password_hash_queue_depth`).
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// How many hashes this hasher has computed, verifications included: lets tests
    /// check that a sign-in did the same work whatever the outcome.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::SeqCst)
    }

    /// Runs `work` on a hashing thread. A job whose caller has gone away (a cancelled
    /// request) is skipped rather than computed for nobody.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = oneshot::channel();
        let computed = self.computed.clone();
        let queued = self.queued.clone();
        let job: Job = Box::new(move |scratch| {
            queued.fetch_sub(1, Ordering::Relaxed);
            if done.is_closed() {
                return;
            }
            computed.fetch_add(1, Ordering::SeqCst);
            let started = std::time::Instant::now();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(scratch)));
            metrics::histogram!("password_hash_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            if let Ok(value) = outcome {
                let _ = done.send(value);
            }
        });
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(HashError::Task);
        }
        result.await.map_err(|_| HashError::Task)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`): OWASP's argon2id parameters.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move |scratch| hash_with(scratch, password.as_bytes()))
            .await?
    }

    /// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, HashError> {
        self.run(move |scratch| verify_with(scratch, password.as_bytes(), &hash))
            .await
    }

    /// For sign-ins: `verify` against the account's stored hash, or — when there is no
    /// account or it has no password — do the same work and answer false, so an unknown
    /// name costs what a wrong password costs and timing cannot tell them apart.
    pub async fn verify_stored(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        match stored {
            Some(hash) => self.verify(password, hash).await,
            None => {
                self.run(move |scratch| {
                    let _ = hash_with(scratch, password.as_bytes());
                    false
                })
                .await
            }
        }
    }
}

fn hash_with(scratch: &mut Scratch, password: &[u8]) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
    let params = Params::DEFAULT;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt_bytes = argon2::password_hash::try_generate_salt().map_err(|e| failed(&e))?;
    let salt = Salt::new(&salt_bytes).map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    scratch
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_with(scratch: &mut Scratch, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = scratch.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, &mut out, blocks)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
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
    async fn hashes_interoperate_with_the_argon2_crate_whatever_their_parameters() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::with_threads(1);
        // Made by the crate's own code: ours must verify it, with reused memory.
        let theirs = Argon2::default()
            .hash_password(b"pw-12345678")
            .expect("hash")
            .to_string();
        assert!(
            hasher
                .verify("pw-12345678".into(), theirs.clone())
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("pw-12345679".into(), theirs)
                .await
                .expect("verify")
        );
        // Ours must verify with the crate's code.
        let ours = hasher.hash("pw-12345678".into()).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("parse");
        assert!(
            Argon2::default()
                .verify_password(b"pw-12345678", &parsed)
                .is_ok()
        );
        // Other parameters (smaller and larger memory, argon2i, another output length)
        // verify too, before and after the thread's memory was used for the default.
        for (algorithm, m, t, len) in [
            (Algorithm::Argon2id, 8 * 1024, 1, 32),
            (Algorithm::Argon2i, 4 * 1024, 3, 16),
            (Algorithm::Argon2id, 24 * 1024, 1, 64),
        ] {
            let params = Params::new(m, t, 1, Some(len)).expect("params");
            let other = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"pw-12345678")
                .expect("hash")
                .to_string();
            assert!(
                hasher
                    .verify("pw-12345678".into(), other.clone())
                    .await
                    .expect("verify"),
                "{other}"
            );
            assert!(
                !hasher
                    .verify("pw-1234567".into(), other)
                    .await
                    .expect("verify")
            );
        }
        // The salt is new every time.
        let again = hasher.hash("pw-12345678".into()).await.expect("hash");
        assert_ne!(ours, again);
    }

    #[tokio::test]
    async fn a_missing_hash_never_matches() {
        let hasher = PasswordHasher::with_threads(1);
        assert!(
            !hasher
                .verify_stored("pw-12345678".into(), None)
                .await
                .expect("verify")
        );
        let hash = hasher.hash("pw-12345678".into()).await.expect("hash");
        assert!(
            hasher
                .verify_stored("pw-12345678".into(), Some(hash))
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
