//! Roles and statuses are typed (`entity/src/roles.rs`): the server compares and writes
//! them as enums, never as the text the database holds. The test here reads the stored
//! texts from that file and fails when one appears as a string literal anywhere in the
//! server's sources outside the generated code and test-only items, so a new
//! `status == "banned"` cannot slip back in.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use anyhow::Result;
use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::module_graph::server_sources;

/// The stored texts declared in `roles.rs`: every `Variant = "text"` of its
/// `stored_text!` invocations (attributes, doc comments among them, skipped).
pub fn stored_values(roles_rs: &str) -> Result<BTreeSet<String>> {
    let tokens: Vec<TokenTree> = TokenStream::from_str(roles_rs)
        .map_err(|e| anyhow::anyhow!("roles.rs: {e}"))?
        .into_iter()
        .collect();
    let mut out = BTreeSet::new();
    for w in tokens.windows(3) {
        let (TokenTree::Ident(name), TokenTree::Punct(bang), TokenTree::Group(body)) =
            (&w[0], &w[1], &w[2])
        else {
            continue;
        };
        if name != "stored_text" || bang.as_char() != '!' {
            continue;
        }
        // `Name { Variant = "text", ... }`: the variants are the brace group.
        for inner in body.stream() {
            let TokenTree::Group(variants) = inner else {
                continue;
            };
            if variants.delimiter() != Delimiter::Brace {
                continue;
            }
            let v: Vec<TokenTree> = variants.stream().into_iter().collect();
            for t in v.windows(3) {
                if let (TokenTree::Ident(_), TokenTree::Punct(eq), TokenTree::Literal(lit)) =
                    (&t[0], &t[1], &t[2])
                    && eq.as_char() == '='
                {
                    out.insert(lit.to_string().trim_matches('"').to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Literals equal to a stored value that name something else: `(file under src, value)`.
/// "admin" is also the admin surface's name and its first user's.
pub const ALLOWED: &[(&str, &str)] = &[
    ("app.rs", "admin"),
    ("metrics.rs", "admin"),
    ("api/audit_layer.rs", "admin"),
    ("api/admin/error.rs", "admin"),
    ("api/admin/admin_user.rs", "admin"),
    ("domain/admin_users/mod.rs", "admin"),
];

/// Every string literal of `src` (generated code and `#[cfg(test)]` items left out) that
/// is one of `values` and not allowed: `(file, value)`.
pub fn literals_outside_entity(
    src: &Path,
    values: &BTreeSet<String>,
) -> Result<Vec<(String, String)>> {
    Ok(stored_texts_in(src, values)?
        .into_iter()
        .filter(|(file, v)| !ALLOWED.contains(&(file.as_str(), v.as_str())))
        .collect())
}

/// Every string literal of `src` (generated code and test items left out) that is one of
/// `values`, allowed or not.
fn stored_texts_in(src: &Path, values: &BTreeSet<String>) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for (rel, tokens) in server_sources(src)? {
        let mut literals = Vec::new();
        string_literals(tokens, &mut literals);
        for lit in literals {
            if values.contains(&lit) {
                found.push((rel.clone(), lit));
            }
        }
    }
    Ok(found)
}

fn string_literals(tokens: TokenStream, out: &mut Vec<String>) {
    for token in tokens {
        match &token {
            TokenTree::Group(g) => string_literals(g.stream(), out),
            TokenTree::Literal(lit) => {
                let text = lit.to_string();
                if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                    out.push(inner.to_string());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn values() -> BTreeSet<String> {
        let roles = std::fs::read_to_string(root().join("entity/src/roles.rs")).expect("roles.rs");
        stored_values(&roles).expect("roles.rs parses")
    }

    #[test]
    fn the_stored_values_are_read_from_the_enums() {
        let v = values();
        for expected in ["super_admin", "dataset_operator", "banned", "archive"] {
            assert!(v.contains(expected), "{expected} missing from {v:?}");
        }
        assert!(v.iter().all(|t| !t.is_empty() && !t.contains(' ')), "{v:?}");
    }

    #[test]
    fn no_role_or_status_literal_outside_entity() {
        let found = literals_outside_entity(&root().join("src"), &values()).expect("sources read");
        assert!(
            found.is_empty(),
            "compare and write roles and statuses through entity::roles, not as text:\n{}",
            found
                .iter()
                .map(|(file, v)| format!("  src/{file}: \"{v}\""))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn every_allowance_is_still_needed() {
        let found = stored_texts_in(&root().join("src"), &values()).expect("sources read");
        for (file, v) in ALLOWED {
            assert!(
                found.iter().any(|(f, x)| f == file && x == v),
                "src/{file} no longer holds \"{v}\": drop it from ALLOWED"
            );
        }
    }

    #[test]
    fn a_literal_in_server_code_is_found_and_one_in_a_test_item_is_not() {
        let dir = std::env::temp_dir().join(format!("stored-literals-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("domain")).expect("dir");
        std::fs::write(
            dir.join("domain/x.rs"),
            r#"fn f(s: &str) -> bool { s == "banned" }
               #[cfg(test)] mod tests { const A: &str = "closed"; }"#,
        )
        .expect("write");
        let found = literals_outside_entity(&dir, &values()).expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            found,
            vec![("domain/x.rs".to_string(), "banned".to_string())]
        );
    }
}
