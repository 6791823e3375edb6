//! The console a front end lives on (issue 16): a user's own profile and password, the
//! sessions they can see and end, and sign-in with a mailed code — through the SDK, on
//! SQLite and PostgreSQL, refusals included.

use console_client::console::{Client, types};
use console_server::config::FeatureConfig;
use console_server::state::AppState;
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::email_codes::{app_with_mail, code_in, nth_mail, open_registration, refused};
use crate::helpers::{Backend, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};
use crate::smtp::SmtpSink;

/// Account `email` with `password`, created by the signed-in system admin `admin`.
async fn register(admin: &Client, email: &str, password: &str) {
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: email.try_into().expect("email"),
            name: "Someone".try_into().expect("name"),
            password: password.try_into().expect("password"),
        })
        .send()
        .await
        .expect("register");
}

/// The super_admin signed in: its client, account id and its own workspace's id.
async fn the_owner(app: &TestApp) -> (Client, uuid::Uuid, uuid::Uuid) {
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let owner = app.console_as(&pair.access_token);
    let id = owner
        .get_account_profile()
        .send()
        .await
        .expect("me")
        .into_inner()
        .id;
    let (workspace, _) = console_server::domain::workspaces::current(&app.state.db, id)
        .await
        .expect("query")
        .expect("the owner's workspace");
    (owner, id, workspace.id)
}

/// A password sign-in sent with `user_agent`: the token pair.
async fn login_from(app: &TestApp, user_agent: &str) -> types::TokenPair {
    let resp = app
        .http
        .post(app.url("/console/api/login"))
        .header("user-agent", user_agent)
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    serde_json::from_value(body["data"].clone()).expect("pair")
}

async fn refresh(app: &TestApp, token: &str) -> Result<types::TokenPair, (u16, String)> {
    match app
        .console
        .refresh_token()
        .body(types::RefreshTokenRequest {
            refresh_token: token.try_into().expect("token"),
        })
        .send()
        .await
    {
        Ok(rv) => Ok(rv.into_inner().data),
        other => Err(refused(other)),
    }
}

async fn profile_status(client: &Client) -> u16 {
    match client.get_account_profile().send().await {
        Ok(rv) => rv.status().as_u16(),
        Err(err) => err.status().map(|s| s.as_u16()).unwrap_or(0),
    }
}

db_test!(async fn a_user_edits_their_own_profile(app) {
    setup(&app).await;
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let me = app.console_as(&pair.access_token);
    let named = me
        .update_account_name()
        .body(types::AccountNameRequest { name: "Ada".try_into().expect("name") })
        .send()
        .await
        .expect("name")
        .into_inner();
    assert_eq!(named.name, "Ada");
    me.update_account_avatar()
        .body(types::AccountAvatarRequest { avatar: "https://example.com/a.png".try_into().expect("avatar") })
        .send()
        .await
        .expect("avatar");
    me.update_account_interface_language()
        .body(types::AccountInterfaceLanguageRequest { interface_language: types::InterfaceLanguage::JaJp })
        .send()
        .await
        .expect("language");
    me.update_account_interface_theme()
        .body(types::AccountInterfaceThemeRequest { interface_theme: types::InterfaceTheme::Dark })
        .send()
        .await
        .expect("theme");
    let last = me
        .update_account_timezone()
        .body(types::AccountTimezoneRequest { timezone: "Asia/Tokyo".try_into().expect("tz") })
        .send()
        .await
        .expect("timezone")
        .into_inner();
    // The profile (served from the account cache) shows every change at once.
    let shown = me.get_account_profile().send().await.expect("profile").into_inner();
    assert_eq!(shown.name, "Ada");
    assert_eq!(shown.avatar_url.as_deref(), Some("https://example.com/a.png"));
    assert_eq!(shown.interface_language, "ja-JP");
    assert_eq!(shown.interface_theme, types::InterfaceTheme::Dark);
    assert_eq!(shown.timezone, "Asia/Tokyo");
    assert_eq!(last.timezone, shown.timezone);
    // Refusals: not an IANA zone, a name too long, an unknown language, a blank name.
    let token = pair.access_token.as_str();
    for (path, body) in [
        ("/console/api/account/timezone", json!({"timezone": "Mars/Olympus"})),
        ("/console/api/account/name", json!({"name": "x".repeat(31)})),
        ("/console/api/account/name", json!({"name": "   "})),
        ("/console/api/account/interface-language", json!({"interface_language": "xx-XX"})),
        ("/console/api/account/interface-theme", json!({"interface_theme": "neon"})),
    ] {
        let (status, body) = app.raw_as(token, Method::POST, path, body).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_param")), "{path}: {body}");
    }
    let unchanged = me.get_account_profile().send().await.expect("profile").into_inner();
    assert_eq!(unchanged.timezone, "Asia/Tokyo");
});

db_test!(async fn changing_the_password_keeps_only_the_callers_session(app) {
    setup(&app).await;
    let mine = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let other = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("second sign-in");
    let me = app.console_as(&mine.access_token);
    let change = |current: &str, new: &str, repeat: &str| types::ChangePasswordRequest {
        password: current.try_into().expect("current"),
        new_password: new.try_into().expect("new"),
        repeat_new_password: repeat.try_into().expect("repeat"),
    };
    let wrong = me.change_account_password().body(change("not-my-pass-1", "brand-new-pw1", "brand-new-pw1")).send().await;
    assert_eq!(refused(wrong), (400, "current_password_incorrect".into()));
    let mismatch = me.change_account_password().body(change(ADMIN_PASSWORD, "brand-new-pw1", "brand-new-pw2")).send().await;
    assert_eq!(refused(mismatch), (400, "repeat_password_not_match".into()));
    let fresh = me
        .change_account_password()
        .body(change(ADMIN_PASSWORD, "brand-new-pw1", "brand-new-pw1"))
        .send()
        .await
        .expect("change")
        .into_inner()
        .data;
    // The caller goes on with the fresh pair, in the same session.
    let now_me = app.console_as(&fresh.access_token);
    assert_eq!(profile_status(&now_me).await, 200);
    let sessions = now_me.list_account_sessions().send().await.expect("sessions").into_inner().data;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].current);
    // Every earlier token is dead: the caller's old access token, the other sign-in's
    // tokens, and the caller's old refresh token.
    assert_eq!(profile_status(&me).await, 401);
    assert_eq!(profile_status(&app.console_as(&other.access_token)).await, 401);
    assert_eq!(refresh(&app, &other.refresh_token).await.map(|_| ()), Err((401, "invalid_refresh_token".into())));
    assert_eq!(refresh(&app, &mine.refresh_token).await.map(|_| ()), Err((401, "invalid_refresh_token".into())));
    refresh(&app, &fresh.refresh_token).await.expect("the fresh refresh token works");
    // Sign-in: the new password only.
    assert!(login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.is_err());
    login(&app.console, ADMIN_EMAIL, "brand-new-pw1").await.expect("new password");
});

db_test!(async fn wrong_current_passwords_count_against_the_sign_in_limit(app) {
    setup(&app).await;
    let mine = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let me = app.console_as(&mine.access_token);
    let guess = || types::ChangePasswordRequest {
        password: "guess-pass-1".try_into().expect("current"),
        new_password: "brand-new-pw1".try_into().expect("new"),
        repeat_new_password: "brand-new-pw1".try_into().expect("repeat"),
    };
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(refused(me.change_account_password().body(guess()).send().await));
    }
    assert_eq!(seen.last(), Some(&(429, "email_code_login_limit".into())), "{seen:?}");
    // A stolen access token cannot guess the password faster than a sign-in could.
    let (status, _) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("locked");
    assert_eq!(status, 429);
});

db_test!(async fn a_user_sees_and_ends_their_sessions(app) {
    setup(&app).await;
    let laptop = login_from(&app, "Laptop/1.0").await;
    let phone = login_from(&app, "Phone/2.0").await;
    let tablet = login_from(&app, "Tablet/3.0").await;
    let me = app.console_as(&laptop.access_token);
    let sessions = me.list_account_sessions().send().await.expect("list").into_inner().data;
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    let current = sessions.iter().find(|s| s.current).expect("current");
    assert_eq!(current.user_agent.as_deref(), Some("Laptop/1.0"));
    assert_eq!(current.method, types::SignInMethod::Password);
    assert!(current.client_ip.is_some());
    // A refresh keeps the session (same id, later last use).
    let phone = refresh(&app, &phone.refresh_token).await.expect("refresh");
    let again = me.list_account_sessions().send().await.expect("list").into_inner().data;
    assert_eq!(again.len(), 3);
    let phone_session = again
        .iter()
        .find(|s| s.user_agent.as_deref() == Some("Phone/2.0"))
        .expect("phone")
        .id;
    // End the phone: its refresh token at once, its access token at its next request.
    me.end_account_session().session_id(phone_session).send().await.expect("end");
    assert_eq!(profile_status(&app.console_as(&phone.access_token)).await, 401);
    assert!(refresh(&app, &phone.refresh_token).await.is_err());
    assert_eq!(profile_status(&me).await, 200, "ending another session kept mine");
    let unknown = me.end_account_session().session_id(uuid::Uuid::new_v4()).send().await;
    assert_eq!(refused(unknown), (404, "session_not_found".into()));
    let ended_again = me.end_account_session().session_id(phone_session).send().await;
    assert_eq!(refused(ended_again), (404, "session_not_found".into()));
    // "Sign out everywhere else".
    me.end_other_account_sessions().send().await.expect("revoke others");
    assert_eq!(profile_status(&app.console_as(&tablet.access_token)).await, 401);
    let left = me.list_account_sessions().send().await.expect("list").into_inner().data;
    assert_eq!(left.len(), 1);
    assert!(left[0].current);
    // Ending one's own session is a sign-out that takes the access token with it.
    me.end_account_session().session_id(left[0].id).send().await.expect("end mine");
    assert_eq!(profile_status(&me).await, 401);
});

db_test!(async fn nobody_ends_another_accounts_session(app) {
    setup(&app).await;
    let admin = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    let admin_client = app.console_as(&admin.access_token);
    register(&admin_client, "mallory@example.com", "mallory-pw1").await;
    let mallory = login(&app.console, "mallory@example.com", "mallory-pw1").await.expect("mallory");
    let admin_session = admin_client.list_account_sessions().send().await.expect("list").into_inner().data[0].id;
    let attempt = app.console_as(&mallory.access_token).end_account_session().session_id(admin_session).send().await;
    assert_eq!(refused(attempt), (404, "session_not_found".into()));
    assert_eq!(profile_status(&admin_client).await, 200);
});

fn code_login(state: AppState) -> AppState {
    AppState {
        features: FeatureConfig {
            enable_email_code_login: true,
            ..state.features.clone()
        },
        ..state
    }
}

async fn send_code(client: &Client, email: &str) -> Result<String, (u16, String)> {
    match client
        .send_email_code_login()
        .body(types::SendEmailCodeRequest {
            email: email.try_into().expect("email"),
            language: None,
        })
        .send()
        .await
    {
        Ok(rv) => Ok(rv.into_inner().data),
        other => Err(refused(other)),
    }
}

async fn sign_in_with_code(
    client: &Client,
    email: &str,
    code: &str,
    token: &str,
) -> Result<types::TokenPair, (u16, String)> {
    match client
        .email_code_login()
        .body(types::EmailCodeValidityRequest {
            email: email.try_into().expect("email"),
            code: code.try_into().expect("code"),
            token: token.try_into().expect("token"),
        })
        .send()
        .await
    {
        Ok(rv) => Ok(rv.into_inner().data),
        other => Err(refused(other)),
    }
}

async fn email_code_sign_in(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, code_login).await else {
        return;
    };
    let c = &app.console;
    let token = send_code(c, ADMIN_EMAIL).await.expect("send");
    let (_, body) = nth_mail(&sink, ADMIN_EMAIL, 1).await;
    let code = code_in(&body).expect("a code in the mail");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        sign_in_with_code(c, ADMIN_EMAIL, wrong, &token)
            .await
            .map(|_| ()),
        Err((400, "email_code_error".into()))
    );
    let pair = sign_in_with_code(c, ADMIN_EMAIL, &code, &token)
        .await
        .expect("sign in");
    let me = app.console_as(&pair.access_token);
    assert_eq!(
        me.get_account_profile()
            .send()
            .await
            .expect("profile")
            .into_inner()
            .email,
        ADMIN_EMAIL
    );
    let sessions = me
        .list_account_sessions()
        .send()
        .await
        .expect("sessions")
        .into_inner()
        .data;
    assert_eq!(sessions[0].method, types::SignInMethod::EmailCode);
    // Single use.
    assert!(
        sign_in_with_code(c, ADMIN_EMAIL, &code, &token)
            .await
            .is_err()
    );
    // Three sends per five minutes per e-mail.
    send_code(c, ADMIN_EMAIL).await.expect("second");
    send_code(c, ADMIN_EMAIL).await.expect("third");
    assert_eq!(
        send_code(c, ADMIN_EMAIL).await,
        Err((429, "email_code_login_rate_limit_exceeded".into()))
    );
    // An unknown address: the same answer, no mail, and no account from the code.
    let unknown = send_code(c, "nobody@example.com")
        .await
        .expect("same answer");
    assert!(uuid::Uuid::parse_str(&unknown).is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        sink.to("nobody@example.com").is_empty(),
        "mailed an unknown address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_email_code_sign_in() {
    email_code_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_email_code_sign_in() {
    email_code_sign_in(Backend::Postgres).await;
}

async fn email_code_sign_up(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| code_login(open_registration(s))).await
    else {
        return;
    };
    let c = &app.console;
    let token = send_code(c, "newbie@example.com").await.expect("send");
    let (_, body) = nth_mail(&sink, "newbie@example.com", 1).await;
    let code = code_in(&body).expect("code");
    let pair = sign_in_with_code(c, "newbie@example.com", &code, &token)
        .await
        .expect("sign up");
    let profile = app
        .console_as(&pair.access_token)
        .get_account_profile()
        .send()
        .await
        .expect("profile")
        .into_inner();
    assert_eq!(profile.email, "newbie@example.com");
    assert!(!profile.is_password_set);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_email_code_sign_up() {
    email_code_sign_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_email_code_sign_up() {
    email_code_sign_up(Backend::Postgres).await;
}

db_test!(async fn email_code_sign_in_is_refused_while_switched_off(app) {
    setup(&app).await;
    assert_eq!(send_code(&app.console, ADMIN_EMAIL).await, Err((403, "forbidden".into())));
    let token = uuid::Uuid::new_v4().to_string();
    assert_eq!(sign_in_with_code(&app.console, ADMIN_EMAIL, "123456", &token).await.map(|_| ()), Err((403, "forbidden".into())));
});

/// Every sign-in flag `system-features` reports as on leads to an operation that works,
/// and every one reported off to one that refuses: the front end's buttons never lead to
/// a 404 or a 501.
async fn flags_lead_somewhere(app: &TestApp) {
    let features = app
        .console
        .get_system_features()
        .send()
        .await
        .expect("features")
        .into_inner();
    let on = |flag: bool, answer: Result<String, (u16, String)>, what: &str| match (flag, answer) {
        (true, Ok(_)) | (false, Err((403, _))) => {}
        (flag, other) => panic!("{what} reported {flag} but answered {other:?}"),
    };
    on(
        features.enable_email_code_login,
        send_code(&app.console, ADMIN_EMAIL).await,
        "enable_email_code_login",
    );
    let register = match app
        .console
        .send_register_email()
        .body(types::SendEmailCodeRequest {
            email: "flagwalk@example.com".try_into().expect("email"),
            language: None,
        })
        .send()
        .await
    {
        Ok(rv) => Ok(rv.into_inner().data),
        other => Err(refused(other)),
    };
    on(features.is_allow_register, register, "is_allow_register");
    let password = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .map(|p| p.access_token)
        .map_err(|(s, e)| (s, e.code));
    on(
        features.enable_email_password_login,
        password,
        "enable_email_password_login",
    );
}

db_test!(async fn system_features_flags_lead_to_working_flows_when_on(app) using |s| code_login(open_registration(s)); {
    setup(&app).await;
    flags_lead_somewhere(&app).await;
});

db_test!(async fn system_features_flags_lead_to_refusals_when_off(app) {
    setup(&app).await;
    flags_lead_somewhere(&app).await;
});

/// Puts account `email` (created by the super_admin) into workspace `tenant` with `role`,
/// as its current workspace.
async fn member_of(
    app: &TestApp,
    admin: &Client,
    tenant: uuid::Uuid,
    email: &str,
    role: &str,
) -> (uuid::Uuid, String) {
    use entity::{account, tenant_member};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    register(admin, email, "member-pw1").await;
    let id = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("account")
        .id;
    tenant_member::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(tenant),
        account_id: Set(id),
        role: Set(sea_orm::ActiveEnum::try_from_value(&role.to_string()).expect("a workspace role")),
        position: Set(None),
        permissions: Set("[]".to_string()),
        current: Set(true),
        created_at: Set(app.state.clock.now()),
    }
    .insert(&app.state.db)
    .await
    .expect("membership");
    let token = login(&app.console, email, "member-pw1")
        .await
        .expect("member login")
        .access_token;
    (id, token)
}

async fn set_role(
    client: &Client,
    member: uuid::Uuid,
    role: types::TenantRole,
) -> Result<(), (u16, String)> {
    match client
        .update_workspace_member_role()
        .member_id(member)
        .body(types::UpdateMemberRoleRequest { role })
        .send()
        .await
    {
        Ok(_) => Ok(()),
        other => Err(refused(other)),
    }
}

async fn remove(client: &Client, member: uuid::Uuid) -> Result<(), (u16, String)> {
    match client
        .remove_workspace_member()
        .member_id(member)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        other => Err(refused(other)),
    }
}

async fn workspace_members(backend: Backend) {
    use types::TenantRole::*;
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let (owner, owner_id, workspace_id) = the_owner(&app).await;
    let (adam, adam_token) =
        member_of(&app, &owner, workspace_id, "adam@example.com", "admin").await;
    let (eve, eve_token) = member_of(&app, &owner, workspace_id, "eve@example.com", "editor").await;
    let (norm, norm_token) =
        member_of(&app, &owner, workspace_id, "norm@example.com", "normal").await;
    owner
        .invite_members_by_email()
        .body(types::InviteMembersRequest {
            emails: vec!["pending@example.com".to_string().try_into().expect("email")],
            role: types::InvitableRole::Normal,
            language: None,
        })
        .send()
        .await
        .expect("invite");
    let link = sink.activation_link("pending@example.com");
    let invite_token = link.split("token=").nth(1).expect("token").to_string();

    // Everyone in the workspace sees it: the owner first, the invitee as pending.
    let listed = app
        .console_as(&norm_token)
        .list_workspace_members()
        .send()
        .await
        .expect("list")
        .into_inner()
        .accounts;
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!((listed[0].id, listed[0].role), (owner_id, Owner));
    let pending = listed
        .iter()
        .find(|m| m.email == "pending@example.com")
        .expect("pending");
    assert_eq!(pending.status, types::AccountStatus::Pending);

    // Roles: an admin changes editors and normals, not admins, the owner or itself.
    let adam_client = app.console_as(&adam_token);
    set_role(&adam_client, eve, Normal)
        .await
        .expect("admin demotes an editor");
    assert_eq!(
        set_role(&adam_client, norm, Admin).await,
        Err((403, "forbidden".into()))
    );
    assert_eq!(
        set_role(&adam_client, owner_id, Normal).await,
        Err((403, "forbidden".into()))
    );
    assert_eq!(
        set_role(&adam_client, adam, Editor).await,
        Err((400, "cannot_operate_self".into()))
    );
    assert_eq!(
        set_role(&owner, eve, Owner).await,
        Err((400, "invalid_role".into()))
    );
    assert_eq!(
        set_role(&owner, eve, Normal).await,
        Err((400, "role_already_assigned".into()))
    );
    assert_eq!(
        set_role(&owner, uuid::Uuid::new_v4(), Normal).await,
        Err((404, "member_not_in_tenant".into()))
    );
    assert_eq!(
        set_role(&app.console_as(&norm_token), eve, Editor).await,
        Err((403, "forbidden".into()))
    );
    // The owner grants admin; the member's next request has it.
    set_role(&owner, eve, Admin)
        .await
        .expect("owner grants admin");
    assert_eq!(
        set_role(&app.console_as(&eve_token), norm, Editor).await,
        Ok(())
    );

    // Removal: admins remove neither admins nor the owner; nobody removes themselves.
    assert_eq!(
        remove(&adam_client, eve).await,
        Err((403, "forbidden".into()))
    );
    assert_eq!(
        remove(&adam_client, owner_id).await,
        Err((403, "forbidden".into()))
    );
    assert_eq!(
        remove(&adam_client, adam).await,
        Err((400, "cannot_operate_self".into()))
    );
    remove(&adam_client, norm)
        .await
        .expect("admin removes a member");
    // The removed member's next request sees it: no current workspace left.
    let gone = app
        .console_as(&norm_token)
        .list_workspace_members()
        .send()
        .await;
    assert_eq!(refused(gone), (404, "tenant_not_found".into()));
    // Removing the invitee cancels the invitation: its link no longer checks out.
    let pending_id = pending.id;
    remove(&owner, pending_id)
        .await
        .expect("owner removes the invitee");
    let check = app
        .console
        .check_activation()
        .email("pending@example.com")
        .token(invite_token.as_str())
        .send()
        .await
        .expect("check")
        .into_inner();
    assert!(!check.is_valid, "a cancelled invitation still checks out");
    remove(&owner, eve).await.expect("owner removes an admin");
    let left = owner
        .list_workspace_members()
        .send()
        .await
        .expect("list")
        .into_inner()
        .accounts;
    assert_eq!(left.len(), 2, "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workspace_members() {
    workspace_members(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_workspace_members() {
    workspace_members(Backend::Postgres).await;
}

async fn code_to(sink: &SmtpSink, to: &str, n: usize) -> String {
    let (_, body) = nth_mail(sink, to, n).await;
    code_in(&body).expect("a code in the mail")
}

async fn changing_the_email(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let me = app.console_as(&pair.access_token);
    let send = |email: &str, phase: Option<types::ChangeEmailPhase>, token: Option<String>| {
        types::ChangeEmailSendRequest {
            email: email.try_into().expect("email"),
            language: None,
            phase,
            token: token.map(|t| t.try_into().expect("token")),
        }
    };
    let check = |email: &str, code: &str, token: &str| types::EmailCodeValidityRequest {
        email: email.try_into().expect("email"),
        code: code.try_into().expect("code"),
        token: token.try_into().expect("token"),
    };
    // Not one's own address; a taken new address; the new phase without a checked token.
    let other = me
        .send_change_email_code()
        .body(send("someone@example.com", None, None))
        .send()
        .await;
    assert_eq!(refused(other), (400, "invalid_email".into()));
    let taken = me
        .check_email_unique()
        .body(types::CheckEmailUniqueRequest {
            email: ADMIN_EMAIL.try_into().expect("email"),
        })
        .send()
        .await;
    assert_eq!(refused(taken), (400, "email_already_in_use".into()));
    me.check_email_unique()
        .body(types::CheckEmailUniqueRequest {
            email: "fresh@example.com".try_into().expect("email"),
        })
        .send()
        .await
        .expect("free");
    let early = me
        .send_change_email_code()
        .body(send(
            "fresh@example.com",
            Some(types::ChangeEmailPhase::NewEmail),
            Some("x".into()),
        ))
        .send()
        .await;
    assert_eq!(refused(early), (400, "invalid_or_expired_token".into()));
    // Phase one: the current address.
    let t1 = me
        .send_change_email_code()
        .body(send(ADMIN_EMAIL, None, None))
        .send()
        .await
        .expect("send old")
        .into_inner()
        .data;
    let c1 = code_to(&sink, ADMIN_EMAIL, 1).await;
    let checked = me
        .check_change_email_code()
        .body(check(ADMIN_EMAIL, &c1, &t1))
        .send()
        .await
        .expect("check old")
        .into_inner();
    assert!(checked.is_valid);
    // Phase two: the new address.
    let t2 = me
        .send_change_email_code()
        .body(send(
            "fresh@example.com",
            Some(types::ChangeEmailPhase::NewEmail),
            Some(checked.token.clone()),
        ))
        .send()
        .await
        .expect("send new")
        .into_inner()
        .data;
    let c2 = code_to(&sink, "fresh@example.com", 1).await;
    // Another account cannot use this account's tokens.
    register(&me, "mallory@example.com", "mallory-pw1").await;
    let mallory = app.console_as(
        &login(&app.console, "mallory@example.com", "mallory-pw1")
            .await
            .expect("mallory")
            .access_token,
    );
    let stolen = mallory
        .check_change_email_code()
        .body(check("fresh@example.com", &c2, &t2))
        .send()
        .await;
    assert_eq!(refused(stolen).0, 400);
    let checked = me
        .check_change_email_code()
        .body(check("fresh@example.com", &c2, &t2))
        .send()
        .await
        .expect("check new")
        .into_inner();
    let stolen = mallory
        .reset_account_email()
        .body(types::ChangeEmailResetRequest {
            new_email: "fresh@example.com".try_into().expect("email"),
            token: checked.token.clone().try_into().expect("token"),
        })
        .send()
        .await;
    assert_eq!(refused(stolen), (400, "invalid_or_expired_token".into()));
    let profile = me
        .reset_account_email()
        .body(types::ChangeEmailResetRequest {
            new_email: "fresh@example.com".try_into().expect("email"),
            token: checked.token.try_into().expect("token"),
        })
        .send()
        .await
        .expect("reset")
        .into_inner();
    assert_eq!(profile.email, "fresh@example.com");
    // Sign-in with the new address only; the session goes on; the old address is told.
    assert!(
        login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .is_err()
    );
    login(&app.console, "fresh@example.com", ADMIN_PASSWORD)
        .await
        .expect("new address");
    assert_eq!(profile_status(&me).await, 200);
    let (subject, _) = nth_mail(&sink, ADMIN_EMAIL, 2).await;
    assert!(subject.contains("changed"), "{subject}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_changing_the_email() {
    changing_the_email(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changing_the_email() {
    changing_the_email(Backend::Postgres).await;
}

async fn deleting_an_account(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let admin_pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let admin = app.console_as(&admin_pair.access_token);
    let delete = |token: &str, code: &str| types::DeleteAccountRequest {
        token: token.try_into().expect("token"),
        code: code.try_into().expect("code"),
    };
    // The last super_admin cannot go.
    let t = admin
        .send_delete_account_code()
        .send()
        .await
        .expect("send")
        .into_inner()
        .data;
    let c = code_to(&sink, ADMIN_EMAIL, 1).await;
    assert_eq!(
        refused(admin.delete_account().body(delete(&t, &c)).send().await),
        (409, "conflict".into())
    );
    // The owner of a workspace that has other members cannot go either.
    let (_, _, workspace_id) = the_owner(&app).await;
    let (_, co_owner_token) =
        member_of(&app, &admin, workspace_id, "co-owner@example.com", "owner").await;
    let co_owner = app.console_as(&co_owner_token);
    let t = co_owner
        .send_delete_account_code()
        .send()
        .await
        .expect("send")
        .into_inner()
        .data;
    let c = code_to(&sink, "co-owner@example.com", 1).await;
    assert_eq!(
        refused(co_owner.delete_account().body(delete(&t, &c)).send().await),
        (409, "conflict".into())
    );
    // An ordinary account can.
    register(&admin, "leaver@example.com", "leaver-pw1").await;
    let leaver_pair = login(&app.console, "leaver@example.com", "leaver-pw1")
        .await
        .expect("login");
    let leaver = app.console_as(&leaver_pair.access_token);
    let t = leaver
        .send_delete_account_code()
        .send()
        .await
        .expect("send")
        .into_inner()
        .data;
    let c = code_to(&sink, "leaver@example.com", 1).await;
    let wrong = if c == "000000" { "111111" } else { "000000" };
    assert_eq!(
        refused(leaver.delete_account().body(delete(&t, wrong)).send().await),
        (400, "email_code_error".into())
    );
    leaver
        .delete_account()
        .body(delete(&t, &c))
        .send()
        .await
        .expect("delete");
    // Gone: its token, its sign-in; the address is free again.
    assert_eq!(profile_status(&leaver).await, 401);
    assert!(
        login(&app.console, "leaver@example.com", "leaver-pw1")
            .await
            .is_err()
    );
    admin
        .check_email_unique()
        .body(types::CheckEmailUniqueRequest {
            email: "leaver@example.com".try_into().expect("email"),
        })
        .send()
        .await
        .expect("the address is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_deleting_an_account() {
    deleting_an_account(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_deleting_an_account() {
    deleting_an_account(Backend::Postgres).await;
}

async fn transferring_ownership(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let (owner, owner_id, workspace_id) = the_owner(&app).await;
    let (heir, heir_token) =
        member_of(&app, &owner, workspace_id, "heir@example.com", "admin").await;
    let heir_client = app.console_as(&heir_token);
    // An admin cannot start a transfer.
    let by_admin = heir_client
        .send_owner_transfer_code()
        .body(types::OwnerTransferSendRequest { language: None })
        .send()
        .await;
    assert_eq!(refused(by_admin), (400, "not_owner".into()));
    let token = owner
        .send_owner_transfer_code()
        .body(types::OwnerTransferSendRequest { language: None })
        .send()
        .await
        .expect("send")
        .into_inner()
        .data;
    let code = code_to(&sink, ADMIN_EMAIL, 1).await;
    let transfer = |token: &str| types::OwnerTransferRequest {
        token: token.try_into().expect("token"),
    };
    // Unchecked, the token does not transfer.
    let early = owner
        .transfer_workspace_owner()
        .member_id(heir)
        .body(transfer(&token))
        .send()
        .await;
    assert_eq!(refused(early), (400, "invalid_or_expired_token".into()));
    let checked = owner
        .check_owner_transfer_code()
        .body(types::OwnerTransferCheckRequest {
            code: code.try_into().expect("code"),
            token: token.clone().try_into().expect("token"),
        })
        .send()
        .await
        .expect("check")
        .into_inner();
    let to_self = owner
        .transfer_workspace_owner()
        .member_id(owner_id)
        .body(transfer(&checked.token))
        .send()
        .await;
    assert_eq!(
        refused(to_self),
        (400, "cannot_transfer_owner_to_self".into())
    );
    let stranger = owner
        .transfer_workspace_owner()
        .member_id(uuid::Uuid::new_v4())
        .body(transfer(&checked.token))
        .send()
        .await;
    assert_eq!(refused(stranger), (404, "member_not_in_tenant".into()));
    owner
        .transfer_workspace_owner()
        .member_id(heir)
        .body(transfer(&checked.token))
        .send()
        .await
        .expect("transfer");
    let members = owner
        .list_workspace_members()
        .send()
        .await
        .expect("list")
        .into_inner()
        .accounts;
    let role_of = |id| members.iter().find(|m| m.id == id).map(|m| m.role);
    assert_eq!(role_of(heir), Some(types::TenantRole::Owner));
    assert_eq!(role_of(owner_id), Some(types::TenantRole::Admin));
    // The token is spent, and the old owner is no longer the owner.
    let again = owner
        .transfer_workspace_owner()
        .member_id(heir)
        .body(transfer(&checked.token))
        .send()
        .await;
    assert_eq!(refused(again), (400, "not_owner".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_transferring_ownership() {
    transferring_ownership(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_transferring_ownership() {
    transferring_ownership(Backend::Postgres).await;
}

// On PostgreSQL, a profile change and an ended session made through one instance are
// seen by the other on its very next request (the account cache's invalidation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_see_profile_changes_and_ended_sessions_at_once() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let b = a.second_instance().await;
    setup(&a).await;
    let laptop = login(&a.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let phone = login(&a.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let on_b = b.console_as(&laptop.access_token);
    let phone_on_b = b.console_as(&phone.access_token);
    // B caches the account.
    assert_eq!(
        on_b.get_account_profile()
            .send()
            .await
            .expect("profile")
            .into_inner()
            .name,
        "zgi"
    );
    assert_eq!(profile_status(&phone_on_b).await, 200);
    a.console_as(&laptop.access_token)
        .update_account_name()
        .body(types::AccountNameRequest {
            name: "Renamed".try_into().expect("name"),
        })
        .send()
        .await
        .expect("rename");
    assert_eq!(
        on_b.get_account_profile()
            .send()
            .await
            .expect("profile")
            .into_inner()
            .name,
        "Renamed"
    );
    a.console_as(&laptop.access_token)
        .end_other_account_sessions()
        .send()
        .await
        .expect("revoke others");
    assert_eq!(
        profile_status(&phone_on_b).await,
        401,
        "an ended session still works on the other instance"
    );
    assert_eq!(profile_status(&on_b).await, 200);
}
