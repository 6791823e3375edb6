//! Migrations go up, down and up again on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, Statement};

use crate::helpers::{Backend, TestDb};

async fn up_down_up(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let db = console_server::db::connect(&test_db.url)
        .await
        .expect("connect");
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
        }
    };
    Migrator::up(&db, None).await.expect("up");
    assert!(count("SELECT COUNT(*) AS n FROM accounts").await.is_ok());
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        0
    );
    Migrator::down(&db, None).await.expect("down");
    assert!(
        count("SELECT COUNT(*) AS n FROM accounts").await.is_err(),
        "tables are gone after down"
    );
    Migrator::up(&db, None).await.expect("up again");
    assert!(count("SELECT COUNT(*) AS n FROM setups").await.is_ok());
    db.close().await.ok();
}

#[tokio::test]
async fn sqlite_up_down_up() {
    up_down_up(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_up_down_up() {
    up_down_up(Backend::Postgres).await;
}

/// Migration 000008 backfills the group and the folded search text of datasets that
/// exist when it runs, and 000009 indexes them for the group's search.
async fn dataset_search_backfill(backend: Backend) {
    use sea_orm::sea_query::{Query, SimpleExpr};
    use sea_orm::{DatabaseBackend, Value};
    use uuid::Uuid;

    let Some(test_db) = TestDb::new(backend).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let db = console_server::db::connect(&test_db.url)
        .await
        .expect("connect");
    Migrator::up(&db, Some(7)).await.expect("up to 000007");
    let insert = |table: &'static str, columns: Vec<&'static str>, values: Vec<Value>| {
        let mut stmt = Query::insert();
        stmt.into_table(table)
            .columns(columns)
            .values_panic(values.into_iter().map(SimpleExpr::from));
        stmt
    };
    let text = |s: &str| Value::String(Some(s.to_string()));
    let (group, tenant, loose, account) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let (apples, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mut statements = vec![
        insert(
            "enterprise_groups",
            vec!["id", "name", "short_name", "status", "created_at"],
            vec![
                group.into(),
                text("G"),
                Value::String(None),
                text("active"),
                1i64.into(),
            ],
        ),
        insert(
            "tenants",
            vec!["id", "name", "status", "group_id", "created_at"],
            vec![
                tenant.into(),
                text("T"),
                text("normal"),
                group.into(),
                1i64.into(),
            ],
        ),
        insert(
            "tenants",
            vec!["id", "name", "status", "group_id", "created_at"],
            vec![
                loose.into(),
                text("L"),
                text("normal"),
                Value::Uuid(None),
                1i64.into(),
            ],
        ),
        insert(
            "accounts",
            vec![
                "id",
                "email",
                "name",
                "interface_language",
                "interface_theme",
                "timezone",
                "status",
                "created_at",
                "updated_at",
                "token_version",
            ],
            vec![
                account.into(),
                text("a@example.com"),
                text("A"),
                text("en-US"),
                text("light"),
                text("UTC"),
                text("active"),
                1i64.into(),
                1i64.into(),
                Value::Int(Some(0)),
            ],
        ),
    ];
    for (id, tenant_id, name, description) in [
        (apples, tenant, "ÄPFEL Ernte", None),
        (other, loose, "Other", Some("ÜBER Alles")),
    ] {
        statements.push(insert(
            "datasets",
            vec![
                "id",
                "tenant_id",
                "name",
                "description",
                "provider",
                "permission",
                "app_count",
                "document_count",
                "word_count",
                "created_by",
                "created_at",
                "updated_at",
                "retrieval_model",
            ],
            vec![
                id.into(),
                tenant_id.into(),
                text(name),
                Value::String(description.map(str::to_string)),
                text("vendor"),
                text("only_me"),
                Value::Int(Some(0)),
                Value::Int(Some(0)),
                0i64.into(),
                account.into(),
                1i64.into(),
                1i64.into(),
                text("{}"),
            ],
        ));
    }
    for stmt in &statements {
        db.execute(stmt).await.expect("insert");
    }
    Migrator::up(&db, None).await.expect("up");
    let rows = entity::dataset::Entity::find()
        .order_by_asc(entity::dataset::Column::Name)
        .all(&db)
        .await
        .expect("datasets");
    let seen: Vec<_> = rows
        .iter()
        .map(|d| {
            (
                d.id,
                d.group_id,
                d.search_name.as_str(),
                d.search_description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (other, None, "other", "über alles"),
            (apples, Some(group), "äpfel ernte", ""),
        ]
    );
    // Migration 000009 indexes the group's dataset (not the one without a group), and the
    // triggers keep the index in step with updates and deletes.
    let backend = db.get_database_backend();
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_string(backend, sql))
                .await
                .expect(sql)
                .expect("row")
                .try_get_by_index::<i64>(0)
                .expect("count")
        }
    };
    let (indexed, apples_found, pears_found) = match backend {
        DatabaseBackend::Sqlite => (
            "SELECT COUNT(*) FROM dataset_search_keys",
            r#"SELECT COUNT(*) FROM datasets_search WHERE datasets_search MATCH '"äpfel"'
               AND rowid BETWEEN (SELECT key << 40 FROM dataset_search_groups)
               AND (SELECT ((key + 1) << 40) - 1 FROM dataset_search_groups)"#,
            r#"SELECT COUNT(*) FROM datasets_search WHERE datasets_search MATCH '"birnen"'"#,
        ),
        _ => (
            "SELECT COUNT(*) FROM dataset_search",
            "SELECT COUNT(*) FROM dataset_search WHERE search_name LIKE '%äpfel%'",
            "SELECT COUNT(*) FROM dataset_search WHERE search_name LIKE '%birnen%'",
        ),
    };
    assert_eq!((count(indexed).await, count(apples_found).await), (1, 1));
    let apples_id = apples.to_string();
    for (sql, after) in [
        (
            "UPDATE datasets SET search_name = 'birnen' WHERE id = $1",
            (1, 0, 1),
        ),
        ("DELETE FROM datasets WHERE id = $1", (0, 0, 0)),
    ] {
        let sql = match backend {
            DatabaseBackend::Sqlite => sql.replace("$1", "?"),
            _ => sql.to_string(),
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.as_str(),
            [apples.into()],
        ))
        .await
        .expect(&sql);
        let now = (
            count(indexed).await,
            count(apples_found).await,
            count(pears_found).await,
        );
        assert_eq!(now, after, "after {sql} ({apples_id})");
    }
    db.close().await.ok();
}

#[tokio::test]
async fn sqlite_dataset_search_backfill() {
    dataset_search_backfill(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_dataset_search_backfill() {
    dataset_search_backfill(Backend::Postgres).await;
}

/// Migration 000010 rebuilds `oauth_states` with the PKCE verifier: sign-ins in flight at
/// the upgrade (no verifier, no state cookie) are dropped, new ones need a verifier, and
/// down restores the table as 000006 made it.
async fn oauth_states_get_a_pkce_verifier(backend: Backend) {
    use entity::oauth_state;
    use sea_orm::sea_query::{Query, SimpleExpr};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, Value};

    let Some(test_db) = TestDb::new(backend).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let db = console_server::db::connect(&test_db.url)
        .await
        .expect("connect");
    let backend = db.get_database_backend();
    let insert_old = |hash: &str| {
        let mut stmt = Query::insert();
        stmt.into_table("oauth_states")
            .columns([
                "state_hash",
                "provider",
                "invite_token",
                "expires_at",
                "created_at",
            ])
            .values_panic(
                [
                    Value::String(Some(hash.to_string())),
                    Value::String(Some("github".to_string())),
                    Value::String(None),
                    2i64.into(),
                    1i64.into(),
                ]
                .into_iter()
                .map(SimpleExpr::from),
            );
        stmt
    };
    let rows = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_string(backend, sql))
                .await
                .map(|row| {
                    row.and_then(|r| r.try_get_by_index::<i64>(0).ok())
                        .unwrap_or(-1)
                })
        }
    };

    Migrator::up(&db, Some(9)).await.expect("up to 000009");
    db.execute(&insert_old("in-flight")).await.expect("old row");
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(
        rows("SELECT COUNT(*) FROM oauth_states")
            .await
            .expect("count"),
        0,
        "sign-ins in flight are dropped"
    );
    assert!(
        db.execute(&insert_old("no-verifier")).await.is_err(),
        "a state without a verifier is refused"
    );
    oauth_state::ActiveModel {
        state_hash: Set("with-verifier".into()),
        provider: Set("github".into()),
        invite_token: Set(None),
        pkce_verifier: Set("v".repeat(43)),
        expires_at: Set(2),
        created_at: Set(1),
    }
    .insert(&db)
    .await
    .expect("new row");
    let stored = oauth_state::Entity::find_by_id("with-verifier")
        .one(&db)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(stored.pkce_verifier, "v".repeat(43));

    // Down past 000010 (and every migration after it; the first nine stay): the table of
    // 000006 again.
    let after_nine = Migrator::migrations().len() as u32 - 9;
    Migrator::down(&db, Some(after_nine))
        .await
        .expect("down to 000009");
    assert!(
        rows("SELECT COUNT(pkce_verifier) FROM oauth_states")
            .await
            .is_err(),
        "no verifier column after down"
    );
    db.execute(&insert_old("old-again"))
        .await
        .expect("old shape after down");
    Migrator::up(&db, None).await.expect("up again");
    db.close().await.ok();
}

#[tokio::test]
async fn sqlite_oauth_states_get_a_pkce_verifier() {
    oauth_states_get_a_pkce_verifier(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_oauth_states_get_a_pkce_verifier() {
    oauth_states_get_a_pkce_verifier(Backend::Postgres).await;
}
