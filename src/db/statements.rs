//! Counting the statements each request sends to the database: logged on the request's
//! line, recorded as a metric, and (for the query-budget test) kept by request id.
//!
//! sea-orm reports every statement it runs, in or out of a transaction, to the
//! connection's metric callback ([`on_statement`]), from inside the future that ran it; a
//! request's future runs in [`counted`], whose task-local tally that callback adds to.
//! Statements of tasks a request spawns, and of background jobs, are nobody's. `BEGIN` and
//! `COMMIT` are not reported by sea-orm, so a transaction counts its statements only.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};

tokio::task_local! {
    static TALLY: Cell<u32>;
}

/// The connection's metric callback.
pub fn on_statement(info: &sea_orm::metric::Info<'_>) {
    let _ = TALLY.try_with(|n| n.set(n.get().saturating_add(1)));
    // The SQL only, never its values (which hold e-mails and hashes); on with
    // `RUST_LOG=console_server::db::statements=trace`.
    tracing::trace!(sql = %info.statement.sql, "statement");
}

/// Runs `fut`, returning its output and the statements it ran.
pub async fn counted<F: Future>(fut: F) -> (F::Output, u32) {
    TALLY
        .scope(Cell::new(0), async {
            let out = fut.await;
            (out, TALLY.try_with(Cell::get).unwrap_or(0))
        })
        .await
}

/// Counts by request id, kept only once [`keep`] was called (tests): a server never keeps
/// them, since a count per request is an oracle (an existing account costs other
/// statements than a missing one) that only the operator's own logs may hold.
static KEPT: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();

/// From now on, keep each request's count for [`take`].
pub fn keep() {
    let _ = KEPT.get_or_init(Mutex::default);
}

/// Notes a finished request's count, when counts are kept.
pub fn note(request_id: &str, statements: u32) {
    if let Some(kept) = KEPT.get() {
        let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.insert(request_id.to_string(), statements);
    }
}

/// The count of the request with this id, once (`None` if not kept).
pub fn take(request_id: &str) -> Option<u32> {
    let kept = KEPT.get()?;
    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    kept.remove(request_id)
}
