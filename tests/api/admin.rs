//! The AList-compatible admin surface: users, sign-in, tokens, 2FA, SSH keys, the user
//! cache across instances, and the authorization table — through the generated client.

use std::num::NonZeroU64;
use std::sync::Arc;

use base64::Engine as _;
use console_client::admin::{Client, types};
use console_server::api::admin::authz::{self, Rule};
use console_server::api::generated::admin::Operation;
use console_server::clock::{Clock, ManualClock};
use console_server::domain::admin_users::{self, User};
use entity::{admin_ssh_key, admin_user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, PaginatorTrait};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db_test;
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp};

fn nz(id: i64) -> NonZeroU64 {
    NonZeroU64::new(u64::try_from(id).expect("positive")).expect("non-zero")
}

fn login_body(username: &str, password: &str, otp: Option<String>) -> types::LoginRequest {
    types::LoginRequest {
        username: username.into(),
        password: password.into(),
        otp_code: otp,
    }
}

async fn login(app: &TestApp, username: &str, password: &str) -> types::LoginResponse {
    app.admin
        .login()
        .body(login_body(username, password, None))
        .send()
        .await
        .expect("login")
        .into_inner()
}

async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let r = login(app, username, password).await;
    assert_eq!(r.code, 200, "{}: {}", username, r.message);
    r.data.expect("data").token
}

/// The admin user's token, as the `Authorization` header carries it.
pub async fn admin_token(app: &TestApp) -> String {
    token(app, "admin", ADMIN_PASSWORD).await
}

/// A general (non-admin) user's token.
pub async fn general_user_token(app: &TestApp) -> String {
    let admin = admin_client(app).await;
    create(app, &admin, "general", "general-pw").await;
    token(app, "general", "general-pw").await
}

async fn admin_client(app: &TestApp) -> Client {
    app.admin_as(&token(app, "admin", ADMIN_PASSWORD).await)
}

fn new_user(username: &str, password: &str) -> types::CreateUserRequest {
    types::CreateUserRequest {
        username: username.parse().expect("username"),
        password: Some(password.into()),
        base_path: None,
        role: None,
        permission: Some(256),
        disabled: None,
        sso_id: None,
        id: None,
    }
}

/// Creates a general user and returns its id.
async fn create(app: &TestApp, admin: &Client, username: &str, password: &str) -> i64 {
    let r = admin
        .create_user()
        .body(new_user(username, password))
        .send()
        .await
        .expect("create")
        .into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
    admin_users::find_by_username(&app.state.db, username)
        .await
        .expect("find")
        .expect("created")
        .id
}

fn changes(id: i64, username: &str) -> types::UpdateUserRequest {
    types::UpdateUserRequest {
        id: nz(id),
        username: username.parse().expect("username"),
        password: None,
        base_path: None,
        role: None,
        permission: None,
        disabled: None,
        sso_id: None,
    }
}

async fn me(client: &Client) -> types::MeResponse {
    client.get_me().send().await.expect("me").into_inner()
}

async fn set_guest_enabled(app: &TestApp, admin: &Client, enabled: bool) {
    let guest = admin_users::guest(&app.state.db)
        .await
        .expect("db")
        .expect("guest");
    let mut c = changes(guest.id, &guest.username);
    c.disabled = Some(!enabled);
    let r = admin
        .update_user()
        .body(c)
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
}

db_test!(async fn first_start_creates_admin_and_disabled_guest(app) {
    let admin = admin_client(&app).await;
    let page = admin.list_users().send().await.expect("list").into_inner();
    assert_eq!(page.code, 200);
    let page = page.data.expect("page");
    assert_eq!(page.total, 2);
    let (a, g) = (&page.content[0], &page.content[1]);
    assert_eq!((a.username.as_str(), a.role, a.permission, a.base_path.as_str(), a.disabled), ("admin", 2, 0x71FF, "/", false));
    assert_eq!((g.username.as_str(), g.role, g.permission, g.disabled), ("guest", 1, 0, true));
    assert!(page.content.iter().all(|u| u.password.is_empty()));
    // A second start on the same table creates nobody.
    let again = admin_users::bootstrap(&app.state.db, &app.state.hasher, app.state.clock.as_ref(), None).await.expect("bootstrap");
    assert_eq!(again, None);
    assert_eq!(admin_user::Entity::find().count(&app.state.db).await.expect("count"), 2);
    // The guest has no password that signs in.
    assert_eq!(login(&app, "guest", "").await.code, 401);
    assert_eq!(login(&app, "guest", "guest").await.code, 401);
});

#[tokio::test]
async fn first_start_without_a_password_generates_one() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    // An empty table again: drop the users the harness created.
    admin_user::Entity::delete_many()
        .exec(&app.state.db)
        .await
        .expect("clear");
    let generated = admin_users::bootstrap(
        &app.state.db,
        &app.state.hasher,
        app.state.clock.as_ref(),
        None,
    )
    .await
    .expect("bootstrap")
    .expect("a generated password");
    assert!(generated.len() >= 8);
    assert_eq!(login(&app, "admin", &generated).await.code, 200);
}

db_test!(async fn sign_in_with_password_or_static_hash(app) {
    let r = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!((r.code, r.message.as_str()), (200, "success"));
    let jwt = r.data.expect("data").token;
    // HS256 with the server secret and AList's claims, 48 hours.
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_exp = false;
    let claims: Value = jsonwebtoken::decode(&jwt, &jsonwebtoken::DecodingKey::from_secret(&app.state.secret), &v)
        .expect("valid jwt")
        .claims;
    assert_eq!(claims["username"], "admin");
    assert!(claims["pwd_ts"].is_i64());
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 48 * 3600);
    assert_eq!(claims["nbf"], claims["iat"]);

    // The static hash, computed independently of the server.
    let hash = hex::encode(Sha256::digest(format!("{ADMIN_PASSWORD}-https://github.com/alist-org/alist")));
    let r = app.admin.login_hash().body(login_body("admin", &hash, None)).send().await.expect("hash").into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
    // The hash is not a password: sending it to /login fails, and the password to /login/hash.
    assert_eq!(login(&app, "admin", &hash).await.code, 401);
    let r = app.admin.login_hash().body(login_body("admin", ADMIN_PASSWORD, None)).send().await.expect("hash").into_inner();
    assert_eq!((r.code, r.message.as_str()), (401, "Invalid username or password"));
    let r = app.admin.login_hash().body(login_body("admin", "", None)).send().await.expect("hash").into_inner();
    assert_eq!(r.code, 401);
    let r = login(&app, "nobody", ADMIN_PASSWORD).await;
    assert_eq!((r.code, r.message.as_str()), (401, "Invalid username or password"));
    // No reusable hash is stored: the column holds argon2id.
    let row = admin_user::Entity::find_by_id(1).one(&app.state.db).await.expect("db").expect("admin");
    assert!(row.password_hash.starts_with("$argon2id$"));
    assert!(!row.password_hash.contains(&hash));
});

db_test!(async fn unknown_usernames_cost_what_wrong_passwords_cost(app) {
    // The same answer and the same work (one hash computed), so neither the reply nor
    // its timing tells which usernames exist.
    let before = app.state.hasher.computed();
    let unknown = login(&app, "nobody-here", "whatever").await;
    let after_unknown = app.state.hasher.computed();
    let wrong = login(&app, "admin", "whatever").await;
    let after_wrong = app.state.hasher.computed();
    assert_eq!((unknown.code, &unknown.message), (wrong.code, &wrong.message));
    assert_ne!(unknown.code, 200, "{}", unknown.message);
    assert_eq!((after_unknown - before, after_wrong - after_unknown), (1, 1));
});

async fn lockout_run(backend: Backend) {
    let clock = ManualClock::new(1_700_000_000);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    for _ in 0..5 {
        assert_eq!(login(&app, "admin", "wrong").await.code, 401);
    }
    let r = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.code, 429);
    assert_eq!(
        r.message,
        "Too many unsuccessful sign-in attempts have been made using an incorrect username or password, Try again later."
    );
    // Each refused attempt restarts the five minutes.
    clock.advance(200);
    assert_eq!(login(&app, "admin", ADMIN_PASSWORD).await.code, 429);
    clock.advance(250);
    assert_eq!(
        login(&app, "admin", ADMIN_PASSWORD).await.code,
        429,
        "restarted at +200"
    );
    clock.advance(301);
    assert_eq!(login(&app, "admin", ADMIN_PASSWORD).await.code, 200);
    // A success clears the count: four more failures do not lock.
    for _ in 0..4 {
        assert_eq!(login(&app, "admin", "wrong").await.code, 401);
    }
    assert_eq!(login(&app, "admin", ADMIN_PASSWORD).await.code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_the_address_sqlite() {
    lockout_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_the_address_postgres() {
    lockout_run(Backend::Postgres).await;
}

db_test!(async fn user_admin_rules(app) {
    let admin = admin_client(&app).await;
    let mut body = new_user("root2", "x");
    body.role = Some(2);
    let r = admin.create_user().body(body).send().await.expect("create").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "admin or guest user can not be created"));
    let mut body = new_user("guest2", "x");
    body.role = Some(1);
    assert_eq!(admin.create_user().body(body).send().await.expect("create").into_inner().code, 400);

    let mut body = new_user("alice", "alice-pw");
    body.base_path = Some("team\\alice/./x/..".into());
    assert_eq!(admin.create_user().body(body).send().await.expect("create").into_inner().code, 200);
    let r = admin.create_user().body(new_user("alice", "other")).send().await.expect("dup").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "username already exists"));

    let alice = admin_users::find_by_username(&app.state.db, "alice").await.expect("db").expect("alice");
    let got = admin.get_user().id(nz(alice.id)).send().await.expect("get").into_inner();
    let got = got.data.expect("user");
    assert_eq!((got.base_path.as_str(), got.password.as_str(), got.role, got.permission), ("/team/alice", "", 0, 256));
    let r = admin.get_user().id(nz(999)).send().await.expect("get").into_inner();
    assert_eq!((r.code, r.message.as_str()), (404, "user not found"));
    assert!(r.data.is_none());

    // Paging: page < 1 is 1, per_page bounds the page, total counts all.
    for i in 0..3 {
        create(&app, &admin, &format!("user{i}"), "pw").await;
    }
    let page = admin.list_users().page(0).per_page(2).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(page.total, 6);
    assert_eq!(page.content.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["admin", "guest"]);
    let page = admin.list_users().page(2).per_page(2).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(page.content.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["alice", "user0"]);
    let page = admin.list_users().per_page(0).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(page.content.len(), 6);

    // Update rules.
    let mut c = changes(alice.id, "alice");
    c.role = Some(2);
    let r = admin.update_user().body(c).send().await.expect("update").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "role can not be changed"));
    let mut c = changes(1, "admin");
    c.disabled = Some(true);
    let r = admin.update_user().body(c).send().await.expect("update").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "admin user can not be disabled"));
    let r = admin.update_user().body(changes(alice.id, "user0")).send().await.expect("update").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "username already exists"));
    let r = admin.update_user().body(changes(999, "ghost")).send().await.expect("update").into_inner();
    assert_eq!(r.code, 404);
    let mut c = changes(alice.id, "alice");
    c.base_path = Some("".into());
    c.permission = Some(7);
    assert_eq!(admin.update_user().body(c).send().await.expect("update").into_inner().code, 200);
    let got = admin.get_user().id(nz(alice.id)).send().await.expect("get").into_inner().data.expect("user");
    assert_eq!((got.base_path.as_str(), got.permission, got.sso_id.as_str()), ("/", 7, ""));

    // Delete rules.
    for id in [1, 2] {
        let r = admin.delete_user().id(nz(id)).send().await.expect("delete").into_inner();
        assert_eq!((r.code, r.message.as_str()), (400, "cannot delete admin or guest"));
    }
    assert_eq!(admin.delete_user().id(nz(999)).send().await.expect("delete").into_inner().code, 404);
    assert_eq!(admin.delete_user().id(nz(alice.id)).send().await.expect("delete").into_inner().code, 200);
    assert_eq!(admin.get_user().id(nz(alice.id)).send().await.expect("get").into_inner().code, 404);

    // del_cache.
    let r = admin.delete_user_cache().username("").send().await.expect("del_cache").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "username is empty"));
    let r = admin.delete_user_cache().username("nobody").send().await.expect("del_cache").into_inner();
    assert_eq!((r.code, r.message.as_str()), (404, "user not found"));
    assert_eq!(admin.delete_user_cache().username("user0").send().await.expect("del_cache").into_inner().code, 200);
    // cancel_2fa on a missing user.
    assert_eq!(admin.cancel_user_2fa().id(nz(999)).send().await.expect("cancel").into_inner().code, 404);

    // Malformed ids (raw: the client will not send them) are 400 in the envelope.
    let t = token(&app, "admin", ADMIN_PASSWORD).await;
    for path in ["/api/admin/user/get?id=x", "/api/admin/user/get?id=0", "/api/admin/user/get"] {
        let resp = app.http.get(app.url(path)).header("authorization", &t).send().await.expect("send");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["code"], 400, "{path}: {body}");
    }
});

db_test!(async fn tokens_live_and_die_as_in_alist(app) {
    let admin = admin_client(&app).await;
    let id = create(&app, &admin, "bob", "bob-pw").await;
    let bob = app.admin_as(&token(&app, "bob", "bob-pw").await);
    assert_eq!(me(&bob).await.code, 200);
    // A general user is not an admin.
    let r = bob.list_users().send().await.expect("list").into_inner();
    assert_eq!((r.code, r.message.as_str()), (403, "You are not an admin"));
    // An empty password keeps the password and the tokens.
    let mut c = changes(id, "bob");
    c.password = Some(String::new());
    assert_eq!(admin.update_user().body(c).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&bob).await.code, 200);
    assert_eq!(login(&app, "bob", "bob-pw").await.code, 200);
    // Disabled: refused on every request, and at sign-in.
    let mut c = changes(id, "bob");
    c.disabled = Some(true);
    assert_eq!(admin.update_user().body(c).send().await.expect("update").into_inner().code, 200);
    let r = me(&bob).await;
    assert_eq!((r.code, r.message.as_str()), (401, "Current user is disabled, replace please"));
    let r = login(&app, "bob", "bob-pw").await;
    assert_eq!((r.code, r.message.as_str()), (401, "Current user is disabled, replace please"));
    let mut c = changes(id, "bob");
    c.disabled = Some(false);
    assert_eq!(admin.update_user().body(c).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&bob).await.code, 200);
    // A new password ends every session at once.
    let mut c = changes(id, "bob");
    c.password = Some("bob-pw2".into());
    assert_eq!(admin.update_user().body(c).send().await.expect("update").into_inner().code, 200);
    let r = me(&bob).await;
    assert_eq!((r.code, r.message.as_str()), (401, "Password has been changed, login please"));
    assert_eq!(login(&app, "bob", "bob-pw").await.code, 401);
    // Logout revokes that token only.
    let t1 = token(&app, "bob", "bob-pw2").await;
    let bob1 = app.admin_as(&t1);
    assert_eq!(bob1.logout().send().await.expect("logout").into_inner().code, 200);
    let r = me(&bob1).await;
    assert_eq!((r.code, r.message.as_str()), (401, "token is invalidated"));
    // Deletion ends the sessions too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a token unlike t1
    let bob2 = app.admin_as(&token(&app, "bob", "bob-pw2").await);
    assert_eq!(me(&bob2).await.code, 200);
    assert_eq!(admin.delete_user().id(nz(id)).send().await.expect("delete").into_inner().code, 200);
    let r = me(&bob2).await;
    assert_eq!((r.code, r.message.as_str()), (401, "token is invalidated"));
    // Tokens signed with another key, or garbage.
    let other = admin_users::issue_token(b"another-key-another-key-another-key", &admin_user_of(&app, "admin").await, app.state.clock.now(), 3600).expect("jwt");
    for t in [other.as_str(), "not-a-jwt"] {
        let r = me(&app.admin_as(t)).await;
        assert_eq!((r.code, r.message.as_str()), (401, "token is invalidated"), "{t}");
    }
});

async fn admin_user_of(app: &TestApp, username: &str) -> User {
    admin_users::find_by_username(&app.state.db, username)
        .await
        .expect("db")
        .expect("user")
}

async fn expiry_run(backend: Backend) {
    let clock = ManualClock::new(1_700_000_000);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let admin = admin_client(&app).await;
    clock.advance(48 * 3600 - 1);
    assert_eq!(me(&admin).await.code, 200);
    clock.advance(1);
    let r = me(&admin).await;
    assert_eq!((r.code, r.message.as_str()), (401, "token is expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_after_48_hours_sqlite() {
    expiry_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_after_48_hours_postgres() {
    expiry_run(Backend::Postgres).await;
}

db_test!(async fn guest_is_anonymous_while_enabled(app) {
    let admin = admin_client(&app).await;
    let r = app.admin.get_me().send().await.expect("me").into_inner();
    assert_eq!((r.code, r.message.as_str()), (401, "Guest user is disabled, login please"));
    let r = app.admin.list_users().send().await.expect("list").into_inner();
    assert_eq!((r.code, r.message.as_str()), (401, "Guest user is disabled, login please"));
    set_guest_enabled(&app, &admin, true).await;
    let r = app.admin.get_me().send().await.expect("me").into_inner();
    assert_eq!(r.code, 200);
    assert_eq!(r.data.expect("me").username, "guest");
    let r = app.admin.list_users().send().await.expect("list").into_inner();
    assert_eq!((r.code, r.message.as_str()), (403, "You are not an admin"));
    let r = app.admin.update_me().body(types::UpdateMeRequest { username: "g".parse().expect("name"), password: None, sso_id: None }).send().await.expect("update").into_inner();
    assert_eq!((r.code, r.message.as_str()), (403, "Guest user can not update profile"));
    let r = app.admin.generate_2fa().send().await.expect("2fa").into_inner();
    assert_eq!((r.code, r.message.as_str()), (403, "Guest user can not generate 2FA code"));
    let r = app.admin.list_my_ssh_keys().send().await.expect("keys").into_inner();
    assert_eq!((r.code, r.message.as_str()), (401, "user invalid"));
    // Logout without a token is a no-op.
    assert_eq!(app.admin.logout().send().await.expect("logout").into_inner().code, 200);
    set_guest_enabled(&app, &admin, false).await;
    assert_eq!(app.admin.get_me().send().await.expect("me").into_inner().code, 401);
});

fn totp_code(secret: &str, at: i64) -> String {
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32"))
        .build()
        .expect("totp");
    t.generate(u64::try_from(at).expect("time")).to_string()
}

db_test!(async fn two_factor_sign_in(app) using |state| state.with_clock(ManualClock::new(1_800_000_000)); {
    let admin = admin_client(&app).await;
    let id = create(&app, &admin, "carol", "carol-pw").await;
    let carol = app.admin_as(&token(&app, "carol", "carol-pw").await);
    let g = carol.generate_2fa().send().await.expect("generate").into_inner();
    assert_eq!(g.code, 200);
    let g = g.data.expect("secret");
    assert!(g.qr.starts_with("data:image/png;base64,"));
    let png = base64::engine::general_purpose::STANDARD.decode(&g.qr["data:image/png;base64,".len()..]).expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Nothing is saved yet.
    assert!(!me(&carol).await.data.expect("me").otp);
    assert_eq!(login(&app, "carol", "carol-pw").await.code, 200);
    let now = app.state.clock.now();
    let wrong = if totp_code(&g.secret, now) == "000000" { "111111" } else { "000000" };
    let r = carol.verify_2fa().body(types::Verify2faRequest { code: wrong.into(), secret: g.secret.clone() }).send().await.expect("verify").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "Invalid 2FA code"));
    let r = carol.verify_2fa().body(types::Verify2faRequest { code: totp_code(&g.secret, now), secret: g.secret.clone() }).send().await.expect("verify").into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
    assert!(me(&carol).await.data.expect("me").otp);
    // Sign-in now needs the code.
    let r = login(&app, "carol", "carol-pw").await;
    assert_eq!((r.code, r.message.as_str()), (402, "Invalid 2FA code"));
    let r = app.admin.login().body(login_body("carol", "carol-pw", Some(wrong.into()))).send().await.expect("login").into_inner();
    assert_eq!(r.code, 402);
    // The enrolment spent its code's step (a code works once); the next step's code signs in.
    app.state.clock.as_manual().expect("manual clock").advance(30);
    let code = totp_code(&g.secret, app.state.clock.now());
    let r = app.admin.login().body(login_body("carol", "carol-pw", Some(code))).send().await.expect("login").into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
    // The secret is never shown again, and is stored sealed (tests/api/attacks/admin.rs).
    let row = admin_user::Entity::find_by_id(id).one(&app.state.db).await.expect("db").expect("row");
    assert!(!row.otp_secret.is_empty() && !row.otp_secret.contains(&g.secret));
    // cancel_2fa turns it off and keeps the tokens.
    assert_eq!(admin.cancel_user_2fa().id(nz(id)).send().await.expect("cancel").into_inner().code, 200);
    let r = me(&carol).await;
    assert_eq!(r.code, 200);
    assert!(!r.data.expect("me").otp);
    assert_eq!(login(&app, "carol", "carol-pw").await.code, 200);
    // Idempotent.
    assert_eq!(admin.cancel_user_2fa().id(nz(id)).send().await.expect("cancel").into_inner().code, 200);
});

async fn add(c: &Client, title: &str, key: &str) -> types::EmptyResponse {
    c.add_my_ssh_key()
        .body(types::AddSshKeyRequest {
            title: title.into(),
            key: key.into(),
        })
        .send()
        .await
        .expect("add")
        .into_inner()
}

fn new_key(comment: &str) -> (String, String) {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key");
    let line = format!(
        "{} {comment}",
        key.public_key().to_openssh().expect("openssh")
    );
    // The fingerprint, independently: SHA-256 of the base64-decoded blob, unpadded base64.
    let blob = line.split_whitespace().nth(1).expect("blob");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .expect("b64");
    let fp = format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(raw))
    );
    (line, fp)
}

db_test!(async fn ssh_keys_of_my_own_and_as_admin(app) {
    let admin = admin_client(&app).await;
    let dave_id = create(&app, &admin, "dave", "dave-pw").await;
    let erin_id = create(&app, &admin, "erin", "erin-pw").await;
    let dave = app.admin_as(&token(&app, "dave", "dave-pw").await);
    let erin = app.admin_as(&token(&app, "erin", "erin-pw").await);
    let (line, fp) = new_key("dave@laptop");
    assert_eq!(add(&dave, "laptop", &format!("  {line}\n")).await.code, 200);
    let r = add(&dave, "laptop", &new_key("x").0).await;
    assert_eq!((r.code, r.message.as_str()), (400, "key with the same title already exists"));
    let r = add(&dave, "desk", "ssh-ed25519 AAAAnotakey").await;
    assert_eq!((r.code, r.message.as_str()), (400, "provided key invalid"));
    let r = add(&dave, "", &new_key("x").0).await;
    assert_eq!((r.code, r.message.as_str()), (400, "request invalid"));
    // Another user may use the same title.
    assert_eq!(add(&erin, "laptop", &new_key("erin").0).await.code, 200);

    let mine = dave.list_my_ssh_keys().send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(mine.total, 1);
    let k = &mine.content[0];
    assert_eq!((k.title.as_str(), k.fingerprint.as_str()), ("laptop", fp.as_str()));
    assert_eq!(k.added_time, k.last_used_time);
    assert!(chrono::DateTime::parse_from_rfc3339(&k.added_time).is_ok(), "{}", k.added_time);
    let by_admin = admin.list_user_ssh_keys().uid(nz(dave_id)).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(by_admin.content.iter().map(|k| (k.id, k.fingerprint.clone())).collect::<Vec<_>>(), mine.content.iter().map(|k| (k.id, k.fingerprint.clone())).collect::<Vec<_>>());
    let r = admin.list_user_ssh_keys().uid(nz(999)).send().await.expect("list").into_inner();
    assert_eq!((r.code, r.message.as_str()), (404, "user invalid"));

    // Someone else's key is not found, never deleted.
    let r = erin.delete_my_ssh_key().id(nz(k.id)).send().await.expect("delete").into_inner();
    assert_eq!((r.code, r.message.as_str()), (404, "failed to get public key"));
    assert_eq!(dave.list_my_ssh_keys().send().await.expect("list").into_inner().data.expect("page").total, 1);
    assert_eq!(dave.delete_my_ssh_key().id(nz(k.id)).send().await.expect("delete").into_inner().code, 200);
    assert_eq!(dave.list_my_ssh_keys().send().await.expect("list").into_inner().data.expect("page").total, 0);
    // The admin deletes anyone's key; a missing one is fine.
    let erins = admin.list_user_ssh_keys().uid(nz(erin_id)).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(admin.delete_user_ssh_key().id(nz(erins.content[0].id)).send().await.expect("delete").into_inner().code, 200);
    assert_eq!(admin.delete_user_ssh_key().id(nz(999)).send().await.expect("delete").into_inner().code, 200);
    // Deleting a user deletes their keys.
    assert_eq!(add(&dave, "again", &new_key("d").0).await.code, 200);
    assert_eq!(admin.delete_user().id(nz(dave_id)).send().await.expect("delete").into_inner().code, 200);
    assert_eq!(admin_ssh_key::Entity::find().count(&app.state.db).await.expect("count"), 0);
});

db_test!(async fn my_profile(app) {
    let admin = admin_client(&app).await;
    create(&app, &admin, "frank", "frank-pw").await;
    create(&app, &admin, "grace", "grace-pw").await;
    let frank = app.admin_as(&token(&app, "frank", "frank-pw").await);
    let m = me(&frank).await.data.expect("me");
    assert_eq!((m.username.as_str(), m.password.as_str(), m.otp, m.permission), ("frank", "", false, 256));
    let upd = |username: &str, password: Option<&str>, sso: Option<&str>| types::UpdateMeRequest {
        username: username.parse().expect("name"),
        password: password.map(str::to_string),
        sso_id: sso.map(str::to_string),
    };
    let r = frank.update_me().body(upd("grace", None, None)).send().await.expect("update").into_inner();
    assert_eq!((r.code, r.message.as_str()), (400, "username already exists"));
    assert_eq!(frank.update_me().body(upd("frank", None, Some("sso-1"))).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&frank).await.data.expect("me").sso_id, "sso-1");
    // sso_id omitted clears it (as AList).
    assert_eq!(frank.update_me().body(upd("frank", Some(""), None)).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&frank).await.data.expect("me").sso_id, "");
    // A new password ends the current session; the new one signs in.
    assert_eq!(frank.update_me().body(upd("frank", Some("frank-pw2"), None)).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&frank).await.code, 401);
    let frank = app.admin_as(&token(&app, "frank", "frank-pw2").await);
    // Renaming ends the session too (the token names the user).
    assert_eq!(frank.update_me().body(upd("frank2", None, None)).send().await.expect("update").into_inner().code, 200);
    assert_eq!(me(&frank).await.code, 401);
    assert_eq!(login(&app, "frank2", "frank-pw2").await.code, 200);
});

db_test!(async fn cached_users_are_dropped_by_del_cache(app) {
    let admin = admin_client(&app).await;
    let id = create(&app, &admin, "hank", "hank-pw").await;
    let hank = app.admin_as(&token(&app, "hank", "hank-pw").await);
    assert_eq!(me(&hank).await.data.expect("me").permission, 256);
    // A change made directly in the database is not seen while the user is cached…
    let row = admin_user::Entity::find_by_id(id).one(&app.state.db).await.expect("db").expect("row");
    let mut active = row.into_active_model();
    active.permission = Set(1);
    active.update(&app.state.db).await.expect("update");
    assert_eq!(me(&hank).await.data.expect("me").permission, 256, "served from the cache");
    // …until del_cache drops it.
    assert_eq!(admin.delete_user_cache().username("hank").send().await.expect("del").into_inner().code, 200);
    assert_eq!(me(&hank).await.data.expect("me").permission, 1);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_invalidations() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let b = a.second_instance().await;
    let admin_a = admin_client(&a).await;
    let id = create(&a, &admin_a, "ivan", "ivan-pw").await;
    let t = token(&a, "ivan", "ivan-pw").await;
    let ivan_b = b.admin_as(&t);
    assert_eq!(
        me(&ivan_b).await.code,
        200,
        "B knows the token and caches ivan"
    );
    assert!(b.state.admin.users.get("ivan").is_some());
    // Disable through A: B refuses the token on the very next request.
    let mut c = changes(id, "ivan");
    c.disabled = Some(true);
    assert_eq!(
        admin_a
            .update_user()
            .body(c)
            .send()
            .await
            .expect("update")
            .into_inner()
            .code,
        200
    );
    let r = me(&ivan_b).await;
    assert_eq!(
        (r.code, r.message.as_str()),
        (401, "Current user is disabled, replace please")
    );
    // Logout on A revokes on B.
    let mut c = changes(id, "ivan");
    c.disabled = Some(false);
    assert_eq!(
        admin_a
            .update_user()
            .body(c)
            .send()
            .await
            .expect("update")
            .into_inner()
            .code,
        200
    );
    assert_eq!(me(&ivan_b).await.code, 200);
    assert_eq!(
        a.admin_as(&t)
            .logout()
            .send()
            .await
            .expect("logout")
            .into_inner()
            .code,
        200
    );
    assert_eq!(me(&ivan_b).await.message, "token is invalidated");
    // del_cache on A drops B's entry too.
    let t2 = {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        token(&a, "ivan", "ivan-pw").await
    };
    assert_eq!(me(&b.admin_as(&t2)).await.code, 200);
    assert!(b.state.admin.users.get("ivan").is_some());
    assert_eq!(
        admin_a
            .delete_user_cache()
            .username("ivan")
            .send()
            .await
            .expect("del")
            .into_inner()
            .code,
        200
    );
    assert!(b.state.admin.users.get("ivan").is_none());
}

/// Issue 18: a ban (or its lifting) through one instance is applied by every other before
/// the writer answers, so the next request anywhere sees it — every round, not most: the
/// writer waits for each live instance's acknowledgement, not only for its own echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_through_one_instance_holds_on_the_other_every_round() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let b = a.second_instance().await;
    let admin_a = admin_client(&a).await;
    let id = create(&a, &admin_a, "rounds", "rounds-pw").await;
    let t = token(&a, "rounds", "rounds-pw").await;
    let user_b = b.admin_as(&t);
    assert_eq!(me(&user_b).await.code, 200);
    let set_disabled = |disabled: bool| {
        let mut c = changes(id, "rounds");
        c.disabled = Some(disabled);
        let admin_a = &admin_a;
        async move {
            admin_a
                .update_user()
                .body(c)
                .send()
                .await
                .expect("update")
                .into_inner()
                .code
        }
    };
    let mut stale = Vec::new();
    let mut slowest = std::time::Duration::ZERO;
    for round in 0..150 {
        let t = std::time::Instant::now();
        assert_eq!(set_disabled(true).await, 200);
        slowest = slowest.max(t.elapsed());
        let banned = me(&user_b).await.code;
        let t = std::time::Instant::now();
        assert_eq!(set_disabled(false).await, 200);
        slowest = slowest.max(t.elapsed());
        let back = me(&user_b).await.code;
        if (banned, back) != (401, 200) {
            stale.push((round, banned, back));
        }
    }
    eprintln!("slowest acknowledged write: {slowest:?}");
    assert!(
        stale.is_empty(),
        "stale rounds (round, banned, back): {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_command_sets_the_admin_password() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_console-server"))
        .args([
            "admin-user",
            "reset-password",
            "--password",
            "new-Passw0rd",
            "--database-url",
            &app.db_url,
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(login(&app, "admin", ADMIN_PASSWORD).await.code, 401);
    assert_eq!(login(&app, "admin", "new-Passw0rd").await.code, 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_console-server"))
        .args([
            "admin-user",
            "reset-password",
            "--random",
            "--database-url",
            &app.db_url,
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let password = stdout.trim().rsplit(' ').next().expect("password");
    assert_eq!(login(&app, "admin", password).await.code, 200);
}

// ------------------------------------------------------------ authorization coverage

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    AnonymousGuestDisabled,
    AnonymousGuestEnabled,
    General,
    Admin,
    Disabled,
    ForeignKey,
    Expired,
}

/// A well-formed request for `op` whose effect does not disturb the other calls.
fn request(op: Operation, me: &str) -> (String, Option<Value>) {
    use Operation::*;
    let path = op.path().to_string();
    let q = |s: &str| format!("{path}?{s}");
    match op {
        ListUsers
        | ListAdminAuditEvents
        | GetMe
        | Logout
        | Generate2fa
        | ListMySshKeys
        | GetPublicSettings
        | ListOfflineDownloadTools => (path, None),
        FsGet | FsList | FsDirs => (path, Some(serde_json::json!({"path": "/"}))),
        GetUser | DeleteUser | CancelUser2fa | DeleteUserSshKey | DeleteMySshKey => {
            (q("id=999"), None)
        }
        DeleteUserCache => (q("username=nobody"), None),
        ListUserSshKeys => (q("uid=999"), None),
        CreateUser => (
            path,
            Some(serde_json::json!({"username": format!("cov-{}", uuid::Uuid::new_v4().simple())})),
        ),
        UpdateUser => (
            path,
            Some(serde_json::json!({"id": 999, "username": "ghost"})),
        ),
        Login | LoginHash => (
            path,
            Some(serde_json::json!({"username": "nobody", "password": "x"})),
        ),
        UpdateMe => (path, Some(serde_json::json!({"username": me}))),
        Verify2fa => (
            path,
            Some(serde_json::json!({"code": "x", "secret": "JBSWY3DPEHPK3PXP"})),
        ),
        AddMySshKey => (
            path,
            Some(serde_json::json!({"title": "t", "key": "not a key"})),
        ),
    }
}

/// The `code` (and message) the table promises; `None` means "let through" (the answer is
/// then neither 401 nor 403).
fn expected(rule: Rule, caller: Caller) -> Option<(u16, &'static str)> {
    use Caller::*;
    if rule == Rule::Public {
        return None;
    }
    match caller {
        AnonymousGuestDisabled => Some((401, "Guest user is disabled, login please")),
        Disabled => Some((401, "Current user is disabled, replace please")),
        ForeignKey => Some((401, "token is invalidated")),
        Expired => Some((401, "token is expired")),
        AnonymousGuestEnabled => match rule {
            Rule::Admin => Some((403, authz::NOT_ADMIN)),
            Rule::NotGuest { code, message } => Some((code, message)),
            Rule::AnyUser | Rule::Public => None,
        },
        General => match rule {
            Rule::Admin => Some((403, authz::NOT_ADMIN)),
            _ => None,
        },
        Admin => None,
    }
}

db_test!(async fn authz_table_covers_every_operation_and_caller(app) {
    let admin = admin_client(&app).await;
    let general_id = create(&app, &admin, "gina", "gina-pw").await;
    let disabled_id = create(&app, &admin, "dora", "dora-pw").await;
    let mut c = changes(disabled_id, "dora");
    c.disabled = Some(true);
    assert_eq!(admin.update_user().body(c).send().await.expect("disable").into_inner().code, 200);
    let _ = general_id;
    let state = app.state.clone();
    let mut nonce = 0i64;
    // A fresh token per call (a distinct iat), so logout or a rename cannot spoil the next call.
    let mut mint = |username: &str, secret: &[u8], issued: i64, user: &User| {
        nonce += 1;
        let _ = username;
        admin_users::issue_token(secret, user, issued - nonce, 48 * 3600).expect("jwt")
    };
    let users = [
        admin_user_of(&app, "admin").await,
        admin_user_of(&app, "gina").await,
        admin_user_of(&app, "dora").await,
    ];
    let now = state.clock.now();
    let callers = [
        Caller::AnonymousGuestDisabled,
        Caller::AnonymousGuestEnabled,
        Caller::General,
        Caller::Admin,
        Caller::Disabled,
        Caller::ForeignKey,
        Caller::Expired,
    ];
    for caller in callers {
        set_guest_enabled(&app, &admin, caller == Caller::AnonymousGuestEnabled).await;
        for op in Operation::ALL {
            let token = match caller {
                Caller::AnonymousGuestDisabled | Caller::AnonymousGuestEnabled => None,
                Caller::Admin => Some(mint("admin", &state.secret, now, &users[0])),
                Caller::General => Some(mint("gina", &state.secret, now, &users[1])),
                Caller::Disabled => Some(mint("dora", &state.secret, now, &users[2])),
                Caller::ForeignKey => Some(mint("admin", b"some-other-key-some-other-key-xx", now, &users[0])),
                Caller::Expired => Some(mint("admin", &state.secret, now - 49 * 3600, &users[0])),
            };
            let me = match caller {
                Caller::General => "gina",
                _ => "admin",
            };
            let (path, body) = request(*op, me);
            let method = reqwest::Method::from_bytes(op.method().as_bytes()).expect("method");
            let mut req = app.http.request(method, app.url(&path));
            if let Some(t) = &token {
                req = req.header("authorization", t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = req.send().await.expect("send");
            assert_eq!(resp.status(), 200, "{op:?} {caller:?}");
            let got: Value = resp.json().await.expect("json");
            let code = got["code"].as_u64().expect("code") as u16;
            match expected(authz::rule(*op), caller) {
                Some((want, message)) => {
                    assert_eq!((code, got["message"].as_str().unwrap_or_default()), (want, message), "{op:?} {caller:?}: {got}");
                }
                // Sign-in is public: its 401/429 are about the credentials it was sent.
                None if authz::rule(*op) == Rule::Public => assert!(code != 500 && code != 501, "{op:?} {caller:?}: {got}"),
                None => assert!(code != 401 && code != 403 && code != 501 && code != 500, "{op:?} {caller:?}: {got}"),
            }
        }
    }
});

#[test]
fn every_admin_operation_has_a_real_rule() {
    for op in Operation::ALL {
        let rule = authz::rule(*op);
        assert_eq!(
            rule == Rule::Public,
            !op.requires_credential(),
            "{op:?}: {rule:?}"
        );
    }
}

#[allow(dead_code)]
fn _clock_is_shared(c: Arc<ManualClock>) -> Arc<dyn Clock> {
    c
}
