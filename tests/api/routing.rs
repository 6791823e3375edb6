//! Every operation of both specs is routed, and every operation the authorization table
//! marks as not built answers 501 in its surface's envelope — called with well-formed
//! inputs taken from the spec's own examples, so nothing fails earlier for bad input.

use console_server::api::generated::{admin as admin_api, console as console_api};
use console_server::api::{admin::authz as admin_authz, console::authz as console_authz};
use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC};
use serde_json::Value;

use crate::db_test;
use crate::helpers::TestApp;

/// A value that satisfies a parameter's schema.
fn sample(doc: &Value, param: &Value) -> String {
    let schema = &param["schema"];
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return doc["components"]["schemas"][name]["enum"][0]
            .as_str()
            .unwrap_or("x")
            .to_string();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (_, Some("uuid")) => uuid::Uuid::new_v4().to_string(),
        (Some("integer"), _) => "1".into(),
        (Some("boolean"), _) => "true".into(),
        _ if param["name"] == "email" => "someone@example.com".into(),
        _ => "x".into(),
    }
}

pub struct Call {
    pub operation_id: String,
    method: reqwest::Method,
    url: String,
    pub body: Option<Value>,
}

pub fn calls(app: &TestApp, doc: &Value) -> Vec<Call> {
    calls_with(app, doc, &[])
}

/// Like [`calls`], with the given values for the named path parameters and (when named)
/// required query parameters.
pub fn calls_with(app: &TestApp, doc: &Value, paths: &[(&str, String)]) -> Vec<Call> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let mut url = path.clone();
            let mut query = Vec::new();
            for p in op["parameters"].as_array().cloned().unwrap_or_default() {
                let name = p["name"].as_str().unwrap_or_default();
                match p["in"].as_str() {
                    Some("path") => {
                        let value = paths
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_else(|| sample(doc, &p));
                        url = url.replace(&format!("{{{name}}}"), &value)
                    }
                    Some("query") if p["required"].as_bool() == Some(true) => {
                        let value = paths
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_else(|| sample(doc, &p));
                        query.push(format!("{name}={value}"))
                    }
                    _ => {}
                }
            }
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let media = &op["requestBody"]["content"]["application/json"];
            let body = media.get("example").cloned().or_else(|| {
                media["examples"]
                    .as_object()
                    .and_then(|e| e.values().next())
                    .map(|e| e["value"].clone())
            });
            out.push(Call {
                operation_id: op["operationId"].as_str().unwrap_or_default().to_string(),
                method: reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                    .expect("method"),
                url: app.url(&url),
                body,
            });
        }
    }
    out
}

pub fn call_for<'a>(calls: &'a [Call], operation_id: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| c.operation_id == operation_id)
        .unwrap_or_else(|| panic!("{operation_id} has no call"))
}

/// Like [`send`], with the answer's `x-request-id`.
pub async fn send_traced(call: &Call, auth: Option<(&str, &str)>) -> (u16, Value, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = client.request(call.method.clone(), &call.url);
    if let Some((name, value)) = auth {
        req = req.header(name, value);
    }
    if let Some(body) = &call.body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        id,
    )
}

impl Call {
    /// The URL the call is made to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

pub async fn send(call: &Call, auth: Option<(&str, &str)>) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = client.request(call.method.clone(), &call.url);
    if let Some((name, value)) = auth {
        req = req.header(name, value);
    }
    if let Some(body) = &call.body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

db_test!(async fn console_operations_are_routed_and_unbuilt_ones_answer_501(app) {
    let doc: Value = serde_yaml::from_str(CONSOLE_SPEC).expect("yaml");
    let calls = calls(&app, &doc);
    assert_eq!(calls.len(), console_api::Operation::ALL.len());
    for op in console_api::Operation::ALL {
        let call = call_for(&calls, op.operation_id());
        let (status, body) = send(call, Some(("authorization", "Bearer test-token"))).await;
        assert!(
            status != 404 && status != 405,
            "{}: {status} {body}",
            op.operation_id()
        );
        if console_authz::rule(*op) == console_authz::Rule::NotBuilt {
            assert_eq!(status, 501, "{}: {body}", op.operation_id());
            assert_eq!(body["code"], "not_implemented", "{}", op.operation_id());
            assert_eq!(body["status"], 501);
        }
    }
});

db_test!(async fn admin_operations_are_routed_and_none_answers_501(app) {
    let doc: Value = serde_yaml::from_str(ADMIN_SPEC).expect("yaml");
    let calls = calls(&app, &doc);
    assert_eq!(calls.len(), admin_api::Operation::ALL.len());
    for op in admin_api::Operation::ALL {
        let call = call_for(&calls, op.operation_id());
        let (status, body) = send(call, Some(("authorization", "test-token"))).await;
        assert_eq!(
            status,
            200,
            "{}: AList answers HTTP 200: {body}",
            op.operation_id()
        );
        assert_ne!(body["code"], 501, "{}: {body}", op.operation_id());
        if op.requires_credential() {
            // A token that is not a JWT of this server.
            assert_eq!(body["code"], 401, "{}: {body}", op.operation_id());
            assert_eq!(body["message"], "token is invalidated");
        }
    }
});

#[test]
fn authz_tables_agree_with_the_specs_security() {
    // A public rule on an operation that demands a credential (or the reverse) is a bug in
    // the table; not-built operations are exempt until their issue gives them a rule.
    use console_authz::Rule::*;
    for op in console_api::Operation::ALL {
        let needs = match console_authz::rule(*op) {
            Public | BeforeSetup => Some(false),
            SignedIn
            | SystemAdmin
            | SuperAdmin
            | WorkspaceAdmin
            | DatasetEditor
            | GroupMember
            | GroupAdmin
            | GroupAdminOrSystemAdmin
            | GroupAdminOrSelf
            | AccountOrItsGroupAdmin
            | GroupSuperAdmin
            | WorkspaceMember
            | AuditReader => Some(true),
            NotBuilt => None,
        };
        if let Some(needs) = needs {
            assert_eq!(
                op.requires_credential(),
                needs,
                "{}: the authz rule and the spec's security requirement disagree",
                op.operation_id()
            );
        }
    }
    for op in admin_api::Operation::ALL {
        assert_eq!(
            admin_authz::rule(*op) == admin_authz::Rule::Public,
            !op.requires_credential(),
            "{}",
            op.operation_id()
        );
    }
}

/// What docs/authz.md calls each console rule.
fn console_rule_text(rule: console_authz::Rule) -> &'static str {
    use console_authz::Rule::*;
    match rule {
        BeforeSetup => "anyone, even before setup",
        Public => "anyone",
        SignedIn => "signed in",
        SystemAdmin => "system admin",
        SuperAdmin => "super admin",
        WorkspaceAdmin => "workspace owner or admin",
        DatasetEditor => "workspace dataset editor",
        GroupMember => "group member or system admin",
        GroupAdmin => "group admin",
        GroupAdminOrSystemAdmin => "group admin or system admin",
        GroupAdminOrSelf => "group admin or the account itself",
        AccountOrItsGroupAdmin => "the account itself, its group admins or system admin",
        GroupSuperAdmin => "group super admin or system admin",
        WorkspaceMember => "workspace member, its group admins or system admin",
        AuditReader => "system admin or any group's super admin",
        NotBuilt => "not built",
    }
}

/// The rule docs/authz.md states for an operation (the last cell of its row).
pub fn rule_in_doc(operation_id: &str) -> Option<String> {
    include_str!("../../docs/authz.md")
        .lines()
        .find(|l| l.starts_with(&format!("| `{operation_id}` |")))
        .and_then(|l| l.trim_end_matches('|').rsplit('|').next())
        .map(|cell| cell.trim().to_string())
}

/// The operations docs/authz.md says no personal access token reaches ("Never with a
/// token: …").
pub fn documented_token_refusals() -> Vec<String> {
    let doc = include_str!("../../docs/authz.md");
    let start = doc
        .find("Never with a token:")
        .expect("docs/authz.md lists the operations no token reaches");
    let list = &doc[start..];
    let end = list.find(".\n").expect("the list ends with a full stop");
    list[..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The console rule docs/authz.md states for an operation.
pub fn documented_console_rule(operation_id: &str) -> Option<console_authz::Rule> {
    use console_authz::Rule::*;
    let text = rule_in_doc(operation_id)?;
    [
        BeforeSetup,
        Public,
        SignedIn,
        SystemAdmin,
        SuperAdmin,
        WorkspaceAdmin,
        DatasetEditor,
        GroupMember,
        GroupAdmin,
        GroupAdminOrSystemAdmin,
        GroupAdminOrSelf,
        AccountOrItsGroupAdmin,
        GroupSuperAdmin,
        WorkspaceMember,
        AuditReader,
        NotBuilt,
    ]
    .into_iter()
    .find(|r| console_rule_text(*r) == text)
}

#[test]
fn docs_authz_lists_exactly_the_operations_no_token_reaches() {
    use console_server::domain::policy::TokenUse;
    let mut documented = documented_token_refusals();
    documented.sort();
    let mut enforced: Vec<String> = console_api::Operation::ALL
        .iter()
        .filter(|op| console_authz::token_use(**op) == TokenUse::Never)
        .map(|op| op.operation_id().to_string())
        .collect();
    enforced.sort();
    assert_eq!(documented, enforced);
}

#[test]
fn docs_authz_states_the_enforced_rule_for_every_operation() {
    for op in console_api::Operation::ALL {
        assert_eq!(
            documented_console_rule(op.operation_id()),
            Some(console_authz::rule(*op)),
            "docs/authz.md disagrees with the code about {}",
            op.operation_id()
        );
    }
    for op in admin_api::Operation::ALL {
        assert!(
            rule_in_doc(op.operation_id()).is_some(),
            "docs/authz.md lacks {}",
            op.operation_id()
        );
    }
}
