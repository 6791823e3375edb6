//! The surfaces' audit layer: every audited operation runs inside an `audit::Scope`, and
//! gets its event when it ends unless its change wrote it in its transaction already.

use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use serde_json::Value;

use crate::api::context::RequestContext;
use crate::api::spec_paths::PathTemplate;
use crate::audit::{self, Scope, Start};
use crate::state::AppState;

/// The JSON body `BodyGuard` parsed, left for the audit layer.
#[derive(Clone)]
pub struct ParsedBody(pub Arc<Value>);

/// One operation of a surface, as the layer needs it.
pub struct AuditedOp {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub success_status: u16,
    pub audited: bool,
}

/// How a surface names the outcome of a call that ended without writing its event.
pub type Outcome = fn(&poem::Error) -> (String, u16);
/// How a surface reads the outcome of an answer that may carry an error (AList's
/// envelope answers errors with HTTP 200).
pub type AnswerOutcome = fn(&Value) -> Option<(String, u16)>;

pub struct AuditLayer {
    pub surface: &'static str,
    pub state: Arc<AppState>,
    pub ops: Arc<Vec<AuditedOp>>,
    pub outcome: Outcome,
    /// `Some` for a surface whose successful HTTP answers may still be refusals.
    pub answer_outcome: Option<AnswerOutcome>,
}

impl<E: Endpoint> Middleware<E> for AuditLayer {
    type Output = AuditEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        let mut table: Vec<(Method, PathTemplate, usize)> = self
            .ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| {
                Some((
                    Method::from_bytes(op.method.as_bytes()).ok()?,
                    PathTemplate::parse(op.path),
                    i,
                ))
            })
            .collect();
        table.sort_by_key(|(_, t, _)| std::cmp::Reverse(t.literals()));
        // Most requests name a path without parameters: found by one hash lookup, so a
        // read pays next to nothing for not being audited.
        let literal = table
            .iter()
            .filter(|(_, _, i)| !self.ops[*i].path.contains('{'))
            .map(|(m, _, i)| ((m.clone(), self.ops[*i].path.to_string()), *i))
            .collect();
        table.retain(|(_, _, i)| self.ops[*i].path.contains('{'));
        AuditEndpoint {
            literal,
            inner,
            surface: self.surface,
            state: self.state.clone(),
            ops: self.ops.clone(),
            table,
            outcome: self.outcome,
            answer_outcome: self.answer_outcome,
        }
    }
}

pub struct AuditEndpoint<E> {
    inner: E,
    surface: &'static str,
    state: Arc<AppState>,
    ops: Arc<Vec<AuditedOp>>,
    literal: std::collections::HashMap<(Method, String), usize>,
    /// The templates with parameters, the more literal first.
    table: Vec<(Method, PathTemplate, usize)>,
    outcome: Outcome,
    answer_outcome: Option<AnswerOutcome>,
}

/// What a path or query parameter names, for the event's target.
fn target_kind(param: &str) -> Option<&'static str> {
    Some(match param {
        "group_id" => "group",
        "account_id" | "member_id" => "account",
        "tenant_id" => "workspace",
        "token_id" => "access_token",
        "session_id" => "session",
        _ => return None,
    })
}

impl<E: Endpoint> AuditEndpoint<E> {
    fn find(&self, req: &Request) -> Option<&AuditedOp> {
        let path = req.uri().path();
        let key = (req.method().clone(), path.to_string());
        let found = self.literal.get(&key).copied().or_else(|| {
            self.table
                .iter()
                .find(|(m, t, _)| m == req.method() && t.matches(path))
                .map(|(_, _, i)| *i)
        });
        found.map(|i| &self.ops[i])
    }

    fn start(&self, req: &Request, op: &AuditedOp) -> Start {
        let ctx = RequestContext::from_request(req, &self.state.trusted_proxies);
        let path = req.uri().path();
        let mut target = PathTemplate::captures(op.path, path)
            .into_iter()
            .filter_map(|(name, value)| target_kind(name).map(|k| (k, value.to_string())))
            .next_back();
        let body = req.extensions().get::<ParsedBody>().map(|b| b.0.clone());
        if target.is_none() {
            // `?id=` names the account on the console's account-ex calls, and the user on
            // the admin surface's user calls.
            let query_id = req.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.into_owned())
            });
            let kind = match self.surface {
                _ if op.path.contains("sshkey") => "ssh_key",
                "admin" => "admin_user",
                _ => "account",
            };
            target = query_id.map(|id| (kind, id));
        }
        Start {
            at: self.state.clock.now(),
            surface: self.surface,
            operation_id: op.operation_id,
            success_status: op.success_status,
            request_id: ctx.request_id.to_string(),
            client_ip: ctx.client_ip.map(|ip| ip.to_string()),
            user_agent: ctx.user_agent,
            target,
            changes: body.as_deref().and_then(audit::redacted),
        }
    }
}

impl<E: Endpoint> Endpoint for AuditEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // `AUDIT_TRAIL=off`: no scope, so `audit::commit` only commits and nothing records.
        let Some(op) = self
            .find(&req)
            .filter(|op| op.audited && self.state.audit_trail)
        else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let scope = Scope::new(self.start(&req, op));
        let result = scope
            .run(async { self.inner.call(req).await.map(IntoResponse::into_response) })
            .await;
        let (result, outcome, status) = match result {
            Err(err) => {
                let (outcome, status) = (self.outcome)(&err);
                (Err(err), outcome, status)
            }
            Ok(resp) => match self.answer_outcome {
                Some(read) => {
                    let (parts, body) = resp.into_parts();
                    let bytes = body.into_bytes().await.unwrap_or_default();
                    let found = serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| read(&v));
                    let (outcome, status) =
                        found.unwrap_or(("success".to_string(), parts.status.as_u16()));
                    let resp = Response::from_parts(parts, poem::Body::from_bytes(bytes));
                    (Ok(resp), outcome, status)
                }
                None => {
                    let status = resp.status().as_u16();
                    let outcome = if resp.status().is_success() || resp.status().is_redirection() {
                        "success".to_string()
                    } else {
                        format!("http_{status}")
                    };
                    (Ok(resp), outcome, status)
                }
            },
        };
        // With the database unreachable the call changed nothing, and writing its event
        // would only hold the answer up for another DATABASE_TIMEOUT: it is logged instead.
        if status == 503 || self.state.database.is_down() {
            tracing::warn!(
                operation = op.operation_id,
                outcome,
                "audit event not written: the database is unreachable"
            );
            return result;
        }
        // A lost event must not turn an answered call into a failure; it is logged loudly.
        if let Err(err) = scope.finish(&self.state.db, &outcome, status).await {
            tracing::error!(error = %err, operation = op.operation_id, "writing an audit event failed");
        }
        result
    }
}
