//! The rows a cache holds may be written only by the modules that invalidate that cache
//! after they commit. The test here reads the server's sources (test items left out) and
//! fails when any other module writes such an entity: names its `ActiveModel`, calls one of
//! its bulk writes (`Entity::update_many`, `delete_many`, `insert`, `insert_many`, `delete`,
//! `delete_by_id`), or turns a model into an active one (`into_active_model`, which names
//! no entity) outside the owners. It also fails when an owner listed here no longer
//! writes, so the list stays the true one.

use std::path::Path;

use anyhow::Result;
use proc_macro2::{TokenStream, TokenTree};

use crate::module_graph::server_sources;

/// The console account cache's rows (`domain::account_cache`: an account with its system
/// role, extension, current group membership and ended sessions) are written only by
/// `domain::account_writes`, whose `AccountWrite` drops the touched views when it commits.
const ACCOUNT_WRITERS: &[&str] = &["domain/account_writes.rs"];

/// Each cached entity and the files (or directories, ending in `/`) that may write it.
pub const OWNERS: &[(&str, &[&str])] = &[
    // `domain::admin_users` is the admin-user cache's one repository: every write there
    // ends in its `forget`.
    ("admin_user", &["domain/admin_users/"]),
    ("account", ACCOUNT_WRITERS),
    ("account_role", ACCOUNT_WRITERS),
    ("account_extension", ACCOUNT_WRITERS),
    ("group_member", ACCOUNT_WRITERS),
    ("refresh_token", ACCOUNT_WRITERS),
];

const BULK_WRITES: &[&str] = &[
    "update_many",
    "delete_many",
    "insert",
    "insert_many",
    "delete",
    "delete_by_id",
];

fn owned_by(file: &str, owners: &[&str]) -> bool {
    owners
        .iter()
        .any(|o| file == *o || (o.ends_with('/') && file.starts_with(o)))
}

/// Every write of a cached entity in `src` (generated code and test items left out):
/// `(file, entity)`, `entity` being `"?"` for an `into_active_model`.
pub fn writes(src: &Path) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for (rel, tokens) in server_sources(src)? {
        let mut flat = Vec::new();
        flatten(tokens, &mut flat);
        for entity in written_entities(&flat) {
            found.push((rel.clone(), entity));
        }
    }
    Ok(found)
}

/// Identifiers and `::` as a flat list of words (`"::"` for a path separator).
fn flatten(tokens: TokenStream, out: &mut Vec<String>) {
    let mut colon = false;
    for t in tokens {
        match t {
            TokenTree::Group(g) => {
                colon = false;
                out.push("(".into());
                flatten(g.stream(), out);
                out.push(")".into());
            }
            TokenTree::Punct(p) if p.as_char() == ':' => {
                if colon {
                    out.push("::".into());
                    colon = false;
                } else {
                    colon = true;
                }
            }
            TokenTree::Ident(id) => {
                colon = false;
                out.push(id.to_string());
            }
            _ => {
                colon = false;
                out.push(".".into());
            }
        }
    }
}

fn written_entities(words: &[String]) -> Vec<String> {
    let cached: Vec<&str> = OWNERS.iter().map(|(e, _)| *e).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let at = |k: usize| words.get(i + k).map(String::as_str);
        if w == "into_active_model" {
            out.push("?".to_string());
        } else if cached.contains(&w.as_str()) && at(1) == Some("::") {
            let named = at(2) == Some("ActiveModel");
            let bulk = at(2) == Some("Entity")
                && at(3) == Some("::")
                && at(4).is_some_and(|f| BULK_WRITES.contains(&f));
            if named || bulk {
                out.push(w.clone());
            }
        }
    }
    out
}

/// Writes by a module that does not own the entity: `(file, entity)`.
pub fn unowned(found: &[(String, String)]) -> Vec<(String, String)> {
    found
        .iter()
        .filter(|(file, entity)| {
            if entity == "?" {
                !OWNERS.iter().any(|(_, owners)| owned_by(file, owners))
            } else {
                OWNERS
                    .iter()
                    .find(|(e, _)| e == entity)
                    .is_some_and(|(_, owners)| !owned_by(file, owners))
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_writes() -> Vec<(String, String)> {
        writes(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")).expect("sources read")
    }

    #[test]
    fn cached_rows_are_written_only_by_their_owners() {
        let stray = unowned(&server_writes());
        assert!(
            stray.is_empty(),
            "these modules write rows a cache holds but do not own them (route the write \
             through the owner, which invalidates the cache after commit):\n{}",
            stray
                .iter()
                .map(|(f, e)| format!("  src/{f}: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn every_listed_owner_still_writes() {
        let found = server_writes();
        for (entity, owners) in OWNERS {
            for owner in owners.iter().filter(|o| !o.ends_with('/')) {
                let writes_some = found.iter().any(|(f, _)| f == owner);
                assert!(
                    writes_some,
                    "src/{owner} writes no cached row any more: drop it from the owners of {entity}"
                );
            }
        }
    }

    #[test]
    fn a_write_by_a_stranger_is_found() {
        let dir = std::env::temp_dir().join(format!("cached-writes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("domain")).expect("dir");
        std::fs::write(
            dir.join("domain/stranger.rs"),
            "async fn f(db: &C) { admin_user::Entity::delete_many().exec(db).await; \
             let row: account::ActiveModel = m.into(); let x = y.into_active_model(); \
             let ok = tenant::Entity::delete_many(); }
             #[cfg(test)] mod tests { fn g() { group_member::Entity::insert(m); } }",
        )
        .expect("write");
        let found = writes(&dir).expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        let stray = unowned(&found);
        let entities: Vec<&str> = stray.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(entities, vec!["admin_user", "account", "?"]);
    }
}
