//! The server crate's module graph, read from its sources: which module names which. A
//! test here fails on a cycle between modules and on a dependency that points up the
//! layers (`app`/`server` → `api` → `state` → `domain` → storage, with the leaf modules
//! beside), so the structure `docs/ARCHITECTURE.md` draws stays true.
//!
//! A module is a file (`src/domain/groups/tenants.rs` is `domain::groups::tenants`); a
//! module naming its parent or a child is no edge (a child naming `super::` is not a
//! cycle), siblings are separate modules, and the generated code counts as one module. What a module names is every `crate::…`,
//! `super::…` and `self::…` path in it, `use` trees expanded; test-only items
//! (`#[cfg(test)]`) are left out, as they are not part of the server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

/// Module → the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reads every `.rs` file under `src` (the crate root) into a graph.
pub fn read(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    for (module, path) in &files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let tokens =
            TokenStream::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut paths = Vec::new();
        scan(without_test_items(tokens), &mut paths);
        let from = unit(module);
        let edges = graph.entry(from.clone()).or_default();
        for named in paths {
            let Some(absolute) = absolute(module, &named) else {
                continue;
            };
            let Some(target) = longest_known(&modules, &absolute) else {
                continue;
            };
            let to = unit(&target);
            if !related(&from, &to) {
                edges.insert(to);
            }
        }
    }
    Ok(graph)
}

/// The module a file is: its path under `src`, `mod.rs`, `lib.rs` and `main.rs` standing
/// for their directory (the crate root is "crate").
pub(crate) fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root)?.with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let module = if parts.is_empty() {
                "crate".to_string()
            } else {
                parts.join("::")
            };
            out.push((module, path));
        }
    }
    Ok(())
}

/// The generated code is one module; everything else is its file.
fn unit(module: &str) -> String {
    if module.starts_with("api::generated") {
        "api::generated".to_string()
    } else {
        module.to_string()
    }
}

/// A module and what is inside it (or around it) are one unit.
fn related(a: &str, b: &str) -> bool {
    a == b
        || b == "crate"
        || a == "crate"
        || a.starts_with(&format!("{b}::"))
        || b.starts_with(&format!("{a}::"))
}

/// A named path (`crate::…`, `super::…`, `self::…`) made absolute (without `crate::`).
fn absolute(module: &str, named: &[String]) -> Option<Vec<String>> {
    let first = named.first()?;
    let mut base: Vec<String> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let rest = match first.as_str() {
        "crate" => {
            base.clear();
            &named[1..]
        }
        "self" => &named[1..],
        "super" => {
            let mut rest = named;
            // In `a/b.rs` and in `a/b/mod.rs` alike (module `a::b`), `super` is `a`.
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            rest
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The longest prefix of `path` that is a module of the crate.
fn longest_known(modules: &BTreeSet<String>, path: &[String]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The hand-written server sources under `src`, each as its path under `src` and its
/// tokens without test items: what the source checks read.
pub(crate) fn server_sources(src: &Path) -> Result<Vec<(String, TokenStream)>> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    let mut out = Vec::new();
    for (_, path) in files {
        let rel = path.strip_prefix(src)?.to_string_lossy().replace('\\', "/");
        if rel.starts_with("api/generated/") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let tokens =
            TokenStream::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        out.push((rel, without_test_items(tokens)));
    }
    Ok(out)
}

/// `tokens` without the items marked `#[cfg(test)]`, at any depth: what the server is
/// built from.
pub(crate) fn without_test_items(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens, i) {
            i = skip_item(&tokens, i + 2);
            continue;
        }
        out.push(match &tokens[i] {
            TokenTree::Group(g) => {
                let mut kept = Group::new(g.delimiter(), without_test_items(g.stream()));
                kept.set_span(g.span());
                TokenTree::Group(kept)
            }
            t => t.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// Every `crate::`/`super::`/`self::` path in `tokens`, `use` trees expanded.
fn scan(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(id)
                if matches!(id.to_string().as_str(), "crate" | "super" | "self")
                    && !preceded_by_path_sep(&tokens, i) =>
            {
                i = read_path(&tokens, i, Vec::new(), out);
                continue;
            }
            TokenTree::Group(g) => scan(g.stream(), out),
            _ => {}
        }
        i += 1;
    }
}

fn is_cfg_test(tokens: &[TokenTree], i: usize) -> bool {
    let (Some(TokenTree::Punct(p)), Some(TokenTree::Group(g))) = (tokens.get(i), tokens.get(i + 1))
    else {
        return false;
    };
    p.as_char() == '#'
        && g.delimiter() == Delimiter::Bracket
        && g.stream().to_string().replace(' ', "") == "cfg(test)"
}

/// The index after the item that starts at `i`: up to its body (a brace group) or `;`.
fn skip_item(tokens: &[TokenTree], mut i: usize) -> usize {
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => return i + 1,
            TokenTree::Punct(p) if p.as_char() == ';' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn is_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    matches!((tokens.get(i), tokens.get(i + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':')
}

fn preceded_by_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    i >= 2 && is_path_sep(tokens, i - 2)
}

/// Reads the path starting at `i` (after `prefix`), pushing each full path it names (a
/// brace group expands to one per item); returns the index after it.
fn read_path(
    tokens: &[TokenTree],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i) {
            Some(TokenTree::Ident(id)) => {
                prefix.push(id.to_string());
                i += 1;
            }
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                for item in inner.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                {
                    if !item.is_empty() {
                        read_path(item, 0, prefix.clone(), out);
                    }
                }
                return i + 1;
            }
            _ => break,
        }
        if is_path_sep(tokens, i) {
            i += 2;
        } else {
            break;
        }
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
    i
}

/// The cycles of `graph`: its strongly connected components of more than one module.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The layer of a module, lowest first; a module may name its own layer or lower ones.
/// Everything not listed (`auth`, `mail`, `cache`, `clock`, `config`, `db`, …) is a leaf
/// beside the layers, which names no layer above storage.
fn layer(module: &str) -> u8 {
    let top = module.split("::").next().unwrap_or(module);
    match top {
        "domain" => 2,
        "state" => 3,
        "api" => 4,
        "app" | "server" | "metrics" | "backup" | "crate" | "main" => 5,
        _ => 1,
    }
}

/// Edges that point up the layers: `(from, to)`.
pub fn upward(graph: &Graph) -> Vec<(String, String)> {
    graph
        .iter()
        .flat_map(|(from, to)| to.iter().map(move |t| (from, t)))
        .filter(|(from, to)| layer(to) > layer(from))
        .map(|(from, to)| (from.clone(), to.clone()))
        .collect()
}

/// `cargo xtask modules`: prints the graph, then fails on a cycle, an upward edge, a role
/// or status written as text, or a cached row written outside its owners (what the tests
/// check, with the whole graph to read).
pub fn report(src: &Path) -> Result<()> {
    let graph = read(src)?;
    for (from, to) in &graph {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let found = cycles(&graph);
    for component in &found {
        println!("\ncycle: {}", component.join(", "));
    }
    let up = upward(&graph);
    for (from, to) in &up {
        println!("upward: {from} -> {to}");
    }
    let roles = std::fs::read_to_string(src.join("../entity/src/roles.rs"))
        .context("reading entity/src/roles.rs")?;
    let literals = crate::stored_literals::literals_outside_entity(
        src,
        &crate::stored_literals::stored_values(&roles)?,
    )?;
    for (file, value) in &literals {
        println!("role or status as text: src/{file}: \"{value}\"");
    }
    let stray = crate::cached_writes::unowned(&crate::cached_writes::writes(src)?);
    for (file, entity) in &stray {
        println!("cached row written outside its owners: src/{file}: {entity}");
    }
    if found.is_empty() && up.is_empty() && literals.is_empty() && stray.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} cycle(s), {} upward edge(s), {} role or status literal(s), {} cached write(s) outside their owners",
            found.len(),
            up.len(),
            literals.len(),
            stray.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_graph() -> Graph {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
        read(&src).expect("the server's sources read")
    }

    fn show(graph: &Graph, component: &[String]) -> String {
        let members: BTreeSet<&String> = component.iter().collect();
        component
            .iter()
            .map(|m| {
                let to: Vec<&String> = graph[m].iter().filter(|t| members.contains(t)).collect();
                format!("  {m} -> {to:?}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn no_cycle_between_the_servers_modules() {
        let graph = server_graph();
        let found = cycles(&graph);
        let shown: Vec<String> = found.iter().map(|c| show(&graph, c)).collect();
        assert!(found.is_empty(), "module cycles:\n{}", shown.join("\n\n"));
    }

    #[test]
    fn no_dependency_points_up_the_layers() {
        let up = upward(&server_graph());
        assert!(up.is_empty(), "modules naming a layer above them: {up:#?}");
    }

    #[test]
    fn the_reader_sees_use_trees_super_paths_and_skips_test_items() {
        let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).expect("temp dir");
        std::fs::write(dir.join("lib.rs"), "mod a; mod b; mod c;").expect("write");
        std::fs::write(
            dir.join("a/mod.rs"),
            "pub mod x; use crate::{b::{self, Thing}, c};",
        )
        .expect("write");
        std::fs::write(
            dir.join("a/x.rs"),
            "use super::super::c::f; fn g() { super::h(); }",
        )
        .expect("write");
        std::fs::write(dir.join("b.rs"), "fn f() { crate::a::y(); }").expect("write");
        std::fs::write(
            dir.join("c.rs"),
            "#[cfg(test)] mod tests { use crate::b::f; }",
        )
        .expect("write");
        let graph = read(&dir).expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        let names = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names("a"), ["b", "c"]);
        assert_eq!(names("a::x"), ["c"]);
        assert_eq!(names("b"), ["a"]);
        assert!(names("c").is_empty());
        let found = cycles(&graph);
        assert_eq!(found, [vec!["a".to_string(), "b".to_string()]], "{found:?}");
    }
}
