//! Path templates of a served spec (`/console/api/enterprise-groups/{group_id}/members`),
//! matched against request paths. The body checks and the `Allow` header of a 405 both read
//! the operations of a surface from its generated spec through this.

use poem::http::{HeaderValue, Method};
use serde_json::Value;

/// One path of the spec, split into segments; `None` stands for a `{parameter}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathTemplate(Vec<Option<String>>);

impl PathTemplate {
    pub fn parse(template: &str) -> Self {
        Self(
            template
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                .collect(),
        )
    }

    /// How many segments are literal: where two templates match a path
    /// (`/groups/current` and `/groups/{id}`), the more literal one is the route.
    pub fn literals(&self) -> usize {
        self.0.iter().filter(|s| s.is_some()).count()
    }

    /// The `{parameter}` segments of a matching `path`, by their names in `template`.
    pub fn captures<'a>(template: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
        template
            .split('/')
            .zip(path.split('/'))
            .filter_map(|(t, p)| {
                t.strip_prefix('{')
                    .and_then(|t| t.strip_suffix('}'))
                    .map(|name| (name, p))
            })
            .collect()
    }

    pub fn matches(&self, path: &str) -> bool {
        let mut parts = path.split('/');
        let mut segments = self.0.iter();
        loop {
            match (segments.next(), parts.next()) {
                (None, None) => return true,
                (Some(seg), Some(part)) if seg.as_deref().is_none_or(|s| s == part) => {}
                _ => return false,
            }
        }
    }
}

/// Which operation a request is, by method and path, for the request log.
#[derive(Debug, Default)]
pub struct OperationIndex(Vec<(Method, PathTemplate, &'static str)>);

impl OperationIndex {
    /// Every `(method, path template, operationId)` of the surfaces; the more literal
    /// templates are tried first, as the router does.
    pub fn new(
        routes: impl IntoIterator<Item = (&'static str, &'static str, &'static str)>,
    ) -> Self {
        let mut all: Vec<(Method, PathTemplate, &'static str)> = routes
            .into_iter()
            .filter_map(|(method, path, id)| {
                Some((
                    Method::from_bytes(method.as_bytes()).ok()?,
                    PathTemplate::parse(path),
                    id,
                ))
            })
            .collect();
        all.sort_by_key(|(_, t, _)| std::cmp::Reverse(t.literals()));
        Self(all)
    }

    /// The operationId of `method path`, if it is one of the surfaces' operations.
    pub fn find(&self, method: &Method, path: &str) -> Option<&'static str> {
        self.0
            .iter()
            .find(|(m, t, _)| m == method && t.matches(path))
            .map(|(_, _, id)| *id)
    }
}

/// Every operation of a spec: its method, path template and operation object.
pub fn operations(doc: &Value) -> impl Iterator<Item = (Method, PathTemplate, &Value)> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            let template = PathTemplate::parse(path);
            item.as_object()
                .into_iter()
                .flatten()
                .filter_map(move |(method, op)| {
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).ok()?;
                    Some((method, template.clone(), op))
                })
        })
}

/// The methods each path of a surface answers, for the `Allow` header RFC 9110 requires on
/// a 405.
pub struct AllowedMethods(Vec<(PathTemplate, HeaderValue)>);

impl AllowedMethods {
    pub fn from_spec(spec: &str) -> Result<Self, serde_json::Error> {
        let doc: Value = serde_json::from_str(spec)?;
        let mut by_path: Vec<(PathTemplate, Vec<Method>)> = Vec::new();
        for (method, template, _) in operations(&doc) {
            match by_path.iter_mut().find(|(t, _)| *t == template) {
                Some((_, methods)) => methods.push(method),
                None => by_path.push((template, vec![method])),
            }
        }
        let table = by_path
            .into_iter()
            .filter_map(|(template, mut methods)| {
                methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
                let value = HeaderValue::from_str(&list.join(", ")).ok()?;
                Some((template, value))
            })
            .collect();
        Ok(Self(table))
    }

    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Whether no path has methods (a spec that could not be read, or routes outside the
    /// API surfaces).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `Allow` value for a request path, when the spec has that path.
    pub fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        self.0
            .iter()
            .filter(|(t, _)| t.matches(path))
            .max_by_key(|(t, _)| t.literals())
            .map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_paths_only() {
        let t = PathTemplate::parse("/console/api/enterprise-groups/{group_id}/members");
        assert!(t.matches("/console/api/enterprise-groups/abc/members"));
        assert!(!t.matches("/console/api/enterprise-groups/abc"));
        assert!(!t.matches("/console/api/enterprise-groups/abc/members/x"));
        assert!(!t.matches("/console/api/enterprise-groups/abc/tenants"));
    }

    #[test]
    fn allow_lists_every_method_of_the_path() {
        let spec = r#"{"paths":{"/a/{id}":{"get":{},"put":{}},"/b":{"post":{}}}}"#;
        let allowed = AllowedMethods::from_spec(spec).expect("spec");
        assert_eq!(
            allowed.for_path("/a/7").map(|v| v.to_str().ok()),
            Some(Some("GET, PUT"))
        );
        assert_eq!(
            allowed.for_path("/b").map(|v| v.to_str().ok()),
            Some(Some("POST"))
        );
        assert!(allowed.for_path("/c").is_none());
    }
}
