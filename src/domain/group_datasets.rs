//! The group dataset listing (`GET enterprise-groups/{id}/datasets`): which datasets a
//! caller sees, and how a search over a big group is counted and paged on each database
//! (docs/contract-notes.md, "Dataset search at scale"; the indexes are migration
//! 000009's).

use entity::{account, dataset, dataset_permission, tenant};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, PostgresQueryBuilder, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    DeriveIden, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, Statement, Value,
};
use uuid::Uuid;

use crate::domain::datasets::{self, DatasetView};
use crate::domain::groups::memberships_of;
use crate::domain::paging::{Page, offset};

/// The datasets of the group's workspaces (shadow included) that the caller may see:
/// all of them for group admins; for others, those of workspaces they belong to that are
/// `all_team_members`, their own, or `partial_members` naming them. `search` keeps
/// those whose folded name or description contains the folded, trimmed term. Newest
/// first, ties by id; `total` is exact.
pub async fn datasets(
    db: &DatabaseConnection,
    group_id: Uuid,
    account_id: Uuid,
    group_admin: bool,
    search: Option<&str>,
    page: u64,
    limit: u64,
) -> Result<Page<DatasetView>, DbErr> {
    let term = search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(datasets::fold);
    let viewer = (!group_admin).then_some(account_id);
    match (&term, db.get_database_backend()) {
        (None, _) => unfiltered(db, group_id, viewer, page, limit).await,
        (Some(term), DatabaseBackend::Postgres) => {
            postgres_search(db, group_id, viewer, term, page, limit).await
        }
        (Some(term), _) => sqlite_search(db, group_id, viewer, term, page, limit).await,
    }
}

/// One page of `q` in page order, each dataset with its creator's and its workspace's
/// names joined in: one statement.
async fn page_with_names<C: ConnectionTrait>(
    db: &C,
    q: Select<dataset::Entity>,
    page: u64,
    limit: u64,
) -> Result<Vec<DatasetView>, DbErr> {
    use sea_orm::{JoinType, QuerySelect, QueryTrait, RelationTrait};
    let statement = in_page_order(q, page, limit)
        .join(JoinType::LeftJoin, dataset::Relation::Creator.def())
        .join(JoinType::LeftJoin, dataset::Relation::Tenant.def())
        .column_as(
            Expr::col((account::Entity, account::Column::Name)),
            "owner_name",
        )
        .column_as(
            Expr::col((tenant::Entity, tenant::Column::Name)),
            "tenant_name",
        )
        .build(db.get_database_backend());
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(view_of_row)
        .collect()
}

/// A row of a dataset's columns with `owner_name` and `tenant_name` beside them.
fn view_of_row(row: &sea_orm::QueryResult) -> Result<DatasetView, DbErr> {
    Ok(DatasetView {
        dataset: dataset::Model::from_query_result(row, "")?,
        owner_name: row.try_get("", "owner_name")?,
        tenant_name: row
            .try_get::<Option<String>>("", "tenant_name")?
            .unwrap_or_default(),
    })
}

/// Which datasets of a group's workspaces `viewer` (a caller who is not a group admin)
/// may see: those of workspaces they belong to that are for the whole team, their own,
/// or shared with them by name. The one statement of the rule; every path below uses it.
fn visible_to(viewer: Uuid) -> Condition {
    let listed = Query::select()
        .column(dataset_permission::Column::DatasetId)
        .from(dataset_permission::Entity)
        .and_where(dataset_permission::Column::AccountId.eq(viewer))
        .to_owned();
    Condition::all()
        .add(dataset::Column::TenantId.in_subquery(memberships_of(viewer)))
        .add(
            Condition::any()
                .add(dataset::Column::Permission.eq("all_team_members"))
                .add(dataset::Column::CreatedBy.eq(viewer))
                .add(
                    Condition::all()
                        .add(dataset::Column::Permission.eq("partial_members"))
                        .add(dataset::Column::Id.in_subquery(listed)),
                ),
        )
}

fn seen_by(q: Select<dataset::Entity>, viewer: Option<Uuid>) -> Select<dataset::Entity> {
    match viewer {
        Some(viewer) => q.filter(visible_to(viewer)),
        None => q,
    }
}

/// `%term%` with LIKE's metacharacters taken literally (escape `\`).
fn like_pattern(term: &str) -> String {
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Newest first, ties by id.
fn in_page_order(q: Select<dataset::Entity>, page: u64, limit: u64) -> Select<dataset::Entity> {
    q.order_by_desc(dataset::Column::CreatedAt)
        .order_by_desc(dataset::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
}

/// No search: count the group's visible datasets and walk `ix_datasets_group_created`
/// to the page. The read transaction gives both one snapshot.
async fn unfiltered(
    db: &DatabaseConnection,
    group_id: Uuid,
    viewer: Option<Uuid>,
    page: u64,
    limit: u64,
) -> Result<Page<DatasetView>, DbErr> {
    let q = seen_by(
        dataset::Entity::find().filter(dataset::Column::GroupId.eq(group_id)),
        viewer,
    );
    let txn = crate::db::begin_write(db).await?;
    let total = q.clone().count(&txn).await?;
    let items = page_with_names(&txn, q, page, limit).await?;
    txn.commit().await?;
    Ok(Page { items, total })
}

/// Above this many matches, a search pages by walking the group's rows in page order
/// (about `limit × group size / matches` index entries to the first page); at or below
/// it, it sorts the matches themselves.
const FEW_MATCHES: u64 = 1_000;

/// Both trigram indexes (SQLite's FTS5 tokenizer, PostgreSQL's pg_trgm) index runs of
/// three characters; shorter terms cannot be looked up in them.
const TRIGRAM: usize = 3;

/// SQLite. A term of three characters or more is counted by the FTS5 trigram index
/// within the group's key range, which holds only the group's datasets (migration
/// 000009), so the count reads the group's matches and nothing else. The page comes
/// from those matches when they are few, else from a walk of the group's rows in page
/// order, which then finds the page's rows early. A shorter term walks the group's
/// index, which holds the folded text.
async fn sqlite_search(
    db: &DatabaseConnection,
    group_id: Uuid,
    viewer: Option<Uuid>,
    term: &str,
    page: u64,
    limit: u64,
) -> Result<Page<DatasetView>, DbErr> {
    let pattern = like_pattern(term);
    let walk = seen_by(
        dataset::Entity::find()
            .filter(dataset::Column::GroupId.eq(group_id))
            .filter(
                Condition::any()
                    .add(dataset::Column::SearchName.like(LikeExpr::new(&pattern).escape('\\')))
                    .add(
                        dataset::Column::SearchDescription
                            .like(LikeExpr::new(&pattern).escape('\\')),
                    ),
            ),
        viewer,
    );
    let txn = crate::db::begin_write(db).await?;
    let found = if term.chars().count() < TRIGRAM {
        let total = walk.clone().count(&txn).await?;
        let items = page_with_names(&txn, walk, page, limit).await?;
        Page { items, total }
    } else {
        match group_key_range(&txn, group_id).await? {
            // The group has never had a dataset.
            None => Page {
                items: Vec::new(),
                total: 0,
            },
            Some((low, high)) => {
                // The term as an FTS5 string: a phrase, `"` doubled.
                let phrase = format!("\"{}\"", term.replace('"', "\"\""));
                let matches = seen_by(
                    dataset::Entity::find().filter(Expr::cust_with_values(
                        r#""datasets"."id" IN (SELECT dataset_id FROM dataset_search_keys WHERE key IN (SELECT rowid FROM datasets_search WHERE datasets_search MATCH ? AND rowid BETWEEN ? AND ?))"#,
                        [Value::from(phrase.clone()), low.into(), high.into()],
                    )),
                    viewer,
                );
                let total = match viewer {
                    None => count_in_range(&txn, &phrase, low, high).await?,
                    Some(_) => matches.clone().count(&txn).await?,
                };
                let q = if total <= FEW_MATCHES { matches } else { walk };
                let items = page_with_names(&txn, q, page, limit).await?;
                Page { items, total }
            }
        }
    };
    txn.commit().await?;
    Ok(found)
}

/// The FTS5 keys of a group's datasets, lowest and highest, if it has a group key.
async fn group_key_range<C: ConnectionTrait>(
    db: &C,
    group_id: Uuid,
) -> Result<Option<(i64, i64)>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT key FROM dataset_search_groups WHERE group_id = ?",
            [group_id.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key: i64 = row.try_get_by_index(0)?;
    let shift = migration::DATASET_SEARCH_GROUP_SHIFT;
    Ok(Some((key << shift, ((key + 1) << shift) - 1)))
}

/// How many datasets in key range `low..=high` contain the FTS5 `phrase`. The trigram
/// tokenizer is case-sensitive over text the server folded, so a phrase matches exactly
/// where `LIKE '%term%'` would.
async fn count_in_range<C: ConnectionTrait>(
    db: &C,
    phrase: &str,
    low: i64,
    high: i64,
) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT COUNT(*) FROM datasets_search \
             WHERE datasets_search MATCH ? AND rowid BETWEEN ? AND ?",
            [phrase.into(), low.into(), high.into()],
        ))
        .await?;
    let count: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or_default())
}

/// `dataset_search`, PostgreSQL's narrow copy of each dataset's group, workspace,
/// creation time and folded text (migration 000009).
#[derive(DeriveIden)]
enum DatasetSearch {
    Table,
    DatasetId,
    GroupId,
    CreatedAt,
    SearchName,
    SearchDescription,
}

/// PostgreSQL. The count reads the group's matches in `dataset_search`: for a term of
/// three characters or more, through the GIN trigram index, whose recheck reads only the
/// narrow rows. The page then comes, like SQLite's, from walking the group's rows in page
/// order when there are more than `FEW_MATCHES` (the page is found early), else from
/// sorting the matches. Each statement's text depends only on the kind of term and
/// caller, and one plan suits every term of a kind, so the generic plan PostgreSQL
/// caches for the pool's prepared statements is a good one: `strpos` (which no index
/// serves) makes the walk follow the page-order index, and a materialized CTE keeps the
/// sorted path on the trigram index.
async fn postgres_search(
    db: &DatabaseConnection,
    group_id: Uuid,
    viewer: Option<Uuid>,
    term: &str,
    page: u64,
    limit: u64,
) -> Result<Page<DatasetView>, DbErr> {
    let name = || Expr::col((DatasetSearch::Table, DatasetSearch::SearchName));
    let description = || Expr::col((DatasetSearch::Table, DatasetSearch::SearchDescription));
    let at = |col: Expr| Expr::cust_with_exprs("strpos($1, $2) > 0", [col, term.into()]);
    let unindexed = || Condition::any().add(at(name())).add(at(description()));
    let indexed = || {
        // Backslash is PostgreSQL's default LIKE escape. Naming it (`ESCAPE '\'`) would
        // make the cached generic plan call `like_escape` on every rechecked row.
        let pattern = like_pattern(term);
        Condition::any()
            .add(name().like(LikeExpr::new(&pattern)))
            .add(description().like(LikeExpr::new(&pattern)))
    };
    // Below three characters there are no trigrams to look up: every path walks.
    let lookup = || {
        if term.chars().count() < TRIGRAM {
            unindexed()
        } else {
            indexed()
        }
    };
    let matching = |contains: Condition| {
        let mut q: SelectStatement = Query::select()
            .column((DatasetSearch::Table, DatasetSearch::DatasetId))
            .column((DatasetSearch::Table, DatasetSearch::CreatedAt))
            .from(DatasetSearch::Table)
            .and_where(Expr::col((DatasetSearch::Table, DatasetSearch::GroupId)).eq(group_id))
            .cond_where(contains)
            .to_owned();
        if let Some(viewer) = viewer {
            q.inner_join(
                dataset::Entity,
                Expr::col((dataset::Entity, dataset::Column::Id))
                    .equals((DatasetSearch::Table, DatasetSearch::DatasetId)),
            )
            .cond_where(visible_to(viewer));
        }
        q
    };
    // The matches, counted here and, when few, sorted for the page.
    let (matches, matches_values) = matching(lookup()).build(PostgresQueryBuilder);
    let total = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("SELECT COUNT(*) AS total FROM ({matches}) m"),
            matches_values.clone(),
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "total"))
        .transpose()?
        .unwrap_or_default();
    let total = u64::try_from(total).unwrap_or_default();
    let skip = offset(page, limit);
    if skip >= total {
        return Ok(Page {
            items: Vec::new(),
            total,
        });
    }
    let (from, values) = if total > FEW_MATCHES {
        let (sql, values) = matching(unindexed())
            .order_by(
                (DatasetSearch::Table, DatasetSearch::CreatedAt),
                sea_orm::Order::Desc,
            )
            .order_by(
                (DatasetSearch::Table, DatasetSearch::DatasetId),
                sea_orm::Order::Desc,
            )
            .limit(limit)
            .offset(skip)
            .build(PostgresQueryBuilder);
        (format!("({sql}) p"), values)
    } else {
        let mut values = matches_values;
        let n = values.0.len();
        values.0.push(Value::BigInt(Some(limit as i64)));
        values.0.push(Value::BigInt(Some(skip as i64)));
        (
            format!(
                "(WITH m AS MATERIALIZED ({matches}) SELECT dataset_id, created_at FROM m \
                 ORDER BY created_at DESC, dataset_id DESC LIMIT ${} OFFSET ${}) p",
                n + 1,
                n + 2
            ),
            values,
        )
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!(
                "SELECT d.*, a.name AS owner_name, t.name AS tenant_name FROM {from} \
                 JOIN datasets d ON d.id = p.dataset_id \
                 LEFT JOIN accounts a ON a.id = d.created_by \
                 LEFT JOIN tenants t ON t.id = d.tenant_id \
                 ORDER BY p.created_at DESC, p.dataset_id DESC"
            ),
            values,
        ))
        .await?;
    let items = rows.iter().map(view_of_row).collect::<Result<_, DbErr>>()?;
    Ok(Page { items, total })
}
