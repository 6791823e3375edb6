//! The scale part of `cargo xtask bench --scale` (issue 7): bulk-seeds a generated data
//! set (100k accounts, 1k groups, ~10k workspaces, 100k datasets, 10k admin-surface users,
//! 1M audit events) straight into the database of a running release server, measures the
//! group pages, the audit trail's pages and the unpaged admin user list (at its cap)
//! through the API, and
//! checks the query plans of the page queries for full scans of the big tables.
//!
//! Everything inserted is generated from integers and bound as parameters.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Query, SimpleExpr};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait, Value,
};

use crate::load;

const GROUPS: u64 = 1_000;
const ACCOUNTS: u64 = 100_000;
const DATASETS: u64 = 100_000;
/// Group 0 is the big one the pages are measured on.
const BIG_MEMBERS: u64 = 10_000;
const BIG_TENANTS: u64 = 100;
const BIG_DATASETS: u64 = 20_000;
/// Workspaces of every other group.
const TENANTS_PER_GROUP: u64 = 10;
const OTHER_TENANTS: u64 = (GROUPS - 1) * TENANTS_PER_GROUP;
/// Accounts of each other group: 90k spread over 999 groups.
const OTHER_MEMBERS: u64 = (ACCOUNTS - BIG_MEMBERS) / (GROUPS - 1);
/// The account that belongs to every workspace of the big group.
const HEAVY_ACCOUNT: u64 = 0;
/// Connections of each measured page.
/// One request at a time: the figure is a page's own latency, not time spent queued
/// behind other connections on a machine with few cores.
const CONNECTIONS: usize = 1;
/// Users of the admin surface after seeding (admin and guest included): the cap of the
/// user list without `per_page` (`admin_users::USER_LIST_CAP`), which alist-web asks for.
const ADMIN_USERS: u64 = 10_000;
const PAGE_LIMIT: u64 = 20;
const BASE_TIME: i64 = 1_750_000_000;
/// Audit events seeded (issue 17's "1 million events").
const AUDIT_EVENTS: u64 = 1_000_000;
/// Seconds between two seeded events: 1M of them span about 347 days, inside the
/// default `AUDIT_RETENTION_DAYS` (365).
const AUDIT_SPACING_MS: u64 = 30_000;
/// The administrators who make one event in ten between them (10k each): account
/// `ADMIN_STRIDE * k + 1`, an `admin` of its group (see the group member roles).
const AUDIT_ADMINS: u64 = 10;
const ADMIN_STRIDE: u64 = 100;
/// The p50 target of an audit page at 1M events.
const AUDIT_TARGET_MS: f64 = 10.0;
/// What the administrators do.
const ADMIN_OPERATIONS: [(&str, &str); 8] = [
    ("update_account_ex", "account"),
    ("register_account", "account"),
    ("update_account_role", "account"),
    ("invite_members_by_email", "workspace"),
    ("update_workspace_member_role", "account"),
    ("remove_workspace_member", "account"),
    ("create_group_tenant", "workspace"),
    ("update_enterprise_group", "group"),
];
/// What everybody else does (sign-ins weigh most: every other event).
const MEMBER_OPERATIONS: [(&str, &str); 10] = [
    ("login", "account"),
    ("refresh_token", "account"),
    ("update_account_name", "account"),
    ("update_account_timezone", "account"),
    ("update_account_interface_theme", "account"),
    ("change_account_password", "account"),
    ("create_access_token", "access_token"),
    ("revoke_access_token", "access_token"),
    ("create_dataset", "dataset"),
    ("end_account_session", "session"),
];
/// Tables large enough that a full scan of one is a finding.
const BIG_TABLES: [&str; 11] = [
    "audit_events",
    "accounts",
    "dataset_search",
    "dataset_search_keys",
    "datasets_search",
    "account_roles",
    "group_members",
    "tenants",
    "tenant_members",
    "datasets",
    "dataset_permissions",
];
/// Dataset names: two in ten say "report" in some case, for `search=report`.
const NAMES: [&str; 10] = [
    "Quarterly Report",
    "Sales Pipeline",
    "Customer FAQ",
    "Release Notes",
    "Support Tickets",
    "Annual REPORT",
    "Onboarding Guide",
    "Pricing Sheets",
    "Legal Contracts",
    "Engineering Wiki",
];
/// `datasets::DEFAULT_RETRIEVAL_MODEL`, what a dataset created through the API gets.
const RETRIEVAL_MODEL: &str = r#"{"search_method":"semantic_search","reranking_enable":false,"reranking_mode":null,"reranking_model":{"reranking_provider_name":"","reranking_model_name":""},"weights":null,"top_k":2,"score_threshold_enabled":false,"score_threshold":null}"#;
const TENANT_ROLES: [&str; 4] = ["admin", "editor", "normal", "dataset_operator"];
const PERMISSIONS: [&str; 3] = ["only_me", "all_team_members", "partial_members"];

#[derive(Clone, Copy)]
enum Kind {
    Group = 1,
    Tenant,
    Account,
    GroupMember,
    TenantMember,
    Dataset,
    DatasetPermission,
}

/// A deterministic id for row `n` of a kind.
fn id(kind: Kind, n: u64) -> Uuid {
    Uuid::from_u128(0x5ca1e000_0000_4000_8000_000000000000 | ((kind as u128) << 40) | n as u128)
}

fn group_id(g: u64) -> Uuid {
    id(Kind::Group, g)
}

/// Workspace `t`: 0..100 belong to the big group, the rest 10 to each other group.
fn tenant_group(t: u64) -> u64 {
    if t < BIG_TENANTS {
        0
    } else {
        1 + (t - BIG_TENANTS) / TENANTS_PER_GROUP
    }
}

/// The group of account `a`: the first 10k are in the big group.
fn account_group(a: u64) -> u64 {
    if a < BIG_MEMBERS {
        0
    } else {
        1 + (a - BIG_MEMBERS) % (GROUPS - 1)
    }
}

/// The `j`-th account of group `g`.
fn member_of(g: u64, j: u64) -> u64 {
    if g == 0 {
        j % BIG_MEMBERS
    } else {
        BIG_MEMBERS + (g - 1) + (GROUPS - 1) * (j % OTHER_MEMBERS)
    }
}

/// The workspace account `a` belongs to (besides the heavy account's extra ones).
fn home_tenant(a: u64) -> u64 {
    let g = account_group(a);
    if g == 0 {
        a % BIG_TENANTS
    } else {
        BIG_TENANTS + (g - 1) * TENANTS_PER_GROUP + (a / (GROUPS - 1)) % TENANTS_PER_GROUP
    }
}

/// One measured page.
pub struct Measured {
    pub name: String,
    pub outcome: load::Outcome,
    /// The p50 target, in milliseconds.
    pub target_ms: f64,
}

/// The p50 target of a group page.
const PAGE_TARGET_MS: f64 = 5.0;
/// The p50 target of the unpaged user list at its cap (about 1.3 MB of JSON).
const USER_LIST_TARGET_MS: f64 = 50.0;

/// The plan of one page query.
pub struct Plan {
    pub query: &'static str,
    /// The big tables the plan scans in full; empty when none.
    pub full_scans: Vec<String>,
    pub text: String,
}

pub struct Scale {
    pub seeding: Duration,
    pub rows: u64,
    pub measured: Vec<Measured>,
    pub plans: Vec<Plan>,
    pub analyzed: bool,
}

/// Seeds `database_url` (the database the server at `addr` uses), makes the account
/// `caller` (whose token is `token`) a super_admin of the big group, then measures the
/// pages and explains the page queries. `admin_token` is an admin-surface token of
/// `admin`, for the user list.
pub async fn run(
    addr: SocketAddr,
    database_url: &str,
    caller: &str,
    token: &str,
    admin_token: &str,
    duration: Duration,
) -> Result<Scale> {
    let db = sea_orm::Database::connect(database_url)
        .await
        .with_context(|| format!("connecting to {database_url}"))?;
    let started = Instant::now();
    let mut rows = seed(&db).await?;
    rows += join_big_group(&db, caller).await?;
    rows += seed_admin_users(&db).await?;
    rows += seed_audit_events(&db).await?;
    // PostgreSQL's autovacuum would vacuum and analyze the new rows soon (the statistics
    // choose the plans; the visibility map lets counts read indexes only); do it now so
    // the figures are the steady-state ones and autovacuum does not run during them.
    // SQLite is left as the server leaves it (no ANALYZE).
    let analyzed = db.get_database_backend() == DatabaseBackend::Postgres;
    if analyzed {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    let seeding = started.elapsed();
    eprintln!(
        "bench: scale: seeded {rows} rows in {:.1} s",
        seeding.as_secs_f64()
    );

    let big = group_id(0);
    let heavy = id(Kind::Account, HEAVY_ACCOUNT);
    let base = format!("/console/api/enterprise-groups/{big}");
    let pages = [
        (
            "`members` (10k members)",
            format!("{base}/members?page=1&limit={PAGE_LIMIT}"),
        ),
        (
            "`members`, page 100",
            format!("{base}/members?page=100&limit={PAGE_LIMIT}"),
        ),
        (
            "`tenants` (100 workspaces)",
            format!("{base}/tenants?page=1&limit={PAGE_LIMIT}"),
        ),
        (
            "`datasets?search=report` (20k datasets, 4k match)",
            format!("{base}/datasets?search=report&page=1&limit={PAGE_LIMIT}"),
        ),
        (
            "`datasets?search=` matching nothing",
            format!("{base}/datasets?search=no-such-dataset&page=1&limit={PAGE_LIMIT}"),
        ),
        (
            "`joined-tenants-roles` (100 memberships)",
            format!("{base}/joined-tenants-roles/{heavy}"),
        ),
    ];
    let audit = "/console/api/audit-events";
    let heavy_admin = admin_email(0);
    let first = format!("{audit}?limit={PAGE_LIMIT}");
    let by_actor = format!("{audit}?actor={heavy_admin}&limit={PAGE_LIMIT}");
    let by_operation = format!("{audit}?operation_id=update_account_ex&limit={PAGE_LIMIT}");
    // The next pages through the cursors the first pages gave.
    let next = format!("{first}&cursor={}", next_cursor(addr, token, &first).await?);
    let actor_next = format!(
        "{by_actor}&cursor={}",
        next_cursor(addr, token, &by_actor).await?
    );
    let audit_pages = [
        (
            "audit-events, first page (1M events, newest first)".to_string(),
            first,
        ),
        (
            format!(
                "audit-events `?actor=` an administrator ({} events)",
                AUDIT_EVENTS / 10 / AUDIT_ADMINS
            ),
            by_actor,
        ),
        (
            format!(
                "audit-events `?operation_id=update_account_ex` ({} events)",
                admin_operation_count("update_account_ex")
            ),
            by_operation,
        ),
        ("audit-events, next page (cursor)".to_string(), next),
        (
            "audit-events `?actor=`, next page (cursor)".to_string(),
            actor_next,
        ),
    ];
    let user_list = "/api/admin/user/list".to_string();
    let mut requests: Vec<(String, String, Vec<u8>, f64)> = pages
        .into_iter()
        .map(|(name, path)| {
            let request = load::request("GET", &path, Some(token), None);
            (name.to_string(), path, request, PAGE_TARGET_MS)
        })
        .collect();
    requests.extend(audit_pages.into_iter().map(|(name, path)| {
        let request = load::request("GET", &path, Some(token), None);
        (name, path, request, AUDIT_TARGET_MS)
    }));
    requests.push((
        format!("admin `user/list` without `per_page` ({ADMIN_USERS} users, the cap)"),
        user_list.clone(),
        load::request_with_authorization("GET", &user_list, Some(admin_token), None),
        USER_LIST_TARGET_MS,
    ));
    let mut measured = Vec::new();
    for (name, path, request, target_ms) in requests {
        eprintln!("bench: scale: GET {path}");
        let (status, body) = load::Connection::open(addr).await?.send(&request).await?;
        if status != 200 {
            anyhow::bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        if path == user_list {
            let answer: serde_json::Value = serde_json::from_slice(&body)?;
            let listed = answer["data"]["content"].as_array().map(Vec::len);
            if listed != Some(ADMIN_USERS as usize) {
                anyhow::bail!(
                    "GET {path} listed {listed:?} users, not {ADMIN_USERS}: code {}",
                    answer["code"]
                );
            }
        }
        // A short warm-up, then the measured run.
        load::run(
            addr,
            CONNECTIONS,
            Duration::from_millis(300),
            vec![request.clone()],
            200,
        )
        .await?;
        let outcome = load::run(addr, CONNECTIONS, duration, vec![request], 200).await?;
        measured.push(Measured {
            name,
            outcome,
            target_ms,
        });
    }
    let plans = explain_all(&db).await?;
    db.close().await?;
    Ok(Scale {
        seeding,
        rows,
        measured,
        plans,
        analyzed,
    })
}

/// Inserts `rows` into `table` in multi-row statements inside one transaction.
async fn insert(
    db: &DatabaseConnection,
    table: &'static str,
    columns: &[&'static str],
    rows: impl Iterator<Item = Vec<Value>>,
) -> Result<u64> {
    // SQLite allows 32766 bound variables per statement, PostgreSQL 65535.
    let per_statement = (30_000 / columns.len()).min(2_000);
    let started = Instant::now();
    let txn = db.begin().await?;
    let mut count = 0;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut stmt = Query::insert();
        stmt.into_table(table).columns(columns.iter().copied());
        for row in rows.by_ref().take(per_statement) {
            stmt.values_panic(row.into_iter().map(SimpleExpr::from));
            count += 1;
        }
        txn.execute(&stmt)
            .await
            .with_context(|| format!("inserting into {table}"))?;
    }
    txn.commit().await?;
    eprintln!(
        "bench: scale: {count} rows into {table} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(count)
}

fn text(s: impl Into<String>) -> Value {
    Value::String(Some(s.into()))
}

fn null_text() -> Value {
    Value::String(None)
}

fn big(n: i64) -> Value {
    Value::BigInt(Some(n))
}

fn uuid(u: Uuid) -> Value {
    Value::Uuid(Some(u))
}

async fn seed(db: &DatabaseConnection) -> Result<u64> {
    let mut rows = 0;
    rows += insert(
        db,
        "enterprise_groups",
        &["id", "name", "short_name", "status", "created_at"],
        (0..GROUPS).map(|g| {
            vec![
                uuid(group_id(g)),
                text(format!("Scale Group {g}")),
                null_text(),
                text("active"),
                big(BASE_TIME + g as i64),
            ]
        }),
    )
    .await?;
    let tenant_columns = ["id", "name", "status", "group_id", "created_at"];
    // Each group's shadow workspace has the group's id.
    rows += insert(
        db,
        "tenants",
        &tenant_columns,
        (0..GROUPS).map(|g| {
            vec![
                uuid(group_id(g)),
                text(format!("Scale Group {g}")),
                text("normal"),
                uuid(group_id(g)),
                big(BASE_TIME + g as i64),
            ]
        }),
    )
    .await?;
    rows += insert(
        db,
        "tenants",
        &tenant_columns,
        (0..BIG_TENANTS + OTHER_TENANTS).map(|t| {
            vec![
                uuid(id(Kind::Tenant, t)),
                text(format!("Scale Workspace {t}")),
                text(if t % 17 == 16 { "archive" } else { "normal" }),
                uuid(group_id(tenant_group(t))),
                big(BASE_TIME + 10_000 + t as i64),
            ]
        }),
    )
    .await?;
    rows += insert(
        db,
        "accounts",
        &[
            "id",
            "email",
            "name",
            "password_hash",
            "avatar",
            "interface_language",
            "interface_theme",
            "timezone",
            "status",
            "last_login_at",
            "last_login_ip",
            "created_at",
            "updated_at",
            "initialized_at",
            "token_version",
        ],
        (0..ACCOUNTS).map(|a| {
            let at = big(BASE_TIME + 100_000 + a as i64);
            vec![
                uuid(id(Kind::Account, a)),
                text(format!("scale{a}@bench.example")),
                text(format!("Scale User {a}")),
                null_text(),
                null_text(),
                text("en-US"),
                text("light"),
                text("UTC"),
                text("active"),
                Value::BigInt(None),
                null_text(),
                at.clone(),
                at.clone(),
                at,
                Value::Int(Some(0)),
            ]
        }),
    )
    .await?;
    rows += insert(
        db,
        "account_roles",
        &["account_id", "role_type", "created_at"],
        (0..ACCOUNTS).map(|a| {
            vec![
                uuid(id(Kind::Account, a)),
                text("normal"),
                big(BASE_TIME + 100_000 + a as i64),
            ]
        }),
    )
    .await?;
    rows += insert(
        db,
        "group_members",
        &[
            "id",
            "group_id",
            "account_id",
            "group_role",
            "current",
            "created_at",
        ],
        (0..ACCOUNTS).map(|a| {
            let role = match a % 100 {
                0 => "super_admin",
                1 | 2 => "admin",
                _ => "normal",
            };
            vec![
                uuid(id(Kind::GroupMember, a)),
                uuid(group_id(account_group(a))),
                uuid(id(Kind::Account, a)),
                text(role),
                Value::Bool(Some(true)),
                big(BASE_TIME + 200_000 + a as i64),
            ]
        }),
    )
    .await?;
    // Every account in one workspace of its group; the heavy account in all 100 of the
    // big group's.
    let memberships = (0..ACCOUNTS).map(|a| (a, home_tenant(a))).chain(
        (0..BIG_TENANTS)
            .filter_map(|t| (t != home_tenant(HEAVY_ACCOUNT)).then_some((HEAVY_ACCOUNT, t))),
    );
    rows += insert(
        db,
        "tenant_members",
        &[
            "id",
            "tenant_id",
            "account_id",
            "role",
            "position",
            "permissions",
            "current",
            "created_at",
        ],
        memberships.enumerate().map(|(n, (a, t))| {
            let role = if a % 10 == 0 {
                "owner"
            } else {
                TENANT_ROLES[(a % 4) as usize]
            };
            vec![
                uuid(id(Kind::TenantMember, n as u64)),
                uuid(id(Kind::Tenant, t)),
                uuid(id(Kind::Account, a)),
                text(role),
                null_text(),
                text("[]"),
                Value::Bool(Some(t == home_tenant(a))),
                big(BASE_TIME + 300_000 + n as i64),
            ]
        }),
    )
    .await?;
    // 20k datasets in the big group (its 100 workspaces and its shadow), 80k in the rest.
    let dataset_home = |d: u64| -> (Uuid, u64) {
        if d < BIG_DATASETS {
            let t = d % (BIG_TENANTS + 1);
            let tenant = if t == BIG_TENANTS {
                group_id(0)
            } else {
                id(Kind::Tenant, t)
            };
            (tenant, 0)
        } else {
            let t = BIG_TENANTS + (d - BIG_DATASETS) % OTHER_TENANTS;
            (id(Kind::Tenant, t), tenant_group(t))
        }
    };
    rows += insert(
        db,
        "datasets",
        &[
            "id",
            "tenant_id",
            "name",
            "description",
            "provider",
            "permission",
            "data_source_type",
            "indexing_technique",
            "app_count",
            "document_count",
            "word_count",
            "created_by",
            "created_at",
            "updated_by",
            "updated_at",
            "embedding_model",
            "embedding_model_provider",
            "retrieval_model",
            "doc_form",
            "icon",
            "icon_background",
            "group_id",
            "search_name",
            "search_description",
        ],
        (0..DATASETS).map(|d| {
            let (tenant, g) = dataset_home(d);
            let at = big(BASE_TIME + 400_000 + d as i64);
            let name = format!("{} {d}", NAMES[(d % 10) as usize]);
            let description = format!("Generated dataset number {d} of the scale benchmark.");
            // What `datasets::create` stores: the group, and the text folded by
            // `datasets::fold` (`str::to_lowercase`).
            let search = [name.to_lowercase(), description.to_lowercase()];
            let [search_name, search_description] = search;
            vec![
                uuid(id(Kind::Dataset, d)),
                uuid(tenant),
                text(name),
                text(description),
                text("vendor"),
                text(PERMISSIONS[(d % 3) as usize]),
                null_text(),
                text("high_quality"),
                Value::Int(Some(0)),
                Value::Int(Some((d % 50) as i32)),
                big((d % 1000 * 100) as i64),
                uuid(id(Kind::Account, member_of(g, d))),
                at.clone(),
                Value::Uuid(None),
                at,
                null_text(),
                null_text(),
                text(RETRIEVAL_MODEL),
                null_text(),
                null_text(),
                null_text(),
                uuid(group_id(g)),
                text(search_name),
                text(search_description),
            ]
        }),
    )
    .await?;
    // `partial_members` datasets name one more member of their group.
    rows += insert(
        db,
        "dataset_permissions",
        &["id", "dataset_id", "account_id", "created_at"],
        (0..DATASETS)
            .filter(|d| PERMISSIONS[(d % 3) as usize] == "partial_members")
            .map(|d| {
                let (_, g) = dataset_home(d);
                vec![
                    uuid(id(Kind::DatasetPermission, d)),
                    uuid(id(Kind::Dataset, d)),
                    uuid(id(Kind::Account, member_of(g, d + 1))),
                    big(BASE_TIME + 500_000 + d as i64),
                ]
            }),
    )
    .await?;
    Ok(rows)
}

/// General users of the admin surface, up to `ADMIN_USERS` with the admin and the guest
/// the server created.
async fn seed_admin_users(db: &DatabaseConnection) -> Result<u64> {
    insert(
        db,
        "admin_users",
        &[
            "username",
            "password_hash",
            "pwd_ts",
            "base_path",
            "role",
            "disabled",
            "permission",
            "sso_id",
            "otp_secret",
            "otp_last_step",
        ],
        (0..ADMIN_USERS - 2).map(|i| {
            vec![
                text(format!("bench-user-{i:05}")),
                text(""),
                big(0),
                text(format!("/team/{}", i % 100)),
                Value::Int(Some(0)),
                Value::Bool(Some(false)),
                Value::Int(Some(256)),
                text(""),
                text(""),
                big(0),
            ]
        }),
    )
    .await
}

/// The e-mail of account `a`, as seeded.
fn email(a: u64) -> String {
    format!("scale{a}@bench.example")
}

/// The account of the `k`-th busy administrator.
fn admin_account(k: u64) -> u64 {
    ADMIN_STRIDE * k + 1
}

fn admin_email(k: u64) -> String {
    email(admin_account(k))
}

/// What seeded event `n` is: one in twenty a failed sign-in (anonymous, the e-mail
/// tried), one in ten by one of the busy administrators, the rest by one of all the
/// accounts (about 8 each), half of those sign-ins.
enum Who {
    Anonymous { tried: u64 },
    Admin(u64),
    Member(u64),
}

fn who(n: u64) -> Who {
    // A multiplicative hash spreads the accounts over time.
    let spread = n.wrapping_mul(2_654_435_761) % ACCOUNTS;
    match n % 20 {
        0 => Who::Anonymous { tried: spread },
        1 | 2 => Who::Admin((n / 20) % AUDIT_ADMINS),
        _ => Who::Member(spread),
    }
}

/// The operation and target kind of event `n` of `who`.
fn operation(n: u64, who: &Who) -> (&'static str, &'static str) {
    match who {
        Who::Anonymous { .. } => ("login", "account"),
        Who::Admin(_) => ADMIN_OPERATIONS[((n / 20 / AUDIT_ADMINS) % 8) as usize],
        Who::Member(_) => {
            if n.is_multiple_of(2) {
                MEMBER_OPERATIONS[0]
            } else {
                MEMBER_OPERATIONS[1 + ((n / 2) % 9) as usize]
            }
        }
    }
}

/// How many seeded events an administrator operation has.
fn admin_operation_count(op: &str) -> u64 {
    (0..AUDIT_EVENTS)
        .filter(|&n| {
            let w = who(n);
            matches!(w, Who::Admin(_)) && operation(n, &w).0 == op
        })
        .count() as u64
}

/// A UUID v7 of millisecond `ms` (what `Uuid::now_v7` gives the server's events), its
/// random bits taken from `n` so it is unique and reproducible.
fn event_id(ms: u64, n: u64) -> Uuid {
    let rand_a = u128::from(n >> 40) & 0xfff;
    let rand_b = u128::from(n) & ((1 << 40) - 1);
    Uuid::from_u128((u128::from(ms) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
}

/// One million audit events, the newest a little before now, spread over actors,
/// targets, operations, outcomes and groups as above.
async fn seed_audit_events(db: &DatabaseConnection) -> Result<u64> {
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let first_ms = now_ms - (AUDIT_EVENTS + 60) * AUDIT_SPACING_MS;
    insert(
        db,
        "audit_events",
        &[
            "id",
            "at",
            "surface",
            "actor_kind",
            "actor_id",
            "actor_name",
            "client_ip",
            "user_agent",
            "request_id",
            "operation_id",
            "target_kind",
            "target_id",
            "group_id",
            "outcome",
            "status",
            "changes",
        ],
        (0..AUDIT_EVENTS).map(move |n| {
            let ms = first_ms + n * AUDIT_SPACING_MS;
            let who = who(n);
            let (op, target_kind) = operation(n, &who);
            let (kind, actor, actor_name, actor_group) = match who {
                Who::Anonymous { tried } => ("anonymous", None, email(tried), account_group(tried)),
                Who::Admin(k) => {
                    let a = admin_account(k);
                    ("account", Some(a), email(a), account_group(a))
                }
                Who::Member(a) => ("account", Some(a), email(a), account_group(a)),
            };
            // An administrator acts on the accounts and workspaces of its group, a member
            // on itself or its own things.
            let subject = match (&who, actor) {
                (Who::Admin(_), _) => member_of(actor_group, n / 20),
                (_, Some(a)) => a,
                (_, None) => n.wrapping_mul(2_654_435_761) % ACCOUNTS,
            };
            let target = match target_kind {
                "account" => id(Kind::Account, subject).to_string(),
                "workspace" => id(Kind::Tenant, home_tenant(subject)).to_string(),
                "group" => group_id(actor_group).to_string(),
                "dataset" => id(Kind::Dataset, n % DATASETS).to_string(),
                // Tokens and sessions: ids of their own.
                _ => Uuid::from_u128(0x5ca1e000_0000_4000_8000_ff0000000000 | u128::from(n))
                    .to_string(),
            };
            let (outcome, status) = match (&who, n % 50) {
                (Who::Anonymous { .. }, _) => ("invalid_credentials", 401),
                (_, 7) => ("forbidden", 403),
                (_, 13) => ("invalid_param", 400),
                _ => ("success", 200),
            };
            // One event in five is about no group (sign-ins and self-service mostly are).
            let group = (n % 5 != 4).then(|| group_id(actor_group));
            let changes = match op {
                "update_account_ex" => Some(format!("{{\"name\":\"Renamed {n}\"}}")),
                "update_account_timezone" => Some(r#"{"timezone":"Europe/Berlin"}"#.to_string()),
                "login" => Some(format!("{{\"email\":\"{actor_name}\"}}")),
                _ => None,
            };
            vec![
                uuid(event_id(ms, n)),
                big((ms / 1000) as i64),
                text("console"),
                text(kind),
                actor.map_or_else(null_text, |a| text(id(Kind::Account, a).to_string())),
                text(actor_name),
                text(format!(
                    "10.{}.{}.{}",
                    (n >> 16) % 256,
                    (n >> 8) % 256,
                    n % 256
                )),
                text("Mozilla/5.0 (X11; Linux x86_64) console-bench"),
                text(format!("req-{n:016x}")),
                text(op),
                text(target_kind),
                text(target),
                group.map_or(Value::Uuid(None), uuid),
                text(outcome),
                Value::Int(Some(status)),
                changes.map_or_else(null_text, text),
            ]
        }),
    )
    .await
}

/// The `next_cursor` of the page at `path`.
async fn next_cursor(addr: SocketAddr, token: &str, path: &str) -> Result<String> {
    let request = load::request("GET", path, Some(token), None);
    let (status, body) = load::Connection::open(addr).await?.send(&request).await?;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if status != 200 {
        anyhow::bail!("GET {path} answered {status}: {answer}");
    }
    answer["next_cursor"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("GET {path} gave no next_cursor: {answer}"))
}

/// Makes the account with email `caller` a super_admin of the big group: the group pages
/// are for group admins (the system role alone does not open them all).
async fn join_big_group(db: &DatabaseConnection, caller: &str) -> Result<u64> {
    let backend = db.get_database_backend();
    let placeholder = if backend == DatabaseBackend::Sqlite {
        "?"
    } else {
        "$1"
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT id FROM accounts WHERE email = {placeholder}"),
            [text(caller)],
        ))
        .await?
        .with_context(|| format!("no account {caller}"))?;
    let account: Uuid = row.try_get_by_index(0)?;
    insert(
        db,
        "group_members",
        &[
            "id",
            "group_id",
            "account_id",
            "group_role",
            "current",
            "created_at",
        ],
        std::iter::once(vec![
            uuid(id(Kind::GroupMember, ACCOUNTS)),
            uuid(group_id(0)),
            uuid(account),
            text("super_admin"),
            Value::Bool(Some(false)),
            big(BASE_TIME),
        ]),
    )
    .await
}

/// Which database a page query is issued on.
#[derive(Clone, Copy, PartialEq)]
enum On {
    Both,
    Sqlite,
    Postgres,
}

/// The SQL the handlers of the measured pages issue (see `src/domain/groups.rs`,
/// `src/domain/group_datasets.rs` and `accounts::views`), with `$1` the big group, `$2`
/// the heavy account, `$3` the LIKE pattern of a common term (`report`: 20k datasets, 4k
/// of the big group's), `$4` and `$5` the FTS5 phrases of that term and of one that
/// matches nothing, `$6` and `$7` the big group's FTS5 key range. On SQLite a search
/// counts the term's matches in the group's key range of the trigram index, then pages
/// the matches themselves when there are at most 1000, else walks the group's rows in
/// page order. PostgreSQL does the same with `dataset_search` and its GIN trigram index,
/// and reads the page's rows and names in the page statement.
const PAGE_QUERIES: [(&str, On, &str); 23] = [
    (
        "members: count",
        On::Both,
        "SELECT COUNT(*) FROM group_members WHERE group_id = $1",
    ),
    (
        "members: page",
        On::Both,
        "SELECT * FROM group_members WHERE group_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 1980",
    ),
    (
        "members: accounts of the page",
        On::Both,
        "SELECT * FROM accounts WHERE id IN (SELECT account_id FROM group_members \
         WHERE group_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20)",
    ),
    (
        "members: system roles of the page",
        On::Both,
        "SELECT * FROM account_roles WHERE account_id IN ($2, $1)",
    ),
    (
        "members: current groups of the page",
        On::Both,
        "SELECT * FROM group_members WHERE account_id IN ($2, $1) AND current = TRUE",
    ),
    (
        "tenants: count",
        On::Both,
        "SELECT COUNT(*) FROM tenants WHERE group_id = $1 AND id <> $1",
    ),
    (
        "tenants: page",
        On::Both,
        "SELECT * FROM tenants WHERE group_id = $1 AND id <> $1 \
         ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0",
    ),
    (
        "datasets?search=: the group's key range",
        On::Sqlite,
        "SELECT key FROM dataset_search_groups WHERE group_id = $1",
    ),
    (
        "datasets?search=report: count (trigram index, group's key range)",
        On::Sqlite,
        "SELECT COUNT(*) FROM datasets_search WHERE datasets_search MATCH $4 \
         AND rowid BETWEEN $6 AND $7",
    ),
    (
        "datasets?search=report: page (over 1000 matches: group walk)",
        On::Sqlite,
        "SELECT * FROM datasets WHERE group_id = $1 \
         AND (search_name LIKE $3 ESCAPE '\\' OR search_description LIKE $3 ESCAPE '\\') \
         ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0",
    ),
    (
        "datasets?search=no-such-dataset: page (up to 1000 matches: the matches)",
        On::Sqlite,
        "SELECT * FROM datasets WHERE datasets.id IN (SELECT dataset_id FROM \
         dataset_search_keys WHERE key IN (SELECT rowid FROM datasets_search \
         WHERE datasets_search MATCH $5 AND rowid BETWEEN $6 AND $7)) \
         ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0",
    ),
    (
        "datasets?search=report: count",
        On::Postgres,
        "SELECT COUNT(*) AS total FROM (SELECT dataset_search.dataset_id, dataset_search.created_at \
         FROM dataset_search WHERE dataset_search.group_id = $1 AND (dataset_search.search_name LIKE $3 OR dataset_search.search_description LIKE $3)) m",
    ),
    (
        "datasets?search=report: page (over 1000 matches: group walk)",
        On::Postgres,
        "SELECT d.*, a.name AS owner_name, t.name AS tenant_name FROM (SELECT dataset_search.dataset_id, dataset_search.created_at \
         FROM dataset_search WHERE dataset_search.group_id = $1 AND (strpos(dataset_search.search_name, 'report') > 0 \
         OR strpos(dataset_search.search_description, 'report') > 0) ORDER BY dataset_search.created_at DESC, dataset_search.dataset_id DESC LIMIT 20 OFFSET 0) p \
         JOIN datasets d ON d.id = p.dataset_id \
         LEFT JOIN accounts a ON a.id = d.created_by \
         LEFT JOIN tenants t ON t.id = d.tenant_id \
         ORDER BY p.created_at DESC, p.dataset_id DESC",
    ),
    (
        "datasets?search=report: page (up to 1000 matches: the matches)",
        On::Postgres,
        "SELECT d.*, a.name AS owner_name, t.name AS tenant_name FROM (WITH m AS MATERIALIZED (SELECT dataset_search.dataset_id, dataset_search.created_at \
         FROM dataset_search WHERE dataset_search.group_id = $1 AND (dataset_search.search_name LIKE $3 OR dataset_search.search_description LIKE $3)) SELECT dataset_id, created_at FROM m ORDER BY created_at DESC, dataset_id DESC LIMIT 20 OFFSET 0) p \
         JOIN datasets d ON d.id = p.dataset_id \
         LEFT JOIN accounts a ON a.id = d.created_by \
         LEFT JOIN tenants t ON t.id = d.tenant_id \
         ORDER BY p.created_at DESC, p.dataset_id DESC",
    ),
    (
        "datasets: owners and workspaces of the page (SQLite; PostgreSQL joins them)",
        On::Sqlite,
        "SELECT * FROM tenants WHERE id IN ($1, $2)",
    ),
    (
        "joined-tenants-roles: workspaces",
        On::Both,
        "SELECT * FROM tenants WHERE group_id = $1 AND id <> $1 AND id IN \
         (SELECT tenant_id FROM tenant_members WHERE account_id = $2) \
         ORDER BY created_at DESC, id DESC",
    ),
    (
        "joined-tenants-roles: memberships",
        On::Both,
        "SELECT * FROM tenant_members WHERE account_id = $2 AND tenant_id IN \
         (SELECT id FROM tenants WHERE group_id = $1)",
    ),
    // `domain::audit_events::page`: `$8` an administrator's e-mail, `$9` a cursor's id.
    (
        "audit-events: first page",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' ORDER BY id DESC LIMIT 21",
    ),
    // `?actor=`: the actor's id, then its name, each along its own index.
    (
        "audit-events: ?actor= (by id)",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' \
         AND actor_id = $8 ORDER BY id DESC LIMIT 21",
    ),
    (
        "audit-events: ?actor= (by name)",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' \
         AND actor_name = $8 ORDER BY id DESC LIMIT 21",
    ),
    (
        "audit-events: ?operation_id=",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' \
         AND operation_id = 'update_account_ex' ORDER BY id DESC LIMIT 21",
    ),
    (
        "audit-events: next page (cursor)",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' AND id < $9 \
         ORDER BY id DESC LIMIT 21",
    ),
    (
        "audit-events: ?actor= (by name), next page (cursor)",
        On::Both,
        "SELECT * FROM audit_events WHERE surface = 'console' \
         AND actor_name = $8 AND id < $9 ORDER BY id DESC LIMIT 21",
    ),
];

async fn explain_all(db: &DatabaseConnection) -> Result<Vec<Plan>> {
    let backend = db.get_database_backend();
    // SQLite's FTS5 key range of the big group (migration 000009).
    let range = match backend {
        DatabaseBackend::Sqlite => {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT key FROM dataset_search_groups WHERE group_id = ?",
                    [uuid(group_id(0))],
                ))
                .await?
                .context("the big group has no search key")?;
            let key: i64 = row.try_get_by_index(0)?;
            let shift = migration::DATASET_SEARCH_GROUP_SHIFT;
            (key << shift, ((key + 1) << shift) - 1)
        }
        _ => (0, 0),
    };
    // About the time of the middle seeded audit event: a cursor halfway down the trail.
    let middle_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )? - AUDIT_EVENTS / 2 * AUDIT_SPACING_MS;
    let mut plans = Vec::new();
    for (query, on, sql) in PAGE_QUERIES {
        let skip = match backend {
            DatabaseBackend::Sqlite => on == On::Postgres,
            _ => on == On::Sqlite,
        };
        if skip {
            continue;
        }
        // Bind only the parameters the query names, renumbered in order.
        let mut values = Vec::new();
        let mut sql = sql.to_string();
        for (n, value) in [
            (1, uuid(group_id(0))),
            (2, uuid(id(Kind::Account, HEAVY_ACCOUNT))),
            (3, text("%report%")),
            (4, text("\"report\"")),
            (5, text("\"no-such-dataset\"")),
            (6, big(range.0)),
            (7, big(range.1)),
            (8, text(admin_email(0))),
            (9, uuid(event_id(middle_ms, AUDIT_EVENTS / 2))),
        ] {
            let from = format!("${n}");
            if sql.contains(&from) {
                values.push(value);
                let to = match backend {
                    DatabaseBackend::Sqlite => format!("?{}", values.len()),
                    _ => format!("${}", values.len()),
                };
                sql = sql.replace(&from, &to);
            }
        }
        let (explain, column) = match backend {
            DatabaseBackend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), 3),
            _ => (format!("EXPLAIN {sql}"), 0),
        };
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(backend, explain, values))
            .await
            .with_context(|| format!("explaining {query}"))?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(column))
            .collect::<Result<_, _>>()?;
        plans.push(Plan {
            query,
            full_scans: full_scans(backend, &lines),
            text: lines.join("\n"),
        });
    }
    Ok(plans)
}

/// The big tables a plan reads in full: `SCAN t` (with or without an index, as a
/// whole-index walk reads every row too) on SQLite, `Seq Scan on t` on PostgreSQL.
fn full_scans(backend: DatabaseBackend, lines: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        let line = line.trim().trim_start_matches("->").trim();
        let table = match backend {
            DatabaseBackend::Sqlite => line.strip_prefix("SCAN "),
            _ => line.strip_prefix("Seq Scan on "),
        }
        .and_then(|rest| rest.split_whitespace().next());
        // A virtual table (FTS5) "scan" with constraints passed to it is a lookup in its
        // own index: `INDEX 0:M2><` is a MATCH within a rowid range. Without any, the
        // plan line ends in `INDEX 0:` and the table is read in full.
        let constrained = line
            .split_once("VIRTUAL TABLE INDEX ")
            .and_then(|(_, index)| index.split_once(':'))
            .is_some_and(|(_, constraints)| !constraints.trim().is_empty());
        if let Some(table) = table
            && BIG_TABLES.contains(&table)
            && !constrained
        {
            found.push(line.to_string());
        }
    }
    found
}

/// Appends the `## Scale: <backend>` section.
pub fn report(r: &mut String, backend: &str, seconds: f64, scale: &mut Scale) -> Result<()> {
    writeln!(r, "## Scale: {backend}\n")?;
    writeln!(
        r,
        "`--scale`: {} groups, {} workspaces (plus one shadow workspace per group), {} \
         accounts (each a group member and a workspace member), {} datasets, {} audit \
         events over about {} days (one in twenty a failed sign-in, one in ten by one of \
         {} administrators, the rest by all the accounts, half of them sign-ins; four in \
         five about a group) ({} rows in all), inserted straight into the database in {:.1} s{}. Pages of the big group \
         (10k members, 100 workspaces, 20k datasets) as the setup administrator made super_admin of that group, limit {}, \
         the console's audit trail as the setup administrator (a system super_admin, who \
         sees every event), and the admin surface's user list as alist-web asks for it (no `per_page`, so every \
         user up to the cap: {} users, admin and guest included, seeded the same way), \
         {} closed-loop connection (one request at a time), {} s each.\n",
        GROUPS,
        BIG_TENANTS + OTHER_TENANTS,
        ACCOUNTS,
        DATASETS,
        AUDIT_EVENTS,
        AUDIT_EVENTS * AUDIT_SPACING_MS / 86_400_000,
        AUDIT_ADMINS,
        scale.rows,
        scale.seeding.as_secs_f64(),
        if scale.analyzed {
            " (then VACUUM ANALYZE)"
        } else {
            ""
        },
        PAGE_LIMIT,
        ADMIN_USERS,
        CONNECTIONS,
        seconds,
    )?;
    writeln!(
        r,
        "| operation | p50 ms | p99 ms | requests | errors | target p50 |"
    )?;
    writeln!(r, "|---|---:|---:|---:|---:|---|")?;
    for m in &mut scale.measured {
        let p50 = m.outcome.quantile_ms(0.5);
        writeln!(
            r,
            "| {} | {:.2} | {:.2} | {} | {} | < {} ms: {} |",
            m.name,
            p50,
            m.outcome.quantile_ms(0.99),
            m.outcome.requests(),
            m.outcome.errors,
            m.target_ms,
            if p50 < m.target_ms {
                "met"
            } else {
                "**missed**"
            }
        )?;
    }
    writeln!(r)?;
    let scans: Vec<&Plan> = scale
        .plans
        .iter()
        .filter(|p| !p.full_scans.is_empty())
        .collect();
    if scans.is_empty() {
        writeln!(
            r,
            "Query plans: none of the {} page queries scans a big table in full.\n",
            scale.plans.len()
        )?;
    } else {
        writeln!(r, "Query plans: **full scans** in")?;
        for p in &scans {
            writeln!(r, "- {}: `{}`", p.query, p.full_scans.join("`, `"))?;
        }
        writeln!(r)?;
    }
    writeln!(r, "<details><summary>{backend} plans</summary>\n")?;
    for p in &scale.plans {
        writeln!(r, "{}:\n\n```\n{}\n```\n", p.query, p.text)?;
    }
    writeln!(r, "</details>\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_adds_up() {
        assert_eq!(tenant_group(BIG_TENANTS - 1), 0);
        assert_eq!(tenant_group(BIG_TENANTS + OTHER_TENANTS - 1), GROUPS - 1);
        for a in [0, 1, BIG_MEMBERS - 1, BIG_MEMBERS, ACCOUNTS - 1] {
            let g = account_group(a);
            assert!(g < GROUPS);
            assert_eq!(tenant_group(home_tenant(a)), g, "account {a}");
        }
        for g in [0, 1, GROUPS - 1] {
            for j in [0, 1, 89, 12_345] {
                assert_eq!(account_group(member_of(g, j)), g);
                assert!(member_of(g, j) < ACCOUNTS);
            }
        }
    }

    #[test]
    fn finds_full_scans() {
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sqlite = lines(&[
            "SEARCH tenants USING INDEX ix_tenants_group (group_id=?)",
            "SCAN datasets USING INDEX ix_datasets_created",
        ]);
        assert_eq!(full_scans(DatabaseBackend::Sqlite, &sqlite).len(), 1);
        let pg = lines(&["Limit", "  ->  Seq Scan on datasets  (cost=0..1 rows=1)"]);
        assert_eq!(full_scans(DatabaseBackend::Postgres, &pg).len(), 1);
        assert!(full_scans(DatabaseBackend::Sqlite, &lines(&["SCAN CONSTANT ROW"])).is_empty());
        let fts = |line: &str| full_scans(DatabaseBackend::Sqlite, &lines(&[line])).len();
        assert_eq!(fts("SCAN datasets_search VIRTUAL TABLE INDEX 0:M2><"), 0);
        assert_eq!(fts("SCAN datasets_search VIRTUAL TABLE INDEX 0:"), 1);
    }
}
