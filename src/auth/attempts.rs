//! Attempt counters in the database, so every instance sees the same counts: sign-in
//! failures per email or per client address, mails sent, and so on.
//!
//! Each key counts within a fixed window that starts at its first attempt and lasts
//! `window` seconds; the next attempt after the window starts a new one. Recording is one
//! atomic upsert, so concurrent attempts on any number of instances are all counted.
//!
//! A limit that guards expensive or secret-revealing work (a password hash) is enforced
//! with [`reserve`]: the attempt takes its place in the window *before* the work, in the
//! same atomic upsert that checks the limit, so a burst of concurrent attempts on any
//! number of instances never gets more than the limit through. An attempt that turns out
//! not to count (a successful sign-in, say) gives its place back with [`release`].

use entity::rate_counter::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Failures (or sends) of `key` in its current window; 0 once the window has passed.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: i64,
    now: i64,
) -> Result<u32, DbErr> {
    let row = Entity::find_by_id(key.to_string()).one(db).await?;
    Ok(in_window(row.as_ref(), window, now))
}

/// The count of `row` if its window is still open at `now`, else 0.
fn in_window(row: Option<&rate_counter::Model>, window: i64, now: i64) -> u32 {
    match row {
        Some(r) if r.window_start + window > now => u32::try_from(r.count).unwrap_or(0),
        _ => 0,
    }
}

/// The counts of several keys, each in its own window, in one query; in the order given.
pub async fn counts<C: ConnectionTrait>(
    db: &C,
    keys: &[(&str, i64)],
    now: i64,
) -> Result<Vec<u32>, DbErr> {
    let rows = Entity::find()
        .filter(Column::Key.is_in(keys.iter().map(|(k, _)| k.to_string())))
        .all(db)
        .await?;
    Ok(keys
        .iter()
        .map(|(key, window)| in_window(rows.iter().find(|r| r.key == *key), *window, now))
        .collect())
}

/// Records one attempt and returns the count in the current window, including it.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: i64,
    now: i64,
) -> Result<u32, DbErr> {
    let (count, _) = upsert(db, key, window, now, None)
        .await?
        .ok_or_else(|| DbErr::Custom("upsert returned no row".into()))?;
    Ok(count)
}

/// A place one attempt holds in a counter's window, taken by [`reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The count in the window, this attempt included (1 for the first).
    pub count: u32,
    /// When that window began: [`release`] only gives the place back to this window.
    pub window_start: i64,
}

/// Takes a place in `key`'s current window (a new window once the last has passed) if
/// fewer than `limit` are taken; `None`, counting nothing, when the window is full.
///
/// The check and the count are one `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`,
/// so concurrent callers on any number of instances never hold more than `limit` places
/// of one window between them.
pub async fn reserve<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: u32,
    window: i64,
    now: i64,
) -> Result<Option<Reservation>, DbErr> {
    if limit == 0 {
        return Ok(None);
    }
    Ok(upsert(db, key, window, now, Some(limit))
        .await?
        .map(|(count, window_start)| Reservation {
            count,
            window_start,
        }))
}

/// A place [`reserve_all`] is to take: the key, its limit and its window in seconds.
pub struct Place<'a> {
    pub key: &'a str,
    pub limit: u32,
    pub window: i64,
}

/// [`reserve`] for several distinct keys in one statement (one round trip rather than one
/// per key): each place is taken unless its window is full; the answers come in the order
/// given, `None` for a full window. The places that were free are taken even when another
/// was refused, so a caller that wants all or none runs this in a transaction it rolls
/// back on any `None` (as a sign-in's `Attempt::reserve` does).
///
/// One `INSERT … VALUES (…), (…) ON CONFLICT DO UPDATE … WHERE … RETURNING`, each row's
/// window and limit picked by its key: the check and the count stay one atomic step per
/// key, as in [`reserve`], and PostgreSQL takes the rows' locks in the order given (the
/// order [`release`] gives them back in).
pub async fn reserve_all<C: ConnectionTrait>(
    db: &C,
    places: &[Place<'_>],
    now: i64,
) -> Result<Vec<Option<Reservation>>, DbErr> {
    // A limit of 0 refuses its place outright, as `reserve` does.
    let open: Vec<&Place<'_>> = places.iter().filter(|p| p.limit > 0).collect();
    let Some((last, init)) = open.split_last() else {
        return Ok(vec![None; places.len()]);
    };
    // The stored row's window and limit, picked by its key (the keys are distinct).
    let by_key = |value: fn(&Place<'_>) -> i64| -> Expr {
        let mut case: Option<sea_orm::sea_query::CaseStatement> = None;
        for p in init {
            let cond = Expr::col((Entity, Column::Key)).eq(p.key);
            case = Some(match case {
                None => Expr::case(cond, value(p)),
                Some(c) => c.case(cond, value(p)),
            });
        }
        match case {
            None => Expr::val(value(last)),
            Some(c) => c.finally(value(last)).into(),
        }
    };
    let on_conflict = counting(
        by_key(|p| p.window),
        now,
        Some(by_key(|p| i64::from(p.limit))),
    );
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns([Column::Key, Column::Count, Column::WindowStart]);
    for p in &open {
        insert
            .values([p.key.into(), 1.into(), now.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    insert
        .on_conflict(on_conflict)
        .returning(Query::returning().columns([Column::Key, Column::Count, Column::WindowStart]));
    let stmt = db.get_database_backend().build(&insert);
    let rows = db.query_all_raw(stmt).await?;
    let mut taken = vec![None; places.len()];
    for row in rows {
        let key: String = row.try_get("", "key")?;
        let count: i32 = row.try_get("", "count")?;
        let window_start: i64 = row.try_get("", "window_start")?;
        if let Some(i) = places.iter().position(|p| p.key == key && p.limit > 0) {
            taken[i] = Some(Reservation {
                count: u32::try_from(count).unwrap_or(0),
                window_start,
            });
        }
    }
    Ok(taken)
}

/// Gives back places taken by [`reserve`], each to its own window: an attempt that turned
/// out not to count. A place whose window has since passed or been cleared is not given
/// back to its successor.
///
/// One statement per key, in the order given (the order they were reserved in): one
/// `UPDATE … WHERE key IN (…)` locks its rows in the table's order, so two sign-ins of one
/// account — one reserving its places, the other giving them back — could each hold the
/// row the other wants next, and PostgreSQL broke that deadlock by failing one (a 500,
/// found under `cargo xtask chaos`'s sign-in load).
pub async fn release<C: ConnectionTrait>(
    db: &C,
    held: &[(&str, Reservation)],
) -> Result<(), DbErr> {
    for (key, r) in held {
        Entity::update_many()
            .col_expr(Column::Count, Expr::col(Column::Count).sub(1))
            .filter(Column::Count.gt(0))
            .filter(Column::Key.eq(*key))
            .filter(Column::WindowStart.eq(r.window_start))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Starts `key`'s window again at `now` with a count of 1, whatever it held, in one
/// statement (so the key is never seen absent in between, as clear-then-record would be).
pub async fn restart<C: ConnectionTrait>(db: &C, key: &str, now: i64) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table(Entity)
        .columns([Column::Key, Column::Count, Column::WindowStart])
        .values([key.into(), 1.into(), now.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(Column::Key)
                .value(Column::Count, 1)
                .value(Column::WindowStart, now)
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// Moves the start of `key`'s window to `start`, keeping its count: a full window held
/// until `start + window` is a lockout that every earlier holder of a place in it outlives.
/// Nothing happens when the key has been cleared meanwhile.
pub async fn hold_window<C: ConnectionTrait>(db: &C, key: &str, start: i64) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::WindowStart, Expr::value(start))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// The conflict clause that counts one attempt on a stored key: a window that has passed
/// (`window` seconds after its start) starts again at `now` with a count of 1, else the
/// count goes up by one. With `limit`, an open window that holds `limit` is left alone,
/// and the row is not returned.
fn counting(window: Expr, now: i64, limit: Option<Expr>) -> OnConflict {
    let expired = Expr::col((Entity, Column::WindowStart))
        .add(window)
        .lte(now);
    let mut on_conflict = OnConflict::column(Column::Key)
        .value(
            Column::Count,
            Expr::case(expired.clone(), 1).finally(Expr::col((Entity, Column::Count)).add(1)),
        )
        .value(
            Column::WindowStart,
            Expr::case(expired.clone(), now).finally(Expr::col((Entity, Column::WindowStart))),
        )
        .to_owned();
    if let Some(limit) = limit {
        on_conflict.action_and_where(expired.or(Expr::col((Entity, Column::Count)).lt(limit)));
    }
    on_conflict
}

/// Counts one attempt on `key` in one atomic upsert and returns the new count and its
/// window's start. With `limit`, a window that already holds `limit` is left alone and
/// nothing is returned.
async fn upsert<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: i64,
    now: i64,
    limit: Option<u32>,
) -> Result<Option<(u32, i64)>, DbErr> {
    let on_conflict = counting(
        Expr::val(window),
        now,
        limit.map(|l| Expr::val(i64::from(l))),
    );
    let insert = Query::insert()
        .into_table(Entity)
        .columns([Column::Key, Column::Count, Column::WindowStart])
        .values([key.into(), 1.into(), now.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(on_conflict)
        .returning(Query::returning().columns([Column::Count, Column::WindowStart]))
        .to_owned();
    let stmt = db.get_database_backend().build(&insert);
    let Some(row) = db.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    let count: i32 = row.try_get("", "count")?;
    let window_start: i64 = row.try_get("", "window_start")?;
    Ok(Some((u32::try_from(count).unwrap_or(0), window_start)))
}

/// Forgets `key` (after a successful sign-in, say).
pub async fn clear<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    rate_counter::Entity::delete_by_id(key.to_string())
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets every key that starts with `prefix` (compared exactly: SQLite's `LIKE` would
/// ignore case, and `%`/`_` may occur in e-mails). Password resets use it; a full scan of
/// the counters is fine there.
pub async fn clear_prefix<C: ConnectionTrait>(db: &C, prefix: &str) -> Result<(), DbErr> {
    let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Entity::delete_many()
        .filter(
            Func::cust("substr")
                .arg(Expr::col(Column::Key))
                .arg(1)
                .arg(length)
                .eq(prefix),
        )
        .exec(db)
        .await?;
    Ok(())
}
