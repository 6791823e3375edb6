//! Reading the audit trail (`crate::audit` writes it): filtered pages newest first, the
//! export for a SIEM, and the retention job's deletions.

use entity::audit_event;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AuditQueryError {
    #[error("cursor is not one this server gave")]
    BadCursor,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What a reader asks for; `None` leaves a filter off.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub surface: Option<&'static str>,
    pub actor: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub operation_id: Option<String>,
    /// `success`, `failure` (anything else), or one code.
    pub outcome: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events about these groups (a group super_admin's view); `None`: all.
    pub groups: Option<Vec<Uuid>>,
}

pub struct Page {
    pub events: Vec<audit_event::Model>,
    pub next_cursor: Option<String>,
}

/// Cursors are the last event's id behind a version tag, so a client cannot mistake them
/// for something to build by hand.
fn cursor_of(id: Uuid) -> String {
    format!("c1.{}", id.simple())
}

fn parse_cursor(cursor: &str) -> Result<Uuid, AuditQueryError> {
    cursor
        .strip_prefix("c1.")
        .and_then(|hex| Uuid::try_parse(hex).ok())
        .ok_or(AuditQueryError::BadCursor)
}

fn condition(filter: &Filter) -> Condition {
    use audit_event::Column as C;
    let mut cond = Condition::all();
    if let Some(surface) = filter.surface {
        cond = cond.add(C::Surface.eq(surface));
    }
    if let Some(actor) = &filter.actor {
        cond = cond.add(
            Condition::any()
                .add(C::ActorId.eq(actor.as_str()))
                .add(C::ActorName.eq(actor.as_str())),
        );
    }
    if let Some(kind) = &filter.target_kind {
        cond = cond.add(C::TargetKind.eq(kind.as_str()));
    }
    if let Some(id) = &filter.target_id {
        cond = cond.add(C::TargetId.eq(id.as_str()));
    }
    if let Some(op) = &filter.operation_id {
        cond = cond.add(C::OperationId.eq(op.as_str()));
    }
    match filter.outcome.as_deref() {
        None => {}
        Some("failure") => cond = cond.add(C::Outcome.ne("success")),
        Some(code) => cond = cond.add(C::Outcome.eq(code)),
    }
    if let Some(since) = filter.since {
        cond = cond.add(C::At.gte(since));
    }
    if let Some(until) = filter.until {
        cond = cond.add(C::At.lt(until));
    }
    if let Some(groups) = &filter.groups {
        cond = cond.add(C::GroupId.is_in(groups.iter().copied()));
    }
    cond
}

/// One page of events matching `filter`, newest first, after `cursor`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page, AuditQueryError> {
    use audit_event::Column as C;
    let after = cursor.map(parse_cursor).transpose()?;
    let mut events = match &filter.actor {
        // `actor` matches the actor's id or its name: one read of each, newest first along
        // its own index (actor, id), merged. One statement with `actor_id = ? OR
        // actor_name = ?` cannot walk either index in order, so for a busy actor it read
        // and sorted every one of their events (PostgreSQL's generic plan of it took 94 ms
        // for an actor of 10k events in 1M).
        Some(actor) => {
            let rest = Filter {
                actor: None,
                ..filter.clone()
            };
            let mut events = newest(db, &rest, after, C::ActorId.eq(actor.as_str()), limit).await?;
            events.extend(newest(db, &rest, after, C::ActorName.eq(actor.as_str()), limit).await?);
            events.sort_by_key(|e| std::cmp::Reverse(e.id));
            events.dedup_by_key(|e| e.id);
            events.truncate(limit as usize + 1);
            events
        }
        None => newest(db, filter, after, Condition::all(), limit).await?,
    };
    let more = events.len() as u64 > limit;
    events.truncate(limit as usize);
    let next_cursor = if more {
        events.last().map(|e| cursor_of(e.id))
    } else {
        None
    };
    Ok(Page {
        events,
        next_cursor,
    })
}

/// Up to `limit + 1` events matching `filter` and `extra`, older than `after`, newest first.
async fn newest<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    after: Option<Uuid>,
    extra: impl sea_orm::sea_query::IntoCondition,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    let mut cond = condition(filter).add(extra);
    if let Some(after) = after {
        cond = cond.add(audit_event::Column::Id.lt(after));
    }
    audit_event::Entity::find()
        .filter(cond)
        .order_by_desc(audit_event::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await
}

/// Every event between `since` and `until`, oldest first, `batch` at a time, each handed
/// to `each` (the export streams them without holding the trail in memory).
pub async fn for_each<C: ConnectionTrait>(
    db: &C,
    since: Option<i64>,
    until: Option<i64>,
    mut each: impl FnMut(&audit_event::Model) -> std::io::Result<()>,
) -> Result<u64, ExportError> {
    let filter = Filter {
        since,
        until,
        ..Filter::default()
    };
    let mut after: Option<Uuid> = None;
    let mut count = 0;
    loop {
        let mut cond = condition(&filter);
        if let Some(id) = after {
            cond = cond.add(audit_event::Column::Id.gt(id));
        }
        let batch = audit_event::Entity::find()
            .filter(cond)
            .order_by_asc(audit_event::Column::Id)
            .limit(1000)
            .all(db)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(count);
        };
        after = Some(last.id);
        for event in &batch {
            each(event)?;
            count += 1;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Deletes up to `batch` events older than `before`; returns how many went. The retention
/// job calls it until it returns less than `batch`, so no statement holds locks for long.
pub async fn delete_older<C: ConnectionTrait>(
    db: &C,
    before: i64,
    batch: u64,
) -> Result<u64, DbErr> {
    let ids: Vec<Uuid> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Id)
        .filter(audit_event::Column::At.lt(before))
        .order_by_asc(audit_event::Column::Id)
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let done = audit_event::Entity::delete_many()
        .filter(audit_event::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// The JSON object an exported line (and the API) shows for an event.
pub fn to_json(e: &audit_event::Model) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "at": e.at,
        "surface": e.surface,
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "client_ip": e.client_ip,
        "user_agent": e.user_agent,
        "request_id": e.request_id,
        "operation_id": e.operation_id,
        "target_kind": e.target_kind,
        "target_id": e.target_id,
        "group_id": e.group_id,
        "outcome": e.outcome,
        "status": e.status,
        "changes": changes(e),
    })
}

/// The stored `changes`, as an object (`None` when absent or unreadable).
pub fn changes(e: &audit_event::Model) -> Option<serde_json::Map<String, serde_json::Value>> {
    e.changes
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        })
}
