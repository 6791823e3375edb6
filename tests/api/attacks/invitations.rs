//! Attacks: account takeover through invitations (issue 15, item 1).
//!
//! Anyone who may invite owns a workspace of their own (with `ALLOW_REGISTER=true`, any
//! stranger). Before the fix, inviting an e-mail answered with its activation link, so an
//! inviter held a bearer token for the invitee's account: they could set its password,
//! take over the memberships other inviters had given it, or claim an address before its
//! real owner was invited.

use console_client::console::{Client, types};
use console_server::clock::ManualClock;
use console_server::state::AppState;
use entity::{account, tenant, tenant_member};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};
use crate::smtp::SmtpSink;

const ATTACKER: &str = "mallory@example.com";
const ATTACKER_PASSWORD: &str = "mallory-pass-1";
const VICTIM: &str = "victim@example.com";

async fn app_with_mail(backend: Backend, sink: &SmtpSink) -> Option<TestApp> {
    let mailer = sink.mailer();
    let app = TestApp::spawn_custom(backend, move |state: AppState| {
        state
            .with_mailer(mailer)
            .with_clock(ManualClock::new(1_800_000_000))
    })
    .await?;
    setup(&app).await;
    Some(app)
}

/// The super_admin's client.
async fn admin(app: &TestApp) -> Client {
    let pair = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("admin login");
    app.console_as(&pair.access_token)
}

/// A stranger with a workspace of their own, as self-registration makes one (created here
/// directly, which is what registration leaves behind).
async fn attacker(app: &TestApp, admin: &Client) -> Client {
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: ATTACKER.try_into().expect("email"),
            name: "Mallory".try_into().expect("name"),
            password: ATTACKER_PASSWORD.try_into().expect("password"),
        })
        .send()
        .await
        .expect("register the attacker");
    let db = &app.state.db;
    let id = account::Entity::find()
        .filter(account::Column::Email.eq(ATTACKER))
        .one(db)
        .await
        .expect("query")
        .expect("attacker")
        .id;
    let workspace = Uuid::now_v7();
    tenant::ActiveModel {
        id: Set(workspace),
        name: Set("Mallory's workspace".into()),
        status: Set(entity::roles::TenantStatus::Normal),
        group_id: Set(None),
        created_at: Set(1_800_000_000),
    }
    .insert(db)
    .await
    .expect("workspace");
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(workspace),
        account_id: Set(id),
        role: Set(entity::roles::WorkspaceRole::Owner),
        position: Set(None),
        permissions: Set("[]".into()),
        current: Set(true),
        created_at: Set(1_800_000_000),
    }
    .insert(db)
    .await
    .expect("owner");
    let pair = login(&app.console, ATTACKER, ATTACKER_PASSWORD)
        .await
        .expect("attacker login");
    app.console_as(&pair.access_token)
}

async fn invite(
    client: &Client,
    email: &str,
    role: types::InvitableRole,
) -> types::InvitationResult {
    client
        .invite_members_by_email()
        .body(types::InviteMembersRequest {
            emails: vec![email.try_into().expect("email")],
            role,
            language: None,
        })
        .send()
        .await
        .expect("invite")
        .into_inner()
        .invitation_results
        .remove(0)
}

fn token_of(url: &str) -> String {
    url.split("token=")
        .nth(1)
        .expect("token in url")
        .to_string()
}

/// The activation token in the newest mail to `to`.
fn mailed_token(sink: &SmtpSink, to: &str) -> String {
    token_of(&sink.activation_link(to))
}

/// What the attacker does with a link the server hands them: sign in as the invitee with
/// a password of their choosing.
async fn use_link(app: &TestApp, email: &str, token: &str) -> Option<String> {
    login_with_invitation(app, email, ATTACKER_PASSWORD, token).await
}

async fn login_with_invitation(
    app: &TestApp,
    email: &str,
    password: &str,
    token: &str,
) -> Option<String> {
    let body = serde_json::json!({"email": email, "password": password, "invite_token": token});
    let resp = app
        .http
        .post(app.url("/console/api/login"))
        .json(&body)
        .send()
        .await
        .expect("send");
    if resp.status().as_u16() != 200 {
        return None;
    }
    let json: serde_json::Value = resp.json().await.expect("json");
    json["data"]["access_token"].as_str().map(str::to_string)
}

async fn workspaces_of(app: &TestApp, token: &str) -> Vec<String> {
    app.console_as(token)
        .list_workspaces()
        .send()
        .await
        .expect("workspaces")
        .into_inner()
        .workspaces
        .into_iter()
        .map(|w| w.name)
        .collect()
}

async fn takeover_of_a_pending_invitation(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let admin = admin(&app).await;
    // The super_admin invites the victim as an admin of their workspace.
    let first = invite(&admin, VICTIM, types::InvitableRole::Admin).await;
    assert_eq!(first.status, types::InvitationStatus::Success);
    let victims_link = mailed_token(&sink, VICTIM);

    // The attacker invites the same pending address into their own workspace.
    let mallory = attacker(&app, &admin).await;
    let second = invite(&mallory, VICTIM, types::InvitableRole::Normal).await;
    assert_eq!(second.status, types::InvitationStatus::Success);
    // Whatever the attacker was handed does not sign them in as the victim...
    if let Some(url) = &second.url {
        let session = use_link(&app, VICTIM, &token_of(url)).await;
        let names = match &session {
            Some(token) => workspaces_of(&app, token).await,
            None => Vec::new(),
        };
        assert_eq!(
            session, None,
            "takeover: signed in as the victim, member of {names:?}"
        );
    }
    // ...because the link goes to the mailbox only, never to an inviter.
    assert_eq!(
        second.url, None,
        "the inviter was handed the invitee's activation link"
    );
    assert_eq!(
        first.url, None,
        "the inviter was handed the invitee's activation link"
    );
    // The victim's own mailed link still works, with the password they choose.
    let token = login_with_invitation(&app, VICTIM, "victim-pass-1", &victims_link)
        .await
        .expect("the victim activates with their own link");
    let names = workspaces_of(&app, &token).await;
    assert!(
        names.iter().any(|n| n != "Mallory's workspace"),
        "{names:?}"
    );
    assert!(
        login(&app.console, VICTIM, ATTACKER_PASSWORD)
            .await
            .is_err()
    );
}

async fn pre_claiming_an_address(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let admin = admin(&app).await;
    let mallory = attacker(&app, &admin).await;
    // The attacker invites the CFO (no account yet) and activates the account with a
    // password of their choice, if the server lets them.
    let claim = invite(&mallory, "cfo@example.com", types::InvitableRole::Normal).await;
    if let Some(url) = &claim.url {
        let _ = use_link(&app, "cfo@example.com", &token_of(url)).await;
    }
    // Later the super_admin invites the CFO into their workspace.
    invite(&admin, "cfo@example.com", types::InvitableRole::Admin).await;
    // The attacker cannot sign in as the CFO, so gains nothing from that membership.
    if let Ok(pair) = login(&app.console, "cfo@example.com", ATTACKER_PASSWORD).await {
        let names = workspaces_of(&app, &pair.access_token).await;
        panic!("the attacker kept the address they pre-claimed, now in {names:?}");
    }
    assert_eq!(
        claim.url, None,
        "the inviter was handed the invitee's activation link"
    );
    // The real CFO activates with the link mailed for the super_admin's workspace.
    let token = login_with_invitation(
        &app,
        "cfo@example.com",
        "cfo-pass-123",
        &mailed_token(&sink, "cfo@example.com"),
    )
    .await
    .expect("the CFO activates");
    assert!(!workspaces_of(&app, &token).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_cannot_take_over_a_pending_invitation_sqlite() {
    takeover_of_a_pending_invitation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_cannot_take_over_a_pending_invitation_postgres() {
    takeover_of_a_pending_invitation(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_cannot_pre_claim_an_address_sqlite() {
    pre_claiming_an_address(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_cannot_pre_claim_an_address_postgres() {
    pre_claiming_an_address(Backend::Postgres).await;
}
