//! Attacks: the admin (AList-compatible) surface's tokens and 2FA (issue 15, items 9–10).

use console_server::clock::ManualClock;
use console_server::state::AppState;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_PASSWORD, TestApp};

fn manual_clock(state: AppState) -> AppState {
    state.with_clock(ManualClock::new(1_800_000_000))
}

/// `POST path` with an optional raw token: the envelope.
async fn post(app: &TestApp, token: Option<&str>, path: &str, body: Value) -> Value {
    let mut req = app.http.post(app.url(path)).json(&body);
    if let Some(token) = token {
        req = req.header("authorization", token);
    }
    req.send()
        .await
        .expect("send")
        .json()
        .await
        .expect("envelope")
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    app.http
        .get(app.url(path))
        .header("authorization", token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("envelope")
}

async fn sign_in(app: &TestApp, username: &str, password: &str, otp: Option<&str>) -> Value {
    post(
        app,
        None,
        "/api/auth/login",
        json!({"username": username, "password": password, "otp_code": otp}),
    )
    .await
}

async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let r = sign_in(app, username, password, None).await;
    assert_eq!(r["code"], 200, "{r}");
    r["data"]["token"].as_str().expect("token").to_string()
}

fn totp_code(secret: &str, at: i64) -> String {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32"))
        .build()
        .expect("totp")
        .generate(u64::try_from(at).expect("time"))
        .to_string()
}

/// A general user `name` (password `pw`) with 2FA turned on; its token and secret.
async fn with_2fa(app: &TestApp, admin: &str, name: &str, pw: &str) -> (String, String) {
    let r = post(
        app,
        Some(admin),
        "/api/admin/user/create",
        json!({"username": name, "password": pw, "permission": 256}),
    )
    .await;
    assert_eq!(r["code"], 200, "{r}");
    let t = token(app, name, pw).await;
    let g = post(app, Some(&t), "/api/auth/2fa/generate", json!({})).await;
    let secret = g["data"]["secret"].as_str().expect("secret").to_string();
    let code = totp_code(&secret, app.state.clock.now());
    let r = post(
        app,
        Some(&t),
        "/api/auth/2fa/verify",
        json!({"code": code, "secret": secret}),
    )
    .await;
    assert_eq!(r["code"], 200, "{r}");
    (t, secret)
}

db_test!(async fn tokens_issued_in_one_second_are_distinct(app) {
    // Item 9: two devices signing in within one second got the same token, so signing
    // out one signed out the other, and a sign-in right after a sign-out was born revoked.
    let laptop = token(&app, "admin", ADMIN_PASSWORD).await;
    let phone = token(&app, "admin", ADMIN_PASSWORD).await;
    assert_ne!(laptop, phone, "two sign-ins got one token");
    let r = get(&app, &laptop, "/api/auth/logout").await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(get(&app, &phone, "/api/me").await["code"], 200, "signing out the laptop signed out the phone");
    let again = token(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(get(&app, &again, "/api/me").await["code"], 200, "a fresh sign-in was already revoked");
    assert_eq!(get(&app, &laptop, "/api/me").await["code"], 401);
});

db_test!(async fn a_totp_code_works_once(app) using manual_clock; {
    // Item 10: the same code was accepted twice within its 30 seconds.
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let (_, secret) = with_2fa(&app, &admin, "carol", "carol-pw-1").await;
    // The enrolment spent the current step; the next one is fresh.
    app.state.clock.as_manual().expect("manual clock").advance(30);
    let code = totp_code(&secret, app.state.clock.now());
    assert_eq!(sign_in(&app, "carol", "carol-pw-1", Some(&code)).await["code"], 200);
    let replay = sign_in(&app, "carol", "carol-pw-1", Some(&code)).await;
    assert_eq!(replay["code"], 402, "a used code signed in again: {replay}");
});

db_test!(async fn a_stolen_session_cannot_replace_the_2fa_secret(app) using manual_clock; {
    // Item 10: with a user's token alone, a new secret could be generated and verified,
    // taking the second factor over.
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let (stolen, secret) = with_2fa(&app, &admin, "dave", "dave-pw-12").await;
    let g = post(&app, Some(&stolen), "/api/auth/2fa/generate", json!({})).await;
    if let Some(mine) = g["data"]["secret"].as_str() {
        let code = totp_code(mine, app.state.clock.now());
        let r = post(&app, Some(&stolen), "/api/auth/2fa/verify", json!({"code": code, "secret": mine})).await;
        assert_ne!(r["code"], 200, "the second factor was replaced: {r}");
    }
    assert_ne!(g["code"], 200, "a new secret was generated over an enabled one: {g}");
    // The owner's own factor still signs in.
    app.state.clock.as_manual().expect("manual clock").advance(30);
    let code = totp_code(&secret, app.state.clock.now());
    assert_eq!(sign_in(&app, "dave", "dave-pw-12", Some(&code)).await["code"], 200);
});

db_test!(async fn a_user_without_a_password_has_no_password_sign_in(app) {
    // Item 10: a user created without a password signed in with "".
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let r = post(&app, Some(&admin), "/api/admin/user/create", json!({"username": "nopw", "permission": 256})).await;
    assert_eq!(r["code"], 200, "{r}");
    let r = sign_in(&app, "nopw", "", None).await;
    assert_ne!(r["code"], 200, "signed in with an empty password: {r}");
    use sha2::Digest;
    let empty_hash = hex::encode(sha2::Sha256::digest(b"-https://github.com/alist-org/alist"));
    let r = post(&app, None, "/api/auth/login/hash", json!({"username": "nopw", "password": empty_hash})).await;
    assert_ne!(r["code"], 200, "signed in with the hash of an empty password: {r}");
    // Once a password is set, it signs in.
    let id = get(&app, &admin, "/api/admin/user/list?per_page=100").await["data"]["content"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "nopw")
        .and_then(|u| u["id"].as_i64())
        .expect("id");
    let r = post(&app, Some(&admin), "/api/admin/user/update", json!({"id": id, "username": "nopw", "password": "now-a-pw-1"})).await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(sign_in(&app, "nopw", "now-a-pw-1", None).await["code"], 200);
});

db_test!(async fn a_copy_of_the_database_does_not_hold_the_2fa_secrets(app) using manual_clock; {
    // Item 4: TOTP secrets were stored in plain text, so a dump or backup of the database
    // handed over every admin user's second factor. They are sealed with a key derived
    // from the server secret, bound to their row.
    use entity::admin_user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let (_, secret) = with_2fa(&app, &admin, "erin", "erin-pw-12").await;
    let row = admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq("erin"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("erin");
    assert!(!row.otp_secret.contains(&secret), "the 2FA secret is stored in plain text");
    assert!(!row.otp_secret.to_uppercase().contains(&secret[..8]), "the 2FA secret is stored recognisably");
    // Copied into another user's row, a sealed secret does not work there.
    let admin_row = admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq("admin"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("admin");
    admin_user::Entity::update_many()
        .col_expr(admin_user::Column::OtpSecret, sea_orm::sea_query::Expr::value(row.otp_secret.clone()))
        .filter(admin_user::Column::Id.eq(admin_row.id))
        .exec(&app.state.db)
        .await
        .expect("copy");
    app.state.clock.as_manual().expect("manual clock").advance(30);
    let code = totp_code(&secret, app.state.clock.now());
    assert_ne!(sign_in(&app, "admin", ADMIN_PASSWORD, Some(&code)).await["code"], 200, "a sealed secret opened in another row");
    // Its own row still signs in with it.
    assert_eq!(sign_in(&app, "erin", "erin-pw-12", Some(&code)).await["code"], 200);
});

db_test!(async fn secrets_stored_before_sealing_are_sealed_at_start_and_keep_working(app) using manual_clock; {
    use console_server::auth::sealed::Sealer;
    use console_server::domain::admin_users;
    use entity::admin_user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let (_, _) = with_2fa(&app, &admin, "frank", "frank-pw-1").await;
    // As an older version stored it.
    let plain = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    admin_user::Entity::update_many()
        .col_expr(admin_user::Column::OtpSecret, sea_orm::sea_query::Expr::value(plain))
        .filter(admin_user::Column::Username.eq("frank"))
        .exec(&app.state.db)
        .await
        .expect("plain");
    let sealer = Sealer::new(&app.state.secret);
    assert_eq!(admin_users::seal_plain_otp_secrets(&app.state.db, &sealer).await.expect("seal"), 1);
    assert_eq!(admin_users::seal_plain_otp_secrets(&app.state.db, &sealer).await.expect("seal"), 0, "sealed twice");
    let row = admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq("frank"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("frank");
    assert!(Sealer::is_sealed(&row.otp_secret) && !row.otp_secret.contains(plain));
    app.state.clock.as_manual().expect("manual clock").advance(30);
    let code = totp_code(plain, app.state.clock.now());
    assert_eq!(sign_in(&app, "frank", "frank-pw-1", Some(&code)).await["code"], 200);
});
