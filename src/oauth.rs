//! Social sign-in providers (GitHub, Google) as the server calls them: the authorize URL,
//! the code exchange (the `oauth2` crate) and the user lookup. Outgoing HTTP only; what an
//! identity means for accounts is `domain::social`.

use std::sync::OnceLock;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::config::OAuthConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Github,
    Google,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Google => "google",
        }
    }
}

/// Who the provider says the user is. `email` is verified by the provider.
#[derive(Debug, Clone)]
pub struct Identity {
    pub open_id: String,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0} sign-in is not configured")]
    NotConfigured(&'static str),
    #[error("provider endpoint: {0}")]
    Config(String),
    #[error("code exchange failed: {0}")]
    Exchange(String),
    #[error("user lookup failed: {0}")]
    UserInfo(String),
    #[error("the provider has no verified email for this user")]
    NoVerifiedEmail,
}

/// Whether any provider has a client id and secret (`enable_social_oauth_login`).
pub fn any_configured(cfg: &OAuthConfig) -> bool {
    [Provider::Github, Provider::Google]
        .into_iter()
        .any(|p| endpoints(cfg, p).is_some())
}

struct Endpoints<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    authorize_url: &'a str,
    token_url: &'a str,
    scopes: &'static [&'static str],
}

fn endpoints(cfg: &OAuthConfig, provider: Provider) -> Option<Endpoints<'_>> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.trim().is_empty())
    }
    match provider {
        Provider::Github => Some(Endpoints {
            client_id: set(&cfg.github_client_id)?,
            client_secret: set(&cfg.github_client_secret)?,
            authorize_url: &cfg.github_authorize_url,
            token_url: &cfg.github_token_url,
            scopes: &["user:email"],
        }),
        Provider::Google => Some(Endpoints {
            client_id: set(&cfg.google_client_id)?,
            client_secret: set(&cfg.google_client_secret)?,
            authorize_url: &cfg.google_authorize_url,
            token_url: &cfg.google_token_url,
            scopes: &["openid", "email", "profile"],
        }),
    }
}

pub fn is_configured(cfg: &OAuthConfig, provider: Provider) -> bool {
    endpoints(cfg, provider).is_some()
}

/// Where the provider sends the browser back: `{CONSOLE_API_URL}/console/api/oauth/authorize/{provider}`.
pub fn redirect_uri(cfg: &OAuthConfig, provider: Provider) -> String {
    format!(
        "{}/console/api/oauth/authorize/{}",
        cfg.console_api_url.trim_end_matches('/'),
        provider.as_str()
    )
}

/// The path of the callback URL as browsers request it (`CONSOLE_API_URL`'s own path
/// included): where the state cookie is sent.
pub fn callback_path(cfg: &OAuthConfig, provider: Provider) -> String {
    let uri = redirect_uri(cfg, provider);
    match oauth2::url::Url::parse(&uri) {
        // `;` ends a cookie attribute; the url crate leaves it unencoded in paths.
        Ok(url) => url.path().replace(';', "%3B"),
        Err(_) => format!("/console/api/oauth/authorize/{}", provider.as_str()),
    }
}

/// Whether browsers reach this API over https (`CONSOLE_API_URL`), so cookies can be `Secure`.
pub fn public_url_is_https(cfg: &OAuthConfig) -> bool {
    cfg.console_api_url
        .trim()
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// A new PKCE code verifier (RFC 7636: 32 random bytes, base64url, 43 characters). It stays
/// on the server; the provider sees its S256 challenge.
pub fn new_pkce_verifier() -> String {
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    verifier.secret().clone()
}

fn bad_url(e: oauth2::url::ParseError) -> ProviderError {
    ProviderError::Config(e.to_string())
}

/// The provider's authorization page for this sign-in, carrying `state` and the S256
/// challenge of `pkce_verifier`.
pub fn authorize_url(
    cfg: &OAuthConfig,
    provider: Provider,
    state: &str,
    pkce_verifier: &str,
) -> Result<String, ProviderError> {
    let ep = endpoints(cfg, provider).ok_or(ProviderError::NotConfigured(provider.as_str()))?;
    let client = BasicClient::new(ClientId::new(ep.client_id.to_string()))
        .set_auth_uri(AuthUrl::new(ep.authorize_url.to_string()).map_err(bad_url)?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri(cfg, provider)).map_err(bad_url)?);
    let state = state.to_string();
    let (url, _) = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(ep.scopes.iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(
            &PkceCodeVerifier::new(pkce_verifier.to_string()),
        ))
        .url();
    Ok(url.to_string())
}

/// One HTTP client for every provider call: TLS (rustls), no redirects (a
/// token endpoint that redirects is refused, as oauth2 advises), bounded time.
fn http() -> Result<&'static reqwest::Client, ProviderError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(15))
                .user_agent(concat!("console-server/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ProviderError::Config(e.clone()))
}

#[derive(Debug, thiserror::Error)]
enum HttpFailure {
    #[error(transparent)]
    Send(#[from] reqwest::Error),
    #[error(transparent)]
    Build(#[from] oauth2::http::Error),
}

/// oauth2's HTTP client: our reqwest client, with a boxed `Send` future so the handler's
/// future stays `Send`.
struct OAuthHttp(&'static reqwest::Client);

type HttpFuture<'c> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c>,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp {
    type Error = HttpFailure;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Carries one oauth2 request over reqwest.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let mut outgoing = http.request(parts.method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let answer = outgoing.send().await?;
    let mut response = oauth2::http::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    let bytes = answer.bytes().await?;
    Ok(response.body(bytes.to_vec())?)
}

/// Trades `code` (with the sign-in's PKCE verifier) for an access token and asks the
/// provider who the user is.
pub async fn identify(
    cfg: &OAuthConfig,
    provider: Provider,
    code: &str,
    pkce_verifier: &str,
) -> Result<Identity, ProviderError> {
    let ep = endpoints(cfg, provider).ok_or(ProviderError::NotConfigured(provider.as_str()))?;
    let client = BasicClient::new(ClientId::new(ep.client_id.to_string()))
        .set_client_secret(ClientSecret::new(ep.client_secret.to_string()))
        // GitHub and Google both take the client credentials in the form body (GitHub's
        // documented way; Basic authentication is not).
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(ep.authorize_url.to_string()).map_err(bad_url)?)
        .set_token_uri(TokenUrl::new(ep.token_url.to_string()).map_err(bad_url)?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri(cfg, provider)).map_err(bad_url)?);
    let http = http()?;
    let carrier = OAuthHttp(http);
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
        .request_async(&carrier)
        .await
        .map_err(|e| ProviderError::Exchange(e.to_string()))?;
    let access = token.access_token().secret();
    match provider {
        Provider::Github => github_user(http, &cfg.github_api_url, access).await,
        Provider::Google => google_user(http, &cfg.google_userinfo_url, access).await,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    access: &str,
) -> Result<T, ProviderError> {
    let answer = http
        .get(url)
        .bearer_auth(access)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| ProviderError::UserInfo(e.to_string()))?;
    if !answer.status().is_success() {
        return Err(ProviderError::UserInfo(format!(
            "{url} answered {}",
            answer.status()
        )));
    }
    answer
        .json()
        .await
        .map_err(|e| ProviderError::UserInfo(e.to_string()))
}

#[derive(Deserialize)]
struct GithubUser {
    id: serde_json::Value,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub: the user, and their verified primary email from `user/emails` (the public
/// email on the profile is neither always set nor necessarily verified).
async fn github_user(
    http: &reqwest::Client,
    api: &str,
    access: &str,
) -> Result<Identity, ProviderError> {
    let api = api.trim_end_matches('/');
    let user: GithubUser = get_json(http, &format!("{api}/user"), access).await?;
    let open_id = match &user.id {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(ProviderError::UserInfo("the user has no id".into())),
    };
    let emails: Vec<GithubEmail> = get_json(http, &format!("{api}/user/emails"), access).await?;
    let email = emails
        .into_iter()
        .find(|e| e.primary && e.verified)
        .map(|e| e.email)
        .ok_or(ProviderError::NoVerifiedEmail)?;
    Ok(Identity {
        open_id,
        email,
        name: user.name.filter(|n| !n.trim().is_empty()).or(user.login),
    })
}

#[derive(Deserialize)]
struct GoogleUser {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    name: Option<String>,
}

/// Google: the OpenID Connect userinfo (`sub`, `email`, `email_verified`).
async fn google_user(
    http: &reqwest::Client,
    url: &str,
    access: &str,
) -> Result<Identity, ProviderError> {
    let user: GoogleUser = get_json(http, url, access).await?;
    let email = user
        .email
        .filter(|_| user.email_verified)
        .ok_or(ProviderError::NoVerifiedEmail)?;
    Ok(Identity {
        open_id: user.sub,
        email,
        name: user.name.filter(|n| !n.trim().is_empty()),
    })
}
