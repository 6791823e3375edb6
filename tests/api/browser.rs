//! A browser for the social sign-in tests: follows no redirects, keeps the cookies each
//! origin sets (RFC 6265's parts that matter here: name, value, `Path`, removal by
//! `Max-Age=0`) and sends them back to that origin. Each `Browser` is one person's
//! browser, so a test can hand a URL from one browser to another.
//!
//! The app is told its public URL is `https://…` and the tests reach it over plain HTTP
//! through the "proxy" that `to_callback` imitates, so `Secure` is recorded (for
//! assertions) but not enforced.

use std::sync::Mutex;

/// One cookie as a `Set-Cookie` header stated it.
#[derive(Clone, Debug)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attribute names in lower case, with their values (`""` for flags).
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next()?.split_once('=')?;
        let attributes = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
                None => (p.to_ascii_lowercase(), String::new()),
            })
            .collect();
        Some(Self {
            name: name.trim().to_string(),
            value: value.trim().to_string(),
            attributes,
        })
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, flag: &str) -> bool {
        self.attribute(flag).is_some()
    }

    fn path(&self) -> &str {
        self.attribute("path").unwrap_or("/")
    }

    fn removes(&self) -> bool {
        self.attribute("max-age")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|age| age <= 0)
    }
}

struct Stored {
    origin: String,
    cookie: SetCookie,
}

pub struct Browser {
    http: reqwest::Client,
    jar: Mutex<Vec<Stored>>,
}

fn origin_and_path(url: &str) -> (String, String) {
    let parsed = url::Url::parse(url).expect("url");
    (
        parsed.origin().ascii_serialization(),
        parsed.path().to_string(),
    )
}

/// RFC 6265 5.1.4: the cookie path is the request path or a directory prefix of it.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: Mutex::new(Vec::new()),
        }
    }

    /// `GET url` with this browser's cookies for it; remembers what the answer sets.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        let (origin, path) = origin_and_path(url);
        let cookies: Vec<String> = self
            .jar
            .lock()
            .expect("jar")
            .iter()
            .filter(|s| s.origin == origin && path_matches(s.cookie.path(), &path))
            .map(|s| format!("{}={}", s.cookie.name, s.cookie.value))
            .collect();
        let mut request = self.http.get(url);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        let response = request.send().await.expect("request");
        let set: Vec<SetCookie> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(SetCookie::parse)
            .collect();
        let mut jar = self.jar.lock().expect("jar");
        for cookie in set {
            jar.retain(|s| {
                !(s.origin == origin
                    && s.cookie.name == cookie.name
                    && s.cookie.path() == cookie.path())
            });
            if !cookie.removes() {
                jar.push(Stored {
                    origin: origin.clone(),
                    cookie,
                });
            }
        }
        response
    }

    /// The cookies this browser holds, by name.
    pub fn cookies(&self, name: &str) -> Vec<SetCookie> {
        self.jar
            .lock()
            .expect("jar")
            .iter()
            .filter(|s| s.cookie.name == name)
            .map(|s| s.cookie.clone())
            .collect()
    }
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(response: &reqwest::Response) -> Vec<SetCookie> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(SetCookie::parse)
        .collect()
}
