//! Reads an OpenAPI document into the small model the server generator needs, refusing
//! anything outside the subset described in `openapi/CONVENTIONS.md`.

use anyhow::{Context, Result, anyhow, bail};
use openapiv3::{
    IntegerType, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr, Schema,
    SchemaKind, StatusCode, Type, VariantOrUnknownOrEmpty,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String,
    Uuid,
    I32,
    I64,
    F64,
    Bool,
    /// A free-form JSON object.
    Json,
    /// A component schema (object or enum).
    Named(String),
    Vec(Box<Ty>),
}

#[derive(Debug, Default, Clone)]
pub struct Limits {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
}

#[derive(Debug)]
pub struct Field {
    pub wire: String,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
    pub description: Option<String>,
    pub limits: Limits,
}

#[derive(Debug)]
pub enum SchemaDef {
    Object {
        name: String,
        description: Option<String>,
        fields: Vec<Field>,
    },
    Enum {
        name: String,
        description: Option<String>,
        values: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamIn {
    Path,
    Query,
    /// A cookie the browser carries (the server set it); never required.
    Cookie,
}

#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub location: ParamIn,
    pub ty: Ty,
    pub required: bool,
    pub default: Option<serde_json::Value>,
    pub description: Option<String>,
    pub limits: Limits,
}

/// A response header of a redirect besides `Location` (`Set-Cookie`, `Cache-Control`, …):
/// a string the handler sets, always sent when `required`.
#[derive(Debug)]
pub struct Header {
    pub name: String,
    pub required: bool,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub description: String,
    pub body: Option<Ty>,
    pub location_header: bool,
    /// The redirect's other headers, in the order the YAML lists them.
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone)]
pub enum SecurityKind {
    Bearer { format: Option<String> },
    HeaderKey { header: String },
}

#[derive(Debug)]
pub struct SecurityScheme {
    pub name: String,
    pub kind: SecurityKind,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct Op {
    pub id: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    pub description: Option<String>,
    pub deprecated: bool,
    pub security: Option<String>,
    /// `security: [{Scheme: []}, {}]`: the credential may be left out (the handler then
    /// sees an empty credential).
    pub security_optional: bool,
    pub params: Vec<Param>,
    pub body: Option<String>,
    pub responses: Vec<Response>,
    /// `x-authz-scope`: the ids the operation's authorization is decided on.
    pub scope: Option<AuthzScope>,
}

/// Where an id of an `x-authz-scope` comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum IdSource {
    /// A path parameter (`group_id`).
    Path(String),
    /// A required field of the request body (`body.id`).
    Body(String),
}

/// `x-authz-scope` of an operation: what its authorization decision is about, so the
/// generated router hands the gate those ids and the handler the gate's proof.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthzScope {
    /// `{group: <id>, account: <id>?}`: a group (and an account the request names in it).
    Group {
        group: IdSource,
        account: Option<IdSource>,
    },
    /// `{group: current}`: the caller's current group.
    CurrentGroup,
    /// `{account: <id>}`: an account, in whatever groups it belongs to.
    Account { account: IdSource },
    /// `{workspace: <id>}`: a workspace.
    Workspace { workspace: IdSource },
}

impl AuthzScope {
    /// The generated `ScopeKind` variant.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthzScope::Group { .. } => "Group",
            AuthzScope::CurrentGroup => "CurrentGroup",
            AuthzScope::Account { .. } => "Account",
            AuthzScope::Workspace { .. } => "Workspace",
        }
    }
}

fn id_source(id: &str, key: &str, value: &serde_json::Value) -> Result<IdSource> {
    let text = value
        .as_str()
        .ok_or_else(|| anyhow!("{id}: x-authz-scope.{key} must be a string"))?;
    Ok(match text.strip_prefix("body.") {
        Some(field) => IdSource::Body(field.to_string()),
        None => IdSource::Path(text.to_string()),
    })
}

fn authz_scope(id: &str, op: &Operation) -> Result<Option<AuthzScope>> {
    let Some(value) = op.extensions.get("x-authz-scope") else {
        return Ok(None);
    };
    let map = value
        .as_object()
        .ok_or_else(|| anyhow!("{id}: x-authz-scope must be a mapping"))?;
    if let Some(k) = map
        .keys()
        .find(|k| !["group", "account", "workspace"].contains(&k.as_str()))
    {
        bail!("{id}: x-authz-scope has an unknown key {k}");
    }
    let get = |key: &str| map.get(key).map(|v| id_source(id, key, v)).transpose();
    let scope = match (get("group")?, get("account")?, get("workspace")?) {
        (Some(IdSource::Path(g)), None, None) if g == "current" => AuthzScope::CurrentGroup,
        (Some(group), account, None) => AuthzScope::Group { group, account },
        (None, Some(account), None) => AuthzScope::Account { account },
        (None, None, Some(workspace)) => AuthzScope::Workspace { workspace },
        _ => {
            bail!("{id}: x-authz-scope names a group (and an account), an account, or a workspace")
        }
    };
    Ok(Some(scope))
}

/// Every id of a scope names a required uuid: a path parameter or a body field.
fn check_scope(op: &Op, schemas: &[SchemaDef]) -> Result<()> {
    let sources: Vec<&IdSource> = match &op.scope {
        None | Some(AuthzScope::CurrentGroup) => Vec::new(),
        Some(AuthzScope::Group { group, account }) => {
            std::iter::once(group).chain(account).collect()
        }
        Some(AuthzScope::Account { account }) => vec![account],
        Some(AuthzScope::Workspace { workspace }) => vec![workspace],
    };
    if op.scope.is_some() && op.security.is_none() {
        bail!("{}: x-authz-scope needs a security requirement", op.id);
    }
    for source in sources {
        let ok = match source {
            IdSource::Path(name) => op
                .params
                .iter()
                .any(|p| p.name == *name && p.location == ParamIn::Path && p.ty == Ty::Uuid),
            IdSource::Body(field) => op.body.as_ref().is_some_and(|body| {
                schemas.iter().any(|s| match s {
                    SchemaDef::Object { name, fields, .. } if name == body => fields
                        .iter()
                        .any(|f| f.wire == *field && f.required && !f.nullable && f.ty == Ty::Uuid),
                    _ => false,
                })
            }),
        };
        if !ok {
            bail!(
                "{}: x-authz-scope names {source:?}, which is not a uuid path parameter or required uuid body field",
                op.id
            );
        }
    }
    Ok(())
}

#[derive(Debug)]
pub struct Api {
    pub tags: Vec<(String, Option<String>)>,
    pub schemas: Vec<SchemaDef>,
    pub security: Vec<SecurityScheme>,
    pub ops: Vec<Op>,
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";

fn ref_name(reference: &str) -> Result<String> {
    reference
        .strip_prefix(SCHEMA_PREFIX)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("only {SCHEMA_PREFIX}* references are supported, found {reference}"))
}

fn int_ty(i: &IntegerType) -> Result<Ty> {
    match &i.format {
        VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32) => Ok(Ty::I32),
        VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int64) => Ok(Ty::I64),
        _ => bail!("integers need `format: int32` or `format: int64`"),
    }
}

/// A property or parameter schema: returns its type, nullability and limits.
fn property(schema: &ReferenceOr<Box<Schema>>) -> Result<(Ty, bool, Limits, Option<String>)> {
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            return Ok((
                Ty::Named(ref_name(reference)?),
                false,
                Limits::default(),
                None,
            ));
        }
        ReferenceOr::Item(s) => s,
    };
    let nullable = schema.schema_data.nullable;
    let description = schema.schema_data.description.clone();
    let mut limits = Limits::default();
    let ty = match &schema.schema_kind {
        SchemaKind::AllOf { all_of } => match all_of.as_slice() {
            [ReferenceOr::Reference { reference }] => Ty::Named(ref_name(reference)?),
            _ => bail!("allOf must hold exactly one $ref"),
        },
        SchemaKind::Type(Type::String(s)) => {
            if !s.enumeration.is_empty() {
                bail!("inline enums are not supported: name the enum in components/schemas");
            }
            limits.min_length = s.min_length;
            limits.max_length = s.max_length;
            match &s.format {
                VariantOrUnknownOrEmpty::Empty => Ty::String,
                VariantOrUnknownOrEmpty::Unknown(f) if f == "uuid" => Ty::Uuid,
                other => bail!("unsupported string format {other:?}"),
            }
        }
        SchemaKind::Type(Type::Integer(i)) => {
            limits.minimum = i.minimum.map(|v| v as f64);
            limits.maximum = i.maximum.map(|v| v as f64);
            int_ty(i)?
        }
        SchemaKind::Type(Type::Number(n)) => {
            limits.minimum = n.minimum;
            limits.maximum = n.maximum;
            Ty::F64
        }
        SchemaKind::Type(Type::Boolean(_)) => Ty::Bool,
        SchemaKind::Type(Type::Array(a)) => {
            let items = a
                .items
                .as_ref()
                .ok_or_else(|| anyhow!("arrays need `items`"))?;
            let (inner, inner_nullable, item_limits, _) = property(items)?;
            if inner_nullable || matches!(inner, Ty::Vec(_)) {
                bail!("array items must be a non-null primitive or $ref");
            }
            // poem-openapi applies element validators to each item of a list.
            limits = Limits {
                min_items: a.min_items,
                max_items: a.max_items,
                ..item_limits
            };
            Ty::Vec(Box::new(inner))
        }
        SchemaKind::Type(Type::Object(o)) => {
            if !o.properties.is_empty() {
                bail!(
                    "inline objects with properties are not supported: name them in components/schemas"
                );
            }
            Ty::Json
        }
        other => bail!("unsupported schema construct {other:?}"),
    };
    Ok((ty, nullable, limits, description))
}

fn schema_def(name: &str, schema: &ReferenceOr<Schema>) -> Result<SchemaDef> {
    let schema = schema
        .as_item()
        .ok_or_else(|| anyhow!("component schemas cannot be references"))?;
    let description = schema.schema_data.description.clone();
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) if !s.enumeration.is_empty() => Ok(SchemaDef::Enum {
            name: name.to_string(),
            description,
            values: s
                .enumeration
                .iter()
                .map(|v| v.clone().ok_or_else(|| anyhow!("null enum value")))
                .collect::<Result<_>>()?,
        }),
        SchemaKind::Type(Type::Object(o)) => {
            let mut fields = Vec::new();
            for (wire, prop) in &o.properties {
                let (ty, nullable, limits, description) =
                    property(prop).with_context(|| format!("property {name}.{wire}"))?;
                fields.push(Field {
                    wire: wire.clone(),
                    ty,
                    required: o.required.contains(wire),
                    nullable,
                    description,
                    limits,
                });
            }
            for req in &o.required {
                if !o.properties.contains_key(req) {
                    bail!("{name}: required property {req} is not defined");
                }
            }
            Ok(SchemaDef::Object {
                name: name.to_string(),
                description,
                fields,
            })
        }
        _ => bail!("component schema {name} must be an object or a string enum"),
    }
}

fn response_body(content: &indexmap::IndexMap<String, openapiv3::MediaType>) -> Result<Option<Ty>> {
    if content.is_empty() {
        return Ok(None);
    }
    let media = content
        .get("application/json")
        .filter(|_| content.len() == 1)
        .ok_or_else(|| anyhow!("responses carry application/json only"))?;
    let schema = media
        .schema
        .as_ref()
        .ok_or_else(|| anyhow!("response content needs a schema"))?;
    let ty = match schema {
        ReferenceOr::Reference { reference } => Ty::Named(ref_name(reference)?),
        ReferenceOr::Item(s) => match &s.schema_kind {
            SchemaKind::Type(Type::Array(a)) => match &a.items {
                Some(ReferenceOr::Reference { reference }) => {
                    Ty::Vec(Box::new(Ty::Named(ref_name(reference)?)))
                }
                _ => bail!("response arrays must have $ref items"),
            },
            _ => bail!("response bodies must be a $ref or an array of $ref"),
        },
    };
    Ok(Some(ty))
}

fn operation(method: &str, path: &str, op: &Operation, doc: &OpenAPI) -> Result<Op> {
    let id = op
        .operation_id
        .clone()
        .ok_or_else(|| anyhow!("missing operationId"))?;
    let tag = match op.tags.as_slice() {
        [t] => t.clone(),
        _ => bail!("{id}: needs exactly one tag"),
    };
    let summary = op
        .summary
        .clone()
        .ok_or_else(|| anyhow!("{id}: missing summary"))?;
    let (security, security_optional) = match op.security.as_ref().or(doc.security.as_ref()) {
        None => (None, false),
        Some(reqs) if reqs.is_empty() => (None, false),
        Some(reqs) => match reqs.as_slice() {
            [req] if req.len() == 1 => (req.keys().next().cloned(), false),
            [req, none] if req.len() == 1 && none.is_empty() => (req.keys().next().cloned(), true),
            _ => bail!(
                "{id}: security must name one scheme, one scheme or none (`[{{S: []}}, {{}}]`), or be empty"
            ),
        },
    };
    let mut params = Vec::new();
    for p in &op.parameters {
        let p = p
            .as_item()
            .ok_or_else(|| anyhow!("{id}: parameters must be inline"))?;
        let (data, location) = match p {
            Parameter::Path { parameter_data, .. } => (parameter_data, ParamIn::Path),
            Parameter::Query { parameter_data, .. } => (parameter_data, ParamIn::Query),
            Parameter::Cookie { parameter_data, .. } => (parameter_data, ParamIn::Cookie),
            _ => bail!("{id}: only path, query and cookie parameters are supported"),
        };
        let ParameterSchemaOrContent::Schema(schema) = &data.format else {
            bail!("{id}: parameter {} needs a schema", data.name);
        };
        let boxed = match schema {
            ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                reference: reference.clone(),
            },
            ReferenceOr::Item(s) => ReferenceOr::Item(Box::new(s.clone())),
        };
        let (ty, _, limits, _) =
            property(&boxed).with_context(|| format!("{id}: parameter {}", data.name))?;
        if matches!(ty, Ty::Json | Ty::Vec(_)) {
            bail!(
                "{id}: parameter {} must be a primitive or an enum",
                data.name
            );
        }
        let default = schema.as_item().and_then(|s| s.schema_data.default.clone());
        if location == ParamIn::Path && !data.required {
            bail!("{id}: path parameter {} must be required", data.name);
        }
        if location == ParamIn::Cookie && (data.required || ty != Ty::String || default.is_some()) {
            bail!(
                "{id}: cookie parameter {} must be an optional string without a default",
                data.name
            );
        }
        if default.is_some() && data.required {
            bail!(
                "{id}: parameter {} has a default and is required",
                data.name
            );
        }
        params.push(Param {
            name: data.name.clone(),
            location,
            ty,
            required: data.required,
            default,
            description: data.description.clone(),
            limits,
        });
    }
    let body = match &op.request_body {
        None => None,
        Some(ReferenceOr::Reference { .. }) => bail!("{id}: request bodies must be inline"),
        Some(ReferenceOr::Item(rb)) => {
            if !rb.required {
                bail!("{id}: request bodies must be `required: true`");
            }
            match response_body(&rb.content)? {
                Some(Ty::Named(n)) => Some(n),
                _ => bail!("{id}: a request body is a $ref to an object schema"),
            }
        }
    };
    let mut responses = Vec::new();
    for (code, resp) in &op.responses.responses {
        let StatusCode::Code(status) = code else {
            bail!("{id}: status ranges are not supported");
        };
        let resp = resp
            .as_item()
            .ok_or_else(|| anyhow!("{id}: responses must be inline"))?;
        let body = response_body(&resp.content).with_context(|| format!("{id}: {status}"))?;
        let location_header = resp.headers.contains_key("Location");
        if location_header && body.is_some() {
            bail!("{id}: a redirect has no body");
        }
        let mut headers = Vec::new();
        for (name, header) in &resp.headers {
            let header = header
                .as_item()
                .ok_or_else(|| anyhow!("{id}: {status}: response headers must be inline"))?;
            let is_string = matches!(
                &header.format,
                ParameterSchemaOrContent::Schema(ReferenceOr::Item(Schema {
                    schema_kind: SchemaKind::Type(Type::String(_)),
                    ..
                }))
            );
            if !is_string {
                bail!("{id}: {status}: response header {name} needs `schema: {{type: string}}`");
            }
            if name == "Location" {
                if !header.required {
                    bail!("{id}: {status}: the Location header is `required: true`");
                }
                continue;
            }
            if !location_header {
                bail!("{id}: {status}: response headers other than Location go on a redirect only");
            }
            if name.eq_ignore_ascii_case("location")
                || name.eq_ignore_ascii_case("content-type")
                || name.eq_ignore_ascii_case("content-length")
            {
                bail!("{id}: {status}: response header {name} is not one a handler sets");
            }
            headers.push(Header {
                name: name.clone(),
                required: header.required,
                description: header.description.clone(),
            });
        }
        responses.push(Response {
            status: *status,
            description: resp.description.clone(),
            body,
            location_header,
            headers,
        });
    }
    if op.responses.default.is_some() {
        bail!("{id}: `default` responses are not supported");
    }
    let successes = responses.iter().filter(|r| r.status < 400).count();
    if successes != 1 {
        bail!("{id}: needs exactly one success (2xx/3xx) response, has {successes}");
    }
    let scope = authz_scope(&id, op)?;
    Ok(Op {
        id,
        method: method.to_string(),
        path: path.to_string(),
        tag,
        summary,
        description: op.description.clone(),
        deprecated: op.deprecated,
        security,
        security_optional,
        params,
        body,
        responses,
        scope,
    })
}

pub fn read(doc: &OpenAPI) -> Result<Api> {
    let tags: Vec<(String, Option<String>)> = doc
        .tags
        .iter()
        .map(|t| (t.name.clone(), t.description.clone()))
        .collect();
    let components = doc
        .components
        .as_ref()
        .ok_or_else(|| anyhow!("missing components"))?;
    let mut schemas = Vec::new();
    for (name, schema) in &components.schemas {
        schemas.push(schema_def(name, schema).with_context(|| format!("schema {name}"))?);
    }
    let mut security = Vec::new();
    for (name, scheme) in &components.security_schemes {
        let scheme = scheme
            .as_item()
            .ok_or_else(|| anyhow!("security schemes must be inline"))?;
        let (kind, description) = match scheme {
            openapiv3::SecurityScheme::HTTP {
                scheme,
                bearer_format,
                description,
                ..
            } if scheme.eq_ignore_ascii_case("bearer") => (
                SecurityKind::Bearer {
                    format: bearer_format.clone(),
                },
                description.clone(),
            ),
            openapiv3::SecurityScheme::APIKey {
                location: openapiv3::APIKeyLocation::Header,
                name: header,
                description,
                ..
            } => (
                SecurityKind::HeaderKey {
                    header: header.clone(),
                },
                description.clone(),
            ),
            _ => bail!("security scheme {name}: only http bearer and header api keys"),
        };
        security.push(SecurityScheme {
            name: name.clone(),
            kind,
            description,
        });
    }
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        let item = item
            .as_item()
            .ok_or_else(|| anyhow!("{path}: path items must be inline"))?;
        if !item.parameters.is_empty() {
            bail!("{path}: put parameters on the operations, not the path");
        }
        for (method, op) in item.iter() {
            let op =
                operation(method, path, op, doc).with_context(|| format!("{method} {path}"))?;
            if !tags.iter().any(|(t, _)| *t == op.tag) {
                bail!("{}: tag {} is not declared", op.id, op.tag);
            }
            if let Some(s) = &op.security
                && !security.iter().any(|d| d.name == *s)
            {
                bail!("{}: unknown security scheme {s}", op.id);
            }
            check_scope(&op, &schemas)?;
            ops.push(op);
        }
    }
    let mut ids: Vec<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        bail!("duplicate operationId {}", w[0]);
    }
    Ok(Api {
        tags,
        schemas,
        security,
        ops,
    })
}
