//! Attacks: oauth (issue 15).
//!
//! Social sign-in CSRF and leaky redirects, against the local provider of
//! `tests/api/oauth_provider.rs`. Every browser is a `Browser` with its own cookies, so
//! "the victim opens the attacker's link" is one browser requesting a URL another one got.

use entity::{account, oauth_state, refresh_token};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::browser::{Browser, set_cookies};
use crate::helpers::{Backend, TestApp};
use crate::oauth::{
    WEB, accounts_with, app, app_with, authorize_in, land_in, location, param, refused_with,
    signed_in_as, start_in,
};
use crate::oauth_provider::{FakeProvider, FakeUser, PUBLIC_API_URL};
use crate::session::ADMIN_EMAIL;

/// The cookie that ties a sign-in's `state` to the browser that started it.
const STATE_COOKIE: &str = "oauth_state";

/// One test per backend for an `async fn(Backend)`.
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            use crate::helpers::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(Backend::Postgres).await
            }
        }
    };
}

async fn sessions_of(app: &TestApp, email: &str) -> u64 {
    let Some(account) = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .expect("query")
    else {
        return 0;
    };
    refresh_token::Entity::find()
        .filter(refresh_token::Column::AccountId.eq(account.id))
        .count(&app.state.db)
        .await
        .expect("count")
}

/// Login CSRF: Mallory starts a GitHub sign-in with her own GitHub account, stops before
/// the callback, and gets Victor to open the callback URL (a link, an image, a redirect
/// from her site). Before the fix Victor's browser was signed in to Mallory's console
/// account, where whatever he then typed (API keys, documents) went to her.
async fn login_csrf(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, true).await else {
        return;
    };
    let mallory = Browser::new();
    provider.sign_in_as(FakeUser::new("666", "mallory@example.com"));
    let to_provider = start_in(&mallory, &app, "github").await;
    let callback = authorize_in(&mallory, &app, &to_provider).await;

    let victor = Browser::new();
    let landing = land_in(&victor, &callback).await;
    let message = refused_with(&landing);
    assert!(message.contains("another browser"), "{message}");
    assert!(
        !landing.contains("access_token"),
        "no token for Victor: {landing}"
    );
    // Nothing happened on Mallory's behalf either: no account was made, no session started.
    assert_eq!(accounts_with(&app, "mallory@example.com").await, 0);
    assert_eq!(sessions_of(&app, "mallory@example.com").await, 0);
}
on_both_databases!(login_csrf);

/// A callback whose state does not match the browser's cookie is refused without touching
/// the state: whoever sends it (Victor with Mallory's link, or Mallory with a state she
/// saw in someone's URL) spends nothing, and the browser that started each sign-in can
/// still finish it.
async fn a_mismatching_callback_spends_nothing(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, true).await else {
        return;
    };
    let victor = Browser::new();
    provider.sign_in_as(FakeUser::new("1", ADMIN_EMAIL));
    let victors_callback =
        authorize_in(&victor, &app, &start_in(&victor, &app, "github").await).await;
    let mallory = Browser::new();
    provider.sign_in_as(FakeUser::new("666", "mallory@example.com"));
    let mallorys_callback =
        authorize_in(&mallory, &app, &start_in(&mallory, &app, "github").await).await;

    // Victor, with a sign-in of his own in flight, opens Mallory's link: refused, and his
    // own sign-in's cookie stays.
    let response = victor.get(&mallorys_callback).await;
    refused_with(&location(&response));
    assert!(
        set_cookies(&response).is_empty(),
        "a mismatch leaves the browser's cookie alone"
    );
    assert_eq!(victor.cookies(STATE_COOKIE).len(), 1);
    // Mallory replays Victor's callback in her browser: refused too.
    refused_with(&land_in(&mallory, &victors_callback).await);

    // Both states are still there, and each browser finishes its own sign-in.
    assert_eq!(
        signed_in_as(&app, &land_in(&victor, &victors_callback).await).await,
        ADMIN_EMAIL
    );
    assert!(victor.cookies(STATE_COOKIE).is_empty(), "used: cleared");
    assert_eq!(
        signed_in_as(&app, &land_in(&mallory, &mallorys_callback).await).await,
        "mallory@example.com"
    );
    assert!(mallory.cookies(STATE_COOKIE).is_empty(), "used: cleared");
    // And used once: the same browser cannot replay it.
    let message = refused_with(&land_in(&victor, &victors_callback).await);
    assert!(message.contains("another browser"), "{message}");
}
on_both_databases!(a_mismatching_callback_spends_nothing);

/// Code injection: Mallory obtains Victor's authorization code (from a leaked callback
/// URL: history, a proxy log, a Referer) and pastes it into a sign-in she started
/// herself, state and cookie hers. Before PKCE the console exchanged it and signed her in
/// as Victor; with PKCE the code is bound to Victor's verifier, which stays on the server.
async fn a_stolen_code_does_not_work_in_another_sign_in(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, false).await else {
        return;
    };
    let victor = Browser::new();
    provider.sign_in_as(FakeUser::new("1", ADMIN_EMAIL));
    let to_provider = start_in(&victor, &app, "github").await;
    let victors_callback = authorize_in(&victor, &app, &to_provider).await;
    let stolen = param(&victors_callback, "code").expect("code");

    let mallory = Browser::new();
    let hers = start_in(&mallory, &app, "github").await;
    let state = param(&hers, "state").expect("state");
    let injected = app.url(&format!(
        "/console/api/oauth/authorize/github?code={stolen}&state={state}"
    ));
    let message = refused_with(&land_in(&mallory, &injected).await);
    assert!(message.contains("OAuth process failed"), "{message}");
    assert_eq!(sessions_of(&app, ADMIN_EMAIL).await, 0);

    // The authorization request carries an S256 challenge, never the verifier.
    assert_eq!(
        param(&to_provider, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let challenge = param(&to_provider, "code_challenge").expect("code_challenge");
    assert_eq!(challenge.len(), 43, "base64url SHA-256: {challenge}");
    assert!(param(&to_provider, "code_verifier").is_none());

    // An honest sign-in is exchanged with the verifier, and the provider checked it.
    let honest = Browser::new();
    let callback = authorize_in(&honest, &app, &start_in(&honest, &app, "github").await).await;
    assert_eq!(
        signed_in_as(&app, &land_in(&honest, &callback).await).await,
        ADMIN_EMAIL
    );
    assert_eq!(
        provider.exchanges(),
        (1, 0),
        "one code exchanged with a verified PKCE verifier, none without"
    );
}
on_both_databases!(a_stolen_code_does_not_work_in_another_sign_in);

fn assert_private_redirect(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status().as_u16(), 302, "{what}: {response:?}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
}

/// Tokens and one-time values ride in these redirects' URLs: no cache may keep them, and
/// the next page may not be told where the browser came from.
async fn every_redirect_is_private(backend: Backend) {
    let provider = FakeProvider::start().await;
    // GitHub only: Google is a provider this server has no client for.
    let Some(app) = app_with(backend, provider.config(false), false).await else {
        return;
    };
    provider.sign_in_as(FakeUser::new("1", ADMIN_EMAIL));
    let browser = Browser::new();
    let login = |p: &str| app.url(&format!("/console/api/oauth/login/{p}"));

    let to_provider = browser.get(&login("github")).await;
    assert_private_redirect(&to_provider, "login: to the provider");
    let response = browser.get(&login("google")).await;
    assert_private_redirect(&response, "login: provider not configured");
    assert!(set_cookies(&response).is_empty(), "no sign-in, no cookie");
    let response = browser
        .get(&app.url("/console/api/oauth/authorize/google?code=x&state=y"))
        .await;
    assert_private_redirect(&response, "callback: provider not configured");
    let response = browser
        .get(&app.url("/console/api/oauth/authorize/github?code=x&state=forged"))
        .await;
    assert_private_redirect(&response, "callback: forged state");
    let callback = authorize_in(&browser, &app, &location(&to_provider)).await;
    let response = Browser::new().get(&callback).await;
    assert_private_redirect(&response, "callback: another browser");
    let response = browser.get(&callback).await;
    assert_private_redirect(&response, "callback: signed in");
    signed_in_as(&app, &location(&response)).await;
    let response = browser
        .get(&app.url("/console/api/oauth/authorize/github?error=access_denied&state=z"))
        .await;
    assert_private_redirect(&response, "callback: denied");
}
on_both_databases!(every_redirect_is_private);

/// The cookie: set by the login step with the state, HttpOnly (no script reads it),
/// SameSite=Lax (sent on the provider's top-level redirect back, not on cross-site
/// subrequests), Secure when the public API URL is https, scoped to the callback path and
/// to the state's lifetime, and removed by the callback that uses it. The database keeps
/// only the state's SHA-256.
async fn the_state_cookie(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, false).await else {
        return;
    };
    provider.sign_in_as(FakeUser::new("1", ADMIN_EMAIL));
    let browser = Browser::new();
    let response = browser
        .get(&app.url("/console/api/oauth/login/github"))
        .await;
    let state = param(&location(&response), "state").expect("state");
    let set = set_cookies(&response);
    assert_eq!(set.len(), 1, "{set:?}");
    let cookie = &set[0];
    assert_eq!(
        (cookie.name.as_str(), cookie.value.as_str()),
        (STATE_COOKIE, state.as_str())
    );
    assert!(cookie.has("httponly"), "{cookie:?}");
    assert_eq!(cookie.attribute("samesite"), Some("Lax"), "{cookie:?}");
    assert!(
        cookie.has("secure"),
        "{PUBLIC_API_URL} is https: {cookie:?}"
    );
    assert_eq!(
        cookie.attribute("path"),
        Some("/console/api/oauth/authorize/github"),
        "{cookie:?}"
    );
    assert_eq!(cookie.attribute("max-age"), Some("600"), "{cookie:?}");
    assert!(
        cookie.attribute("domain").is_none(),
        "host-only: {cookie:?}"
    );

    let rows = oauth_state::Entity::find()
        .all(&app.state.db)
        .await
        .expect("states");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].state_hash,
        console_server::auth::tokens::token_hash(&state)
    );
    assert_ne!(rows[0].state_hash, state);

    let callback = authorize_in(&browser, &app, &location(&response)).await;
    let response = browser.get(&callback).await;
    let cleared = set_cookies(&response);
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert_eq!(cleared[0].name, STATE_COOKIE);
    assert_eq!(cleared[0].value, "");
    assert_eq!(cleared[0].attribute("max-age"), Some("0"));
    assert_eq!(
        cleared[0].attribute("path"),
        Some("/console/api/oauth/authorize/github")
    );
    assert!(browser.cookies(STATE_COOKIE).is_empty());
    signed_in_as(&app, &location(&response)).await;

    // A console reached over plain HTTP gets no `Secure` (the browser would drop the
    // cookie), and the path follows the public URL's own prefix.
    let mut oauth = provider.config(false);
    oauth.console_api_url = "http://127.0.0.1:5001/console-api/".into();
    let Some(plain) = app_with(backend, oauth, false).await else {
        return;
    };
    let response = Browser::new()
        .get(&plain.url("/console/api/oauth/login/github"))
        .await;
    let set = set_cookies(&response);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(!set[0].has("secure"), "{:?}", set[0]);
    assert_eq!(
        set[0].attribute("path"),
        Some("/console-api/console/api/oauth/authorize/github")
    );
}
on_both_databases!(the_state_cookie);

/// Where the token pair rides: `query` (the default, what Dify's web app reads) puts it
/// in the URL that browsers keep in history and send to the web app's server;
/// `fragment` keeps it out of every request (a fragment is never sent, nor put in a
/// Referer), for a web app that reads `location.hash`.
async fn tokens_ride_in_the_query_or_the_fragment(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.sign_in_as(FakeUser::new("1", ADMIN_EMAIL));
    let Some(app) = app(backend, &provider, false).await else {
        return;
    };
    let browser = Browser::new();
    let callback = authorize_in(&browser, &app, &start_in(&browser, &app, "github").await).await;
    let landing = land_in(&browser, &callback).await;
    let url = url::Url::parse(&landing).expect("landing");
    assert!(url.fragment().is_none(), "{landing}");
    assert_eq!(signed_in_as(&app, &landing).await, ADMIN_EMAIL);

    let mut oauth = provider.config(false);
    oauth.token_delivery = console_server::config::TokenDelivery::Fragment;
    let Some(app) = app_with(backend, oauth, false).await else {
        return;
    };
    let browser = Browser::new();
    let callback = authorize_in(&browser, &app, &start_in(&browser, &app, "github").await).await;
    let landing = land_in(&browser, &callback).await;
    assert!(
        landing.starts_with(&format!("{WEB}#access_token=")),
        "{landing}"
    );
    let url = url::Url::parse(&landing).expect("landing");
    assert!(url.query().is_none(), "nothing in the query: {landing}");
    let fragment: Vec<(String, String)> =
        url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let names: Vec<&str> = fragment.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["access_token", "refresh_token"], "{landing}");
    assert_eq!(fragment[1].1.len(), 128);
    let profile = app
        .console_as(&fragment[0].1)
        .get_account_profile()
        .send()
        .await
        .expect("profile with the token from the fragment")
        .into_inner();
    assert_eq!(profile.email, ADMIN_EMAIL);
    // Failures still say why in the query: a message is no secret.
    let landing = land_in(
        &Browser::new(),
        &app.url("/console/api/oauth/authorize/github?code=x&state=y"),
    )
    .await;
    refused_with(&landing);
}
on_both_databases!(tokens_ride_in_the_query_or_the_fragment);
