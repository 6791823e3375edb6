//! The storage folders offered to administrators as base paths (`ADMIN_BASE_PATHS`).
//! The storage itself lives elsewhere; this is only the folder tree its picker browses.

use std::collections::BTreeSet;

use super::admin_users::normalize_base_path;

/// A tree of folders: the root, every configured folder and every parent of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFolders {
    paths: BTreeSet<String>,
}

impl Default for StorageFolders {
    fn default() -> Self {
        Self::new::<&str>(&[])
    }
}

/// The parent of a normalised path; `None` for the root.
fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of a normalised path.
fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl StorageFolders {
    /// The tree of `configured` (paths cleaned as AList cleans base paths; blank entries
    /// skipped). The root is always there.
    pub fn new<S: AsRef<str>>(configured: &[S]) -> Self {
        let mut paths = BTreeSet::from(["/".to_string()]);
        for raw in configured {
            let raw = raw.as_ref().trim();
            if raw.is_empty() {
                continue;
            }
            let path = normalize_base_path(raw);
            let mut at = Some(path.as_str());
            while let Some(p) = at {
                if !paths.insert(p.to_string()) {
                    break;
                }
                at = parent(p);
            }
        }
        Self { paths }
    }

    /// Every folder of the tree, the root first (sorted).
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// The names of the folders directly inside `path` (cleaned first), sorted; `None`
    /// when `path` is not a folder of the tree.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        let path = normalize_base_path(path);
        if !self.paths.contains(&path) {
            return None;
        }
        Some(
            self.paths
                .iter()
                .filter(|p| parent(p) == Some(path.as_str()))
                .map(|p| name(p).to_string())
                .collect(),
        )
    }
}

/// AList's `JoinBasePath`: `path` taken inside `base` (`..` cannot climb out of it).
pub fn join(base: &str, path: &str) -> String {
    normalize_base_path(&format!(
        "{}/{}",
        normalize_base_path(base),
        normalize_base_path(path)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_folders_and_their_parents() {
        let f = StorageFolders::new(&["/", "/team", "team/docs/", "/media/films", " "]);
        assert_eq!(f.children("/"), Some(vec!["media".into(), "team".into()]));
        assert_eq!(f.children("/team"), Some(vec!["docs".into()]));
        assert_eq!(f.children("/media"), Some(vec!["films".into()]));
        assert_eq!(f.children("/team/docs/"), Some(vec![]));
        assert_eq!(f.children("/nope"), None);
        assert_eq!(
            f.all().collect::<Vec<_>>(),
            ["/", "/media", "/media/films", "/team", "/team/docs"]
        );
    }

    #[test]
    fn unset_is_the_root_alone() {
        let f = StorageFolders::default();
        assert_eq!(f.children(""), Some(vec![]));
        assert_eq!(f.children("/a"), None);
    }

    #[test]
    fn a_path_stays_inside_the_base() {
        assert_eq!(join("/team", "/"), "/team");
        assert_eq!(join("/team", "docs"), "/team/docs");
        assert_eq!(join("/team", "../../etc"), "/team/etc");
        assert_eq!(join("/", ""), "/");
    }
}
