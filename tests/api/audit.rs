//! The audit trail (issue 17): every state-changing call of both surfaces writes exactly
//! one event — its operation, its target, how it ended — a refused call writes its
//! refusal and changes nothing, an event shares its change's transaction, and the trail
//! reads back filtered and paged, a group's super_admin seeing only its group.

use console_server::api::generated::{admin as admin_api, console as console_api};
use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC};
use console_server::audit::{self, Scope, Start};
use entity::audit_event;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JsonValue, QueryFilter, Statement,
    TransactionTrait,
};
use serde_json::Value;

use crate::db_test;
use crate::helpers::TestApp;
use crate::routing::{call_for, calls_with, send_traced};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

async fn events_of(app: &TestApp, request_id: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::RequestId.eq(request_id))
        .all(&app.state.db)
        .await
        .expect("events")
}

/// Every row of every table but the trail itself, the attempt counters (a refusal may
/// count) and the migrations' own: what "changes nothing" is checked against.
async fn snapshot(app: &TestApp) -> Vec<(String, Vec<JsonValue>)> {
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let list = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' ORDER BY name"
        }
        _ => {
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        }
    };
    let tables = JsonValue::find_by_statement(Statement::from_string(backend, list))
        .all(db)
        .await
        .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let name = t["t"].as_str().expect("name").to_string();
        if [
            "audit_events",
            "rate_counters",
            "seaql_migrations",
            "sqlite_sequence",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        let rows = JsonValue::find_by_statement(Statement::from_string(
            backend,
            format!("SELECT * FROM {name}"),
        ))
        .all(db)
        .await
        .expect("rows");
        let mut rows: Vec<JsonValue> = rows;
        rows.sort_by_key(|r| r.to_string());
        out.push((name, rows));
    }
    out
}

/// Account `email` with `password`, made by the signed-in system admin `admin`.
pub async fn register(admin: &console_client::console::Client, email: &str, password: &str) {
    admin
        .register_account()
        .body(console_client::console::types::RegisterAccountRequest {
            email: email.try_into().expect("email"),
            name: "Someone".try_into().expect("name"),
            password: password.try_into().expect("pw"),
        })
        .send()
        .await
        .expect("register");
}

/// Renames the caller `n` times ("Name 0", "Name 1", …): `n` audited writes.
async fn rename_times(admin: &console_client::console::Client, n: usize) {
    for i in 0..n {
        admin
            .update_account_name()
            .body(console_client::console::types::AccountNameRequest {
                name: format!("Name {i}").try_into().expect("name"),
            })
            .send()
            .await
            .expect("rename");
    }
}

fn code_of(body: &Value) -> String {
    body["code"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default()
}

db_test!(async fn every_console_change_writes_one_event_and_a_refusal_changes_nothing(app) {
    setup(&app).await;
    let admin = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token;
    let admin_client = app.console_as(&admin);
    register(&admin_client, "plain@example.com", "plainpw12").await;
    let plain = login(&app.console, "plain@example.com", "plainpw12").await.expect("plain").access_token;
    let admin_id = admin_client.get_account_profile().send().await.expect("me").into_inner().id;
    let plain_id = app.console_as(&plain).get_account_profile().send().await.expect("me").into_inner().id;
    let (workspace, _) = console_server::domain::workspaces::current(&app.state.db, admin_id)
        .await
        .expect("query")
        .expect("workspace");
    let group_id = workspace.group_id.expect("group");
    let doc: Value = serde_yaml::from_str(CONSOLE_SPEC).expect("yaml");
    let mut calls = calls_with(
        &app,
        &doc,
        &[
            ("group_id", group_id.to_string()),
            ("account_id", plain_id.to_string()),
            ("tenant_id", workspace.id.to_string()),
            ("id", plain_id.to_string()),
        ],
    );
    for call in calls.iter_mut().filter(|c| c.operation_id == "update_enterprise_group") {
        if let Some(body) = call.body.as_mut() {
            body["id"] = Value::String(group_id.to_string());
        }
    }
    let mut failures = Vec::new();
    let mut audited = 0;
    // First as the plain account: refusals must write their event and change nothing.
    let plain_header = format!("Bearer {plain}");
    for op in console_api::Operation::ALL {
        let call = call_for(&calls, op.operation_id());
        let before = snapshot(&app).await;
        let (status, body, request_id) = send_traced(call, Some(("authorization", plain_header.as_str()))).await;
        let events = events_of(&app, &request_id).await;
        let is_audited = console_server::api::console::authz::audited(*op);
        let refused = (status == 403 && code_of(&body) == "forbidden") || (status == 404 && code_of(&body) == "group_not_found");
        if !is_audited {
            if !events.is_empty() {
                failures.push(format!("{}: a read wrote {} events", op.operation_id(), events.len()));
            }
            continue;
        }
        if events.len() != 1 {
            failures.push(format!("{} as plain ({status}): {} events", op.operation_id(), events.len()));
            continue;
        }
        let e = &events[0];
        if e.operation_id != op.operation_id() {
            failures.push(format!("{}: event names {}", op.operation_id(), e.operation_id));
        }
        if refused {
            if e.outcome == "success" {
                failures.push(format!("{}: a refusal recorded as success", op.operation_id()));
            }
            if op.requires_credential() && e.actor_id.as_deref() != Some(plain_id.to_string().as_str()) {
                failures.push(format!("{}: refusal's actor {:?}", op.operation_id(), e.actor_id));
            }
            if snapshot(&app).await != before {
                failures.push(format!("{}: a refused call changed the database", op.operation_id()));
            }
        }
    }
    // Then as the super_admin: each call writes one event, about what its path names.
    let admin_header = format!("Bearer {admin}");
    for op in console_api::Operation::ALL.iter().filter(|op| console_server::api::console::authz::audited(**op)) {
        let call = call_for(&calls, op.operation_id());
        let (status, body, request_id) = send_traced(call, Some(("authorization", admin_header.as_str()))).await;
        let events = events_of(&app, &request_id).await;
        audited += 1;
        if events.len() != 1 {
            failures.push(format!("{} as super_admin ({status} {body}): {} events", op.operation_id(), events.len()));
            continue;
        }
        let e = &events[0];
        let expected = if (200..400).contains(&status) { "success".to_string() } else { code_of(&body) };
        if e.outcome != expected {
            failures.push(format!("{}: outcome {} for {status} {body}", op.operation_id(), e.outcome));
        }
        // A path that names something names the target (or, for a creation inside a
        // group, the group the new target belongs to).
        let names_id = ["{group_id}", "{account_id}", "{member_id}", "{tenant_id}", "{token_id}", "{session_id}"]
            .iter()
            .any(|p| op.path().contains(p));
        if names_id {
            let in_url = |id: &Option<String>| id.as_ref().is_some_and(|t| call.url().contains(t.as_str()));
            if !in_url(&e.target_id) && !in_url(&e.group_id.map(|g| g.to_string())) {
                failures.push(format!("{}: target {:?} is not in {}", op.operation_id(), e.target_id, call.url()));
            }
        }
        if let Some(changes) = &e.changes {
            for secret in [ADMIN_PASSWORD, "plainpw12"] {
                if changes.contains(secret) {
                    failures.push(format!("{}: a password in changes: {changes}", op.operation_id()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} audit failures:\n{}", failures.len(), failures.join("\n"));
    assert!(audited > 40, "only {audited} audited console operations");
});

db_test!(async fn every_admin_change_writes_one_event(app) {
    let token = crate::admin::admin_token(&app).await;
    let general = crate::admin::general_user_token(&app).await;
    let doc: Value = serde_yaml::from_str(ADMIN_SPEC).expect("yaml");
    let calls = calls_with(&app, &doc, &[]);
    let mut failures = Vec::new();
    // A general user's refused calls (AList answers them with HTTP 200 and `code` 403)
    // write their refusal and change nothing.
    let mut refusals = 0;
    for op in admin_api::Operation::ALL.iter().filter(|op| console_server::api::admin::authz::audited(**op)) {
        let call = call_for(&calls, op.operation_id());
        let before = snapshot(&app).await;
        let (_, body, request_id) = send_traced(call, Some(("authorization", general.as_str()))).await;
        let events = events_of(&app, &request_id).await;
        if events.len() != 1 {
            failures.push(format!("{} as a general user: {} events", op.operation_id(), events.len()));
            continue;
        }
        if body["code"] == 403 {
            refusals += 1;
            if events[0].outcome == "success" || events[0].actor_name.as_deref() != Some("general") {
                failures.push(format!("{}: refusal recorded as {:?} by {:?}", op.operation_id(), events[0].outcome, events[0].actor_name));
            }
            if snapshot(&app).await != before {
                failures.push(format!("{}: a refused call changed the database", op.operation_id()));
            }
        }
    }
    assert!(refusals >= 6, "only {refusals} admin-only calls were refused to a general user");
    for op in admin_api::Operation::ALL {
        let call = call_for(&calls, op.operation_id());
        let (status, body, request_id) = send_traced(call, Some(("authorization", token.as_str()))).await;
        let events = events_of(&app, &request_id).await;
        let want = usize::from(console_server::api::admin::authz::audited(*op));
        if events.len() != want {
            failures.push(format!("{} ({status} {body}): {} events, want {want}", op.operation_id(), events.len()));
            continue;
        }
        if let Some(e) = events.first() {
            let code = body["code"].as_u64().unwrap_or(0);
            let success = code == 200 || (body.is_null() && status < 400);
            if (e.outcome == "success") != success {
                failures.push(format!("{}: outcome {} for {body}", op.operation_id(), e.outcome));
            }
            if e.operation_id != op.operation_id() {
                failures.push(format!("{}: event names {}", op.operation_id(), e.operation_id));
            }
        }
    }
    assert!(failures.is_empty(), "{} audit failures:\n{}", failures.len(), failures.join("\n"));
});

db_test!(async fn failed_sign_ins_are_recorded_with_the_email_tried(app) {
    setup(&app).await;
    let wrong = login(&app.console, ADMIN_EMAIL, "not-the-password").await;
    assert!(wrong.is_err());
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::OperationId.eq("login"))
        .all(&app.state.db)
        .await
        .expect("events");
    let outcomes: Vec<(&str, Option<&str>, &str)> = events
        .iter()
        .map(|e| (e.actor_kind.as_str(), e.actor_name.as_deref(), e.outcome.as_str()))
        .collect();
    assert!(outcomes.contains(&("anonymous", Some(ADMIN_EMAIL), "invalid_credentials")) || outcomes.iter().any(|(k, n, o)| *k == "anonymous" && *n == Some(ADMIN_EMAIL) && *o != "success"), "{outcomes:?}");
    assert!(outcomes.contains(&("account", Some(ADMIN_EMAIL), "success")), "{outcomes:?}");
    for e in &events {
        assert!(!e.changes.clone().unwrap_or_default().contains("not-the-password"));
        assert!(!e.changes.clone().unwrap_or_default().contains(ADMIN_PASSWORD));
    }
});

db_test!(async fn an_event_lives_and_dies_with_its_transaction(app) {
    let db = &app.state.db;
    let start = || Start {
        at: 1,
        surface: "console",
        operation_id: "update_account_name",
        success_status: 200,
        request_id: "tx-test".into(),
        client_ip: None,
        user_agent: None,
        target: None,
        changes: None,
    };
    // The change fails after its event was written: neither stays.
    let scope = Scope::new(start());
    scope
        .run(async {
            let txn = db.begin().await.expect("begin");
            txn.execute_unprepared("CREATE TABLE audit_probe (x INTEGER)").await.expect("change");
            audit::record_in(&txn).await.expect("event in the transaction");
            txn.rollback().await.expect("the write after the event fails: roll back");
        })
        .await;
    assert!(events_of(&app, "tx-test").await.is_empty(), "a rolled-back change left its event");
    // The same through `commit`: both stay.
    let scope = Scope::new(start());
    scope
        .run(async {
            let txn = db.begin().await.expect("begin");
            txn.execute_unprepared("CREATE TABLE audit_probe (x INTEGER)").await.expect("change");
            audit::commit(txn).await.expect("commit");
        })
        .await;
    assert_eq!(events_of(&app, "tx-test").await.len(), 1);
    // The call's end finds the event written and writes no other.
    scope.finish(db, "success", 200).await.expect("finish");
    assert_eq!(events_of(&app, "tx-test").await.len(), 1);
});

db_test!(async fn the_trail_reads_back_filtered_and_paged_and_a_group_sees_its_own(app) {
    setup(&app).await;
    let admin = app.console_as(&login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token);
    rename_times(&admin, 5).await;
    let first = admin.list_audit_events().operation_id("update_account_name").limit(2).send().await;
    let first = first.expect("page").into_inner();
    assert_eq!(first.data.len(), 2);
    assert_eq!(first.data[0].changes.as_ref().and_then(|c| c.get("name")).and_then(|n| n.as_str()), Some("Name 4"), "newest first");
    let mut seen: Vec<uuid::Uuid> = first.data.iter().map(|e| e.id).collect();
    let mut cursor = first.next_cursor.clone();
    // An event added while paging does not move what comes next.
    admin
        .update_account_name()
        .body(console_client::console::types::AccountNameRequest { name: "Later".try_into().expect("name") })
        .send()
        .await
        .expect("rename");
    while let Some(c) = cursor {
        let page = admin.list_audit_events().operation_id("update_account_name").limit(2).cursor(c).send().await.expect("page").into_inner();
        seen.extend(page.data.iter().map(|e| e.id));
        cursor = page.next_cursor;
    }
    assert_eq!(seen.len(), 5, "each of the five once: {seen:?}");
    let bad = admin.list_audit_events().cursor("not-a-cursor").send().await;
    assert_eq!(crate::email_codes::refused(bad).0, 400);
    // A plain account reads nothing.
    register(&admin, "plain@example.com", "plainpw12").await;
    let plain = app.console_as(&login(&app.console, "plain@example.com", "plainpw12").await.expect("plain").access_token);
    assert_eq!(crate::email_codes::refused(plain.list_audit_events().send().await), (403, "forbidden".to_string()));
});

db_test!(async fn the_export_writes_every_event_as_a_json_line_and_retention_deletes_the_old(app) {
    setup(&app).await;
    login(&app.console, ADMIN_EMAIL, "wrong-password-1").await.expect_err("wrong");
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let total = audit_event::Entity::find().all(&app.state.db).await.expect("events").len();
    assert!(total >= 3, "setup and two sign-ins: {total}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_console-server"))
        .args(["audit", "export"])
        .env("DATABASE_URL", &app.db_url)
        .env_remove("LOG_FORMAT")
        .output()
        .expect("run the export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), total);
    assert!(lines.windows(2).all(|w| w[0]["id"].as_str() < w[1]["id"].as_str()), "oldest first");
    assert!(lines.iter().any(|l| l["operation_id"] == "login" && l["outcome"] != "success"));
    let text = serde_json::to_string(&lines).expect("json");
    assert!(!text.contains("wrong-password-1") && !text.contains(ADMIN_PASSWORD));
    // Nothing is younger than now + 1 day, so a cut there deletes every event, in batches.
    let before = app.state.clock.now() + 86_400;
    let mut deleted = 0;
    loop {
        let n = console_server::domain::audit_events::delete_older(&app.state.db, before, 2).await.expect("delete");
        deleted += n;
        if n < 2 {
            break;
        }
    }
    assert_eq!(deleted as usize, total);
});

db_test!(async fn a_group_super_admin_reads_only_its_groups_events(app) {
    setup(&app).await;
    let admin_token = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token;
    let admin = app.console_as(&admin_token);
    register(&admin, "lead@example.com", "leadpw123").await;
    let lead_token = login(&app.console, "lead@example.com", "leadpw123").await.expect("lead").access_token;
    let lead = app.console_as(&lead_token);
    let lead_id = lead.get_account_profile().send().await.expect("me").into_inner().id;
    let admin_id = admin.get_account_profile().send().await.expect("me").into_inner().id;
    let theirs = console_server::domain::groups::create(&app.state.db, &app.state.accounts, app.state.clock.now(), lead_id, "Lead's Group", None).await.expect("group");
    let (workspace, _) = console_server::domain::workspaces::current(&app.state.db, admin_id).await.expect("q").expect("ws");
    let default_group = workspace.group_id.expect("default group");
    let rename = |token: String, id: uuid::Uuid, name: &'static str| {
        let app = &app;
        async move {
            app.raw_as(&token, reqwest::Method::PUT, "/console/api/enterprise-groups", serde_json::json!({"id": id, "name": name, "short_name": "s"})).await
        }
    };
    assert_eq!(rename(lead_token.clone(), theirs.id, "Renamed by lead").await.0, 200);
    assert_eq!(rename(admin_token.clone(), default_group, "Renamed by admin").await.0, 200);
    let seen = lead.list_audit_events().limit(100).send().await.expect("the lead reads").into_inner().data;
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|e| e.group_id == Some(theirs.id)), "only its group's: {seen:?}");
    assert!(seen.iter().any(|e| e.operation_id == "update_enterprise_group"));
    let all = admin.list_audit_events().operation_id("update_enterprise_group").send().await.expect("admin reads").into_inner().data;
    let groups: Vec<_> = all.iter().filter_map(|e| e.group_id).collect();
    assert!(groups.contains(&theirs.id) && groups.contains(&default_group), "{groups:?}");
});

db_test!(async fn with_the_trail_off_changes_and_sign_ins_write_no_event(app) using |state| state.with_audit_trail(false); {
    use console_client::console::types;
    setup(&app).await;
    assert!(login(&app.console, ADMIN_EMAIL, "not-the-password").await.is_err());
    let admin = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token;
    let admin_client = app.console_as(&admin);
    register(&admin_client, "plain@example.com", "plainpw12").await;
    let plain = login(&app.console, "plain@example.com", "plainpw12").await.expect("plain").access_token;
    let plain_id = app.console_as(&plain).get_account_profile().send().await.expect("me").into_inner().id;
    let updated = admin_client
        .update_account_ex()
        .id(plain_id)
        .body(types::UpdateAccountExRequest {
            name: Some("Renamed".try_into().expect("name")),
            avatar: None,
            status: None,
            mobile: None,
            role_type: None,
            group_role: None,
        })
        .send()
        .await
        .expect("update")
        .into_inner();
    // The change itself is made; only its event is not.
    assert_eq!(updated.name, "Renamed");
    let events = audit_event::Entity::find().all(&app.state.db).await.expect("events");
    let ops: Vec<&str> = events.iter().map(|e| e.operation_id.as_str()).collect();
    assert!(ops.is_empty(), "AUDIT_TRAIL=off wrote events: {ops:?}");
});

db_test!(async fn the_actor_filter_matches_id_or_name_newest_first_across_pages(app) {
    setup(&app).await;
    // A failed sign-in names the admin's e-mail without its id; the rest carry both.
    assert!(login(&app.console, ADMIN_EMAIL, "not-the-password").await.is_err());
    let admin = app.console_as(&login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token);
    let admin_id = admin.get_account_profile().send().await.expect("me").into_inner().id.to_string();
    rename_times(&admin, 4).await;
    register(&admin, "plain@example.com", "plainpw12").await;
    login(&app.console, "plain@example.com", "plainpw12").await.expect("plain");
    for actor in [admin_id.as_str(), ADMIN_EMAIL] {
        // What the filter means, asked of the table directly: newest first.
        let mut expected: Vec<uuid::Uuid> = audit_event::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(audit_event::Column::ActorId.eq(actor))
                    .add(audit_event::Column::ActorName.eq(actor)),
            )
            .filter(audit_event::Column::Surface.eq("console"))
            .all(&app.state.db)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.id)
            .collect();
        expected.sort_by_key(|id| std::cmp::Reverse(*id));
        assert!(expected.len() >= 6, "{actor}: {expected:?}");
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut call = admin.list_audit_events().actor(actor).limit(2);
            if let Some(c) = cursor {
                call = call.cursor(c);
            }
            let page = call.send().await.expect("page").into_inner();
            assert!(page.data.len() <= 2);
            seen.extend(page.data.iter().map(|e| e.id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, expected, "{actor}");
    }
});
