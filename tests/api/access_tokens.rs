//! Personal access tokens (issue 17): made once, stored as a hash, accepted in place of a
//! sign-in's access token, held to their scope, never a way to more tokens or to the
//! account's credentials, and stopped at once by a revocation or the owner's ban — through
//! the SDK, on SQLite and PostgreSQL.

use std::sync::Arc;

use console_client::console::{Client, types};
use console_server::clock::{Clock, ManualClock};
use console_server::config::AuthConfig;
use entity::access_token;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::db_test;
use crate::email_codes::refused;
use crate::helpers::{Backend, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

async fn signed_in_admin(app: &TestApp) -> Client {
    setup(app).await;
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    app.console_as(&pair.access_token)
}

fn request(
    name: &str,
    scope: types::AccessTokenScope,
    days: Option<i32>,
) -> types::CreateAccessTokenRequest {
    types::CreateAccessTokenRequest {
        name: name.try_into().expect("name"),
        scope,
        expires_in_days: days.map(|d| {
            u32::try_from(d)
                .ok()
                .and_then(std::num::NonZeroU32::new)
                .expect("days")
        }),
    }
}

async fn make(
    client: &Client,
    name: &str,
    scope: types::AccessTokenScope,
) -> types::CreatedAccessToken {
    client
        .create_access_token()
        .body(request(name, scope, Some(30)))
        .send()
        .await
        .expect("create token")
        .into_inner()
}

async fn profile_status(app: &TestApp, token: &str) -> u16 {
    match app.console_as(token).get_account_profile().send().await {
        Ok(rv) => rv.status().as_u16(),
        other => refused(other).0,
    }
}

db_test!(async fn a_token_is_shown_once_stored_as_a_hash_and_acts_as_its_owner(app) {
    let admin = signed_in_admin(&app).await;
    let made = make(&admin, "nightly-ci", types::AccessTokenScope::Read).await;
    assert!(made.token.starts_with("pat_"), "{}", made.token);
    assert_eq!(made.token.len(), 47);
    assert_eq!(made.expires_at, Some(made.created_at + 30 * 86_400));

    let listed = admin.list_access_tokens().send().await.expect("list").into_inner().data;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, made.id);
    assert_eq!(listed[0].name, "nightly-ci");
    let shown = serde_json::to_string(&listed).expect("json");
    assert!(!shown.contains(&made.token[4..]), "the secret is never listed: {shown}");

    let rows = access_token::Entity::find().all(&app.state.db).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, made.token);
    assert!(!rows[0].token_hash.contains(&made.token[4..]));

    let me = app.console_as(&made.token).get_account_profile().send().await.expect("profile with a PAT").into_inner();
    assert_eq!(me.email, ADMIN_EMAIL);

    // Its use is recorded (off the request's path), with the address.
    let mut used = None;
    for _ in 0..50 {
        let row = access_token::Entity::find_by_id(made.id).one(&app.state.db).await.expect("q").expect("row");
        if row.last_used_at.is_some() {
            used = Some(row);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let used = used.expect("last use recorded");
    assert_eq!(used.last_used_ip.as_deref(), Some("127.0.0.1"));
});

db_test!(async fn a_read_token_only_reads_and_a_write_token_changes(app) {
    let admin = signed_in_admin(&app).await;
    let read = make(&admin, "reader", types::AccessTokenScope::Read).await;
    let write = make(&admin, "writer", types::AccessTokenScope::Write).await;
    let rename = |token: String| {
        let client = app.console_as(&token);
        async move {
            client
                .update_account_name()
                .body(types::AccountNameRequest { name: "Renamed".try_into().expect("name") })
                .send()
                .await
        }
    };
    assert_eq!(refused(rename(read.token.clone()).await), (403, "forbidden".to_string()));
    let listed = app.console_as(&read.token).list_workspaces().send().await;
    assert!(listed.is_ok(), "a read token reads: {listed:?}");
    let renamed = rename(write.token.clone()).await.expect("a write token changes").into_inner();
    assert_eq!(renamed.name, "Renamed");
});

db_test!(async fn no_token_makes_tokens_or_touches_the_accounts_credentials(app) {
    let admin = signed_in_admin(&app).await;
    let write = make(&admin, "writer", types::AccessTokenScope::Write).await;
    let pat = app.console_as(&write.token);
    let made = pat.create_access_token().body(request("more", types::AccessTokenScope::Write, Some(1))).send().await;
    assert_eq!(refused(made), (403, "forbidden".to_string()));
    assert_eq!(refused(pat.list_access_tokens().send().await), (403, "forbidden".to_string()));
    assert_eq!(refused(pat.revoke_all_access_tokens().send().await), (403, "forbidden".to_string()));
    let password = pat
        .change_account_password()
        .body(types::ChangePasswordRequest {
            password: ADMIN_PASSWORD.try_into().expect("pw"),
            new_password: "another-pw-1".try_into().expect("pw"),
            repeat_new_password: "another-pw-1".try_into().expect("pw"),
        })
        .send()
        .await;
    assert_eq!(refused(password), (403, "forbidden".to_string()));
    assert_eq!(refused(pat.list_account_sessions().send().await), (403, "forbidden".to_string()));
    // Only the signed-in person's token made one.
    assert_eq!(access_token::Entity::find().all(&app.state.db).await.expect("rows").len(), 1);
});

db_test!(async fn a_revoked_token_stops_at_once_and_revoke_all_ends_every_one(app) {
    let admin = signed_in_admin(&app).await;
    let one = make(&admin, "one", types::AccessTokenScope::Read).await;
    let two = make(&admin, "two", types::AccessTokenScope::Read).await;
    let three = make(&admin, "three", types::AccessTokenScope::Write).await;
    for t in [&one, &two, &three] {
        assert_eq!(profile_status(&app, &t.token).await, 200, "cached now");
    }
    admin.revoke_access_token().token_id(one.id).send().await.expect("revoke one");
    assert_eq!(profile_status(&app, &one.token).await, 401);
    assert_eq!(profile_status(&app, &two.token).await, 200);
    assert_eq!(refused(admin.revoke_access_token().token_id(one.id).send().await), (404, "access_token_not_found".to_string()));
    admin.revoke_all_access_tokens().send().await.expect("revoke all");
    assert_eq!(profile_status(&app, &two.token).await, 401);
    assert_eq!(profile_status(&app, &three.token).await, 401);
    assert!(admin.list_access_tokens().send().await.expect("list").into_inner().data.is_empty());
});

db_test!(async fn a_banned_owners_tokens_stop_and_a_password_change_leaves_them(app) {
    let admin = signed_in_admin(&app).await;
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: "ci@example.com".try_into().expect("email"),
            name: "CI".try_into().expect("name"),
            password: "ci-password-1".try_into().expect("pw"),
        })
        .send()
        .await
        .expect("register");
    let ci = app.console_as(&login(&app.console, "ci@example.com", "ci-password-1").await.expect("login").access_token);
    let id = ci.get_account_profile().send().await.expect("me").into_inner().id;
    let token = make(&ci, "deploy", types::AccessTokenScope::Write).await;
    ci.change_account_password()
        .body(types::ChangePasswordRequest {
            password: "ci-password-1".try_into().expect("pw"),
            new_password: "ci-password-2".try_into().expect("pw"),
            repeat_new_password: "ci-password-2".try_into().expect("pw"),
        })
        .send()
        .await
        .expect("password changed");
    assert_eq!(profile_status(&app, &token.token).await, 200, "a password change does not end tokens");

    // An administrator sees it, and banning the owner stops it at once.
    let seen = admin.list_account_access_tokens_ex().id(id).send().await.expect("ex list").into_inner().data;
    assert_eq!(seen.iter().map(|t| t.id).collect::<Vec<_>>(), vec![token.id]);
    let (status, _) = app
        .raw_as(&login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token, Method::PUT, &format!("/console/api/account-ex/id?id={id}"), json!({"status": "banned"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(profile_status(&app, &token.token).await, 401);
});

db_test!(async fn administrators_revoke_any_accounts_tokens(app) {
    let admin = signed_in_admin(&app).await;
    let me = admin.get_account_profile().send().await.expect("me").into_inner().id;
    let one = make(&admin, "one", types::AccessTokenScope::Read).await;
    let two = make(&admin, "two", types::AccessTokenScope::Read).await;
    admin.revoke_account_access_tokens_ex().id(me).token_id(one.id).send().await.expect("revoke one");
    assert_eq!(profile_status(&app, &one.token).await, 401);
    assert_eq!(profile_status(&app, &two.token).await, 200);
    admin.revoke_account_access_tokens_ex().id(me).send().await.expect("revoke all");
    assert_eq!(profile_status(&app, &two.token).await, 401);
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(refused(admin.list_account_access_tokens_ex().id(unknown).send().await), (404, "account_not_found".to_string()));
    assert_eq!(refused(admin.revoke_account_access_tokens_ex().id(me).token_id(unknown).send().await), (404, "access_token_not_found".to_string()));
});

db_test!(async fn lifetimes_follow_pat_max_days(app) using |state| state.with_auth(AuthConfig { pat_max_days: 7, ..AuthConfig::defaults() }); {
    let admin = signed_in_admin(&app).await;
    let too_long = admin.create_access_token().body(request("long", types::AccessTokenScope::Read, Some(8))).send().await;
    assert_eq!(refused(too_long), (400, "invalid_param".to_string()));
    let forever = admin.create_access_token().body(request("forever", types::AccessTokenScope::Read, None)).send().await;
    assert_eq!(refused(forever), (400, "invalid_param".to_string()));
    make_with_days(&admin, 7).await;
});

async fn make_with_days(admin: &Client, days: i32) -> types::CreatedAccessToken {
    admin
        .create_access_token()
        .body(request("ok", types::AccessTokenScope::Read, Some(days)))
        .send()
        .await
        .expect("within PAT_MAX_DAYS")
        .into_inner()
}

db_test!(async fn tokens_without_expiry_only_when_pat_max_days_is_zero(app) using |state| state.with_auth(AuthConfig { pat_max_days: 0, ..AuthConfig::defaults() }); {
    let admin = signed_in_admin(&app).await;
    let forever = admin
        .create_access_token()
        .body(request("forever", types::AccessTokenScope::Read, None))
        .send()
        .await
        .expect("no expiry allowed")
        .into_inner();
    assert_eq!(forever.expires_at, None);
    assert_eq!(profile_status(&app, &forever.token).await, 200);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let clock = ManualClock::new(1_800_000_000);
    let app = TestApp::spawn_with_clock(Backend::Sqlite, clock.clone() as Arc<dyn Clock>)
        .await
        .expect("app");
    let admin = signed_in_admin(&app).await;
    let token = make_with_days(&admin, 1).await;
    assert_eq!(profile_status(&app, &token.token).await, 200);
    clock.advance(86_400);
    assert_eq!(profile_status(&app, &token.token).await, 401);
}

db_test!(async fn an_account_holds_at_most_fifty(app) {
    let admin = signed_in_admin(&app).await;
    for _ in 0..50 {
        make_with_days(&admin, 1).await;
    }
    let one_more = admin.create_access_token().body(request("51st", types::AccessTokenScope::Read, Some(1))).send().await;
    assert_eq!(refused(one_more), (400, "too_many_access_tokens".to_string()));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_instance_is_seen_by_the_other() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let b = a.second_instance().await;
    let admin = signed_in_admin(&a).await;
    for round in 0..20 {
        let token = make_with_days(&admin, 1).await;
        assert_eq!(
            profile_status(&b, &token.token).await,
            200,
            "round {round}: B caches it"
        );
        admin
            .revoke_access_token()
            .token_id(token.id)
            .send()
            .await
            .expect("revoke through A");
        assert_eq!(
            profile_status(&b, &token.token).await,
            401,
            "round {round}: B refuses it next"
        );
    }
    let left = access_token::Entity::find()
        .filter(access_token::Column::RevokedAt.is_null())
        .all(&a.state.db)
        .await
        .expect("rows");
    assert!(left.is_empty());
}

async fn profile_from(app: &TestApp, token: &str, client: &str) -> u16 {
    app.http
        .get(app.url("/console/api/account/profile"))
        .bearer_auth(token)
        .header("x-forwarded-for", client)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

async fn last_used_ip(app: &TestApp, id: uuid::Uuid) -> Option<String> {
    access_token::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("q")
        .and_then(|r| r.last_used_ip)
}

db_test!(async fn a_use_from_a_new_address_is_an_audit_event(app) using |state| state.with_trusted_proxies(vec!["127.0.0.1/32".parse().expect("net")]); {
    let admin = signed_in_admin(&app).await;
    let token = make(&admin, "ci", types::AccessTokenScope::Read).await;
    assert_eq!(profile_from(&app, &token.token, "198.51.100.1").await, 200);
    for _ in 0..100 {
        if last_used_ip(&app, token.id).await.is_some() { break; }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last_used_ip(&app, token.id).await.as_deref(), Some("198.51.100.1"));
    assert_eq!(profile_from(&app, &token.token, "198.51.100.2").await, 200);
    let mut found = Vec::new();
    for _ in 0..100 {
        found = entity::audit_event::Entity::find()
            .filter(entity::audit_event::Column::OperationId.eq("use_access_token"))
            .all(&app.state.db)
            .await
            .expect("events");
        if !found.is_empty() { break; }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found.len(), 1, "one event for the new address");
    assert_eq!(found[0].client_ip.as_deref(), Some("198.51.100.2"));
    assert_eq!(found[0].target_id.as_deref(), Some(token.id.to_string().as_str()));
    assert!(found[0].changes.as_deref().unwrap_or_default().contains("198.51.100.1"));
});
