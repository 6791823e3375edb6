//! Console sign-in: tokens shaped as the seed shows, lockout, refresh rotation, logout,
//! revocation, the not-set-up gate, profiles and administrator registration.

use base64::Engine;
use console_client::console::{Client, Error, types};
use console_server::clock::ManualClock;
use console_server::config::AuthConfig;
use console_server::domain::session;
use entity::account;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::db_test;
use crate::helpers::TestApp;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "abcdefg12";
const START: i64 = 1_800_000_000;

pub async fn setup(app: &TestApp) {
    app.console
        .setup()
        .body(types::SetupRequest {
            email: ADMIN_EMAIL.try_into().expect("email"),
            name: "zgi".try_into().expect("name"),
            password: ADMIN_PASSWORD.try_into().expect("password"),
            language: None,
        })
        .send()
        .await
        .expect("setup");
}

fn login_body(email: &str, password: &str) -> types::LoginRequest {
    types::LoginRequest {
        email: email.try_into().expect("email"),
        password: password.try_into().expect("password"),
        invite_token: None,
        remember_me: Some(true),
        language: None,
    }
}

pub async fn login(
    client: &Client,
    email: &str,
    password: &str,
) -> Result<types::TokenPair, (u16, types::ErrorResponse)> {
    match client
        .login()
        .body(login_body(email, password))
        .send()
        .await
    {
        Ok(rv) => Ok(rv.into_inner().data),
        Err(Error::ErrorResponse(rv)) => Err((rv.status().as_u16(), rv.into_inner())),
        Err(other) => panic!("login: {other:?}"),
    }
}

fn code_of<T: std::fmt::Debug>(result: Result<T, Error<types::ErrorResponse>>) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().code),
        other => panic!("expected an error response, got {other:?}"),
    }
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json claims")
}

fn manual_clock() -> impl FnOnce(console_server::state::AppState) -> console_server::state::AppState
{
    |state| state.with_clock(ManualClock::new(START))
}

/// The manual clock a test installed with `manual_clock()`.
fn manual(app: &TestApp) -> &ManualClock {
    app.state
        .clock
        .as_manual()
        .expect("the test installed a manual clock")
}

db_test!(async fn login_gives_seed_shaped_tokens_and_a_working_session(app) using manual_clock(); {
    setup(&app).await;
    let pair = login(&app.console, "Admin@Example.com", ADMIN_PASSWORD).await.expect("login");
    let c = claims(&pair.access_token);
    assert_eq!(c["sub"], "Console API Passport");
    assert_eq!(c["iss"], "SELF_HOSTED");
    assert_eq!(c["exp"].as_i64(), Some(START + 3600), "60 minutes by default");
    assert!(c["user_id"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).is_some());
    assert_eq!(pair.refresh_token.len(), 128);
    assert!(pair.refresh_token.chars().all(|ch| ch.is_ascii_hexdigit()));

    let me = app.console_as(&pair.access_token);
    let profile = me.get_account_profile().send().await.expect("profile").into_inner();
    assert_eq!(profile.email, ADMIN_EMAIL);
    assert!(profile.is_password_set);
    assert_eq!(profile.last_login_at, Some(START));
    assert_eq!(profile.last_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(profile.avatar, None);
    let ex = me.get_account_ex_profile().send().await.expect("profile-ex").into_inner();
    assert_eq!(ex.status, types::AccountStatus::Active);
    assert_eq!(ex.account_role.map(|r| r.role_type), Some(types::RoleType::SuperAdmin));
    assert_eq!(ex.group_role, Some(types::GroupRole::SuperAdmin));
    assert!(ex.extension.is_none());

    // The raw body keeps the seed's nulls rather than dropping the keys.
    let raw: Value = app
        .http
        .get(app.url("/console/api/account-ex/profile"))
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    for key in ["avatar", "avatar_url", "extension"] {
        assert!(raw.get(key).is_some_and(Value::is_null), "{key} should be present and null: {raw}");
    }
    // No secret leaks into the profile.
    let text = raw.to_string();
    assert!(!text.contains("argon2") && !text.contains("password_hash"), "{text}");
});

db_test!(async fn unknown_emails_and_wrong_passwords_get_the_same_answer(app) {
    setup(&app).await;
    let before = app.state.hasher.computed();
    let (s1, e1) = login(&app.console, "nobody@example.com", ADMIN_PASSWORD).await.expect_err("unknown");
    let after_unknown = app.state.hasher.computed();
    let (s2, e2) = login(&app.console, ADMIN_EMAIL, "wrongpass1").await.expect_err("wrong");
    // The same work too: one hash each, so timing cannot tell them apart either.
    assert_eq!((after_unknown - before, app.state.hasher.computed() - after_unknown), (1, 1));
    assert_eq!((s1, e1.code.as_str(), e1.message.as_str()), (401, "authentication_failed", "Invalid email or password."));
    assert_eq!((s2, &e2.code, &e2.message), (s1, &e1.code, &e1.message));
    // The SDK refuses a malformed e-mail itself (the contract's pattern); the server too.
    assert!(types::LoginRequestEmail::try_from("not-an-email").is_err());
    let body = format!(r#"{{"email": "not-an-email", "password": "{ADMIN_PASSWORD}"}}"#);
    let (status, json) = app.raw("POST", "/console/api/login", Some(&body)).await;
    assert_eq!(crate::helpers::console_error(&json), ("invalid_email", 400));
    assert_eq!(status, 400);
});

db_test!(async fn banned_accounts_are_refused_only_with_the_right_password(app) {
    setup(&app).await;
    let admin = account::Entity::find()
        .filter(account::Column::Email.eq(ADMIN_EMAIL))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("admin");
    let mut banned: account::ActiveModel = admin.into();
    banned.status = Set(entity::roles::AccountStatus::Banned);
    banned.update(&app.state.db).await.expect("ban");
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("banned");
    assert_eq!((status, err.code.as_str()), (400, "account_banned"));
    let (status, err) = login(&app.console, ADMIN_EMAIL, "wrongpass1").await.expect_err("wrong");
    assert_eq!((status, err.code.as_str()), (401, "authentication_failed"));
});

db_test!(async fn six_failures_lock_an_email_until_the_window_ends(app) using manual_clock(); {
    setup(&app).await;
    for _ in 0..5 {
        login(&app.console, ADMIN_EMAIL, "wrongpass1").await.expect_err("wrong");
    }
    // A success before the limit resets the count.
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("fifth failure does not lock");
    for _ in 0..6 {
        let (status, _) = login(&app.console, ADMIN_EMAIL, "wrongpass1").await.expect_err("wrong");
        assert_eq!(status, 401);
    }
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("locked");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    // Other emails are not affected.
    let (status, _) = login(&app.console, "other@example.com", "wrongpass1").await.expect_err("other");
    assert_eq!(status, 401);
    // The lock lasts the window (LOGIN_LOCKOUT_DURATION, a day by default) and no longer.
    manual(&app).advance(86_399);
    assert_eq!(login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("still locked").0, 429);
    manual(&app).advance(2);
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("unlocked");
});

db_test!(async fn one_address_is_limited_across_emails(app) using |state| state.with_auth(AuthConfig { login_ip_limit: 3, ..AuthConfig::defaults() }); {
    setup(&app).await;
    for i in 0..3 {
        login(&app.console, &format!("u{i}@example.com"), "wrongpass1").await.expect_err("wrong");
    }
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("address locked");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
});

db_test!(async fn refresh_rotates_and_reuse_revokes_the_family(app) {
    setup(&app).await;
    let first = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let refresh = |token: String| {
        let client = app.console.clone();
        async move {
            client
                .refresh_token()
                .body(types::RefreshTokenRequest { refresh_token: token.try_into().expect("token") })
                .send()
                .await
        }
    };
    let second = refresh(first.refresh_token.clone()).await.expect("rotate").into_inner().data;
    assert_ne!(second.refresh_token, first.refresh_token);
    app.console_as(&second.access_token).get_account_profile().send().await.expect("new access token works");
    // The used token is refused, and presenting it again revokes the whole family...
    assert_eq!(code_of(refresh(first.refresh_token.clone()).await), (401, "invalid_refresh_token".into()));
    // ...so the token that replaced it no longer works either.
    assert_eq!(code_of(refresh(second.refresh_token.clone()).await), (401, "invalid_refresh_token".into()));
    assert_eq!(code_of(refresh("f".repeat(128)).await), (401, "invalid_refresh_token".into()));
    // Another sign-in is another family, unaffected.
    let other = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    refresh(other.refresh_token).await.expect("independent family");
});

db_test!(async fn logout_ends_the_refresh_family(app) {
    setup(&app).await;
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let me = app.console_as(&pair.access_token);
    assert_eq!(me.logout().send().await.expect("logout").into_inner().result, "success");
    let result = app
        .console
        .refresh_token()
        .body(types::RefreshTokenRequest { refresh_token: pair.refresh_token.try_into().expect("token") })
        .send()
        .await;
    assert_eq!(code_of(result), (401, "invalid_refresh_token".into()));
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    app.console_as(&pair.access_token).logout_post().send().await.expect("POST logout");
});

db_test!(async fn access_tokens_die_with_expiry_revocation_and_foreign_keys(app) using manual_clock(); {
    setup(&app).await;
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let me = app.console_as(&pair.access_token);
    me.get_account_profile().send().await.expect("fresh token");

    // Signed with another key: refused.
    let mut forged = claims(&pair.access_token);
    forged["exp"] = (START + 10_000).into();
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &forged,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-12"),
    )
    .expect("sign");
    assert_eq!(code_of(app.console_as(&other_key).get_account_profile().send().await), (401, "unauthorized".into()));
    assert_eq!(code_of(app.console_as("not-a-jwt").get_account_profile().send().await), (401, "unauthorized".into()));

    // Ending every session (what a password change, ban or close does): refused at once.
    let admin_id = uuid::Uuid::parse_str(claims(&pair.access_token)["user_id"].as_str().expect("id")).expect("uuid");
    session::end_all_sessions(&app.state.db, &app.state.accounts, app.state.clock.now(), admin_id).await.expect("end sessions");
    assert_eq!(code_of(me.get_account_profile().send().await), (401, "unauthorized".into()));
    let refreshed = app
        .console
        .refresh_token()
        .body(types::RefreshTokenRequest { refresh_token: pair.refresh_token.try_into().expect("token") })
        .send()
        .await;
    assert_eq!(code_of(refreshed), (401, "invalid_refresh_token".into()));

    // Expiry by the injected clock.
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let me = app.console_as(&pair.access_token);
    manual(&app).advance(3599);
    me.get_account_profile().send().await.expect("not yet expired");
    manual(&app).advance(1);
    assert_eq!(code_of(me.get_account_profile().send().await), (401, "unauthorized".into()));
});

db_test!(async fn nothing_but_setup_answers_before_setup(app) {
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("not set up");
    assert_eq!((status, err.code.as_str()), (401, "not_setup"));
    assert_eq!(code_of(app.console_as("x").get_account_profile().send().await), (401, "not_setup".into()));
    app.console.get_system_features().send().await.expect("features answer before setup");
    app.console.get_setup_status().send().await.expect("setup status answers before setup");
});

db_test!(async fn administrators_register_accounts(app) {
    setup(&app).await;
    let admin = app.console_as(&login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token);
    let body = |email: &str| types::RegisterAccountRequest {
        email: email.try_into().expect("email"),
        name: "Ann".try_into().expect("name"),
        password: "annpass123".try_into().expect("password"),
    };
    let done = admin.register_account().body(body("ann@example.com")).send().await.expect("register");
    assert_eq!(done.into_inner().result, "success");
    assert_eq!(
        code_of(admin.register_account().body(body("ANN@example.com")).send().await),
        (409, "user_register_failed".into())
    );
    // The contract's e-mail pattern keeps the SDK from sending "nope"; the server refuses it too.
    assert!(types::RegisterAccountRequestEmail::try_from("nope").is_err());
    let token = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token;
    let nope = serde_json::json!({"email": "nope", "name": "Ann", "password": "annpass123"});
    let (status, json) = app.raw_as(&token, reqwest::Method::POST, "/console/api/account/register", nope).await;
    assert_eq!((status, crate::helpers::console_error(&json)), (400, ("invalid_email", 400)));

    let ann = login(&app.console, "ann@example.com", "annpass123").await.expect("the new account signs in");
    let ann = app.console_as(&ann.access_token);
    let ex = ann.get_account_ex_profile().send().await.expect("profile").into_inner();
    assert_eq!(ex.account_role.map(|r| r.role_type), Some(types::RoleType::Normal));
    assert_eq!(ex.group_role, None);
    assert_eq!(
        code_of(ann.register_account().body(body("bob@example.com")).send().await),
        (403, "forbidden".into()),
        "a normal account may not register others"
    );
    assert_eq!(
        code_of(app.console.register_account().body(body("bob@example.com")).send().await),
        (401, "unauthorized".into())
    );
});
