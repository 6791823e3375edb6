//! Migrations go up, down and up again on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

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
