//! Backups of a live SQLite database (issue 18): taken under write load, restored into a
//! fresh data directory, and signed in to with an account made before the backup.

use console_client::console::types;
use console_server::backup::{self, BackupError};
use console_server::config::{FeatureConfig, StorageConfig};
use console_server::domain::session::{self, Client};
use console_server::state::AppState;

use crate::helpers::{Backend, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_and_signs_in() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    setup(&app).await;
    let admin = app.console_as(
        &login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("login")
            .access_token,
    );
    let register = move |n: usize| {
        let admin = admin.clone();
        async move {
            admin
                .register_account()
                .body(types::RegisterAccountRequest {
                    email: format!("user{n}@example.com").try_into().expect("email"),
                    name: "User".try_into().expect("name"),
                    password: "user-pass-1".try_into().expect("password"),
                })
                .send()
                .await
                .is_ok()
        }
    };
    assert!(register(0).await, "the account made before the backup");
    // Writes go on while the copy is taken.
    let load = tokio::spawn(async move {
        let mut made = 0;
        for n in 1..=40 {
            made += usize::from(register(n).await);
        }
        made
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("backup.db");
    backup::backup_to(&app.state.db, &copy)
        .await
        .expect("backup");
    assert!(
        load.await.expect("load") > 0,
        "no write ran beside the backup"
    );
    // Never over an existing file.
    assert!(matches!(
        backup::backup_to(&app.state.db, &copy).await,
        Err(BackupError::TargetExists(_))
    ));

    let storage = StorageConfig {
        data_dir: dir.path().join("restored"),
        database_url: None,
        database_timeout: 5,
    };
    backup::restore(&storage, &copy).await.expect("restore");
    // Never over a database that is there.
    assert!(matches!(
        backup::restore(&storage, &copy).await,
        Err(BackupError::DatabaseExists(_))
    ));
    let url = console_server::db::database_url(&storage).expect("url");
    let conn = console_server::db::connect(&url)
        .await
        .expect("open the restored database");
    console_server::db::migrate(&conn)
        .await
        .expect("migrations are up to date");
    let restored = AppState::new(conn, FeatureConfig::defaults(), app.state.secret.clone());
    session::login(
        &restored.db,
        &restored.accounts,
        &restored.hasher,
        &restored.settings(),
        restored.clock.now(),
        "user0@example.com",
        "user-pass-1".into(),
        &Client::default(),
    )
    .await
    .expect("the account made before the backup signs in");
    session::login(
        &restored.db,
        &restored.accounts,
        &restored.hasher,
        &restored.settings(),
        restored.clock.now(),
        ADMIN_EMAIL,
        ADMIN_PASSWORD.into(),
        &Client::default(),
    )
    .await
    .expect("the administrator signs in");
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").expect("write");
    let storage = StorageConfig {
        data_dir: dir.path().join("data"),
        database_url: None,
        database_timeout: 5,
    };
    assert!(matches!(
        backup::restore(&storage, &junk).await,
        Err(BackupError::NotABackup(..))
    ));
    let postgres = StorageConfig {
        data_dir: dir.path().join("data"),
        database_url: Some("postgres://x/y".into()),
        database_timeout: 5,
    };
    assert!(matches!(
        backup::restore(&postgres, &junk).await,
        Err(BackupError::NotSqlite)
    ));
}
