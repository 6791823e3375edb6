//! Attacks: the review's smaller holes on the console surface (issue 15, items 5–8).

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, console_error};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

/// `METHOD path` with a bearer token and an optional JSON body: (status, body).
async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn admin_token(app: &TestApp) -> String {
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("admin login")
        .access_token
}

/// A new account with a password, made by the super_admin; its id and access token.
async fn account(app: &TestApp, admin: &str, email: &str) -> (String, String) {
    let (status, body) = call(
        app,
        admin,
        "POST",
        "/console/api/account/register",
        Some(json!({"email": email, "name": "Someone", "password": "someone-pass-1"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, found) = call(
        app,
        admin,
        "GET",
        &format!("/console/api/account-ex/email?email={email}"),
        None,
    )
    .await;
    let id = found["id"].as_str().expect("id").to_string();
    let token = login(&app.console, email, "someone-pass-1")
        .await
        .expect("login")
        .access_token;
    (id, token)
}

db_test!(async fn refresh_token_reuse_ends_every_session_at_once(app) {
    // Item 7: a reused refresh token is a theft signal; the thief's access token must not
    // keep working for the rest of its hour.
    setup(&app).await;
    let stolen = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let refresh = |token: &str| {
        let body = json!({"refresh_token": token});
        let http = app.http.clone();
        let url = app.url("/console/api/refresh-token");
        async move { http.post(url).json(&body).send().await.expect("send").status().as_u16() }
    };
    // The owner refreshes first; the thief then presents the same (now used) token.
    assert_eq!(refresh(&stolen.refresh_token).await, 200);
    assert_eq!(refresh(&stolen.refresh_token).await, 401);
    let (status, body) = call(&app, &stolen.access_token, "GET", "/console/api/account/profile", None).await;
    assert_eq!(status, 401, "the stolen access token still works after reuse was detected: {body}");
    // A fresh sign-in works again.
    let again = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    assert_eq!(call(&app, &again.access_token, "GET", "/console/api/account/profile", None).await.0, 200);
});

db_test!(async fn an_outsider_cannot_list_another_groups_workspaces(app) {
    // Item 5: `unjoined-tenants/{own id}` of a group the caller is not in gave that
    // group's workspace names, and 404 for a made-up id told which groups exist.
    setup(&app).await;
    let admin = admin_token(&app).await;
    let (status, body) = call(&app, &admin, "POST", "/console/api/enterprise-groups", Some(json!({"name": "Group B"}))).await;
    assert_eq!(status, 201, "{body}");
    let (_, groups) = call(&app, &admin, "GET", "/console/api/enterprise-groups?limit=100", None).await;
    let b = groups["data"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Group B")
        .and_then(|g| g["id"].as_str())
        .expect("group B")
        .to_string();
    let (status, body) = call(&app, &admin, "POST", &format!("/console/api/enterprise-groups/{b}/tenants"), Some(json!({"name": "B's secret project"}))).await;
    assert_eq!(status, 201, "{body}");
    let (me, token) = account(&app, &admin, "outsider@example.com").await;
    let (status, body) = call(&app, &token, "GET", &format!("/console/api/enterprise-groups/{b}/unjoined-tenants/{me}"), None).await;
    assert_ne!(status, 200, "an outsider read group B's workspaces: {body}");
    let made_up = uuid::Uuid::now_v7();
    let (other, _) = call(&app, &token, "GET", &format!("/console/api/enterprise-groups/{made_up}/unjoined-tenants/{me}"), None).await;
    assert_eq!(status, other, "a real and a made-up group answer alike");
    // The group's own super_admin still may.
    let (_, admin_profile) = call(&app, &admin, "GET", "/console/api/account-ex/profile", None).await;
    let admin_id = admin_profile["id"].as_str().expect("id");
    assert_eq!(
        call(&app, &admin, "GET", &format!("/console/api/enterprise-groups/{b}/unjoined-tenants/{admin_id}"), None).await.0,
        200
    );
});

db_test!(async fn a_system_admin_cannot_edit_the_super_admin(app) {
    // Item 6: nobody below super_admin edits a super_admin.
    setup(&app).await;
    let admin = admin_token(&app).await;
    let (sys_id, _) = account(&app, &admin, "sysadmin@example.com").await;
    let (status, body) = call(&app, &admin, "PUT", &format!("/console/api/account-ex/role?id={sys_id}"), Some(json!({"role_type": "system_admin"}))).await;
    assert_eq!(status, 200, "{body}");
    let sys = login(&app.console, "sysadmin@example.com", "someone-pass-1").await.expect("login").access_token;
    let (_, admin_profile) = call(&app, &admin, "GET", "/console/api/account-ex/profile", None).await;
    let admin_id = admin_profile["id"].as_str().expect("id").to_string();
    for change in [json!({"name": "pwned"}), json!({"status": "banned"}), json!({"mobile": "13800000099"})] {
        let (status, body) = call(&app, &sys, "PUT", &format!("/console/api/account-ex/id?id={admin_id}"), Some(change.clone())).await;
        assert_eq!(status, 403, "{change}: {body}");
        assert_eq!(console_error(&body), ("forbidden", 403));
    }
    let (_, after) = call(&app, &admin, "GET", "/console/api/account-ex/profile", None).await;
    assert_ne!(after["name"], "pwned");
    // The super_admin still edits the system_admin.
    let (status, _) = call(&app, &admin, "PUT", &format!("/console/api/account-ex/id?id={sys_id}"), Some(json!({"name": "Sys"}))).await;
    assert_eq!(status, 200);
});

db_test!(async fn control_characters_in_a_dataset_search_are_refused(app) {
    // Item 8: `search=a%00b` was a 500 (an FTS5 syntax error), `search=%00` matched all.
    setup(&app).await;
    let admin = admin_token(&app).await;
    let (_, current) = call(&app, &admin, "GET", "/console/api/enterprise-groups/current", None).await;
    let group = current["id"].as_str().expect("group id").to_string();
    for term in ["a%00b", "%00", "%01", "x%1Fy", "%7F"] {
        let (status, body) = call(&app, &admin, "GET", &format!("/console/api/enterprise-groups/{group}/datasets?search={term}"), None).await;
        assert_eq!((status, console_error(&body)), (400, ("invalid_param", 400)), "search={term}: {body}");
    }
    let (status, _) = call(&app, &admin, "GET", &format!("/console/api/enterprise-groups/{group}/datasets?search=report"), None).await;
    assert_eq!(status, 200);
});

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_files_are_private_to_the_server_user() {
    // Item 4: console.db (argon2 hashes, admin-surface TOTP secrets) was created 0644 in a
    // 0755 data directory, readable by every local user.
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().expect("tempdir");
    let data_dir = scratch.path().join("data");
    let storage = console_server::config::StorageConfig {
        data_dir: data_dir.clone(),
        database_url: None,
        database_timeout: 5,
    };
    let url = console_server::db::database_url(&storage).expect("url");
    let db = console_server::db::connect(&url).await.expect("connect");
    console_server::db::migrate(&db).await.expect("migrate");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700, "data directory");
    for file in ["console.db", "console.db-wal", "console.db-shm"] {
        let path = data_dir.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    assert!(data_dir.join("console.db").exists());
}
