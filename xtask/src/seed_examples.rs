//! `cargo xtask seed-examples`: the seed documents' JSON examples, kept in the repository
//! and checked against the contracts.
//!
//! The seeds (`zgi-console-api.md`, `alist-admin-user-api.md`) live outside the project.
//! `cargo xtask seed-examples --from DIR` reads them once and writes every ```` ```json ````
//! block to `openapi/seed-examples/{console,admin}.json`: the operation it belongs to
//! (method, path as in the YAML, operationId), whether it is a request body or a response
//! (and with which status, and how the seed says so), its index among that operation's
//! examples of that kind and status, and the block itself, verbatim. CI never runs the
//! extractor; those files are the test's input.
//!
//! The tests at the end of this file (so `cargo test --workspace` runs them, with nothing
//! but the repository) validate every example against the schema the contract gives that
//! operation and status and compare the failures with `openapi/seed-divergences.yaml`. A
//! failure that is not listed fails, and so does a listed example that validates (a stale
//! entry), a listed one that now fails differently, and a divergence section of
//! `docs/contract-notes*.md` that is not what `--render-docs` renders from the list.
//!
//! The validator is this file's own, over `serde_json::Value`, rather than the `jsonschema`
//! crate: the contracts are OpenAPI 3.0, whose schemas are not JSON Schema (`nullable`,
//! boolean `exclusiveMinimum`, siblings of `$ref` ignored, readOnly/writeOnly), and the
//! contract's nullable references (`allOf: [$ref]` + `nullable: true`) mean "the reference
//! or null" to the generator and the server, which a strict 3.0 → JSON Schema conversion
//! would reject. Converting for `jsonschema` needs the same rewriting and a large
//! dependency tree; the subset in `openapi/CONVENTIONS.md` is small, and any keyword the
//! validator does not implement fails the test instead of being ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One surface: its seed document and where its examples, spec and notes live.
struct Seed {
    surface: &'static str,
    seed_file: &'static str,
    spec_path: &'static str,
    examples_path: &'static str,
    docs_path: &'static str,
    /// Seed data models (`# 数据模型`) → the component schema that stands for each.
    models: &'static [(&'static str, &'static str)],
}

const SEEDS: [Seed; 2] = [
    Seed {
        surface: "console",
        seed_file: "zgi-console-api.md",
        spec_path: "openapi/console.yaml",
        examples_path: "openapi/seed-examples/console.json",
        docs_path: "docs/contract-notes.md",
        models: &[("enterprise group role enum", "AssignableGroupRole")],
    },
    Seed {
        surface: "admin",
        seed_file: "alist-admin-user-api.md",
        spec_path: "openapi/admin.yaml",
        examples_path: "openapi/seed-examples/admin.json",
        docs_path: "docs/contract-notes-admin.md",
        models: &[],
    },
];

const DIVERGENCES_PATH: &str = "openapi/seed-divergences.yaml";
const BEGIN: &str = "<!-- seed-divergences:begin -->";
const END: &str = "<!-- seed-divergences:end -->";
const USAGE: &str = "usage: cargo xtask seed-examples [--root DIR] [--check | --from SEEDS_DIR [--verbatim] | --render-docs]";

/// `cargo xtask seed-examples [--root DIR] [--check | --from DIR [--verbatim] | --render-docs]`
/// (`--root`: another checkout than this one).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    match args {
        [flag, dir, rest @ ..] if flag == "--root" => run(Path::new(dir), rest),
        [] => report(root),
        [flag] if flag == "--check" => report(root),
        [flag] if flag == "--render-docs" => render_docs(root),
        [flag, dir, rest @ ..]
            if flag == "--from" && (rest.is_empty() || rest == ["--verbatim"]) =>
        {
            let verbatim = !rest.is_empty();
            for seed in &SEEDS {
                let examples = extract(root, seed, &Path::new(dir).join(seed.seed_file), verbatim)?;
                let out = root.join(seed.examples_path);
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&out, write_examples(seed, &examples)?)
                    .with_context(|| format!("writing {}", seed.examples_path))?;
                println!("wrote {} ({} examples)", seed.examples_path, examples.len());
            }
            report(root)
        }
        _ => bail!("{USAGE}"),
    }
}

// ------------------------------------------------------------------------ the examples

/// What an example is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Request,
    Response(u16),
    /// A seed data model's example, checked against a component schema.
    Schema,
}

impl Kind {
    fn label(&self) -> String {
        match self {
            Kind::Request => "request".into(),
            Kind::Response(status) => format!("response {status}"),
            Kind::Schema => "schema".into(),
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        match text.split_once(' ') {
            None if text == "request" => Some(Kind::Request),
            None if text == "schema" => Some(Kind::Schema),
            Some(("response", status)) => status.parse().ok().map(Kind::Response),
            _ => None,
        }
    }
}

/// Names one example: the operationId (or schema name), `request` / `response 200` /
/// `schema`, and its index among that operation's examples of that kind and status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    target: String,
    example: String,
    index: usize,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} #{}", self.target, self.example, self.index)
    }
}

/// One example as committed in `openapi/seed-examples/*.json`.
#[derive(Debug, Clone)]
struct Example {
    seq: usize,
    line: usize,
    /// operationId, or the component schema of a `Kind::Schema` example.
    target: String,
    /// `METHOD path` as the seed has it (empty for schema examples).
    endpoint: Option<(String, String)>,
    kind: Kind,
    index: usize,
    /// The parsed block, or its raw text and the parse error.
    value: Result<Value, (String, String)>,
}

impl Example {
    fn key(&self) -> Key {
        Key {
            target: self.target.clone(),
            example: self.kind.label(),
            index: self.index,
        }
    }
}

fn load_examples(root: &Path, seed: &Seed) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(root.join(seed.examples_path))
        .with_context(|| format!("reading {}", seed.examples_path))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", seed.examples_path))?;
    let entries = doc["examples"]
        .as_array()
        .with_context(|| format!("{}: no `examples` array", seed.examples_path))?;
    entries
        .iter()
        .map(|e| {
            let field = |name: &str| {
                e.get(name).with_context(|| {
                    format!("{}: an example has no `{name}`: {e}", seed.examples_path)
                })
            };
            let int = |name: &str| -> Result<usize> {
                field(name)?
                    .as_u64()
                    .map(|n| n as usize)
                    .with_context(|| format!("{}: `{name}` is not an integer", seed.examples_path))
            };
            let kind = match field("kind")?.as_str() {
                Some("request") => Kind::Request,
                Some("response") => Kind::Response(int("status")? as u16),
                Some("schema") => Kind::Schema,
                other => bail!("{}: unknown kind {other:?}", seed.examples_path),
            };
            let target = match kind {
                Kind::Schema => field("schema")?,
                _ => field("operation_id")?,
            }
            .as_str()
            .context("target is not a string")?
            .to_string();
            let endpoint = match (e.get("method"), e.get("path")) {
                (Some(Value::String(m)), Some(Value::String(p))) => Some((m.clone(), p.clone())),
                _ => None,
            };
            let value = match (e.get("value"), e.get("raw")) {
                (Some(v), None) => Ok(v.clone()),
                (None, Some(Value::String(raw))) => Err((
                    raw.clone(),
                    e["parse_error"].as_str().unwrap_or_default().to_string(),
                )),
                _ => bail!("{}: an example needs `value` or `raw`", seed.examples_path),
            };
            Ok(Example {
                seq: int("seq")?,
                line: int("line")?,
                target,
                endpoint,
                kind,
                index: int("index")?,
                value,
            })
        })
        .collect()
}

// ------------------------------------------------------------------------- extraction

/// A ```json block of a seed, before it is matched to the contract.
struct Block {
    line: usize,
    title: String,
    /// `(METHOD, path as the seed writes it)`, or the seed data model's name.
    owner: Result<(String, String), String>,
    kind: RawKind,
    label: Option<String>,
    raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RawKind {
    Request,
    Response {
        status: Option<u16>,
        from: &'static str,
    },
    Model,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Request,
    Response,
}

/// `GET /console/api/setup` and the like.
fn endpoint_line(line: &str) -> Option<(String, String)> {
    let (method, path) = line.trim().split_once(' ')?;
    let known = ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method);
    (known && path.starts_with('/') && !path.contains(' '))
        .then(|| (method.to_string(), path.to_string()))
}

/// The seed's `{string:group_id}` (a Flask converter) is the contract's `{group_id}`.
fn contract_path(seed_path: &str) -> String {
    let mut out = String::new();
    let mut rest = seed_path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let inner = &rest[open + 1..close];
        out.push_str(&rest[..open]);
        out.push('{');
        out.push_str(inner.rsplit(':').next().unwrap_or(inner));
        out.push('}');
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The Dify error envelope names its HTTP status (`{"code": "…", "status": 403}`).
fn status_in_body(raw: &str) -> Option<u16> {
    let value: Value = serde_json::from_str(raw).ok()?;
    value.get("code")?.as_str()?;
    value.get("status")?.as_u64().map(|s| s as u16)
}

/// Every ```json block of one seed document, in order, with what it belongs to.
fn parse_seed(text: &str) -> Result<Vec<Block>> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut title = String::new();
    let mut owner: Option<Result<(String, String), String>> = None;
    let mut in_models = false;
    let mut section = Section::None;
    let mut label: Option<String> = None;
    let mut in_table = false;
    let mut table: Vec<u16> = Vec::new();
    // Blocks of the current operation whose status comes from its status table.
    let mut pending: Vec<usize> = Vec::new();
    let mut fence: Option<(usize, Vec<&str>)> = None;

    let finish = |blocks: &mut Vec<Block>, pending: &mut Vec<usize>, table: &mut Vec<u16>| {
        let status = match table.as_slice() {
            [] => (200, "assumed"),
            [one] => (*one, "table"),
            many => bail!(
                "line {}: several statuses {many:?} and an example that names none",
                pending.first().map_or(0, |&i| blocks[i].line)
            ),
        };
        for &i in pending.iter() {
            blocks[i].kind = RawKind::Response {
                status: Some(status.0),
                from: status.1,
            };
        }
        pending.clear();
        table.clear();
        Ok(())
    };

    for (n, line) in text.lines().enumerate() {
        let number = n + 1;
        let trimmed = line.trim();
        if let Some((start, body)) = &mut fence {
            if trimmed == "```" {
                let raw = body
                    .iter()
                    .map(|l| l.trim_end())
                    .collect::<Vec<_>>()
                    .join("\n")
                    .trim_end()
                    .to_string();
                let Some(owner) = owner.clone() else {
                    bail!("line {start}: a JSON block before any operation");
                };
                let kind = match (section, &owner) {
                    (_, Err(_)) => RawKind::Model,
                    (Section::Request, _) => RawKind::Request,
                    (Section::Response, _) => {
                        let heading = label
                            .as_deref()
                            .and_then(|l| l.strip_suffix(" Response"))
                            .and_then(|s| s.parse().ok());
                        match (heading, status_in_body(&raw)) {
                            (Some(s), _) => RawKind::Response {
                                status: Some(s),
                                from: "heading",
                            },
                            (None, Some(s)) => RawKind::Response {
                                status: Some(s),
                                from: "body",
                            },
                            (None, None) => {
                                pending.push(blocks.len());
                                RawKind::Response {
                                    status: None,
                                    from: "table",
                                }
                            }
                        }
                    }
                    (Section::None, _) => {
                        bail!("line {start}: a JSON block outside a request or response section")
                    }
                };
                blocks.push(Block {
                    line: *start,
                    title: title.clone(),
                    owner,
                    kind,
                    label: label.clone(),
                    raw,
                });
                fence = None;
            } else {
                body.push(line);
            }
            continue;
        }
        if trimmed.starts_with("```json") {
            fence = Some((number, Vec::new()));
        } else if let Some(heading) = line.strip_prefix("# ") {
            finish(&mut blocks, &mut pending, &mut table)?;
            in_models = heading.trim() == "数据模型";
            owner = None;
            section = Section::None;
            in_table = false;
        } else if let Some(heading) = line.strip_prefix("## ") {
            finish(&mut blocks, &mut pending, &mut table)?;
            title = heading.trim().to_string();
            owner = None;
            section = Section::None;
            label = None;
            in_table = false;
        } else if in_models && trimmed.starts_with("<h2 id=") {
            finish(&mut blocks, &mut pending, &mut table)?;
            let name = trimmed
                .split_once('>')
                .and_then(|(_, rest)| rest.split_once("</h2>"))
                .map(|(name, _)| name.to_string())
                .with_context(|| format!("line {number}: unreadable model heading"))?;
            title = name.clone();
            owner = Some(Err(name));
            section = Section::Response;
            label = None;
        } else if !in_models && let Some(endpoint) = endpoint_line(line) {
            owner = Some(Ok(endpoint));
        } else if trimmed == "> Body 请求参数" {
            section = Section::Request;
            label = None;
        } else if trimmed == "> 返回示例" || trimmed == "### 返回示例" {
            section = Section::Response;
            label = None;
        } else if trimmed == "### 返回结果" {
            section = Section::None;
            in_table = true;
        } else if trimmed.starts_with('#') {
            in_table = false;
            if !in_models {
                section = Section::None;
            }
        } else if let Some(text) = trimmed.strip_prefix('>')
            && section == Section::Response
        {
            label = Some(text.trim().to_string());
        } else if in_table && trimmed.starts_with('|') {
            let cell = trimmed.trim_matches('|').split('|').next().unwrap_or("");
            if let Ok(status) = cell.trim().parse::<u16>() {
                table.push(status);
            }
        }
    }
    if let Some((start, _)) = fence {
        bail!("line {start}: unterminated JSON block");
    }
    finish(&mut blocks, &mut pending, &mut table)?;
    Ok(blocks)
}

/// One extracted example, ready to be written.
struct Extracted {
    block: Block,
    /// Whether personal data was replaced in `block.raw`.
    pseudonymized: bool,
    target: String,
    path: Option<String>,
    kind: Kind,
    status_from: Option<&'static str>,
    index: usize,
}

fn extract(root: &Path, seed: &Seed, seed_file: &Path, verbatim: bool) -> Result<Vec<Extracted>> {
    let text = std::fs::read_to_string(seed_file)
        .with_context(|| format!("reading {}", seed_file.display()))?;
    let spec = load_spec(root, seed)?;
    let blocks = parse_seed(&text)?;
    let mut pseudonyms = Pseudonyms::default();
    if !verbatim {
        for block in &blocks {
            if let Ok(value) = serde_json::from_str::<Value>(&block.raw) {
                pseudonyms.collect(None, &value);
            }
        }
    }
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for mut block in blocks {
        let original = block.raw.clone();
        block.raw = pseudonyms.apply(&block.raw)?;
        let pseudonymized = block.raw != original;
        let (target, path, kind, status_from) = match (&block.owner, block.kind) {
            (Ok((method, seed_path)), kind) => {
                let path = contract_path(seed_path);
                let op = &spec["paths"][&path][method.to_lowercase()];
                let id = op["operationId"].as_str().with_context(|| {
                    format!(
                        "{}:{}: {method} {path} is not an operation of {}",
                        seed.seed_file, block.line, seed.spec_path
                    )
                })?;
                let (kind, from) = match kind {
                    RawKind::Request => (Kind::Request, None),
                    RawKind::Response {
                        status: Some(s),
                        from,
                    } => (Kind::Response(s), Some(from)),
                    other => bail!("{}:{}: unresolved {other:?}", seed.seed_file, block.line),
                };
                (id.to_string(), Some(path), kind, from)
            }
            (Err(model), _) => {
                let schema = seed
                    .models
                    .iter()
                    .find(|(name, _)| name == model)
                    .map(|(_, schema)| schema.to_string())
                    .with_context(|| {
                        format!(
                            "{}: seed model {model:?} has no schema in SEEDS",
                            seed.seed_file
                        )
                    })?;
                (schema, None, Kind::Schema, None)
            }
        };
        let count = counts.entry((target.clone(), kind.label())).or_default();
        let index = *count;
        *count += 1;
        if pseudonymized {
            // The replacements keep each value's shape; prove they change no outcome.
            let outcome = |raw: &str| {
                let example = Example {
                    seq: 0,
                    line: block.line,
                    target: target.clone(),
                    endpoint: None,
                    kind: kind.clone(),
                    index,
                    value: serde_json::from_str(raw).map_err(|e| (raw.to_string(), e.to_string())),
                };
                let errors = check_example(&spec, &example, &kind).errors;
                errors
                    .iter()
                    .map(|e| e.split(": ").next().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            };
            if outcome(&original) != outcome(&block.raw) {
                bail!(
                    "{}:{}: replacing personal data changes the validation outcome",
                    seed.seed_file,
                    block.line
                );
            }
        }
        out.push(Extracted {
            block,
            pseudonymized,
            target,
            path,
            kind,
            status_from,
            index,
        });
    }
    Ok(out)
}

fn json_string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The examples file. Each valid block is copied verbatim (re-indented: a JSON string
/// cannot span lines, so only whitespace between tokens changes), which keeps the seed's
/// key order; the result is parsed back and compared with each block.
fn write_examples(seed: &Seed, examples: &[Extracted]) -> Result<String> {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"source\": {},", json_string(seed.seed_file));
    let _ = writeln!(out, "  \"spec\": {},", json_string(seed.spec_path));
    let _ = writeln!(
        out,
        "  \"note\": {},",
        json_string(
            "Every ```json block of the seed, extracted once by `cargo xtask seed-examples --from <seeds dir>`, as the seed has it but for personal data (below). \
             index counts an operation's examples of one kind and status from 0; status_from says where the status \
             comes from: a '> NNN Response' heading, the Dify error body's own `status`, the operation's status table, \
             or assumed 200 (no table). Personal data is replaced as in the contract's own examples \
             (pseudonymized: true): e-mail addresses become @example.com (zgi.ai and test.com addresses keep their \
             local part, others become userN, and a name equal to a replaced local part follows it), mobiles ≥ 7 digits \
             become 138… of the same length, public IPv4 addresses 203.0.113.N; the same value always gets the same \
             replacement, and the extractor checks that no validation outcome changes (`--verbatim` skips this). \
             xtask's seed_examples tests validate them against the spec; openapi/seed-divergences.yaml lists \
             those that do not validate."
        )
    );
    out.push_str("  \"examples\": [\n");
    for (n, e) in examples.iter().enumerate() {
        let b = &e.block;
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"seq\": {},", n + 1);
        let _ = writeln!(out, "      \"line\": {},", b.line);
        let _ = writeln!(out, "      \"title\": {},", json_string(&b.title));
        match (&b.owner, &e.path) {
            (Ok((method, seed_path)), Some(path)) => {
                let _ = writeln!(out, "      \"method\": {},", json_string(method));
                let _ = writeln!(out, "      \"path\": {},", json_string(path));
                if seed_path != path {
                    let _ = writeln!(out, "      \"seed_path\": {},", json_string(seed_path));
                }
                let _ = writeln!(out, "      \"operation_id\": {},", json_string(&e.target));
            }
            (Err(model), _) => {
                let _ = writeln!(out, "      \"seed_model\": {},", json_string(model));
                let _ = writeln!(out, "      \"schema\": {},", json_string(&e.target));
            }
            _ => bail!("line {}: no path", b.line),
        }
        match &e.kind {
            Kind::Request => out.push_str("      \"kind\": \"request\",\n"),
            Kind::Schema => out.push_str("      \"kind\": \"schema\",\n"),
            Kind::Response(status) => {
                out.push_str("      \"kind\": \"response\",\n");
                let _ = writeln!(out, "      \"status\": {status},");
                let from = e.status_from.unwrap_or("table");
                let _ = writeln!(out, "      \"status_from\": {},", json_string(from));
            }
        }
        if let Some(label) = &b.label {
            let _ = writeln!(out, "      \"label\": {},", json_string(label));
        }
        let _ = writeln!(out, "      \"index\": {},", e.index);
        if e.pseudonymized {
            out.push_str("      \"pseudonymized\": true,\n");
        }
        match serde_json::from_str::<Value>(&b.raw) {
            Ok(_) => {
                let indented = b.raw.lines().collect::<Vec<_>>().join("\n      ");
                let _ = writeln!(out, "      \"value\": {indented}");
            }
            Err(err) => {
                let _ = writeln!(out, "      \"raw\": {},", json_string(&b.raw));
                let _ = writeln!(
                    out,
                    "      \"parse_error\": {}",
                    json_string(&err.to_string())
                );
            }
        }
        out.push_str(if n + 1 == examples.len() {
            "    }\n"
        } else {
            "    },\n"
        });
    }
    out.push_str("  ]\n}\n");

    let back: Value = serde_json::from_str(&out).context("the written examples are not JSON")?;
    for (e, written) in examples
        .iter()
        .zip(back["examples"].as_array().into_iter().flatten())
    {
        if let Ok(value) = serde_json::from_str::<Value>(&e.block.raw)
            && written["value"] != value
        {
            bail!(
                "line {}: the written value differs from the seed's",
                e.block.line
            );
        }
    }
    Ok(out)
}

/// Replacements for the personal data in the seeds' examples (e-mail addresses, mobiles,
/// public IPs), chosen as the contract's own examples do (`docs/contract-notes.md`,
/// "Personal data") and shaped like the originals, so no validation outcome changes.
#[derive(Default)]
struct Pseudonyms {
    /// Whole string values: original → replacement.
    strings: BTreeMap<String, String>,
    /// Replaced e-mail local parts (a name equal to one follows it).
    locals: BTreeMap<String, String>,
    users: usize,
    mobiles: usize,
    ips: usize,
}

impl Pseudonyms {
    fn collect(&mut self, key: Option<&str>, value: &Value) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| self.collect(Some(k), v)),
            Value::Array(items) => items.iter().for_each(|v| self.collect(key, v)),
            Value::String(text) if !self.strings.contains_key(text) => {
                if let Some(new) = self.replacement(key, text) {
                    self.strings.insert(text.clone(), new);
                }
            }
            _ => {}
        }
    }

    fn replacement(&mut self, key: Option<&str>, text: &str) -> Option<String> {
        let lead: String = text.chars().take_while(|c| c.is_whitespace()).collect();
        let body = &text[lead.len()..];
        if let Some((local, domain)) = body.split_once('@')
            && !local.is_empty()
            && domain.contains('.')
            && !body.contains(char::is_whitespace)
        {
            let (local, domain) = if let Some(rest) = domain.strip_prefix("zgi.ai") {
                (local.to_string(), format!("example.com{rest}"))
            } else if domain == "test.com" {
                (local.to_string(), "example.com".to_string())
            } else {
                let new = match self.locals.get(local) {
                    Some(new) => new.clone(),
                    None => {
                        self.users += 1;
                        let new = format!("user{}", self.users);
                        self.locals.insert(local.to_string(), new.clone());
                        new
                    }
                };
                (new, "example.com".to_string())
            };
            return Some(format!("{lead}{local}@{domain}"));
        }
        if key == Some("mobile") && text.len() >= 7 && text.chars().all(|c| c.is_ascii_digit()) {
            self.mobiles += 1;
            return Some(format!(
                "138{:0width$}",
                self.mobiles,
                width = text.len() - 3
            ));
        }
        if let Ok(ip) = text.parse::<std::net::Ipv4Addr>()
            && !(ip.is_loopback() || ip.is_private() || ip.is_unspecified() || ip.is_link_local())
        {
            self.ips += 1;
            return Some(format!("203.0.113.{}", self.ips));
        }
        None
    }

    /// `raw` with every replaced string value (and every name equal to a replaced local
    /// part) swapped, token for token, so the rest of the text stays as the seed has it.
    fn apply(&self, raw: &str) -> Result<String> {
        let Ok(value) = serde_json::from_str::<Value>(raw) else {
            return Ok(raw.to_string());
        };
        let mut text = raw.to_string();
        let pairs = self.strings.iter().chain(self.locals.iter());
        if let Some((_, new)) = pairs
            .clone()
            .find(|(_, new)| self.strings.contains_key(*new) || self.locals.contains_key(*new))
        {
            bail!("the replacement {new:?} is itself a replaced value");
        }
        for (old, new) in pairs {
            text = text.replace(&json_string(old), &json_string(new));
        }
        let swapped: Value =
            serde_json::from_str(&text).context("pseudonymized text is not JSON")?;
        if swapped != self.swap(&value) {
            bail!("replacing personal data in the text and in the value disagree");
        }
        Ok(text)
    }

    fn swap(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.swap(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.swap(v)).collect()),
            Value::String(text) => Value::String(
                self.strings
                    .get(text)
                    .or_else(|| self.locals.get(text))
                    .unwrap_or(text)
                    .clone(),
            ),
            other => other.clone(),
        }
    }
}

// -------------------------------------------------------------------------- validator

fn load_spec(root: &Path, seed: &Seed) -> Result<Value> {
    let text = std::fs::read_to_string(root.join(seed.spec_path))
        .with_context(|| format!("reading {}", seed.spec_path))?;
    serde_yaml::from_str(&text).with_context(|| format!("parsing {}", seed.spec_path))
}

/// Requests skip `required` for readOnly properties, responses for writeOnly ones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Keywords the validator applies.
const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "format",
    "nullable",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
];

/// Keywords that do not constrain a value.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "example",
    "default",
    "deprecated",
    "externalDocs",
];

/// What validating one value found.
#[derive(Debug, Default)]
struct Outcome {
    /// Why the value does not validate (`$.path: message`); empty when it does.
    errors: Vec<String>,
    /// Properties the value has and its schema does not declare (allowed: no schema
    /// here says `additionalProperties: false`). Reported by `--check`, not enforced.
    undeclared: BTreeSet<String>,
    /// Schema constructs the validator cannot apply; the tests fail on any.
    unsupported: BTreeSet<String>,
}

struct Validator<'a> {
    spec: &'a Value,
    direction: Direction,
    out: Outcome,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn child(at: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{at}.{key}")
    } else {
        format!("{at}[{}]", json_string(key))
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

impl<'a> Validator<'a> {
    fn new(spec: &'a Value, direction: Direction) -> Self {
        Validator {
            spec,
            direction,
            out: Outcome::default(),
        }
    }

    fn error(&mut self, at: &str, message: String) {
        self.out.errors.push(format!("{at}: {message}"));
    }

    fn resolve(&mut self, schema: &'a Value) -> Option<&'a Value> {
        let Some(reference) = schema.get("$ref") else {
            return Some(schema);
        };
        let target = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| self.spec.pointer(pointer));
        if target.is_none() {
            self.out
                .unsupported
                .insert(format!("unresolvable $ref {reference}"));
        }
        target
    }

    /// Whether `value` validates against `schema`, without recording its errors.
    fn passes(&mut self, schema: &'a Value, value: &Value, at: &str, depth: usize) -> bool {
        let mut probe = Validator::new(self.spec, self.direction);
        probe.check(schema, value, at, depth);
        self.out.unsupported.append(&mut probe.out.unsupported);
        probe.out.errors.is_empty()
    }

    fn check(&mut self, schema: &'a Value, value: &Value, at: &str, depth: usize) {
        if depth > 64 {
            self.out
                .unsupported
                .insert(format!("{at}: schema nesting deeper than 64"));
            return;
        }
        // OpenAPI 3.0: a Reference Object's siblings are ignored.
        let Some(schema) = self.resolve(schema) else {
            return;
        };
        let Some(s) = schema.as_object() else {
            self.out
                .unsupported
                .insert(format!("{at}: schema {} is not an object", short(schema)));
            return;
        };
        for key in s.keys() {
            if !KEYWORDS.contains(&key.as_str())
                && !ANNOTATIONS.contains(&key.as_str())
                && !key.starts_with("x-")
            {
                self.out.unsupported.insert(format!("keyword `{key}`"));
            }
        }
        let nullable = s.get("nullable").and_then(Value::as_bool) == Some(true);
        // The contract's reading of `nullable` (the generator's and the server's): null is
        // allowed whatever else the schema says, including `allOf: [$ref]` + nullable.
        if value.is_null() && nullable {
            return;
        }
        if let Some(ty) = s.get("type") {
            let ty = ty.as_str().unwrap_or_default();
            let fits = match ty {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                other => {
                    self.out.unsupported.insert(format!("type {other:?}"));
                    true
                }
            };
            if !fits {
                let or_null = if nullable { " or null" } else { "" };
                let got = match value {
                    Value::Null => "null".to_string(),
                    other => format!("{} {}", kind_of(other), short(other)),
                };
                self.error(at, format!("expected {ty}{or_null}, got {got}"));
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(short).collect();
            self.error(
                at,
                format!("{} is not one of [{}]", short(value), list.join(", ")),
            );
        }
        let format = s.get("format").and_then(Value::as_str);
        let limit = |name: &str| s.get(name).and_then(Value::as_f64);
        match value {
            Value::String(text) => {
                match format {
                    Some("uuid") if !is_uuid(text) => {
                        self.error(at, format!("{} is not a uuid", short(value)));
                    }
                    Some("email") if !is_email(text) => {
                        self.error(at, format!("{} is not an email address", short(value)));
                    }
                    _ => {}
                }
                let chars = text.chars().count() as f64;
                if let Some(min) = limit("minLength")
                    && chars < min
                {
                    self.error(
                        at,
                        format!("{} is shorter than minLength {min}", short(value)),
                    );
                }
                if let Some(max) = limit("maxLength")
                    && chars > max
                {
                    self.error(
                        at,
                        format!("{} is longer than maxLength {max}", short(value)),
                    );
                }
                if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
                    match regex::Regex::new(pattern) {
                        Ok(re) if !re.is_match(text) => {
                            self.error(
                                at,
                                format!("{} does not match pattern {pattern}", short(value)),
                            );
                        }
                        Ok(_) => {}
                        Err(_) => {
                            self.out.unsupported.insert(format!("pattern {pattern:?}"));
                        }
                    }
                }
            }
            Value::Number(number) => {
                let range = match format {
                    Some("int32") => Some((i32::MIN as i64, i32::MAX as i64)),
                    Some("int64") => Some((i64::MIN, i64::MAX)),
                    _ => None,
                };
                if let Some((lo, hi)) = range
                    && !number.as_i64().is_some_and(|n| (lo..=hi).contains(&n))
                {
                    self.error(
                        at,
                        format!(
                            "{number} is out of the range of {}",
                            format.unwrap_or_default()
                        ),
                    );
                }
                let n = number.as_f64().unwrap_or(f64::NAN);
                let exclusive = |name: &str| match s.get(name) {
                    None | Some(Value::Bool(false)) => Some(false),
                    Some(Value::Bool(true)) => Some(true),
                    Some(_) => None,
                };
                for (name, flag, below) in [
                    ("minimum", "exclusiveMinimum", true),
                    ("maximum", "exclusiveMaximum", false),
                ] {
                    let Some(bound) = limit(name) else { continue };
                    let Some(strict) = exclusive(flag) else {
                        self.out
                            .unsupported
                            .insert(format!("non-boolean `{flag}` (OpenAPI 3.1)"));
                        continue;
                    };
                    let outside = match (below, strict) {
                        (true, false) => n < bound,
                        (true, true) => n <= bound,
                        (false, false) => n > bound,
                        (false, true) => n >= bound,
                    };
                    if outside {
                        let op = match (below, strict) {
                            (true, false) => "below minimum",
                            (true, true) => "not above exclusive minimum",
                            (false, false) => "above maximum",
                            (false, true) => "not below exclusive maximum",
                        };
                        self.error(at, format!("{number} is {op} {bound}"));
                    }
                }
                if let Some(step) = limit("multipleOf")
                    && step > 0.0
                    && (n / step).fract() != 0.0
                {
                    self.error(at, format!("{number} is not a multiple of {step}"));
                }
            }
            Value::Array(items) => {
                let len = items.len() as f64;
                if let Some(min) = limit("minItems")
                    && len < min
                {
                    self.error(at, format!("{len} items, fewer than minItems {min}"));
                }
                if let Some(max) = limit("maxItems")
                    && len > max
                {
                    self.error(at, format!("{len} items, more than maxItems {max}"));
                }
                if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
                    let distinct: BTreeSet<String> = items.iter().map(Value::to_string).collect();
                    if distinct.len() != items.len() {
                        self.error(at, "items are not unique".into());
                    }
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{at}[{i}]"), depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                let properties = s.get("properties").and_then(Value::as_object);
                if let Some(required) = s.get("required").and_then(Value::as_array) {
                    for name in required.iter().filter_map(Value::as_str) {
                        if map.contains_key(name) {
                            continue;
                        }
                        let skip = properties
                            .and_then(|p| p.get(name))
                            .and_then(|p| self.resolve(p))
                            .is_some_and(|p| match self.direction {
                                Direction::Request => p.get("readOnly") == Some(&Value::Bool(true)),
                                Direction::Response => {
                                    p.get("writeOnly") == Some(&Value::Bool(true))
                                }
                            });
                        if !skip {
                            self.error(at, format!("missing required property `{name}`"));
                        }
                    }
                }
                let len = map.len() as f64;
                if let Some(min) = limit("minProperties")
                    && len < min
                {
                    self.error(
                        at,
                        format!("{len} properties, fewer than minProperties {min}"),
                    );
                }
                if let Some(max) = limit("maxProperties")
                    && len > max
                {
                    self.error(
                        at,
                        format!("{len} properties, more than maxProperties {max}"),
                    );
                }
                for (key, item) in map {
                    let path = child(at, key);
                    match (
                        properties.and_then(|p| p.get(key)),
                        s.get("additionalProperties"),
                    ) {
                        (Some(property), _) => self.check(property, item, &path, depth + 1),
                        (None, Some(Value::Bool(false))) => {
                            self.error(
                                at,
                                format!(
                                    "property `{key}` is not allowed (additionalProperties: false)"
                                ),
                            );
                        }
                        (None, Some(Value::Bool(true))) => {}
                        (None, Some(extra)) => self.check(extra, item, &path, depth + 1),
                        (None, None) => {
                            if properties.is_some() {
                                self.out.undeclared.insert(path);
                            }
                        }
                    }
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, at, depth + 1);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|sub| self.passes(sub, value, at, depth + 1))
        {
            self.error(at, "matches none of anyOf".into());
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|sub| self.passes(sub, value, at, depth + 1))
                .count();
            if matching != 1 {
                self.error(at, format!("matches {matching} of oneOf, not exactly 1"));
            }
        }
        if let Some(not) = s.get("not")
            && self.passes(not, value, at, depth + 1)
        {
            self.error(at, "matches the `not` schema".into());
        }
    }
}

/// The operation with this operationId: `(METHOD, path, operation)`.
fn find_operation<'a>(spec: &'a Value, id: &str) -> Option<(String, String, &'a Value)> {
    for (path, item) in spec["paths"].as_object()? {
        for (method, op) in item.as_object()? {
            if op.get("operationId").and_then(Value::as_str) == Some(id) {
                return Some((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    None
}

/// `#/components/...` references of request bodies and responses.
fn deref<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| spec.pointer(pointer))
        .unwrap_or(value)
}

/// Validates one example as `kind` (its own, or another status for `validates_as`).
fn check_example(spec: &Value, example: &Example, kind: &Kind) -> Outcome {
    let fail = |message: String| Outcome {
        errors: vec![message],
        ..Outcome::default()
    };
    let value = match &example.value {
        Ok(value) => value,
        Err((_, error)) => return fail(format!("not valid JSON: {error}")),
    };
    let (schema, direction) = match kind {
        Kind::Schema => match spec.pointer(&format!("/components/schemas/{}", example.target)) {
            Some(schema) => (schema, Direction::Response),
            None => return fail(format!("the contract has no schema {}", example.target)),
        },
        Kind::Request | Kind::Response(_) => {
            let Some((method, path, op)) = find_operation(spec, &example.target) else {
                return fail(format!("the contract has no operation {}", example.target));
            };
            if let Some((seed_method, seed_path)) = &example.endpoint
                && (seed_method != &method || seed_path != &path)
            {
                return fail(format!(
                    "{} is {method} {path} in the contract, {seed_method} {seed_path} here",
                    example.target
                ));
            }
            let (owner, direction, what) = match kind {
                Kind::Request => match op.get("requestBody") {
                    Some(body) => (
                        deref(spec, body),
                        Direction::Request,
                        "request body".to_string(),
                    ),
                    None => return fail("the contract declares no request body".into()),
                },
                Kind::Response(status) => match op["responses"].get(status.to_string()) {
                    Some(response) => (
                        deref(spec, response),
                        Direction::Response,
                        format!("{status} response"),
                    ),
                    None => {
                        let documented: Vec<&String> = op["responses"]
                            .as_object()
                            .map(|r| r.keys().collect())
                            .unwrap_or_default();
                        let documented: Vec<&str> = documented.iter().map(|s| s.as_str()).collect();
                        return fail(format!(
                            "the contract documents no {status} response (only {})",
                            documented.join(", ")
                        ));
                    }
                },
                Kind::Schema => unreachable!(),
            };
            match owner.pointer("/content/application~1json/schema") {
                Some(schema) => (schema, direction),
                None => return fail(format!("the contract's {what} has no JSON body")),
            }
        }
    };
    let mut validator = Validator::new(spec, direction);
    validator.check(schema, value, "$", 0);
    validator.out
}

// ------------------------------------------------------------------ the divergence list

/// One entry of `openapi/seed-divergences.yaml`.
#[derive(Debug, Clone)]
struct Listed {
    key: Key,
    reason: String,
    /// The validator's errors, exactly (so a listed example that starts failing for
    /// another reason is noticed).
    errors: Vec<String>,
    /// The status under which the contract documents this response instead; the example
    /// must validate there.
    validates_as: Option<u16>,
}

fn load_divergences(root: &Path) -> Result<BTreeMap<String, Vec<Listed>>> {
    let text = std::fs::read_to_string(root.join(DIVERGENCES_PATH))
        .with_context(|| format!("reading {DIVERGENCES_PATH}"))?;
    parse_divergences(&text)
}

fn parse_divergences(text: &str) -> Result<BTreeMap<String, Vec<Listed>>> {
    let doc: Value =
        serde_yaml::from_str(text).with_context(|| format!("parsing {DIVERGENCES_PATH}"))?;
    let mut out = BTreeMap::new();
    for seed in &SEEDS {
        let mut entries = Vec::new();
        let list = match doc.get(seed.surface) {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            Some(_) => bail!("{DIVERGENCES_PATH}: `{}` is not a list", seed.surface),
        };
        for entry in list {
            let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_string);
            let what = format!("{DIVERGENCES_PATH}: {}: {entry}", seed.surface);
            let target = text("operation_id")
                .or_else(|| text("schema"))
                .with_context(|| format!("{what}: needs `operation_id` (or `schema`)"))?;
            let example = text("example").with_context(|| format!("{what}: needs `example`"))?;
            let kind = Kind::parse(&example).with_context(|| {
                format!("{what}: `example` is `request`, `response <status>` or `schema`")
            })?;
            let index = entry
                .get("index")
                .and_then(Value::as_u64)
                .with_context(|| format!("{what}: needs an integer `index`"))?
                as usize;
            let reason = text("reason").unwrap_or_default();
            let errors = entry
                .get("errors")
                .and_then(Value::as_array)
                .with_context(|| format!("{what}: needs `errors` (the validator's, as a list)"))?
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .with_context(|| format!("{what}: errors are strings"))
                })
                .collect::<Result<Vec<_>>>()?;
            let validates_as = match entry.get("validates_as") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .with_context(|| format!("{what}: `validates_as` is a status"))?
                        as u16,
                ),
            };
            entries.push(Listed {
                key: Key {
                    target,
                    example: kind.label(),
                    index,
                },
                reason,
                errors,
                validates_as,
            });
        }
        out.insert(seed.surface.to_string(), entries);
    }
    Ok(out)
}

/// Why the examples, the contract and the list disagree.
#[derive(Debug)]
enum Problem {
    /// A schema construct the validator does not implement.
    Unsupported { surface: String, what: String },
    /// An example that fails and is not listed.
    Unexplained {
        surface: String,
        example: Example,
        errors: Vec<String>,
    },
    /// A listed example that validates, or that does not exist.
    Stale {
        surface: String,
        key: Key,
        why: String,
    },
    /// A listed example whose errors are not the listed ones.
    Changed {
        surface: String,
        key: Key,
        listed: Vec<String>,
        now: Vec<String>,
    },
    /// A listed entry that is malformed (no reason, listed twice, bad `validates_as`).
    BadEntry {
        surface: String,
        key: Key,
        why: String,
    },
    /// A docs section that is not what `--render-docs` renders from the list.
    Docs { path: String },
}

fn yaml_string(text: &str) -> String {
    // JSON strings are YAML double-quoted scalars.
    json_string(text)
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unsupported { surface, what } => {
                write!(
                    f,
                    "{surface}: the seed-example validator does not implement {what}; extend xtask/src/seed_examples.rs"
                )
            }
            Problem::Unexplained {
                surface,
                example,
                errors,
            } => {
                let key = example.key();
                writeln!(
                    f,
                    "{surface}: {key} (seed line {}) does not validate and is not in {DIVERGENCES_PATH}.",
                    example.line
                )?;
                writeln!(
                    f,
                    "  Fix the contract, or list it under `{surface}:` with its reason:"
                )?;
                let field = if example.kind == Kind::Schema {
                    "schema"
                } else {
                    "operation_id"
                };
                writeln!(f, "  - {field}: {}", key.target)?;
                writeln!(f, "    example: {}", key.example)?;
                writeln!(f, "    index: {}", key.index)?;
                writeln!(
                    f,
                    "    reason: <one line: why the seed and the contract differ>"
                )?;
                writeln!(f, "    errors:")?;
                for e in errors {
                    writeln!(f, "    - {}", yaml_string(e))?;
                }
                Ok(())
            }
            Problem::Stale { surface, key, why } => {
                write!(
                    f,
                    "{surface}: {key} is listed in {DIVERGENCES_PATH} but {why}; remove the entry"
                )
            }
            Problem::Changed {
                surface,
                key,
                listed,
                now,
            } => {
                writeln!(
                    f,
                    "{surface}: {key} fails differently from what {DIVERGENCES_PATH} lists; check its reason and set its errors to:"
                )?;
                for e in now {
                    writeln!(f, "    - {}", yaml_string(e))?;
                }
                write!(f, "  (listed: {listed:?})")
            }
            Problem::BadEntry { surface, key, why } => {
                write!(f, "{surface}: {DIVERGENCES_PATH} entry {key}: {why}")
            }
            Problem::Docs { path } => write!(
                f,
                "{path}: the seed-divergences section is not what {DIVERGENCES_PATH} renders; run `cargo xtask seed-examples --render-docs`"
            ),
        }
    }
}

/// Every disagreement between one surface's examples, its contract and its list.
fn compare(surface: &str, spec: &Value, examples: &[Example], listed: &[Listed]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut unsupported = BTreeSet::new();
    let mut by_key: BTreeMap<Key, &Listed> = BTreeMap::new();
    for entry in listed {
        if by_key.insert(entry.key.clone(), entry).is_some() {
            problems.push(Problem::BadEntry {
                surface: surface.into(),
                key: entry.key.clone(),
                why: "listed twice".into(),
            });
        }
        if entry.reason.trim().is_empty() || entry.reason.contains('\n') {
            problems.push(Problem::BadEntry {
                surface: surface.into(),
                key: entry.key.clone(),
                why: "needs a one-line `reason`".into(),
            });
        }
    }
    let mut seen = BTreeSet::new();
    for example in examples {
        let key = example.key();
        seen.insert(key.clone());
        let mut outcome = check_example(spec, example, &example.kind);
        unsupported.append(&mut outcome.unsupported);
        match (by_key.get(&key), outcome.errors.is_empty()) {
            (None, true) => {}
            (None, false) => problems.push(Problem::Unexplained {
                surface: surface.into(),
                example: example.clone(),
                errors: outcome.errors,
            }),
            (Some(_), true) => problems.push(Problem::Stale {
                surface: surface.into(),
                key,
                why: "it validates".into(),
            }),
            (Some(entry), false) => {
                if entry.errors != outcome.errors {
                    problems.push(Problem::Changed {
                        surface: surface.into(),
                        key: key.clone(),
                        listed: entry.errors.clone(),
                        now: outcome.errors,
                    });
                }
                if let Some(status) = entry.validates_as {
                    if !matches!(example.kind, Kind::Response(s) if s != status) {
                        problems.push(Problem::BadEntry {
                            surface: surface.into(),
                            key,
                            why: format!("`validates_as: {status}` needs a response example of another status"),
                        });
                    } else {
                        let mut there = check_example(spec, example, &Kind::Response(status));
                        unsupported.append(&mut there.unsupported);
                        if !there.errors.is_empty() {
                            problems.push(Problem::BadEntry {
                                surface: surface.into(),
                                key,
                                why: format!(
                                    "listed as valid as a {status} response, but: {}",
                                    there.errors.join("; ")
                                ),
                            });
                        }
                    }
                }
            }
        }
    }
    for entry in listed {
        if !seen.contains(&entry.key) {
            problems.push(Problem::Stale {
                surface: surface.into(),
                key: entry.key.clone(),
                why: "no such example exists".into(),
            });
        }
    }
    problems.extend(unsupported.into_iter().map(|what| Problem::Unsupported {
        surface: surface.into(),
        what,
    }));
    problems
}

/// Per surface: its examples, and how many of them validate.
struct Summary {
    surface: &'static str,
    examples: Vec<Example>,
    valid: usize,
    undeclared: BTreeMap<Key, BTreeSet<String>>,
}

/// Loads everything the tests need from the repository and compares it.
fn check(root: &Path) -> Result<(Vec<Summary>, Vec<Problem>)> {
    let listed = load_divergences(root)?;
    let mut summaries = Vec::new();
    let mut problems = Vec::new();
    for seed in &SEEDS {
        let spec = load_spec(root, seed)?;
        let examples = load_examples(root, seed)?;
        let mut valid = 0;
        let mut undeclared = BTreeMap::new();
        for example in &examples {
            let outcome = check_example(&spec, example, &example.kind);
            if outcome.errors.is_empty() {
                valid += 1;
            }
            if !outcome.undeclared.is_empty() {
                undeclared.insert(example.key(), outcome.undeclared);
            }
        }
        problems.extend(compare(
            seed.surface,
            &spec,
            &examples,
            &listed[seed.surface],
        ));
        summaries.push(Summary {
            surface: seed.surface,
            examples,
            valid,
            undeclared,
        });
    }
    problems.extend(check_docs(root)?);
    Ok((summaries, problems))
}

fn report(root: &Path) -> Result<()> {
    let (summaries, problems) = check(root)?;
    let listed = load_divergences(root)?;
    for s in &summaries {
        println!(
            "{}: {} examples, {} validate, {} listed in {DIVERGENCES_PATH}",
            s.surface,
            s.examples.len(),
            s.valid,
            listed[s.surface].len()
        );
        for (key, paths) in &s.undeclared {
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            println!(
                "  note: {key} has properties the contract does not declare: {}",
                paths.join(", ")
            );
        }
    }
    if problems.is_empty() {
        println!("every example validates or is listed, and the docs show the list");
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!("{} problem(s)", problems.len())
}

// ------------------------------------------------------------------------------- docs

/// A divergence section: what `--render-docs` writes between the markers.
fn render_section(seed: &Seed, examples: &[Example], listed: &[Listed]) -> String {
    let by_key: BTreeMap<Key, &Example> = examples.iter().map(|e| (e.key(), e)).collect();
    let mut rows: Vec<(usize, &Listed)> = listed
        .iter()
        .map(|l| (by_key.get(&l.key).map_or(usize::MAX, |e| e.seq), l))
        .collect();
    rows.sort_by_key(|(seq, l)| (*seq, l.key.clone()));
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push('\n');
    let _ = writeln!(
        out,
        "<!-- Rendered from {DIVERGENCES_PATH} by `cargo xtask seed-examples --render-docs`: edit the list, then render. -->"
    );
    out.push_str("### Seed examples that do not validate\n\n");
    let _ = writeln!(
        out,
        "{} of the {} JSON examples of `{}` (kept in `{}`) do not validate against `{}`; the \
         others do. xtask's `seed_examples` test checks both, and that this table is the list.\n",
        listed.len(),
        examples.len(),
        seed.seed_file,
        seed.examples_path,
        seed.spec_path
    );
    if listed.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| operation | seed example | why it does not validate |\n|---|---|---|\n");
        for (_, l) in rows {
            let line = by_key
                .get(&l.key)
                .map(|e| format!(" (seed line {})", e.line))
                .unwrap_or_default();
            let also = l
                .validates_as
                .map(|s| format!(" It validates as the {s} response."))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | {} #{}{line} | {}{also} |",
                l.key.target,
                l.key.example,
                l.key.index,
                l.reason.replace('|', "\\|")
            );
        }
    }
    out.push_str(END);
    out
}

/// `text` with its marked section replaced by `section`; None without markers.
fn replace_section(text: &str, section: &str) -> Option<String> {
    let start = text.find(BEGIN)?;
    let end = text[start..].find(END)? + start + END.len();
    Some(format!("{}{section}{}", &text[..start], &text[end..]))
}

fn rendered_docs(root: &Path) -> Result<Vec<(&'static Seed, String, String)>> {
    let listed = load_divergences(root)?;
    let mut out = Vec::new();
    for seed in &SEEDS {
        let examples = load_examples(root, seed)?;
        let current = std::fs::read_to_string(root.join(seed.docs_path))
            .with_context(|| format!("reading {}", seed.docs_path))?;
        let section = render_section(seed, &examples, &listed[seed.surface]);
        let wanted = replace_section(&current, &section).with_context(|| {
            format!(
                "{}: no `{BEGIN}` … `{END}` section to render the divergences into",
                seed.docs_path
            )
        })?;
        out.push((seed, current, wanted));
    }
    Ok(out)
}

fn check_docs(root: &Path) -> Result<Vec<Problem>> {
    Ok(rendered_docs(root)?
        .into_iter()
        .filter(|(_, current, wanted)| current != wanted)
        .map(|(seed, _, _)| Problem::Docs {
            path: seed.docs_path.into(),
        })
        .collect())
}

fn render_docs(root: &Path) -> Result<()> {
    for (seed, current, wanted) in rendered_docs(root)? {
        if current == wanted {
            println!("{} is up to date", seed.docs_path);
        } else {
            std::fs::write(root.join(seed.docs_path), wanted)
                .with_context(|| format!("writing {}", seed.docs_path))?;
            println!("wrote {}", seed.docs_path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> std::path::PathBuf {
        crate::workspace_root()
    }

    /// The committed seed examples against the contracts and `openapi/seed-divergences.yaml`,
    /// and the docs' sections against the list.
    #[test]
    fn seed_examples_validate_or_are_listed() {
        let (summaries, problems) = check(&root()).expect("load the examples, specs and list");
        assert!(
            summaries.iter().all(|s| !s.examples.is_empty()),
            "no examples loaded"
        );
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            problems.is_empty(),
            "{} problem(s):\n{}",
            problems.len(),
            text.join("\n")
        );
    }

    #[test]
    fn every_seed_example_names_an_operation_of_its_contract() {
        for seed in &SEEDS {
            let spec = load_spec(&root(), seed).expect("spec");
            for e in load_examples(&root(), seed).expect("examples") {
                match e.kind {
                    Kind::Schema => assert!(
                        spec.pointer(&format!("/components/schemas/{}", e.target))
                            .is_some(),
                        "{}",
                        e.key()
                    ),
                    _ => assert!(find_operation(&spec, &e.target).is_some(), "{}", e.key()),
                }
            }
        }
    }

    fn spec() -> Value {
        json!({
            "paths": {
                "/things": {
                    "post": {
                        "operationId": "create_thing",
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                        "responses": {
                            "201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                            "204": {"description": "no body"}
                        }
                    }
                }
            },
            "components": {"schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid", "readOnly": true},
                        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                        "count": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10, "exclusiveMaximum": true},
                        "email": {"type": "string", "format": "email", "nullable": true},
                        "status": {"$ref": "#/components/schemas/Status"},
                        "parent": {"allOf": [{"$ref": "#/components/schemas/Thing"}], "nullable": true},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                        "extra": {"type": "object", "additionalProperties": true, "nullable": true}
                    },
                    "required": ["id", "name", "status", "parent"]
                },
                "Status": {"type": "string", "enum": ["on", "off"]},
                "Closed": {"type": "object", "properties": {"a": {"type": "boolean"}}, "additionalProperties": false},
                "Either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "Fancy": {"type": "string", "discriminator": {"propertyName": "x"}}
            }}
        })
    }

    fn example(kind: Kind, target: &str, value: Value) -> Example {
        Example {
            seq: 1,
            line: 1,
            target: target.into(),
            endpoint: None,
            kind,
            index: 0,
            value: Ok(value),
        }
    }

    fn errors(kind: Kind, target: &str, value: Value) -> Vec<String> {
        let outcome = check_example(&spec(), &example(kind.clone(), target, value), &kind);
        assert!(outcome.unsupported.is_empty(), "{:?}", outcome.unsupported);
        outcome.errors
    }

    #[test]
    fn validator_applies_openapi_3_0_semantics() {
        let good = json!({"id": "2d604491-df3e-491a-89b2-007ce56d1a9e", "name": "ab", "status": "on", "parent": null, "email": null, "extra": {"k": 1}});
        assert_eq!(
            errors(Kind::Response(201), "create_thing", good.clone()),
            Vec::<String>::new()
        );
        // readOnly properties are not required in requests.
        assert_eq!(
            errors(
                Kind::Request,
                "create_thing",
                json!({"name": "ab", "status": "off", "parent": null})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors(
                Kind::Response(201),
                "create_thing",
                json!({"name": "ab", "status": "on", "parent": null})
            ),
            ["$: missing required property `id`"]
        );
        let bad = json!({
            "id": "not-a-uuid", "name": "ABCDEF", "count": 10, "email": "nobody",
            "status": "maybe", "parent": {"id": "2d604491-df3e-491a-89b2-007ce56d1a9e", "name": "x", "status": "on", "parent": 3},
            "tags": ["a", "b", "c"], "unknown key": 1
        });
        assert_eq!(
            errors(Kind::Response(201), "create_thing", bad),
            [
                "$.count: 10 is not below exclusive maximum 10",
                "$.email: \"nobody\" is not an email address",
                "$.id: \"not-a-uuid\" is not a uuid",
                "$.name: \"ABCDEF\" is longer than maxLength 5",
                "$.name: \"ABCDEF\" does not match pattern ^[a-z]+$",
                "$.parent.parent: expected object, got integer 3",
                "$.status: \"maybe\" is not one of [\"on\", \"off\"]",
                "$.tags: 3 items, more than maxItems 2",
            ]
        );
        assert_eq!(
            errors(
                Kind::Response(201),
                "create_thing",
                json!({"id": null, "name": "a", "status": "on", "parent": null})
            )[0],
            "$.id: expected string, got null"
        );
        assert_eq!(
            errors(
                Kind::Response(201),
                "create_thing",
                json!({"id": "2d604491-df3e-491a-89b2-007ce56d1a9e", "name": "a", "status": "on", "parent": null, "count": 1.5})
            ),
            ["$.count: expected integer, got number 1.5"]
        );
        assert_eq!(
            errors(Kind::Schema, "Closed", json!({"a": true, "b": 1})),
            ["$: property `b` is not allowed (additionalProperties: false)"]
        );
        assert_eq!(
            errors(Kind::Schema, "Either", json!("x")),
            Vec::<String>::new()
        );
        assert_eq!(
            errors(Kind::Schema, "Either", json!(true)),
            ["$: matches 0 of oneOf, not exactly 1"]
        );
        assert_eq!(
            errors(Kind::Response(404), "create_thing", json!({})),
            ["the contract documents no 404 response (only 201, 204)"]
        );
        assert_eq!(
            errors(Kind::Response(204), "create_thing", json!({})),
            ["the contract's 204 response has no JSON body"]
        );
        assert_eq!(
            errors(Kind::Request, "delete_thing", json!({})),
            ["the contract has no operation delete_thing"]
        );
        let mut broken = example(Kind::Request, "create_thing", json!(null));
        broken.value = Err((
            "{,}".into(),
            "key must be a string at line 1 column 2".into(),
        ));
        assert_eq!(
            check_example(&spec(), &broken, &Kind::Request).errors,
            ["not valid JSON: key must be a string at line 1 column 2"]
        );
        // A keyword the validator does not implement is reported, not ignored.
        let outcome = check_example(
            &spec(),
            &example(Kind::Schema, "Fancy", json!("x")),
            &Kind::Schema,
        );
        assert_eq!(
            outcome.unsupported.into_iter().collect::<Vec<_>>(),
            ["keyword `discriminator`"]
        );
    }

    #[test]
    fn unlisted_stale_and_changed_divergences_fail() {
        let spec = spec();
        let valid = example(Kind::Schema, "Status", json!("on"));
        let mut invalid = example(Kind::Schema, "Status", json!("maybe"));
        invalid.index = 1;
        let listed = |index: usize, errors: &[&str]| Listed {
            key: Key {
                target: "Status".into(),
                example: "schema".into(),
                index,
            },
            reason: "the seed's value".into(),
            errors: errors.iter().map(|e| e.to_string()).collect(),
            validates_as: None,
        };
        let right = listed(1, &["$: \"maybe\" is not one of [\"on\", \"off\"]"]);
        let examples = [valid.clone(), invalid.clone()];
        assert!(compare("t", &spec, &examples, std::slice::from_ref(&right)).is_empty());
        // An unexplained divergence: the entry removed.
        assert!(matches!(
            compare("t", &spec, &examples, &[])[..],
            [Problem::Unexplained { .. }]
        ));
        // A stale entry: the example now validates, or does not exist.
        assert!(matches!(
            compare(
                "t",
                &spec,
                std::slice::from_ref(&valid),
                std::slice::from_ref(&right)
            )[..],
            [Problem::Stale { .. }]
        ));
        assert!(matches!(
            compare("t", &spec, &examples, &[right.clone(), listed(0, &[])])[..],
            [Problem::Stale { .. }]
        ));
        // An example altered so it fails for another reason.
        let mut altered = invalid.clone();
        altered.value = Ok(json!(7));
        assert!(matches!(
            compare("t", &spec, &[valid, altered], std::slice::from_ref(&right))[..],
            [Problem::Changed { .. }]
        ));
        // An entry without a reason.
        let mut reasonless = right.clone();
        reasonless.reason = String::new();
        assert!(matches!(
            compare("t", &spec, &examples, &[reasonless])[..],
            [Problem::BadEntry { .. }]
        ));
    }

    #[test]
    fn seed_markdown_is_read_with_its_statuses() {
        let seed = "# Setup\n\n## POST setup\n\nPOST /console/api/enterprise-groups/{string:group_id}/x\n\n> Body 请求参数\n\n```json\n{\"a\": 1}\n```\n\n\
                    > 返回示例\n\n```json\n{\"result\": \"success\"}\n```\n\n```json\n{\"code\": \"already_setup\", \"status\": 403}\n```\n\n\
                    > 404 Response\n\n```json\n{\"code\": \"x\"}\n```\n\n### 返回结果\n\n|状态码|状态码含义|说明|数据模型|\n|---|---|---|---|\n|201|Created|none|Inline|\n\n\
                    ## GET other\n\nGET /api/other\n\n### 返回示例\n\n> 成功\n\n```json\n{\"x\": [1,],}\n```\n";
        let blocks = parse_seed(seed).expect("parse");
        let kinds: Vec<RawKind> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                RawKind::Request,
                RawKind::Response {
                    status: Some(201),
                    from: "table"
                },
                RawKind::Response {
                    status: Some(403),
                    from: "body"
                },
                RawKind::Response {
                    status: Some(404),
                    from: "heading"
                },
                RawKind::Response {
                    status: Some(200),
                    from: "assumed"
                },
            ]
        );
        assert_eq!(
            contract_path("/console/api/enterprise-groups/{string:group_id}/x"),
            "/console/api/enterprise-groups/{group_id}/x"
        );
        assert_eq!(blocks[4].label.as_deref(), Some("成功"));
    }
}
