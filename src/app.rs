//! The poem application: both API surfaces, Swagger UI, the specs as written, health and
//! readiness, and the middleware around them (request ids and tracing, body limits,
//! panics, error envelopes).

use std::sync::Arc;
use std::time::Instant;

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::middleware::CatchPanic;
use poem::web::Path;
use poem::{
    Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response, Route, get, handler,
};
use poem_openapi::OpenApiService;
use tracing::Instrument;

use crate::api::admin::{self, AdminHandlers};
use crate::api::audit_layer::{AuditLayer, AuditedOp};
use crate::api::body_guard::{BodyGuard, BodyRules};
use crate::api::console::{self, ConsoleHandlers};
use crate::api::context::RequestId;
use crate::api::error_layer::ErrorEnvelope;
use crate::api::generated;
use crate::api::spec_paths::{AllowedMethods, OperationIndex};
use crate::state::AppState;

/// The contract, exactly as written; served at `/openapi/*.yaml` and printed by `openapi`.
pub const CONSOLE_SPEC: &str = include_str!("../openapi/console.yaml");
pub const ADMIN_SPEC: &str = include_str!("../openapi/admin.yaml");

type ConsoleRoutes = (
    generated::console::SetupRoutes<ConsoleHandlers>,
    generated::console::EnterpriseGroupRoutes<ConsoleHandlers>,
    generated::console::AccountRoutes<ConsoleHandlers>,
    generated::console::AuthRoutes<ConsoleHandlers>,
    generated::console::WorkspaceRoutes<ConsoleHandlers>,
    generated::console::AuditRoutes<ConsoleHandlers>,
    generated::console::AccessTokenRoutes<ConsoleHandlers>,
);

type AdminRoutes = (
    generated::admin::AdminUserRoutes<AdminHandlers>,
    generated::admin::AuthRoutes<AdminHandlers>,
    generated::admin::MeRoutes<AdminHandlers>,
    generated::admin::PublicRoutes<AdminHandlers>,
    generated::admin::FsRoutes<AdminHandlers>,
);

pub fn console_service(state: Arc<AppState>) -> OpenApiService<ConsoleRoutes, ()> {
    let handlers = Arc::new(ConsoleHandlers { state });
    OpenApiService::new(
        generated::console::routes(handlers),
        "zgi-next console API",
        env!("CARGO_PKG_VERSION"),
    )
}

pub fn admin_service(state: Arc<AppState>) -> OpenApiService<AdminRoutes, ()> {
    let handlers = Arc::new(AdminHandlers { state });
    OpenApiService::new(
        generated::admin::routes(handlers),
        "AList-compatible admin user API",
        env!("CARGO_PKG_VERSION"),
    )
}

pub fn build(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    let state_for_gate = state.clone();
    let console_api = console_service(state.clone());
    let console_spec = console_api.spec();
    let console_api = console_api
        .with(console_audit(state.clone()))
        .with(BodyGuard(body_rules(&console_spec)))
        .with(ErrorEnvelope {
            render: console::error::render,
            allow: allowed_methods(&console_spec),
        });
    let admin_api = admin_service(state.clone());
    let admin_spec = admin_api.spec();
    let admin_api = admin_api
        .with(admin_audit(state.clone()))
        .with(BodyGuard(body_rules(&admin_spec)))
        .with(ErrorEnvelope {
            render: admin::error::render,
            allow: allowed_methods(&admin_spec),
        });
    Route::new()
        .nest_no_strip("/console/api", console_api)
        .nest_no_strip("/api", admin_api)
        .nest_no_strip("/swagger-ui", get(swagger_ui.data(swagger_config())))
        .at("/openapi/:file", get(spec_file))
        .at("/health", get(health))
        .at("/ready", get(ready.data(state)))
        .with(ErrorEnvelope::without_paths(console::error::render))
        .with(PhaseGate(state_for_gate))
        .with(CatchPanic::new().with_handler(panic_response))
        .with(RequestTracing)
}

fn console_audit(state: Arc<AppState>) -> AuditLayer {
    use generated::console::Operation;
    AuditLayer {
        surface: "console",
        state,
        ops: Arc::new(
            Operation::ALL
                .iter()
                .map(|op| AuditedOp {
                    method: op.method(),
                    path: op.path(),
                    operation_id: op.operation_id(),
                    success_status: op.success_status(),
                    audited: console::authz::audited(*op),
                })
                .collect(),
        ),
        outcome: console::error::outcome,
        answer_outcome: None,
    }
}

fn admin_audit(state: Arc<AppState>) -> AuditLayer {
    use generated::admin::Operation;
    AuditLayer {
        surface: "admin",
        state,
        ops: Arc::new(
            Operation::ALL
                .iter()
                .map(|op| AuditedOp {
                    method: op.method(),
                    path: op.path(),
                    operation_id: op.operation_id(),
                    success_status: op.success_status(),
                    audited: admin::authz::audited(*op),
                })
                .collect(),
        ),
        outcome: admin::error::outcome,
        answer_outcome: Some(admin::error::answer_outcome),
    }
}

/// The server's phase applied to every request: while starting (migrating), or while the
/// database is known to be down (`db::Health`), the API surfaces answer 503 in their
/// envelopes at once (health, readiness, specs and Swagger UI need no database and are
/// served); a 503 makes the database suspect; while draining every answer closes its
/// connection, so no client is left holding a kept-alive connection the server is about to
/// close.
pub struct PhaseGate(Arc<AppState>);

impl<E: Endpoint> Middleware<E> for PhaseGate {
    type Output = PhaseGateEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        PhaseGateEndpoint {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The API surface a path belongs to, for answering 503 in its envelope.
#[derive(Clone, Copy)]
enum Surface {
    Console,
    Admin,
}

impl Surface {
    fn of(path: &str) -> Option<Self> {
        if path.starts_with("/console/api") {
            Some(Self::Console)
        } else if path.starts_with("/api/") || path == "/api" {
            Some(Self::Admin)
        } else {
            None
        }
    }

    fn unavailable(self) -> Response {
        match self {
            Self::Console => console::ConsoleError::unavailable().as_response(),
            Self::Admin => {
                admin::AdminError::new(503, "service temporarily unavailable").as_response()
            }
        }
    }
}

pub struct PhaseGateEndpoint<E> {
    inner: E,
    state: Arc<AppState>,
}

impl<E: Endpoint> Endpoint for PhaseGateEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        use crate::state::PhaseKind;
        let phase = self.state.phase.get();
        let surface = Surface::of(req.uri().path());
        if (phase == PhaseKind::Starting || self.state.database.is_down())
            && let Some(surface) = surface
        {
            return Ok(surface.unavailable());
        }
        match phase {
            PhaseKind::Serving | PhaseKind::Starting => {
                let resp = match surface {
                    Some(surface) => tokio::select! {
                        biased;
                        resp = self.inner.call(req) => resp?.into_response(),
                        () = self.state.database.went_down() => surface.unavailable(),
                    },
                    None => self.inner.call(req).await?.into_response(),
                };
                if phase == PhaseKind::Serving && resp.status() == StatusCode::SERVICE_UNAVAILABLE {
                    self.state.database.suspect(&self.state.db);
                }
                Ok(resp)
            }
            PhaseKind::Draining => {
                let mut resp = self.inner.call(req).await?.into_response();
                resp.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                Ok(resp)
            }
        }
    }
}

/// The body rules of a surface, from its generated spec. That spec is produced by our own
/// generated code, so failing to read it is a build defect; an empty rule set then keeps
/// the typed parsers as the only check rather than refusing to start.
fn body_rules(spec: &str) -> Arc<BodyRules> {
    match BodyRules::from_spec(spec) {
        Ok(rules) => Arc::new(rules),
        Err(err) => {
            tracing::error!(error = %err, "cannot read the generated spec; body checks are off");
            Arc::new(BodyRules::empty())
        }
    }
}

/// The methods of each path of a surface, from its generated spec (see `body_rules`: a
/// spec we cannot read leaves 405s without `Allow` rather than refusing to start).
fn allowed_methods(spec: &str) -> Arc<AllowedMethods> {
    match AllowedMethods::from_spec(spec) {
        Ok(allowed) => Arc::new(allowed),
        Err(err) => {
            tracing::error!(error = %err, "cannot read the generated spec; 405s carry no Allow");
            Arc::new(AllowedMethods::empty())
        }
    }
}

/// A panic is a bug: log it inside the request's span and answer like any other
/// unexpected failure, in the console envelope, without the panic's text.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %text, "handler panicked");
    console::ConsoleError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_server_error",
        "Internal Server Error",
    )
    .as_response()
}

#[handler]
fn health() -> Response {
    json_status(StatusCode::OK, "ok")
}

/// How long `/ready` waits for the database's answer: well under the 1–2 s a load
/// balancer's probe allows, so a database that is down reads "not ready", not a timeout.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

#[handler]
async fn ready(state: poem::web::Data<&Arc<AppState>>) -> Response {
    use crate::state::PhaseKind;
    match state.phase.get() {
        PhaseKind::Starting => return json_status(StatusCode::SERVICE_UNAVAILABLE, "starting"),
        PhaseKind::Draining => return json_status(StatusCode::SERVICE_UNAVAILABLE, "draining"),
        PhaseKind::Serving => {}
    }
    if state.database.is_down() {
        return json_status(StatusCode::SERVICE_UNAVAILABLE, "database unreachable");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => json_status(StatusCode::OK, "ok"),
        Ok(Err(err)) => {
            state.database.suspect(&state.db);
            tracing::warn!(error = %err, "readiness: database unreachable");
            json_status(StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => {
            state.database.suspect(&state.db);
            tracing::warn!("readiness: the database did not answer in time");
            json_status(StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

fn json_status(status: StatusCode, text: &str) -> Response {
    poem::web::Json(serde_json::json!({ "status": text }))
        .with_status(status)
        .into_response()
}

#[handler]
fn spec_file(Path(file): Path<String>) -> poem::Result<Response> {
    let text = match file.as_str() {
        "console.yaml" => CONSOLE_SPEC,
        "admin.yaml" => ADMIN_SPEC,
        _ => return Err(poem::error::NotFoundError.into()),
    };
    Ok(text
        .with_content_type("application/yaml; charset=utf-8")
        .into_response())
}

/// Swagger UI's settings: both specs selectable, the token kept across reloads, deep links
/// to operations (`#/Tag/operation_id`), operation ids shown (they are the SDK's method
/// names). No online validator badge: Swagger UI would otherwise load an image from
/// validator.swagger.io with the spec's URL on every page view (on any host but localhost),
/// telling a third party where the server is, and showing an error badge when it cannot
/// reach the spec.
fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    Arc::new(
        utoipa_swagger_ui::Config::new([
            utoipa_swagger_ui::Url::with_primary("console", "/openapi/console.yaml", true),
            utoipa_swagger_ui::Url::new("admin", "/openapi/admin.yaml"),
        ])
        .persist_authorization(true)
        .deep_linking(true)
        .display_operation_id(true)
        .filter(true)
        .validator_url("none"),
    )
}

/// Serves the vendored Swagger UI. The route is nested without stripping, so the path still
/// starts with `/swagger-ui`; what follows is the asset's name (`/swagger-ui/swagger-ui.css`
/// → `swagger-ui.css`), or nothing for the page itself.
#[handler]
fn swagger_ui(
    req: &Request,
    config: poem::web::Data<&Arc<utoipa_swagger_ui::Config<'static>>>,
) -> poem::Result<Response> {
    let Some(tail) = req.uri().path().strip_prefix("/swagger-ui") else {
        return Err(poem::error::NotFoundError.into());
    };
    if tail.is_empty() {
        // Relative asset URLs need the trailing slash.
        return Ok(Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, "/swagger-ui/")
            .finish());
    }
    let Some(asset) = tail.strip_prefix('/') else {
        // `/swagger-uiX`: not ours.
        return Err(poem::error::NotFoundError.into());
    };
    match utoipa_swagger_ui::serve(asset, config.0.clone()) {
        Ok(Some(file)) => {
            let resp = Response::builder().content_type(file.content_type);
            // Only with the crate's `gzip` feature (off here); honour it if it is turned on.
            let resp = if file.gzpipped {
                resp.header(header::CONTENT_ENCODING, "gzip")
            } else {
                resp
            };
            Ok(resp.body(file.bytes.to_vec()))
        }
        Ok(None) => Err(poem::error::NotFoundError.into()),
        Err(err) => Err(poem::Error::from_string(
            err.to_string(),
            StatusCode::INTERNAL_SERVER_ERROR,
        )),
    }
}

/// Gives each request an id (`x-request-id`), runs it in a span carrying that id, and logs
/// its outcome.
pub struct RequestTracing;

/// The operations of both surfaces, for naming each request in the log.
static OPERATIONS: std::sync::LazyLock<OperationIndex> = std::sync::LazyLock::new(|| {
    use crate::api::generated::{admin, console};
    OperationIndex::new(
        console::Operation::ALL
            .iter()
            .map(|op| (op.method(), op.path(), op.operation_id()))
            .chain(
                admin::Operation::ALL
                    .iter()
                    .map(|op| (op.method(), op.path(), op.operation_id())),
            ),
    )
});

impl<E: Endpoint> Middleware<E> for RequestTracing {
    type Output = RequestTracingEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestTracingEndpoint(inner)
    }
}

pub struct RequestTracingEndpoint<E>(E);

impl<E: Endpoint> Endpoint for RequestTracingEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // A version 4 UUID from the thread's CSPRNG (`Uuid::new_v4` makes a getrandom
        // system call per request), written without an intermediate `String`.
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let id: Arc<str> =
            Arc::from(&*uuid.simple().encode_lower(&mut uuid::Uuid::encode_buffer()));
        req.extensions_mut().insert(RequestId(id.clone()));
        let span = tracing::info_span!(
            "request",
            id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            operation = tracing::field::Empty
        );
        // Naming the operation walks the route table: only for a span that is logged, or
        // for the metrics when they are on.
        let metrics = crate::metrics::enabled();
        let operation = if metrics || !span.is_disabled() {
            OPERATIONS.find(req.method(), req.uri().path())
        } else {
            None
        };
        if !span.is_disabled() {
            span.record("operation", operation.unwrap_or("-"));
        }
        let surface = crate::metrics::surface_of(req.uri().path());
        let started = Instant::now();
        async move {
            let (resp, statements) = crate::db::statements::counted(self.0.call(req)).await;
            let mut resp = match resp {
                Ok(r) => r.into_response(),
                Err(err) => err.into_response(),
            };
            let status = resp.status();
            let took = started.elapsed();
            if metrics {
                let op = operation.unwrap_or("-");
                crate::metrics::request(surface, op, status.as_u16(), took, statements);
            }
            crate::db::statements::note(&id, statements);
            let micros = took.as_micros() as u64;
            if status.is_server_error() {
                tracing::warn!(
                    status = status.as_u16(),
                    micros,
                    statements,
                    "request failed"
                );
            } else {
                tracing::info!(status = status.as_u16(), micros, statements, "request done");
            }
            if let Ok(value) = header::HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-request-id", value);
            }
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}
