//! The audit trail's recording: one event per audited call, written in the transaction of
//! the change it records where the change runs in one, else as the call ends.
//!
//! Each audited request runs inside a [`Scope`] (a task-local set by the surface's audit
//! layer, `api::audit_layer`), which gathers what the event says as the request goes: the
//! operation, the request id, client address and user agent, and the changed fields (from
//! the body, secrets left out) from the layer; the actor from the surface's gate; the
//! target from the path, the gate's proof or the domain. A domain write commits through
//! [`commit`], which inserts the event into the same transaction first: a rolled-back
//! change leaves no event, and no change commits without one. A call that wrote no event
//! that way — a refusal, a failure, or a change made outside a transaction — gets its
//! event from the layer when it ends, with the answer's outcome. Outside a scope every
//! function here does nothing, so domain code stays callable from the CLI and tests.
//!
//! Events are append-only: nothing updates one, and only the retention job deletes them.

use std::sync::{Arc, Mutex};

use entity::audit_event;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait};
use serde_json::{Map, Value};
use uuid::Uuid;

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// Who made an audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Nobody signed in; `tried` is the e-mail or username a sign-in named.
    Anonymous {
        tried: Option<String>,
    },
    Account {
        id: Uuid,
        email: String,
    },
    AdminUser {
        id: i64,
        username: String,
    },
}

/// What the layer knows when the request starts.
pub struct Start {
    /// When the request began (the event's time).
    pub at: i64,
    pub surface: &'static str,
    pub operation_id: &'static str,
    /// The status of the operation's success answer (what an event written at commit says).
    pub success_status: u16,
    pub request_id: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Option<(&'static str, String)>,
    pub changes: Option<Map<String, Value>>,
}

/// One audited request's event, as it is gathered.
pub struct Scope {
    pending: Mutex<Pending>,
}

struct Pending {
    start: Start,
    actor: Actor,
    group_id: Option<Uuid>,
    written: bool,
}

impl Scope {
    pub fn new(start: Start) -> Arc<Self> {
        Arc::new(Self {
            pending: Mutex::new(Pending {
                start,
                actor: Actor::Anonymous { tried: None },
                group_id: None,
                written: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `fut` with this scope current.
    pub async fn run<F: std::future::Future>(self: &Arc<Self>, fut: F) -> F::Output {
        SCOPE.scope(self.clone(), fut).await
    }

    /// The event to write now with `outcome`, unless one was written already.
    fn take(&self, outcome: &str, status: u16) -> Option<audit_event::ActiveModel> {
        let mut p = self.lock();
        if p.written {
            return None;
        }
        p.written = true;
        Some(event(&p, outcome, status))
    }

    /// Writes the event for a call that ended with `outcome`, unless its change already did.
    pub async fn finish<C: ConnectionTrait>(
        &self,
        db: &C,
        outcome: &str,
        status: u16,
    ) -> Result<(), DbErr> {
        match self.take(outcome, status) {
            Some(row) => insert(db, row).await,
            None => Ok(()),
        }
    }
}

/// Inserts an event without reading it back: SQLite (no RETURNING in sea-orm's default
/// build) would otherwise spend a SELECT by id on each, and PostgreSQL send every column
/// back, for a row nobody looks at.
async fn insert<C: ConnectionTrait>(db: &C, row: audit_event::ActiveModel) -> Result<(), DbErr> {
    audit_event::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

fn event(p: &Pending, outcome: &str, status: u16) -> audit_event::ActiveModel {
    let (kind, id, name) = match &p.actor {
        Actor::Anonymous { tried } => ("anonymous", None, tried.clone()),
        Actor::Account { id, email } => ("account", Some(id.to_string()), Some(email.clone())),
        Actor::AdminUser { id, username } => {
            ("admin_user", Some(id.to_string()), Some(username.clone()))
        }
    };
    let (target_kind, target_id) = match &p.start.target {
        Some((k, v)) => (Some(k.to_string()), Some(v.clone())),
        None => (None, None),
    };
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(p.start.at),
        surface: Set(p.start.surface.to_string()),
        actor_kind: Set(kind.to_string()),
        actor_id: Set(id),
        actor_name: Set(name),
        client_ip: Set(p.start.client_ip.clone()),
        user_agent: Set(p.start.user_agent.clone()),
        request_id: Set(p.start.request_id.clone()),
        operation_id: Set(p.start.operation_id.to_string()),
        target_kind: Set(target_kind),
        target_id: Set(target_id),
        group_id: Set(p.group_id),
        outcome: Set(outcome.chars().take(64).collect()),
        status: Set(i32::from(status)),
        changes: Set(p
            .start
            .changes
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| Value::Object(c.clone()).to_string())),
    }
}

fn with_scope(f: impl FnOnce(&mut Pending)) {
    let _ = SCOPE.try_with(|scope| f(&mut scope.lock()));
}

/// The current request's caller (set by the surfaces' gates).
pub fn actor(actor: Actor) {
    with_scope(|p| p.actor = actor);
}

/// A console account signed in (or acting).
pub fn account(id: Uuid, email: &str) {
    // The e-mail is copied only inside a scope: an unaudited read has none.
    with_scope(|p| {
        p.actor = Actor::Account {
            id,
            email: email.to_string(),
        }
    });
}

/// A sign-in named `name` (e-mail or username): recorded as who tried, until a caller is
/// known.
pub fn attempted(name: &str) {
    with_scope(|p| {
        if let Actor::Anonymous { tried } = &mut p.actor {
            *tried = Some(name.chars().take(255).collect());
        }
    });
}

/// What the call acts on, when the path does not say (a creation's new id, say).
pub fn target(kind: &'static str, id: impl ToString) {
    with_scope(|p| p.start.target = Some((kind, id.to_string())));
}

/// What the call acts on, unless the path already said.
pub fn default_target(kind: &'static str, id: impl ToString) {
    with_scope(|p| {
        if p.start.target.is_none() {
            p.start.target = Some((kind, id.to_string()));
        }
    });
}

/// The group the target belongs to: a group's super_admin sees the events of its group.
pub fn group(id: Uuid) {
    with_scope(|p| p.group_id = Some(id));
}

/// A fact the event should carry beside the request's fields (never a secret).
pub fn note(key: &str, value: impl Into<Value>) {
    with_scope(|p| {
        p.start
            .changes
            .get_or_insert_with(Map::new)
            .insert(key.to_string(), value.into());
    });
}

/// Commits `txn` with the current call's event in it (SECURITY: the audit's transaction
/// rule). Outside an audited request it only commits.
pub async fn commit(txn: DatabaseTransaction) -> Result<(), DbErr> {
    record_in(&txn).await?;
    txn.commit().await
}

/// Writes the current call's success event through `conn` (a transaction the caller is
/// about to commit), once.
pub async fn record_in<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    let row = SCOPE
        .try_with(|scope| {
            let status = scope.lock().start.success_status;
            scope.take("success", status)
        })
        .ok()
        .flatten();
    match row {
        Some(row) => insert(conn, row).await,
        None => Ok(()),
    }
}

/// An event outside any request's call: what the server noticed on its own (a personal
/// access token used from a new address). `operation_id` names the occurrence.
pub struct Noticed<'a> {
    pub at: i64,
    pub operation_id: &'a str,
    pub account: (Uuid, &'a str),
    pub client_ip: Option<String>,
    pub target: (&'a str, String),
    pub outcome: &'a str,
    pub changes: Map<String, Value>,
}

pub async fn notice<C: ConnectionTrait>(db: &C, n: Noticed<'_>) -> Result<(), DbErr> {
    let row = audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(n.at),
        surface: Set("console".to_string()),
        actor_kind: Set("account".to_string()),
        actor_id: Set(Some(n.account.0.to_string())),
        actor_name: Set(Some(n.account.1.to_string())),
        client_ip: Set(n.client_ip),
        user_agent: Set(None),
        request_id: Set("-".to_string()),
        operation_id: Set(n.operation_id.to_string()),
        target_kind: Set(Some(n.target.0.to_string())),
        target_id: Set(Some(n.target.1)),
        group_id: Set(None),
        outcome: Set(n.outcome.to_string()),
        status: Set(200),
        changes: Set(Some(Value::Object(n.changes).to_string())),
    };
    insert(db, row).await
}

/// Keys whose values never enter an event, at any depth.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password", "token", "code", "secret", "otp", "passcode", "hash", "key",
    ]
    .iter()
    .any(|s| key.contains(s))
}

/// A request body as an event shows it: its fields, minus every secret.
pub fn redacted(body: &Value) -> Option<Map<String, Value>> {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !is_secret_key(k))
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    match strip(body) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_never_reach_an_event() {
        let body = json!({
            "email": "a@example.com",
            "password": "p", "new_password": "n", "repeat_new_password": "r",
            "token": "t", "refresh_token": "rt", "code": "123456", "otp_secret": "s",
            "nested": {"invite_code": "x", "name": "kept"},
            "items": [{"api_key": "k", "role": "admin"}]
        });
        let kept = Value::Object(redacted(&body).expect("object"));
        assert_eq!(
            kept,
            json!({"email": "a@example.com", "nested": {"name": "kept"}, "items": [{"role": "admin"}]})
        );
    }
}
