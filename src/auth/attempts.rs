//! Attempt counters in the database, so every instance sees the same counts: sign-in
//! failures per email or per client address, mails sent, and so on.
//!
//! Each key counts within a fixed window that starts at its first attempt and lasts
//! `window` seconds; the next attempt after the window starts a new one. Recording is one
//! atomic upsert, so concurrent attempts on any number of instances are all counted.

use entity::rate_counter::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// Failures (or sends) of `key` in its current window; 0 once the window has passed.
pub async fn count(
    db: &DatabaseConnection,
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
pub async fn counts(
    db: &DatabaseConnection,
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
pub async fn record(
    db: &DatabaseConnection,
    key: &str,
    window: i64,
    now: i64,
) -> Result<u32, DbErr> {
    let expired = Expr::col((Entity, Column::WindowStart))
        .add(window)
        .lte(now);
    let insert = Query::insert()
        .into_table(Entity)
        .columns([Column::Key, Column::Count, Column::WindowStart])
        .values([key.into(), 1.into(), now.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(Column::Key)
                .value(
                    Column::Count,
                    Expr::case(expired.clone(), 1)
                        .finally(Expr::col((Entity, Column::Count)).add(1)),
                )
                .value(
                    Column::WindowStart,
                    Expr::case(expired, now).finally(Expr::col((Entity, Column::WindowStart))),
                )
                .to_owned(),
        )
        .returning_col(Column::Count)
        .to_owned();
    let stmt = db.get_database_backend().build(&insert);
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| DbErr::Custom("upsert returned no row".into()))?;
    let count: i32 = row.try_get("", "count")?;
    Ok(u32::try_from(count).unwrap_or(0))
}

/// Forgets `key` (after a successful sign-in, say).
pub async fn clear(db: &DatabaseConnection, key: &str) -> Result<(), DbErr> {
    rate_counter::Entity::delete_by_id(key.to_string())
        .exec(db)
        .await?;
    Ok(())
}
