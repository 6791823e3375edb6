//! A local OAuth provider on 127.0.0.1 for social sign-in tests: GitHub-shaped (authorize,
//! token, `api/user`, `api/user/emails`) and Google-shaped (authorize, token, userinfo)
//! endpoints, with switches to make it misbehave. It checks PKCE (RFC 7636) as GitHub and
//! Google do: a code whose authorization request carried a `code_challenge` is only
//! exchanged with the verifier that hashes to it; only `S256` is accepted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::web::{Data, Form, Json, Query};
use poem::{EndpointExt, Response, Route, get, handler, post};
use serde::Deserialize;
use serde_json::json;

use console_server::config::OAuthConfig;

/// The user the provider signs in.
#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: String,
    pub login: String,
    pub name: String,
    /// The public profile email (GitHub often has none).
    pub public_email: Option<String>,
    /// The primary email and whether the provider verified it.
    pub email: String,
    pub verified: bool,
}

impl FakeUser {
    pub fn new(id: &str, email: &str) -> Self {
        Self {
            id: id.to_string(),
            login: format!("user{id}"),
            name: format!("User {id}"),
            public_email: None,
            email: email.to_string(),
            verified: true,
        }
    }
}

#[derive(Default)]
struct Inner {
    user: Option<FakeUser>,
    /// The user declines consent.
    deny: bool,
    /// The token endpoint answers 500.
    token_fails: bool,
    /// The user endpoints answer 500.
    user_fails: bool,
    /// Codes issued: code → (redirect_uri, user, PKCE S256 challenge if one was sent).
    codes: HashMap<String, (String, FakeUser, Option<String>)>,
    /// Codes exchanged with a verifier that matched their challenge.
    pkce_verified: u32,
    /// Codes exchanged that were issued without a challenge.
    without_pkce: u32,
    /// Access tokens issued.
    tokens: HashMap<String, FakeUser>,
    next: u64,
}

#[derive(Clone, Default)]
pub struct FakeProvider {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";
/// What the app is told its public URL is; the test sends the provider's callback to the
/// real address instead, as a reverse proxy would.
pub const PUBLIC_API_URL: &str = "https://console-api.example.com";

impl FakeProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind provider");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        drop(listener);
        let provider = Self {
            base: format!("http://{addr}"),
            inner: Arc::default(),
        };
        let app = Route::new()
            .at("/authorize", get(authorize))
            .at("/token", post(token_endpoint))
            .at("/api/user", get(github_user))
            .at("/api/user/emails", get(github_emails))
            .at("/userinfo", get(google_userinfo))
            .data(provider.clone());
        let server = poem::Server::new(poem::listener::TcpListener::bind(addr));
        tokio::spawn(async move {
            let _ = server.run(app).await;
        });
        // Wait until it accepts connections.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        provider
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().expect("provider state");
        f(&mut inner)
    }

    pub fn sign_in_as(&self, user: FakeUser) {
        self.with(|i| i.user = Some(user));
    }

    pub fn deny_consent(&self, deny: bool) {
        self.with(|i| i.deny = deny);
    }

    pub fn fail_token(&self, fail: bool) {
        self.with(|i| i.token_fails = fail);
    }

    pub fn fail_user(&self, fail: bool) {
        self.with(|i| i.user_fails = fail);
    }

    /// How many codes were exchanged with a checked PKCE verifier, and how many were
    /// issued without a challenge.
    pub fn exchanges(&self) -> (u32, u32) {
        self.with(|i| (i.pkce_verified, i.without_pkce))
    }

    /// The app's configuration for this provider: GitHub and, when `google`, Google too.
    pub fn config(&self, google: bool) -> OAuthConfig {
        let mut cfg = OAuthConfig::defaults();
        cfg.github_client_id = Some(CLIENT_ID.into());
        cfg.github_client_secret = Some(CLIENT_SECRET.into());
        cfg.github_authorize_url = format!("{}/authorize", self.base);
        cfg.github_token_url = format!("{}/token", self.base);
        cfg.github_api_url = format!("{}/api", self.base);
        if google {
            cfg.google_client_id = Some(CLIENT_ID.into());
            cfg.google_client_secret = Some(CLIENT_SECRET.into());
            cfg.google_authorize_url = format!("{}/authorize", self.base);
            cfg.google_token_url = format!("{}/token", self.base);
            cfg.google_userinfo_url = format!("{}/userinfo", self.base);
        }
        cfg.console_api_url = PUBLIC_API_URL.into();
        cfg
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn redirect(to: String) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", to)
        .finish()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{base}?{query}")
}

#[handler]
fn authorize(Query(q): Query<AuthorizeQuery>, Data(p): Data<&FakeProvider>) -> Response {
    if q.client_id != CLIENT_ID || q.response_type != "code" {
        return StatusCode::BAD_REQUEST.into();
    }
    let state = q.state.unwrap_or_default();
    p.with(|i| {
        if i.deny {
            return redirect(with_query(
                &q.redirect_uri,
                &[("error", "access_denied"), ("state", &state)],
            ));
        }
        let Some(user) = i.user.clone() else {
            return StatusCode::BAD_REQUEST.into();
        };
        // RFC 7636 4.3: the method defaults to `plain`, which this provider refuses.
        if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
            return redirect(with_query(
                &q.redirect_uri,
                &[("error", "invalid_request"), ("state", &state)],
            ));
        }
        i.next += 1;
        let code = format!("code-{}", i.next);
        i.codes.insert(
            code.clone(),
            (q.redirect_uri.clone(), user, q.code_challenge.clone()),
        );
        redirect(with_query(
            &q.redirect_uri,
            &[("code", &code), ("state", &state)],
        ))
    })
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
}

/// RFC 7636 4.2: `BASE64URL(SHA256(verifier))`, unpadded.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

#[handler]
fn token_endpoint(Form(f): Form<TokenForm>, Data(p): Data<&FakeProvider>) -> Response {
    p.with(|i| {
        if i.token_fails {
            return StatusCode::INTERNAL_SERVER_ERROR.into();
        }
        let client_ok = f.client_id.as_deref() == Some(CLIENT_ID)
            && f.client_secret.as_deref() == Some(CLIENT_SECRET);
        let issued = i.codes.remove(&f.code);
        match issued {
            Some((redirect_uri, user, challenge))
                if client_ok
                    && f.grant_type == "authorization_code"
                    && f.redirect_uri.as_deref() == Some(redirect_uri.as_str())
                    && match (&challenge, &f.code_verifier) {
                        (Some(challenge), Some(verifier)) => s256(verifier) == *challenge,
                        (Some(_), None) => false,
                        // A verifier for a code issued without a challenge is refused too.
                        (None, verifier) => verifier.is_none(),
                    } =>
            {
                if challenge.is_some() {
                    i.pkce_verified += 1;
                } else {
                    i.without_pkce += 1;
                }
                i.next += 1;
                let access = format!("access-{}", i.next);
                i.tokens.insert(access.clone(), user);
                Json(json!({"access_token": access, "token_type": "bearer", "scope": "user:email"}))
                    .into_response()
            }
            _ => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
                .into_response(),
        }
    })
}

use poem::IntoResponse;

fn bearer_user(req: &poem::Request, p: &FakeProvider) -> Result<FakeUser, StatusCode> {
    let access = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    p.with(|i| {
        if i.user_fails {
            return Err(StatusCode::INTERNAL_SERVER_ERROR);
        }
        i.tokens
            .get(&access)
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    })
}

#[handler]
fn github_user(req: &poem::Request, Data(p): Data<&FakeProvider>) -> Response {
    match bearer_user(req, p) {
        Ok(u) => {
            let id: i64 = u.id.parse().unwrap_or(0);
            Json(json!({"id": id, "login": u.login, "name": u.name, "email": u.public_email}))
                .into_response()
        }
        Err(status) => status.into(),
    }
}

#[handler]
fn github_emails(req: &poem::Request, Data(p): Data<&FakeProvider>) -> Response {
    match bearer_user(req, p) {
        Ok(u) => Json(json!([
            {"email": format!("{}@users.noreply.github.com", u.login), "primary": false, "verified": true, "visibility": null},
            {"email": u.email, "primary": true, "verified": u.verified, "visibility": "private"},
        ]))
        .into_response(),
        Err(status) => status.into(),
    }
}

#[handler]
fn google_userinfo(req: &poem::Request, Data(p): Data<&FakeProvider>) -> Response {
    match bearer_user(req, p) {
        Ok(u) => Json(json!({
            "sub": u.id, "email": u.email, "email_verified": u.verified, "name": u.name
        }))
        .into_response(),
        Err(status) => status.into(),
    }
}
