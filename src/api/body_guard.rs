//! Checks a JSON request body against its operation's schema before the handler's typed
//! parsing runs, and caps its size. poem-openapi alone would coerce `5` or `true` into a
//! string field and report type errors without the field's name; clients of this API get
//! the field named instead: "`email` must be a string", "`password` is required".
//!
//! The rules are read once from the surface's generated spec, so they are exactly the
//! schemas the handlers parse with.

use std::collections::HashMap;
use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{Body, Endpoint, Middleware, Request};
use serde_json::Value;

use crate::api::spec_paths::{self, PathTemplate};

/// Largest request body either surface accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A body that does not match its schema; rendered as 400 `invalid_param`.
#[derive(Debug, thiserror::Error)]
#[error("Invalid request body: {0}")]
pub struct InvalidBody(pub String);

impl poem::error::ResponseError for InvalidBody {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

struct Route {
    method: Method,
    path: PathTemplate,
    schema: Value,
}

/// The request-body schemas of one surface, by operation.
pub struct BodyRules {
    routes: Vec<Route>,
    schemas: HashMap<String, Value>,
}

impl BodyRules {
    /// No rules: every body passes to the typed parsers.
    pub fn empty() -> Self {
        Self {
            routes: Vec::new(),
            schemas: HashMap::new(),
        }
    }

    /// Reads the rules from an OpenAPI document (JSON, as `OpenApiService::spec` writes it).
    pub fn from_spec(spec: &str) -> Result<Self, serde_json::Error> {
        let doc: Value = serde_json::from_str(spec)?;
        let schemas = doc["components"]["schemas"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let routes = spec_paths::operations(&doc)
            .filter_map(|(method, path, op)| {
                let schema = op["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.iter().find(|(k, _)| k.starts_with("application/json")))
                    .map(|(_, m)| m["schema"].clone())?;
                Some(Route {
                    method,
                    path,
                    schema,
                })
            })
            .collect();
        Ok(Self { routes, schemas })
    }

    fn schema_for(&self, method: &Method, path: &str) -> Option<&Value> {
        self.routes
            .iter()
            .find(|r| r.method == method && r.path.matches(path))
            .map(|r| &r.schema)
    }

    /// Checks `body` against the schema of `METHOD path`; bodies of operations without
    /// one pass.
    pub fn check(&self, method: &Method, path: &str, body: &Value) -> Result<(), String> {
        match self.schema_for(method, path) {
            Some(schema) => self.check_value(schema, body, None),
            None => Ok(()),
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => r
                .rsplit('/')
                .next()
                .and_then(|name| self.schemas.get(name))
                .unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn check_value(
        &self,
        schema: &Value,
        value: &Value,
        field: Option<&str>,
    ) -> Result<(), String> {
        let mut nullable = schema["nullable"].as_bool().unwrap_or(false);
        // A nullable reference is `allOf: [$ref, {nullable: true, …}]` in a generated spec.
        let schema = match schema["allOf"].as_array() {
            Some(all_of) => {
                nullable |= all_of
                    .iter()
                    .any(|e| e["nullable"].as_bool().unwrap_or(false));
                all_of
                    .iter()
                    .find(|e| e.get("$ref").is_some())
                    .map_or(&Value::Null, |r| self.resolve(r))
            }
            None => self.resolve(schema),
        };
        let nullable = nullable || schema["nullable"].as_bool().unwrap_or(false);
        let subject = match field {
            Some(f) => format!("`{f}`"),
            None => "the body".to_string(),
        };
        if value.is_null() {
            return if nullable {
                Ok(())
            } else {
                Err(format!("{subject} must not be null"))
            };
        }
        if let Some(allowed) = schema["enum"].as_array() {
            return if allowed.contains(value) {
                Ok(())
            } else {
                let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                Err(format!("{subject} must be one of: {}", names.join(", ")))
            };
        }
        let ok = match schema["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return Err(format!("{subject} must be an array"));
                };
                for (i, item) in items.iter().enumerate() {
                    let name = format!("{}[{i}]", field.unwrap_or("body"));
                    self.check_value(&schema["items"], item, Some(&name))?;
                }
                true
            }
            Some("object") => {
                let Some(object) = value.as_object() else {
                    return Err(format!("{subject} must be a JSON object"));
                };
                self.check_object(schema, object, field)?;
                true
            }
            // No type: any JSON value.
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            let expected = match schema["type"].as_str() {
                Some("integer") => "an integer",
                Some("number") => "a number",
                Some("boolean") => "a boolean",
                _ => "a string",
            };
            Err(format!("{subject} must be {expected}"))
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        object: &serde_json::Map<String, Value>,
        field: Option<&str>,
    ) -> Result<(), String> {
        let Some(properties) = schema["properties"].as_object() else {
            return Ok(());
        };
        let qualified = |name: &str| match field {
            Some(f) => format!("{f}.{name}"),
            None => name.to_string(),
        };
        for name in schema["required"].as_array().into_iter().flatten() {
            let Some(name) = name.as_str() else { continue };
            if !object.contains_key(name) {
                return Err(format!("`{}` is required", qualified(name)));
            }
        }
        for (name, property) in properties {
            if let Some(value) = object.get(name) {
                // An optional field may be sent as null to mean "not given".
                let optional = !schema["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|n| n == name));
                if value.is_null() && optional {
                    continue;
                }
                self.check_value(property, value, Some(&qualified(name)))?;
            }
        }
        Ok(())
    }
}

/// The middleware: size cap, then the schema check, for every request of a surface.
pub struct BodyGuard(pub Arc<BodyRules>);

impl<E: Endpoint> Middleware<E> for BodyGuard {
    type Output = BodyGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyGuardEndpoint {
            inner,
            rules: self.0.clone(),
        }
    }
}

pub struct BodyGuardEndpoint<E> {
    inner: E,
    rules: Arc<BodyRules>,
}

impl<E: Endpoint> Endpoint for BodyGuardEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(poem::error::ReadBodyError::PayloadTooLarge.into());
        }
        if declared == Some(0) {
            return self.inner.call(req).await;
        }
        let bytes = req.take_body().into_bytes_limit(MAX_BODY_BYTES).await?;
        let is_json = req
            .header(header::CONTENT_TYPE)
            .is_some_and(|t| t.starts_with("application/json"));
        if is_json && !bytes.is_empty() {
            // Malformed JSON is left to the typed parser, whose message says where it broke.
            if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                self.rules
                    .check(req.method(), req.uri().path(), &value)
                    .map_err(InvalidBody)?;
                // Parsed once: the audit layer takes the fields an event records from it.
                req.extensions_mut()
                    .insert(crate::api::audit_layer::ParsedBody(std::sync::Arc::new(
                        value,
                    )));
            }
        }
        req.set_body(Body::from_bytes(bytes));
        self.inner.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> BodyRules {
        let spec = json!({
            "paths": { "/things/{id}": { "put": { "requestBody": { "content": {
                "application/json; charset=utf-8": { "schema": { "$ref": "#/components/schemas/Thing" } }
            } } } } },
            "components": { "schemas": {
                "Thing": {
                    "type": "object",
                    "required": ["name", "kind", "tags"],
                    "properties": {
                        "name": { "type": "string" },
                        "kind": { "$ref": "#/components/schemas/Kind" },
                        "size": { "type": "integer", "format": "int32" },
                        "tags": { "type": "array", "items": { "type": "string" } },
                        "note": { "type": "string", "nullable": true },
                        "inner": { "allOf": [{ "$ref": "#/components/schemas/Inner" }, { "nullable": true }], "nullable": true },
                        "extra": {}
                    }
                },
                "Kind": { "type": "string", "enum": ["a", "b"] },
                "Inner": { "type": "object", "required": ["on"], "properties": { "on": { "type": "boolean" } } }
            } }
        });
        BodyRules::from_spec(&spec.to_string()).expect("rules")
    }

    fn check(body: Value) -> Result<(), String> {
        rules().check(&Method::PUT, "/things/42", &body)
    }

    #[test]
    fn accepts_what_the_schema_allows() {
        assert_eq!(check(json!({"name": "x", "kind": "a", "tags": []})), Ok(()));
        assert_eq!(
            check(
                json!({"name": "x", "kind": "b", "tags": ["t"], "size": 3, "note": null,
                         "inner": {"on": true}, "extra": {"any": [1]}, "unknown": 1})
            ),
            Ok(())
        );
        assert_eq!(
            check(json!({"name": "x", "kind": "a", "tags": [], "inner": null, "size": null})),
            Ok(())
        );
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let cases = [
            (json!({"kind": "a", "tags": []}), "`name` is required"),
            (
                json!({"name": 5, "kind": "a", "tags": []}),
                "`name` must be a string",
            ),
            (
                json!({"name": true, "kind": "a", "tags": []}),
                "`name` must be a string",
            ),
            (
                json!({"name": null, "kind": "a", "tags": []}),
                "`name` must not be null",
            ),
            (
                json!({"name": "x", "kind": "c", "tags": []}),
                "`kind` must be one of: a, b",
            ),
            (
                json!({"name": "x", "kind": "a", "tags": [1]}),
                "`tags[0]` must be a string",
            ),
            (
                json!({"name": "x", "kind": "a", "tags": "t"}),
                "`tags` must be an array",
            ),
            (
                json!({"name": "x", "kind": "a", "tags": [], "size": 1.5}),
                "`size` must be an integer",
            ),
            (
                json!({"name": "x", "kind": "a", "tags": [], "inner": {}}),
                "`inner.on` is required",
            ),
            (
                json!({"name": "x", "kind": "a", "tags": [], "inner": {"on": "yes"}}),
                "`inner.on` must be a boolean",
            ),
            (json!(["x"]), "the body must be a JSON object"),
        ];
        for (body, message) in cases {
            assert_eq!(check(body.clone()), Err(message.to_string()), "{body}");
        }
    }

    #[test]
    fn other_routes_and_methods_are_not_checked() {
        let r = rules();
        assert_eq!(r.check(&Method::POST, "/things/42", &json!(1)), Ok(()));
        assert_eq!(r.check(&Method::PUT, "/things/42/more", &json!(1)), Ok(()));
        assert_eq!(r.check(&Method::PUT, "/other/42", &json!(1)), Ok(()));
    }
}
