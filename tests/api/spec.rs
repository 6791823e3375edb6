//! The contract holds: the served (generated) spec equals the YAML, the YAML has every
//! seed operation, and every operation is routed.

use std::collections::{BTreeMap, BTreeSet};

use console_server::app::{ADMIN_SPEC, CONSOLE_SPEC, admin_service, console_service};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("spec parses")
}

fn ref_name(r: &str) -> String {
    r.rsplit('/').next().unwrap_or(r).to_string()
}

/// A schema reduced to what both the YAML and poem-openapi's output must agree on: the
/// type, format (uuid and integer widths), enum values, items, references, nullability and
/// bounds. Descriptions and examples are left out; poem-openapi writes a free-form object
/// as an empty schema, so both spellings become `any`.
fn norm(s: &Value) -> Value {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return json!({ "ref": ref_name(r) });
    }
    // The YAML writes a nullable reference as `allOf: [$ref]` + `nullable`; poem-openapi as
    // `allOf: [$ref, {nullable, description}]` + `nullable`. Both are the reference.
    if let Some(all_of) = s.get("allOf").and_then(Value::as_array) {
        let refs: Vec<&Value> = all_of.iter().filter(|e| e.get("$ref").is_some()).collect();
        let typed_extras = all_of.iter().any(|e| {
            e.get("$ref").is_none() && (e.get("type").is_some() || e.get("properties").is_some())
        });
        if let ([inner], false) = (refs.as_slice(), typed_extras) {
            let nullable = std::iter::once(s)
                .chain(all_of.iter())
                .any(|e| e.get("nullable").and_then(Value::as_bool).unwrap_or(false));
            let mut n = norm(inner);
            n["nullable"] = json!(nullable);
            return n;
        }
        return json!({ "unsupported allOf": s });
    }
    let ty = s.get("type").and_then(Value::as_str).unwrap_or("any");
    let mut n = serde_json::Map::new();
    let free_form = ty == "any" || (ty == "object" && s.get("properties").is_none());
    n.insert("type".into(), json!(if free_form { "any" } else { ty }));
    if let Some(f) = s.get("format").and_then(Value::as_str)
        && (ty == "integer" || f == "uuid")
    {
        n.insert("format".into(), json!(f));
    }
    if ty == "number" {
        n.insert("format".into(), json!("double"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let set: BTreeSet<String> = e
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        n.insert("enum".into(), json!(set));
    }
    if let Some(items) = s.get("items") {
        n.insert("items".into(), norm(items));
    }
    for key in [
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
    ] {
        if let Some(v) = s.get(key).and_then(Value::as_f64) {
            n.insert(key.into(), json!(v));
        }
    }
    n.insert(
        "nullable".into(),
        json!(s.get("nullable").and_then(Value::as_bool).unwrap_or(false)),
    );
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let required: BTreeSet<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = serde_json::Map::new();
        for (name, p) in props {
            let mut np = norm(p);
            // A nullable field is `Option` in Rust, which poem-openapi never lists as
            // required; the key is still always sent (as null), so only compare
            // `required` for non-nullable fields.
            let nullable = np["nullable"].as_bool().unwrap_or(false);
            if !nullable {
                np["required"] = json!(required.contains(name.as_str()));
            }
            out.insert(name.clone(), np);
        }
        n.insert("properties".into(), Value::Object(out));
    }
    Value::Object(n)
}

/// The JSON body schema of a request or response. poem-openapi names the media type
/// `application/json; charset=utf-8`, the YAML `application/json`: both count.
fn body_schema(v: Option<&Value>) -> Value {
    v.and_then(|c| c.get("content"))
        .and_then(Value::as_object)
        .and_then(|c| c.iter().find(|(k, _)| k.starts_with("application/json")))
        .and_then(|(_, m)| m.get("schema"))
        .map(norm)
        .unwrap_or(Value::Null)
}

/// Each operation, keyed `METHOD path`, reduced to its comparable parts.
fn operations(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let mut params = BTreeMap::new();
            for p in op["parameters"].as_array().cloned().unwrap_or_default() {
                let mut schema = norm(&p["schema"]);
                if let Some(d) = p["schema"].get("default") {
                    schema["default"] = d.clone();
                }
                params.insert(
                    format!("{} {}", p["in"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or("")),
                    json!({ "required": p.get("required").and_then(Value::as_bool).unwrap_or(false), "schema": schema }),
                );
            }
            let mut responses = BTreeMap::new();
            for (status, r) in op["responses"].as_object().expect("responses") {
                // Header names are case-insensitive (poem-openapi writes them in capitals);
                // each with whether it is always sent.
                let headers: BTreeMap<String, bool> = r
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| {
                        h.iter()
                            .map(|(name, h)| {
                                let required =
                                    h.get("required").and_then(Value::as_bool).unwrap_or(false);
                                (name.to_ascii_lowercase(), required)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                responses.insert(
                    status.clone(),
                    json!({ "body": body_schema(Some(r)), "headers": headers }),
                );
            }
            let security: BTreeSet<String> = op
                .get("security")
                .and_then(Value::as_array)
                .map(|reqs| {
                    reqs.iter()
                        .filter_map(|r| r.as_object())
                        .flat_map(|r| r.keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            out.insert(
                format!("{} {}", method.to_uppercase(), path),
                json!({
                    "operationId": op["operationId"],
                    "tags": op["tags"],
                    "parameters": params,
                    "requestBody": body_schema(op.get("requestBody")),
                    "responses": responses,
                    "security": security,
                }),
            );
        }
    }
    out
}

fn schemas(doc: &Value) -> BTreeMap<String, Value> {
    doc["components"]["schemas"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), norm(v))).collect())
        .unwrap_or_default()
}

/// What differs between two keyed views (operations or schemas) of the two specs.
fn compare(
    kind: &str,
    written: &BTreeMap<String, Value>,
    served: &BTreeMap<String, Value>,
    diffs: &mut Vec<String>,
) {
    for key in written.keys().chain(served.keys()).collect::<BTreeSet<_>>() {
        match (written.get(key), served.get(key)) {
            (Some(w), Some(s)) if w != s => {
                diffs.push(format!("{kind} {key}:\n  yaml:   {w}\n  served: {s}"))
            }
            (Some(_), None) => diffs.push(format!("{kind} {key} is in the YAML but not served")),
            (None, Some(_)) => diffs.push(format!("{kind} {key} is served but not in the YAML")),
            _ => {}
        }
    }
}

fn differences(written: &Value, served: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    compare(
        "operation",
        &operations(written),
        &operations(served),
        &mut diffs,
    );
    compare("schema", &schemas(written), &schemas(served), &mut diffs);
    let schemes = |d: &Value| d["components"]["securitySchemes"].clone();
    if schemes(written) != schemes(served) {
        // poem-openapi writes the schemes without descriptions; compare type and placement.
        let strip = |v: Value| -> Value {
            let mut v = v;
            if let Some(m) = v.as_object_mut() {
                for s in m.values_mut() {
                    if let Some(o) = s.as_object_mut() {
                        o.remove("description");
                    }
                }
            }
            v
        };
        if strip(schemes(written)) != strip(schemes(served)) {
            diffs.push(format!(
                "security schemes:\n  yaml:   {}\n  served: {}",
                schemes(written),
                schemes(served)
            ));
        }
    }
    diffs
}

async fn served_specs() -> (Value, Value) {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let console: Value =
        serde_json::from_str(&console_service(app.state.clone()).spec()).expect("json");
    let admin: Value =
        serde_json::from_str(&admin_service(app.state.clone()).spec()).expect("json");
    (console, admin)
}

#[tokio::test]
async fn served_specs_equal_the_yaml() {
    let (console, admin) = served_specs().await;
    for (name, written, served) in [
        ("console", yaml(CONSOLE_SPEC), console),
        ("admin", yaml(ADMIN_SPEC), admin),
    ] {
        let diffs = differences(&written, &served);
        assert!(
            diffs.is_empty(),
            "{name}: the served spec drifted from the YAML:\n{}",
            diffs.join("\n")
        );
        assert!(
            operations(&written).len() > 5,
            "{name}: comparison saw no operations"
        );
    }
}

#[test]
fn the_comparison_catches_drift() {
    // Guards the guard: a changed type, a dropped parameter and a new status all show.
    let written = yaml(CONSOLE_SPEC);
    let mut drifted = written.clone();
    drifted["components"]["schemas"]["ErrorResponse"]["properties"]["status"]["format"] =
        json!("int64");
    let list = &mut drifted["paths"]["/console/api/enterprise-groups"]["get"];
    list["parameters"].as_array_mut().expect("params").pop();
    list["responses"]["418"] = json!({ "description": "teapot" });
    let diffs = differences(&written, &drifted);
    assert!(
        diffs.iter().any(|d| d.starts_with("schema ErrorResponse")),
        "{diffs:?}"
    );
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("operation GET /console/api/enterprise-groups")),
        "{diffs:?}"
    );
}

fn seed_operations(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn every_seed_operation_is_in_the_yaml_and_nothing_else_but_extensions() {
    for (written, seed) in [
        (yaml(CONSOLE_SPEC), include_str!("seeds/zgi-console.txt")),
        (yaml(ADMIN_SPEC), include_str!("seeds/alist-admin.txt")),
    ] {
        let seed = seed_operations(seed);
        let mut ids = BTreeSet::new();
        for (path, item) in written["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let key = format!("{} {}", method.to_uppercase(), path);
                let extension = op
                    .get("x-extension")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                assert!(
                    seed.contains(&key) != extension,
                    "{key}: seed operations must not be marked x-extension, others must be"
                );
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{key}: no operationId"));
                assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
                assert!(
                    id.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{id} is not snake_case"
                );
            }
        }
        for op in &seed {
            let (method, path) = op.split_once(' ').expect("METHOD path");
            assert!(
                written["paths"][path][method.to_lowercase()].is_object(),
                "seed operation {op} is missing from the YAML"
            );
        }
    }
}
