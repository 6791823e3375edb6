//! Writes the poem-openapi side of a surface: schema types, one response enum per
//! operation, one handler trait per tag, and the `#[OpenApi]` structs that route to them.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use crate::Surface;
use crate::spec::{
    self, Api, AuthzScope, IdSource, Limits, Op, ParamIn, SchemaDef, SecurityKind, SecurityScheme,
    Ty,
};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "gen", "try",
];

/// Names the generated wrapper methods use for their own arguments.
const RESERVED_PARAMS: &[&str] = &[
    "http_request",
    "credential",
    "body",
    "ctx",
    "principal",
    "access",
];

fn ident(wire: &str) -> String {
    let mut s: String = wire
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

fn pascal(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

fn rust_ty(ty: &Ty) -> String {
    match ty {
        Ty::String => "String".into(),
        Ty::Uuid => "::uuid::Uuid".into(),
        Ty::I32 => "i32".into(),
        Ty::I64 => "i64".into(),
        Ty::F64 => "f64".into(),
        Ty::Bool => "bool".into(),
        Ty::Json => "::serde_json::Value".into(),
        Ty::Named(n) => format!("schemas::{n}"),
        Ty::Vec(inner) => format!("Vec<{}>", rust_ty(inner)),
    }
}

fn doc_comment(out: &mut String, text: &str) {
    for line in text.trim().lines() {
        if line.trim().is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {}", line.trim_end());
        }
    }
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn validators(limits: &Limits) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(v) = limits.min_length {
        parts.push(format!("min_length = {v}"));
    }
    if let Some(v) = limits.max_length {
        parts.push(format!("max_length = {v}"));
    }
    if let Some(v) = limits.minimum {
        parts.push(format!("minimum(value = \"{v}\")"));
    }
    if let Some(v) = limits.maximum {
        parts.push(format!("maximum(value = \"{v}\")"));
    }
    if let Some(v) = limits.min_items {
        parts.push(format!("min_items = {v}"));
    }
    if let Some(v) = limits.max_items {
        parts.push(format!("max_items = {v}"));
    }
    (!parts.is_empty()).then(|| format!("validator({})", parts.join(", ")))
}

fn status_variant(status: u16) -> String {
    match status {
        200 => "Ok".into(),
        201 => "Created".into(),
        202 => "Accepted".into(),
        204 => "NoContent".into(),
        301 => "MovedPermanently".into(),
        302 => "Found".into(),
        303 => "SeeOther".into(),
        307 => "TemporaryRedirect".into(),
        400 => "BadRequest".into(),
        401 => "Unauthorized".into(),
        402 => "PaymentRequired".into(),
        403 => "Forbidden".into(),
        404 => "NotFound".into(),
        405 => "MethodNotAllowed".into(),
        409 => "Conflict".into(),
        413 => "PayloadTooLarge".into(),
        422 => "UnprocessableEntity".into(),
        429 => "TooManyRequests".into(),
        500 => "InternalServerError".into(),
        501 => "NotImplemented".into(),
        503 => "ServiceUnavailable".into(),
        other => format!("Status{other}"),
    }
}

fn schemas(api: &Api, out: &mut String) {
    out.push_str("/// Types of `components/schemas`.\npub mod schemas {\n");
    for def in &api.schemas {
        match def {
            SchemaDef::Enum {
                name,
                description,
                values,
            } => {
                doc_comment(out, description.as_deref().unwrap_or(name));
                let _ = writeln!(
                    out,
                    "#[derive(::poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum {name} {{"
                );
                for v in values {
                    let _ = writeln!(out, "#[oai(rename = {})]\n{},", lit(v), pascal(v));
                }
                out.push_str("}\n\n");
                let _ = writeln!(
                    out,
                    "impl {name} {{\n/// The value as sent on the wire.\npub fn as_str(self) -> &'static str {{\nmatch self {{"
                );
                for v in values {
                    let _ = writeln!(out, "Self::{} => {},", pascal(v), lit(v));
                }
                out.push_str("}\n}\n}\n\n");
            }
            SchemaDef::Object {
                name,
                description,
                fields,
            } => {
                doc_comment(out, description.as_deref().unwrap_or(name));
                let _ = writeln!(
                    out,
                    "#[derive(::poem_openapi::Object, Debug, Clone, PartialEq)]\npub struct {name} {{"
                );
                for f in fields {
                    if let Some(d) = &f.description {
                        doc_comment(out, d);
                    }
                    let mut attrs = Vec::new();
                    let id = ident(&f.wire);
                    if id.trim_start_matches("r#") != f.wire {
                        attrs.push(format!("rename = {}", lit(&f.wire)));
                    }
                    let optional = !f.required || f.nullable;
                    if f.nullable {
                        attrs.push("nullable".into());
                    } else if optional {
                        attrs.push("skip_serializing_if_is_none".into());
                    }
                    if let Some(v) = validators(&f.limits) {
                        attrs.push(v);
                    }
                    if !attrs.is_empty() {
                        let _ = writeln!(out, "#[oai({})]", attrs.join(", "));
                    }
                    let ty = rust_ty(&f.ty).replace("schemas::", "");
                    if optional {
                        let _ = writeln!(out, "pub {id}: Option<{ty}>,");
                    } else {
                        let _ = writeln!(out, "pub {id}: {ty},");
                    }
                }
                out.push_str("}\n\n");
            }
        }
    }
    out.push_str("}\n\n");
}

fn response_enum_name(op: &Op) -> String {
    format!("{}Response", pascal(&op.id))
}

fn responses(api: &Api, out: &mut String) {
    out.push_str("/// One enum per operation, one variant per documented status.\npub mod responses {\n#[allow(unused_imports)]\nuse super::schemas;\n\n");
    for op in &api.ops {
        let _ = writeln!(out, "/// Responses of `{}`.", op.id);
        let _ = writeln!(
            out,
            "#[derive(::poem_openapi::ApiResponse, Debug)]\npub enum {} {{",
            response_enum_name(op)
        );
        for r in &op.responses {
            doc_comment(out, &r.description);
            let _ = writeln!(out, "#[oai(status = {})]", r.status);
            let variant = status_variant(r.status);
            match (&r.body, r.location_header) {
                (Some(ty), _) => {
                    let _ = writeln!(
                        out,
                        "{variant}(::poem_openapi::payload::Json<{}>),",
                        rust_ty(ty)
                    );
                }
                (None, true) => {
                    let _ = write!(out, "{variant}(#[oai(header = \"Location\")] String");
                    for h in &r.headers {
                        out.push_str(",\n");
                        if let Some(d) = &h.description {
                            doc_comment(out, d);
                        }
                        let ty = if h.required {
                            "String"
                        } else {
                            "Option<String>"
                        };
                        let _ = write!(out, "#[oai(header = {})] {ty}", lit(&h.name));
                    }
                    out.push_str("),\n");
                }
                (None, false) => {
                    let _ = writeln!(out, "{variant},");
                }
            }
        }
        out.push_str("}\n\n");
    }
    out.push_str("}\n\n");
}

fn tags(api: &Api, out: &mut String) {
    out.push_str("/// The tags of the spec; each has a handler trait and a router.\n#[derive(::poem_openapi::Tags, Debug, Clone, Copy, PartialEq, Eq)]\npub enum Tag {\n");
    for (name, description) in &api.tags {
        if let Some(d) = description {
            doc_comment(out, d);
        }
        let _ = writeln!(out, "#[oai(rename = {})]\n{},", lit(name), pascal(name));
    }
    out.push_str("}\n\n");
}

fn security(api: &Api, out: &mut String) {
    for s in &api.security {
        optional_security(api, s, out);
        doc_comment(
            out,
            s.description
                .as_deref()
                .unwrap_or(&format!("Security scheme `{}`.", s.name)),
        );
        let ty = pascal(&s.name);
        match &s.kind {
            SecurityKind::Bearer { format } => {
                let fmt = format
                    .as_ref()
                    .map(|f| format!(", bearer_format = {}", lit(f)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "#[derive(::poem_openapi::SecurityScheme)]\n#[oai(rename = {}, ty = \"bearer\"{fmt})]\npub struct {ty}(pub ::poem_openapi::auth::Bearer);\n\nimpl {ty} {{\n/// The credential as sent.\npub fn credential(&self) -> &str {{\n&self.0.token\n}}\n}}\n",
                    lit(&s.name)
                );
            }
            SecurityKind::HeaderKey { header } => {
                let _ = writeln!(
                    out,
                    "#[derive(::poem_openapi::SecurityScheme)]\n#[oai(rename = {}, ty = \"api_key\", key_name = {}, key_in = \"header\")]\npub struct {ty}(pub ::poem_openapi::auth::ApiKey);\n\nimpl {ty} {{\n/// The credential as sent.\npub fn credential(&self) -> &str {{\n&self.0.key\n}}\n}}\n",
                    lit(&s.name),
                    lit(header)
                );
            }
        }
    }
}

/// For a scheme some operation lists as optional (`[{S: []}, {}]`): an enum whose fallback
/// variant stands for "no credential sent", handed to the gate as an empty credential.
fn optional_security(api: &Api, s: &SecurityScheme, out: &mut String) {
    let used = api
        .ops
        .iter()
        .any(|op| op.security_optional && op.security.as_deref() == Some(s.name.as_str()));
    if !used {
        return;
    }
    let ty = pascal(&s.name);
    let _ = writeln!(
        out,
        "/// `{ty}`, or nothing: operations whose security is `[{{{name}: []}}, {{}}]`.\n#[derive(::poem_openapi::SecurityScheme)]\npub enum Optional{ty} {{\n/// The credential was sent.\nSent({ty}),\n/// No credential was sent.\n#[oai(fallback)]\nAbsent,\n}}\n\nimpl Optional{ty} {{\n/// The credential as sent; empty when none was.\npub fn credential(&self) -> &str {{\nmatch self {{\nSelf::Sent(c) => c.credential(),\nSelf::Absent => \"\",\n}}\n}}\n}}\n",
        name = s.name
    );
}

fn operations(api: &Api, out: &mut String) {
    out.push_str("/// Every operation of the spec, for the authorization table and its coverage test.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {\n");
    for op in &api.ops {
        let _ = writeln!(out, "{},", pascal(&op.id));
    }
    out.push_str("}\n\nimpl Operation {\n/// All operations, in spec order.\npub const ALL: &'static [Operation] = &[\n");
    for op in &api.ops {
        let _ = writeln!(out, "Self::{},", pascal(&op.id));
    }
    out.push_str("];\n\n");
    let table = |out: &mut String, doc: &str, name: &str, ret: &str, f: &dyn Fn(&Op) -> String| {
        let _ = writeln!(
            out,
            "/// {doc}\npub fn {name}(self) -> {ret} {{\nmatch self {{"
        );
        for op in &api.ops {
            let _ = writeln!(out, "Self::{} => {},", pascal(&op.id), f(op));
        }
        out.push_str("}\n}\n\n");
    };
    table(
        out,
        "The `operationId`.",
        "operation_id",
        "&'static str",
        &|op| lit(&op.id),
    );
    table(
        out,
        "The HTTP method, upper case.",
        "method",
        "&'static str",
        &|op| lit(&op.method.to_uppercase()),
    );
    table(
        out,
        "The path template as written in the spec.",
        "path",
        "&'static str",
        &|op| lit(&op.path),
    );
    table(out, "The tag.", "tag", "Tag", &|op| {
        format!("Tag::{}", pascal(&op.tag))
    });
    table(
        out,
        "The status of the operation's first documented success answer.",
        "success_status",
        "u16",
        &|op| {
            op.responses
                .iter()
                .map(|r| r.status)
                .find(|s| (200..300).contains(s))
                .unwrap_or(200)
                .to_string()
        },
    );
    table(
        out,
        "Whether the operation needs a credential (has a security requirement).",
        "requires_credential",
        "bool",
        &|op| op.security.is_some().to_string(),
    );
    table(
        out,
        "What the operation's authorization is decided on (`x-authz-scope`), if more than the caller.",
        "authz_scope",
        "Option<ScopeKind>",
        &|op| match &op.scope {
            Some(scope) => format!("Some(ScopeKind::{})", scope.kind()),
            None => "None".into(),
        },
    );
    out.push_str("}\n\n");
    out.push_str(
        "/// The kinds of `x-authz-scope`: what a scoped operation's authorization is about.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\npub enum ScopeKind {\n\
         /// A group the request names (and an account in it, for some).\nGroup,\n\
         /// The caller's current group.\nCurrentGroup,\n\
         /// An account the request names.\nAccount,\n\
         /// A workspace the request names.\nWorkspace,\n}\n\n\
         /// The ids of a group-scoped request, as the router took them from the request.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\npub struct GroupScope {\n\
         /// The group the request is about.\npub group_id: ::uuid::Uuid,\n\
         /// The account the request names in that group, if it names one.\npub account_id: Option<::uuid::Uuid>,\n}\n\n",
    );
}

/// The scope kinds a spec uses, each with its access type, gate method and gate arguments.
struct ScopeGate {
    kind: &'static str,
    access: &'static str,
    method: &'static str,
    params: &'static str,
    doc: &'static str,
}

const SCOPE_GATES: &[ScopeGate] = &[
    ScopeGate {
        kind: "Group",
        access: "GroupAccess",
        method: "authorize_group",
        params: ", scope: GroupScope",
        doc: "a group the request names",
    },
    ScopeGate {
        kind: "CurrentGroup",
        access: "CurrentGroupAccess",
        method: "authorize_current_group",
        params: "",
        doc: "the caller's current group",
    },
    ScopeGate {
        kind: "Account",
        access: "AccountAccess",
        method: "authorize_account",
        params: ", account_id: ::uuid::Uuid",
        doc: "an account the request names",
    },
    ScopeGate {
        kind: "Workspace",
        access: "WorkspaceAccess",
        method: "authorize_workspace",
        params: ", tenant_id: ::uuid::Uuid",
        doc: "a workspace the request names",
    },
];

fn scope_gate(scope: &AuthzScope) -> &'static ScopeGate {
    // In SCOPE_GATES order.
    let index = match scope {
        AuthzScope::Group { .. } => 0,
        AuthzScope::CurrentGroup => 1,
        AuthzScope::Account { .. } => 2,
        AuthzScope::Workspace { .. } => 3,
    };
    &SCOPE_GATES[index]
}

/// The Rust expression of a scope id inside a generated router method.
fn id_expr(source: &IdSource) -> String {
    match source {
        IdSource::Path(name) => format!("{}.0", ident(name)),
        IdSource::Body(field) => format!("body.0.{}", ident(field)),
    }
}

/// The gate call of a scoped operation.
fn scope_call(scope: &AuthzScope, variant: &str) -> String {
    let gate = scope_gate(scope);
    let args = match scope {
        AuthzScope::Group { group, account } => format!(
            ", GroupScope {{ group_id: {}, account_id: {} }}",
            id_expr(group),
            account
                .as_ref()
                .map(|a| format!("Some({})", id_expr(a)))
                .unwrap_or_else(|| "None".into())
        ),
        AuthzScope::CurrentGroup => String::new(),
        AuthzScope::Account { account } => format!(", {}", id_expr(account)),
        AuthzScope::Workspace { workspace } => format!(", {}", id_expr(workspace)),
    };
    format!(
        "let access = self.0.{}(&ctx, Operation::{variant}, credential.credential(){args}).await?;",
        gate.method
    )
}

fn surface_trait(module: &str, api: &Api, out: &mut String) {
    let _ = writeln!(
        out,
        "/// What every handler trait of the `{module}` surface builds on: per-request context and\n/// the one place where callers are admitted and authenticated.\npub trait Surface: Send + Sync + 'static {{\n\
         /// Request facts a handler may need (client address, language, request id), taken\n/// once from the HTTP request so handlers never see it.\n\
         type Context: Send + Sync;\n\
         /// The authenticated caller handed to operations that need a credential.\n\
         type Principal: Send;\n\n\
         /// Builds the context of a request.\n\
         fn context(&self, request: &::poem::Request) -> Self::Context;\n\n\
         /// Decides whether an operation without a security requirement may run.\n\
         fn admit(&self, ctx: &Self::Context, op: Operation) -> impl Future<Output = ::poem::Result<()>> + Send;\n\n\
         /// Resolves the credential of an operation with a security requirement into the caller,\n/// and decides whether that caller may run `op`.\n\
         fn authenticate(&self, ctx: &Self::Context, op: Operation, credential: &str) -> impl Future<Output = ::poem::Result<Self::Principal>> + Send;"
    );
    for gate in SCOPE_GATES {
        let used = api
            .ops
            .iter()
            .any(|op| op.scope.as_ref().is_some_and(|s| s.kind() == gate.kind));
        if !used {
            continue;
        }
        let _ = writeln!(
            out,
            "\n/// Proof that the caller may run an operation scoped to {doc}; only the gate makes one,\n/// and the handler of such an operation cannot run without it.\n\
             type {access}: Send;\n\n\
             /// Resolves the credential and decides `op` for {doc}: the one place that decision is made.\n\
             fn {method}(&self, ctx: &Self::Context, op: Operation, credential: &str{params}) -> impl Future<Output = ::poem::Result<Self::{access}>> + Send;",
            doc = gate.doc,
            access = gate.access,
            method = gate.method,
            params = gate.params,
        );
    }
    out.push_str("}\n");
}

fn op_inputs(op: &Op) -> Vec<(String, String)> {
    let mut inputs = Vec::new();
    for p in &op.params {
        let ty = rust_ty(&p.ty);
        let ty = if p.required || p.default.is_some() {
            ty
        } else {
            format!("Option<{ty}>")
        };
        inputs.push((ident(&p.name), ty));
    }
    if let Some(b) = &op.body {
        inputs.push(("body".into(), format!("schemas::{b}")));
    }
    inputs
}

fn default_fn_name(op: &Op, param: &spec::Param) -> String {
    format!(
        "default_{}_{}",
        op.id,
        ident(&param.name).trim_start_matches("r#")
    )
}

fn default_fns(api: &Api, out: &mut String) -> Result<()> {
    for op in &api.ops {
        for p in &op.params {
            let Some(default) = &p.default else { continue };
            let value = match (&p.ty, default) {
                (Ty::I32 | Ty::I64, serde_json::Value::Number(n)) => n.to_string(),
                (Ty::Bool, serde_json::Value::Bool(b)) => b.to_string(),
                (Ty::String, serde_json::Value::String(s)) => format!("{}.to_string()", lit(s)),
                (Ty::Named(n), serde_json::Value::String(s)) => {
                    format!("schemas::{n}::{}", pascal(s))
                }
                _ => bail!("{}: unsupported default for parameter {}", op.id, p.name),
            };
            let _ = writeln!(
                out,
                "fn {}() -> {} {{\n{value}\n}}\n",
                default_fn_name(op, p),
                rust_ty(&p.ty)
            );
        }
    }
    Ok(())
}

fn handler_traits(api: &Api, out: &mut String) {
    for (tag, description) in &api.tags {
        let name = format!("{}Api", pascal(tag));
        let _ = writeln!(out, "/// Handlers of the `{tag}` tag.");
        if let Some(d) = description {
            out.push_str("///\n");
            doc_comment(out, d);
        }
        let _ = writeln!(out, "pub trait {name}: Surface {{");
        for op in api.ops.iter().filter(|o| o.tag == *tag) {
            doc_comment(
                out,
                &format!("`{} {}`: {}", op.method.to_uppercase(), op.path, op.summary),
            );
            let mut args = vec!["&self".to_string(), "ctx: Self::Context".to_string()];
            match (&op.scope, &op.security) {
                (Some(scope), _) => {
                    args.push(format!("access: Self::{}", scope_gate(scope).access));
                }
                (None, Some(_)) => args.push("principal: Self::Principal".into()),
                (None, None) => {}
            }
            for (n, t) in op_inputs(op) {
                args.push(format!("{n}: {t}"));
            }
            let _ = writeln!(
                out,
                "fn {}({}) -> impl Future<Output = ::poem::Result<responses::{}>> + Send;\n",
                ident(&op.id),
                args.join(", "),
                response_enum_name(op)
            );
        }
        out.push_str("}\n\n");
    }
}

fn routers(api: &Api, out: &mut String) -> Result<()> {
    for (tag, _) in &api.tags {
        let trait_name = format!("{}Api", pascal(tag));
        let router = format!("{}Routes", pascal(tag));
        let _ = writeln!(
            out,
            "/// Routes the `{tag}` operations to a [`{trait_name}`] implementation.\npub struct {router}<T>(pub ::std::sync::Arc<T>);\n\n#[::poem_openapi::OpenApi]\nimpl<T: {trait_name}> {router}<T> {{"
        );
        for op in api.ops.iter().filter(|o| o.tag == *tag) {
            let mut text = op.summary.clone();
            if let Some(d) = &op.description {
                text.push_str("\n\n");
                text.push_str(d);
            }
            doc_comment(out, &text);
            let poem_path: String = op
                .path
                .split('/')
                .map(
                    |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => format!(":{name}"),
                        None => seg.to_string(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/");
            let _ = writeln!(
                out,
                "#[oai(path = {}, method = \"{}\", operation_id = {}, tag = \"Tag::{}\"{})]",
                lit(&poem_path),
                op.method,
                lit(&op.id),
                pascal(&op.tag),
                if op.deprecated { ", deprecated" } else { "" }
            );
            let mut args = vec![
                "&self".to_string(),
                "http_request: &::poem::Request".to_string(),
            ];
            if let Some(s) = &op.security {
                if op.security_optional {
                    args.push(format!("credential: Optional{}", pascal(s)));
                } else {
                    args.push(format!("credential: {}", pascal(s)));
                }
            }
            let mut call = vec!["ctx".to_string()];
            match (&op.scope, &op.security) {
                (Some(_), _) => call.push("access".into()),
                (None, Some(_)) => call.push("principal".into()),
                (None, None) => {}
            }
            for p in &op.params {
                let name = ident(&p.name);
                if RESERVED_PARAMS.contains(&name.as_str()) {
                    bail!(
                        "{}: parameter name {} clashes with a generated name",
                        op.id,
                        p.name
                    );
                }
                let mut attrs = vec![format!("name = {}", lit(&p.name))];
                if p.default.is_some() {
                    attrs.push(format!("default = \"{}\"", default_fn_name(op, p)));
                }
                if let Some(v) = validators(&p.limits) {
                    attrs.push(v);
                }
                let wrapper = match p.location {
                    ParamIn::Path => "Path",
                    ParamIn::Query => "Query",
                    ParamIn::Cookie => "Cookie",
                };
                let ty = rust_ty(&p.ty);
                let ty = if p.required || p.default.is_some() {
                    ty
                } else {
                    format!("Option<{ty}>")
                };
                let desc = p
                    .description
                    .as_ref()
                    .map(|d| format!("/// {}\n", d.lines().next().unwrap_or_default()))
                    .unwrap_or_default();
                args.push(format!(
                    "{desc}#[oai({})] {name}: ::poem_openapi::param::{wrapper}<{ty}>",
                    attrs.join(", ")
                ));
                call.push(format!("{name}.0"));
            }
            if let Some(b) = &op.body {
                args.push(format!("body: ::poem_openapi::payload::Json<schemas::{b}>"));
                call.push("body.0".into());
            }
            let variant = pascal(&op.id);
            let gate = if let Some(scope) = &op.scope {
                scope_call(scope, &variant)
            } else if op.security.is_some() {
                format!(
                    "let principal = self.0.authenticate(&ctx, Operation::{variant}, credential.credential()).await?;"
                )
            } else {
                format!("self.0.admit(&ctx, Operation::{variant}).await?;")
            };
            let _ = writeln!(
                out,
                "async fn {}({}) -> ::poem::Result<responses::{}> {{\nlet ctx = self.0.context(http_request);\n{gate}\nself.0.{}({}).await\n}}\n",
                ident(&op.id),
                args.join(", "),
                response_enum_name(op),
                ident(&op.id),
                call.join(", ")
            );
        }
        out.push_str("}\n\n");
    }
    Ok(())
}

pub fn generate(surface: &Surface, doc: &openapiv3::OpenAPI) -> Result<String> {
    let api = spec::read(doc)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Server side of `{}`: schema types, response enums, handler traits and routers.\n",
        surface.spec_path
    );
    out.push_str("#![allow(clippy::too_many_arguments, clippy::large_enum_variant, clippy::enum_variant_names, clippy::type_complexity)]\n\nuse std::future::Future;\n\n");
    schemas(&api, &mut out);
    responses(&api, &mut out);
    tags(&api, &mut out);
    security(&api, &mut out);
    operations(&api, &mut out);
    surface_trait(surface.module, &api, &mut out);
    default_fns(&api, &mut out)?;
    handler_traits(&api, &mut out);
    routers(&api, &mut out)?;
    // One trait naming the whole surface, so the server can ask for all of it at once.
    let all: Vec<String> = api
        .tags
        .iter()
        .map(|(t, _)| format!("{}Api", pascal(t)))
        .collect();
    let routes: Vec<String> = api
        .tags
        .iter()
        .map(|(t, _)| format!("{}Routes<T>", pascal(t)))
        .collect();
    let builders: Vec<String> = api
        .tags
        .iter()
        .map(|(t, _)| format!("{}Routes(imp.clone())", pascal(t)))
        .collect();
    let _ = writeln!(
        out,
        "/// The whole surface: every handler trait.\npub trait Handlers: {} {{}}\n\nimpl<T: {}> Handlers for T {{}}\n\n/// All routers of the surface, ready for `OpenApiService::new`.\npub fn routes<T: Handlers>(imp: ::std::sync::Arc<T>) -> ({},) {{\n({},)\n}}",
        all.join(" + "),
        all.join(" + "),
        routes.join(", "),
        builders.join(", ")
    );
    Ok(out)
}
