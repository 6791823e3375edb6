//! Social sign-in against a local provider, driving the whole redirect dance over real
//! HTTP with redirects not followed: the console's login redirect, the provider's
//! authorize page, the callback, and the landing on the console web app.

use console_client::console::types;
use console_server::clock::ManualClock;
use console_server::config::FeatureConfig;
use console_server::state::AppState;
use entity::{account, oauth_link, tenant_member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::browser::Browser;
use crate::db_test;
use crate::helpers::{Backend, TestApp};
use crate::oauth_provider::{FakeProvider, FakeUser, PUBLIC_API_URL};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

pub(crate) const WEB: &str = "http://127.0.0.1:3000";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// An app set up, with GitHub (and Google) pointing at `provider`, a manual clock, and
/// registration as given.
pub(crate) async fn app(
    backend: Backend,
    provider: &FakeProvider,
    allow_register: bool,
) -> Option<TestApp> {
    app_with(backend, provider.config(true), allow_register).await
}

/// An app set up with this social sign-in configuration, a manual clock, and registration
/// as given.
pub(crate) async fn app_with(
    backend: Backend,
    oauth: console_server::config::OAuthConfig,
    allow_register: bool,
) -> Option<TestApp> {
    let app = TestApp::spawn_custom(backend, move |state: AppState| {
        AppState {
            features: FeatureConfig {
                allow_register,
                ..FeatureConfig::defaults()
            },
            ..state
        }
        .with_oauth(oauth)
        .with_clock(ManualClock::new(1_800_000_000))
    })
    .await?;
    setup(&app).await;
    Some(app)
}

pub(crate) fn location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status().as_u16(), 302, "expected a redirect: {resp:?}");
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string()
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let parsed = url::Url::parse(url).expect("url");
    parsed.query_pairs().into_owned().collect()
}

pub(crate) fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A sign-in in flight: the browser that started it, the state, and the callback URL the
/// provider sent that browser to (already pointed at the app's real address).
pub(crate) struct Flow {
    pub browser: Browser,
    pub state: String,
    pub callback: String,
}

/// Step one and two, in a browser of their own: the console's login redirect, then the
/// provider's authorize page.
async fn to_callback(app: &TestApp, provider: &str, invite: Option<&str>) -> Flow {
    let browser = Browser::new();
    let mut login_url = app.url(&format!("/console/api/oauth/login/{provider}"));
    if let Some(invite) = invite {
        login_url = format!("{login_url}?invite_token={invite}");
    }
    let to_provider = location(&browser.get(&login_url).await);
    let state = param(&to_provider, "state").expect("state in authorize url");
    assert!(state.len() >= 32, "state is unguessable: {state}");
    assert_eq!(
        param(&to_provider, "redirect_uri").as_deref(),
        Some(format!("{PUBLIC_API_URL}/console/api/oauth/authorize/{provider}").as_str())
    );
    let public = format!("{PUBLIC_API_URL}/console/api/oauth/authorize/{provider}?");
    let callback = location(&browser.get(&to_provider).await);
    assert!(callback.starts_with(&public), "{callback}");
    // The browser reaches the public URL; the proxy in front of the app forwards it here.
    let callback = callback.replacen(PUBLIC_API_URL, &app.base, 1);
    Flow {
        browser,
        state,
        callback,
    }
}

/// Step three, in the browser that started the sign-in; returns where the console sends it.
async fn land(flow: &Flow) -> String {
    land_in(&flow.browser, &flow.callback).await
}

/// A callback sent with `Cookie: oauth_state=<cookie>` whatever a browser would do (one
/// that ignored the cookie's removal, say), to reach the checks behind the cookie's.
async fn land_carrying(callback: &str, cookie: &str) -> String {
    location(
        &no_redirects()
            .get(callback)
            .header("cookie", format!("oauth_state={cookie}"))
            .send()
            .await
            .expect("callback"),
    )
}

async fn dance(app: &TestApp, provider: &str) -> String {
    land(&to_callback(app, provider, None).await).await
}

/// Step one in `browser`: the console's login redirect; returns the provider's authorize URL.
pub(crate) async fn start_in(browser: &Browser, app: &TestApp, provider: &str) -> String {
    location(
        &browser
            .get(&app.url(&format!("/console/api/oauth/login/{provider}")))
            .await,
    )
}

/// Step two in `browser`: the provider's authorize page; returns the callback URL it sends
/// the browser to, pointed at the app's real address (the proxy's job).
pub(crate) async fn authorize_in(browser: &Browser, app: &TestApp, to_provider: &str) -> String {
    let callback = location(&browser.get(to_provider).await);
    assert!(callback.starts_with(PUBLIC_API_URL), "{callback}");
    callback.replacen(PUBLIC_API_URL, &app.base, 1)
}

/// Step three in `browser`: the callback; returns where the console sends the browser.
pub(crate) async fn land_in(browser: &Browser, callback: &str) -> String {
    location(&browser.get(callback).await)
}

/// The sign-in page with a message, as the refused sign-ins land.
pub(crate) fn refused_with(landing: &str) -> String {
    assert!(
        landing.starts_with(&format!("{WEB}/signin?message=")),
        "expected the sign-in page: {landing}"
    );
    param(landing, "message").expect("message")
}

/// The access token of a successful landing, checked by reading the profile with it.
pub(crate) async fn signed_in_as(app: &TestApp, landing: &str) -> String {
    assert!(
        landing.starts_with(&format!("{WEB}?access_token=")),
        "{landing}"
    );
    let access = param(landing, "access_token").expect("access token");
    assert!(param(landing, "refresh_token").is_some_and(|r| r.len() == 128));
    let profile = app
        .console_as(&access)
        .get_account_profile()
        .send()
        .await
        .expect("profile with the landed token")
        .into_inner();
    profile.email
}

pub(crate) async fn accounts_with(app: &TestApp, email: &str) -> u64 {
    account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .count(&app.state.db)
        .await
        .expect("count")
}

async fn providers_of(app: &TestApp) -> (bool, bool) {
    let f = app
        .console
        .get_system_features()
        .send()
        .await
        .expect("features")
        .into_inner();
    (f.enable_social_oauth_login, f.is_allow_register)
}

db_test!(async fn social_sign_in_is_off_until_a_provider_is_configured(app) {
    setup(&app).await;
    assert_eq!(providers_of(&app).await, (false, false));
    let resp = no_redirects()
        .get(app.url("/console/api/oauth/login/github"))
        .send()
        .await
        .expect("login");
    // A provider without a client sends the browser to the sign-in page with the reason, as
    // every failed sign-in does, from the start and from the callback alike.
    let signin = format!("{}/signin?message=Invalid+provider", app.state.auth.console_web_url.trim_end_matches('/'));
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"].to_str().ok(), Some(signin.as_str()));
    let resp = no_redirects()
        .get(app.url("/console/api/oauth/authorize/github?code=x&state=y"))
        .send()
        .await
        .expect("callback");
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"].to_str().ok(), Some(signin.as_str()));
    // A name outside the contract's enum is still bad input.
    let (status, body) = app.raw("GET", "/console/api/oauth/login/gitlab", None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_param")));
    let (status, body) = app.raw("GET", "/console/api/oauth/login/gitlab", None).await;
    assert_eq!(status, 400, "unknown provider: {body}");
    assert_eq!(body["status"], 400);
});

async fn github_signs_up_then_signs_in_by_link(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, true).await else {
        return;
    };
    assert_eq!(providers_of(&app).await, (true, true));
    // No public email: the verified primary one from user/emails is used.
    provider.sign_in_as(FakeUser::new("4242", "Octo@Example.com"));
    let landing = dance(&app, "github").await;
    assert_eq!(signed_in_as(&app, &landing).await, "octo@example.com");
    assert_eq!(accounts_with(&app, "octo@example.com").await, 1);
    let created = account::Entity::find()
        .filter(account::Column::Email.eq("octo@example.com"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("account");
    assert_eq!(
        (created.status.as_str(), created.name.as_str()),
        ("active", "User 4242")
    );
    assert!(created.password_hash.is_none());
    let owner = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(created.id))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("its own workspace");
    assert_eq!((owner.role.as_str(), owner.current), ("owner", true));

    // The same GitHub user later has another email: the link, not the email, finds them.
    provider.sign_in_as(FakeUser::new("4242", "renamed@example.com"));
    let landing = dance(&app, "github").await;
    assert_eq!(signed_in_as(&app, &landing).await, "octo@example.com");
    assert_eq!(accounts_with(&app, "renamed@example.com").await, 0);
    let links = oauth_link::Entity::find()
        .filter(oauth_link::Column::AccountId.eq(created.id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(links, 1);

    // An existing account with that verified email is linked and signed in (Google).
    provider.sign_in_as(FakeUser::new("g-77", ADMIN_EMAIL));
    let landing = dance(&app, "google").await;
    assert_eq!(signed_in_as(&app, &landing).await, ADMIN_EMAIL);
    assert_eq!(accounts_with(&app, ADMIN_EMAIL).await, 1);
    let link = oauth_link::Entity::find()
        .filter(oauth_link::Column::Provider.eq("google"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("link");
    assert_eq!(link.open_id, "g-77");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_github_signs_up_then_signs_in_by_link_sqlite() {
    github_signs_up_then_signs_in_by_link(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_github_signs_up_then_signs_in_by_link_postgres() {
    github_signs_up_then_signs_in_by_link(Backend::Postgres).await
}

async fn states_are_single_use_bound_and_short_lived(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, true).await else {
        return;
    };
    provider.sign_in_as(FakeUser::new("1", "one@example.com"));

    // Replayed: the first use signs in and removes the cookie, so the browser cannot send
    // it again; sent anyway (the cookie kept), the state is already spent.
    let flow = to_callback(&app, "github", None).await;
    signed_in_as(&app, &land(&flow).await).await;
    let message = refused_with(&land(&flow).await);
    assert!(message.contains("another browser"), "{message}");
    let message = refused_with(&land_carrying(&flow.callback, &flow.state).await);
    assert!(message.contains("expired or was already used"), "{message}");

    // Expired: ten minutes pass at the provider.
    let flow = to_callback(&app, "github", None).await;
    app.state
        .clock
        .as_manual()
        .expect("manual clock")
        .advance(601);
    let message = refused_with(&land(&flow).await);
    assert!(message.contains("expired or was already used"), "{message}");

    // Bound to its provider: a GitHub state presented to the Google callback (whose path
    // the GitHub cookie is not even sent to).
    let flow = to_callback(&app, "github", None).await;
    let foreign = flow
        .callback
        .replace("/authorize/github?", "/authorize/google?");
    let message = refused_with(&land_in(&flow.browser, &foreign).await);
    assert!(message.contains("another browser"), "{message}");
    let message = refused_with(&land_carrying(&foreign, &flow.state).await);
    assert!(message.contains("expired or was already used"), "{message}");

    // Forged or missing, with or without a cookie to match.
    let forged = app.url("/console/api/oauth/authorize/github?code=code-1&state=forged");
    refused_with(&land_in(&Browser::new(), &forged).await);
    let message = refused_with(&land_carrying(&forged, "forged").await);
    assert!(message.contains("expired or was already used"), "{message}");
    let missing = app.url("/console/api/oauth/authorize/github?code=code-1");
    refused_with(&land_in(&Browser::new(), &missing).await);
    refused_with(&land_carrying(&missing, "forged").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_states_are_single_use_bound_and_short_lived_sqlite() {
    states_are_single_use_bound_and_short_lived(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_states_are_single_use_bound_and_short_lived_postgres() {
    states_are_single_use_bound_and_short_lived(Backend::Postgres).await
}

async fn failures_land_on_the_sign_in_page(backend: Backend) {
    let provider = FakeProvider::start().await;
    let Some(app) = app(backend, &provider, false).await else {
        return;
    };

    // Denied consent.
    provider.sign_in_as(FakeUser::new("2", "two@example.com"));
    provider.deny_consent(true);
    let message = refused_with(&dance(&app, "github").await);
    assert!(message.contains("cancelled"), "{message}");
    provider.deny_consent(false);

    // The provider's token endpoint fails, then its user endpoint.
    provider.fail_token(true);
    let message = refused_with(&dance(&app, "github").await);
    assert!(message.contains("OAuth process failed"), "{message}");
    provider.fail_token(false);
    provider.fail_user(true);
    refused_with(&dance(&app, "google").await);
    provider.fail_user(false);

    // An unverified email signs nobody in, not even the account that has it.
    let mut unverified = FakeUser::new("3", ADMIN_EMAIL);
    unverified.verified = false;
    provider.sign_in_as(unverified);
    for p in ["github", "google"] {
        let message = refused_with(&dance(&app, p).await);
        assert!(message.contains("verified email"), "{p}: {message}");
    }

    // Registration is closed: an unknown email is refused, and no account appears.
    provider.sign_in_as(FakeUser::new("5", "stranger@example.com"));
    let message = refused_with(&dance(&app, "github").await);
    assert!(message.contains("registration is closed"), "{message}");
    assert_eq!(accounts_with(&app, "stranger@example.com").await, 0);

    // A banned account.
    let admin = account::Entity::find()
        .filter(account::Column::Email.eq(ADMIN_EMAIL))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("admin");
    let mut ban: account::ActiveModel = admin.into();
    ban.status = Set(entity::roles::AccountStatus::Banned);
    ban.update(&app.state.db).await.expect("ban");
    provider.sign_in_as(FakeUser::new("6", ADMIN_EMAIL));
    assert_eq!(
        refused_with(&dance(&app, "github").await),
        "Account is banned."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_failures_land_on_the_sign_in_page_sqlite() {
    failures_land_on_the_sign_in_page(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_failures_land_on_the_sign_in_page_postgres() {
    failures_land_on_the_sign_in_page(Backend::Postgres).await
}

async fn an_invitation_lands_on_invite_settings(backend: Backend) {
    let provider = FakeProvider::start().await;
    // Activation links go to the invitee's mailbox only: read this one from the mail.
    let sink = crate::smtp::SmtpSink::start().await;
    let mailer = sink.mailer();
    let oauth = provider.config(true);
    let Some(app) = TestApp::spawn_custom(backend, move |state: AppState| {
        state
            .with_oauth(oauth)
            .with_mailer(mailer)
            .with_clock(ManualClock::new(1_800_000_000))
    })
    .await
    else {
        return;
    };
    setup(&app).await;
    let admin = app.console_as(
        &login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("login")
            .access_token,
    );
    let answer = admin
        .invite_members_by_email()
        .body(types::InviteMembersRequest {
            emails: vec!["invited@example.com".to_string().try_into().expect("email")],
            role: types::InvitableRole::Editor,
            language: None,
        })
        .send()
        .await
        .expect("invite")
        .into_inner();
    assert!(answer.invitation_results[0].url.is_none());
    let link = sink.activation_link("invited@example.com");
    let invite = link.split("token=").nth(1).expect("token").to_string();

    // Another email at the provider: refused.
    provider.sign_in_as(FakeUser::new("8", "someone-else@example.com"));
    let flow = to_callback(&app, "github", Some(&invite)).await;
    assert_eq!(
        refused_with(&land(&flow).await),
        "Invalid invitation token."
    );

    // The invited email: on to the invite settings page with the token.
    provider.sign_in_as(FakeUser::new("9", "invited@example.com"));
    let flow = to_callback(&app, "github", Some(&invite)).await;
    let landing = land(&flow).await;
    assert_eq!(
        landing,
        format!("{WEB}/signin/invite-settings?invite_token={invite}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_an_invitation_lands_on_invite_settings_sqlite() {
    an_invitation_lands_on_invite_settings(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_an_invitation_lands_on_invite_settings_postgres() {
    an_invitation_lands_on_invite_settings(Backend::Postgres).await
}
