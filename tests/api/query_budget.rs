//! The query budget (issue 19): every operation of both specs, called with a warm cache,
//! runs no more statements than `docs/query-budget.md` allows it. The statements are
//! counted by the server itself (`db::statements`, sea-orm's metric callback), per
//! request id.

use std::collections::BTreeMap;

use console_server::api::generated::{admin as admin_api, console as console_api};
use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC};
use console_server::db::statements;
use serde_json::Value;

use crate::audit::register;
use crate::db_test;
use crate::routing::{Call, call_for, calls_with, send_traced};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

const BUDGET: &str = include_str!("../../docs/query-budget.md");

/// `(surface, operationId) → budget` from the document's table rows
/// (`| surface | operationId | budget | … |`).
fn budgets() -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for line in BUDGET.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !matches!(cells[1], "console" | "admin") {
            continue;
        }
        let op = cells[2].trim_matches('`').to_string();
        let budget = cells[3]
            .parse()
            .unwrap_or_else(|_| panic!("budget of {op} is not a number: {:?}", cells[3]));
        assert!(
            out.insert((cells[1].to_string(), op.clone()), budget)
                .is_none(),
            "{op} has two rows"
        );
    }
    out
}

/// One call's statements, by its request id.
async fn measure(call: &Call, auth: (&str, &str)) -> (u16, u32) {
    let (status, _, request_id) = send_traced(call, Some(auth)).await;
    let n = statements::take(&request_id)
        .unwrap_or_else(|| panic!("{}: no count for request {request_id:?}", call.operation_id));
    (status, n)
}

/// Reads are measured on their second call (the first warms the caches); a change once.
async fn walk<'a>(
    calls: &[Call],
    ops: impl Iterator<Item = (&'a str, &'a str)>,
    auth: (&str, &str),
    out: &mut Vec<(String, &'a str, u16, u32)>,
) {
    for (op, method) in ops {
        let call = call_for(calls, op);
        if method == "GET" {
            measure(call, auth).await;
        }
        let (status, n) = measure(call, auth).await;
        out.push((String::new(), op, status, n));
    }
}

db_test!(async fn every_operation_keeps_its_query_budget(app) {
    statements::keep();
    setup(&app).await;
    let admin = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token;
    let admin_client = app.console_as(&admin);
    register(&admin_client, "plain@example.com", "plainpw12").await;
    let admin_id = admin_client.get_account_profile().send().await.expect("me").into_inner().id;
    let plain_id = app
        .console_as(&login(&app.console, "plain@example.com", "plainpw12").await.expect("plain").access_token)
        .get_account_profile()
        .send()
        .await
        .expect("me")
        .into_inner()
        .id;
    let (workspace, _) = console_server::domain::workspaces::current(&app.state.db, admin_id)
        .await
        .expect("query")
        .expect("workspace");
    let group_id = workspace.group_id.expect("group");
    let console_doc: Value = serde_yaml::from_str(CONSOLE_SPEC).expect("yaml");
    let console_calls = calls_with(
        &app,
        &console_doc,
        &[
            ("group_id", group_id.to_string()),
            ("account_id", plain_id.to_string()),
            ("tenant_id", workspace.id.to_string()),
            ("id", plain_id.to_string()),
        ],
    );
    let bearer = format!("Bearer {admin}");
    let mut measured = Vec::new();
    walk(
        &console_calls,
        console_api::Operation::ALL.iter().map(|op| (op.operation_id(), op.method())),
        ("authorization", bearer.as_str()),
        &mut measured,
    )
    .await;
    for m in &mut measured {
        m.0 = "console".into();
    }
    let admin_token = crate::admin::admin_token(&app).await;
    let admin_doc: Value = serde_yaml::from_str(ADMIN_SPEC).expect("yaml");
    let admin_calls = calls_with(&app, &admin_doc, &[]);
    let start = measured.len();
    walk(
        &admin_calls,
        admin_api::Operation::ALL.iter().map(|op| (op.operation_id(), op.method())),
        ("authorization", admin_token.as_str()),
        &mut measured,
    )
    .await;
    for m in &mut measured[start..] {
        m.0 = "admin".into();
    }

    let budgets = budgets();
    let mut failures = Vec::new();
    for (surface, op, status, n) in &measured {
        match budgets.get(&(surface.clone(), op.to_string())) {
            None => failures.push(format!("{surface} {op}: no budget (ran {n}, answered {status})")),
            Some(&budget) if *n > budget => {
                failures.push(format!("{surface} {op}: ran {n} statements, budget {budget} (answered {status})"))
            }
            Some(_) => {}
        }
    }
    for (surface, op) in budgets.keys() {
        if !measured.iter().any(|(s, o, _, _)| s == surface && o == op) {
            failures.push(format!("{surface} {op}: a budget for an operation neither spec has"));
        }
    }
    if std::env::var_os("QUERY_BUDGET_SHOW").is_some() {
        for (surface, op, status, n) in &measured {
            eprintln!("| {surface} | `{op}` | {n} | {status} |");
        }
    }
    assert!(failures.is_empty(), "{} over budget:\n{}", failures.len(), failures.join("\n"));
});
