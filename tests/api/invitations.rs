//! Invitations and activation, with mail delivered to a real SMTP listener.

use console_client::console::{Error, types};
use console_server::clock::ManualClock;
use console_server::state::AppState;

use crate::db_test;
use crate::helpers::TestApp;
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};
use crate::smtp::SmtpSink;

fn refused<T: std::fmt::Debug>(result: Result<T, Error<types::ErrorResponse>>) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().code),
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// An app whose mail goes to `sink` over SMTP, with a manual clock.
async fn app_with_mail(backend: crate::helpers::Backend, sink: &SmtpSink) -> Option<TestApp> {
    let mailer = sink.mailer();
    TestApp::spawn_custom(backend, move |state: AppState| {
        state
            .with_mailer(mailer)
            .with_clock(ManualClock::new(1_800_000_000))
    })
    .await
}

fn invite(emails: &[&str], role: types::InvitableRole) -> types::InviteMembersRequest {
    types::InviteMembersRequest {
        emails: emails
            .iter()
            .map(|e| e.to_string().try_into().expect("email"))
            .collect(),
        role,
        language: None,
    }
}

fn token_of(url: &str) -> String {
    url.split("token=")
        .nth(1)
        .expect("token in url")
        .to_string()
}

fn activation(token: &str) -> types::ActivateRequest {
    types::ActivateRequest {
        workspace_id: None,
        email: Some("new@example.com".try_into().expect("email")),
        token: token.try_into().expect("token"),
        name: "New Person".try_into().expect("name"),
        interface_language: "zh-Hans".try_into().expect("language"),
        timezone: "Asia/Shanghai".try_into().expect("timezone"),
    }
}

async fn invite_and_activate(backend: crate::helpers::Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    setup(&app).await;
    let admin_token = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login")
        .access_token;
    let admin = app.console_as(&admin_token);
    let answer = admin
        .invite_members_by_email()
        .body(invite(
            &["New@Example.com", "not-an-email", ADMIN_EMAIL],
            types::InvitableRole::Editor,
        ))
        .send()
        .await
        .expect("invite");
    assert_eq!(answer.status().as_u16(), 201);
    let answer = answer.into_inner();
    let results: Vec<(String, types::InvitationStatus)> = answer
        .invitation_results
        .iter()
        .map(|r| (r.email.clone(), r.status))
        .collect();
    assert_eq!(
        results,
        vec![
            ("new@example.com".into(), types::InvitationStatus::Success),
            ("not-an-email".into(), types::InvitationStatus::Failed),
            (ADMIN_EMAIL.into(), types::InvitationStatus::Failed),
        ]
    );
    // The answer never carries the link (whoever holds it can act as the invitee)...
    assert!(answer.invitation_results.iter().all(|r| r.url.is_none()));
    // ...the mail does.
    let url = sink.activation_link("new@example.com");
    assert!(
        url.starts_with("http://127.0.0.1:3000/activate?email=new%40example.com&token="),
        "{url}"
    );
    let token = token_of(&url);
    assert_eq!(token.len(), 128);

    // One mail went out over SMTP.
    let mails = sink.to("new@example.com");
    assert_eq!(mails.len(), 1, "{:?}", sink.messages());
    assert!(
        mails[0].contains("Subject: zgi invited you"),
        "{}",
        mails[0]
    );

    // The pending account cannot sign in with a password; the link checks out.
    let (status, _) = login(&app.console, "new@example.com", "whatever1")
        .await
        .expect_err("pending");
    assert_eq!(status, 401);
    let check = app
        .console
        .check_activation()
        .email("new@example.com")
        .token(token.as_str())
        .send()
        .await
        .expect("check");
    assert!(check.is_valid);
    let data = check.into_inner().data.expect("data");
    assert_eq!(
        (data.workspace_name.as_str(), data.email.as_str()),
        ("zgi's Workspace", "new@example.com")
    );
    let wrong = app
        .console
        .check_activation()
        .email("other@example.com")
        .token(token.as_str())
        .send()
        .await
        .expect("check");
    assert!(!wrong.is_valid && wrong.data.is_none());

    // Activation completes the account, signs it in, and spends the token.
    let pair = app
        .console
        .activate()
        .body(activation(&token))
        .send()
        .await
        .expect("activate")
        .into_inner()
        .data;
    let me = app.console_as(&pair.access_token);
    let ex = me
        .get_account_ex_profile()
        .send()
        .await
        .expect("profile")
        .into_inner();
    assert_eq!(
        (
            ex.name.as_str(),
            ex.interface_language.as_str(),
            ex.timezone.as_str()
        ),
        ("New Person", "zh-Hans", "Asia/Shanghai")
    );
    assert_eq!(ex.status, types::AccountStatus::Active);
    assert_eq!(
        ex.group_role,
        Some(types::GroupRole::Normal),
        "joining a group's workspace joins the group"
    );
    assert_eq!(
        refused(app.console.activate().body(activation(&token)).send().await),
        (403, "already_activate".into())
    );
    let again = app
        .console
        .check_activation()
        .email("new@example.com")
        .token(token.as_str())
        .send()
        .await
        .expect("check");
    assert!(!again.is_valid);

    // The owner role cannot be handed out (the contract's InvitableRole has no `owner`, so
    // the SDK cannot even send it); members who are not owner/admin cannot invite.
    let (status, body) = app
        .raw_as(
            &admin_token,
            reqwest::Method::POST,
            "/console/api/workspaces/current/members/invite-email",
            serde_json::json!({"emails": ["x@example.com"], "role": "owner"}),
        )
        .await;
    assert_eq!(
        (status, crate::helpers::console_error(&body)),
        (400, ("invalid_param", 400))
    );
    assert_eq!(
        refused(
            me.invite_members_by_email()
                .body(invite(&["y@example.com"], types::InvitableRole::Normal))
                .send()
                .await
        ),
        (403, "forbidden".into())
    );

    // Links expire after INVITE_EXPIRY_HOURS (72 by default).
    let later = admin
        .invite_members_by_email()
        .body(invite(&["late@example.com"], types::InvitableRole::Normal))
        .send()
        .await
        .expect("invite")
        .into_inner();
    assert_eq!(
        later.invitation_results[0].status,
        types::InvitationStatus::Success
    );
    let late = token_of(&sink.activation_link("late@example.com"));
    app.state
        .clock
        .as_manual()
        .expect("manual")
        .advance(72 * 3600);
    let mut body = activation(&late);
    body.email = Some("late@example.com".try_into().expect("email"));
    assert_eq!(
        refused(app.console.activate().body(body).send().await),
        (403, "already_activate".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_activation_sqlite() {
    invite_and_activate(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_activation_postgres() {
    invite_and_activate(crate::helpers::Backend::Postgres).await;
}

db_test!(async fn invitations_work_without_smtp_through_the_log_mailer(app) {
    setup(&app).await;
    let admin = app.console_as(&login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token);
    let answer = admin
        .invite_members_by_email()
        .body(invite(&["solo@example.com"], types::InvitableRole::Admin))
        .send()
        .await
        .expect("invite")
        .into_inner();
    let result = &answer.invitation_results[0];
    assert_eq!(result.status, types::InvitationStatus::Success);
    // The link went into the server log (the log mailer's purpose), not into the answer.
    assert!(result.url.is_none() && result.message.is_none());
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_account_signs_in_with_its_invitation_and_sets_its_password_sqlite() {
    sign_in_with_invitation(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_account_signs_in_with_its_invitation_and_sets_its_password_postgres() {
    sign_in_with_invitation(crate::helpers::Backend::Postgres).await;
}

async fn sign_in_with_invitation(backend: crate::helpers::Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
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
        .body(invite(
            &["joiner@example.com"],
            types::InvitableRole::Normal,
        ))
        .send()
        .await
        .expect("invite")
        .into_inner();
    assert_eq!(
        answer.invitation_results[0].status,
        types::InvitationStatus::Success
    );
    let token = token_of(&sink.activation_link("joiner@example.com"));
    let with_invite = |email: &str, password: &str| types::LoginRequest {
        email: email.try_into().expect("email"),
        password: password.try_into().expect("password"),
        invite_token: Some(token.clone().try_into().expect("token")),
        remember_me: None,
        language: None,
    };
    // Another email with this token, or a weak password, is refused.
    assert_eq!(
        refused(
            app.console
                .login()
                .body(with_invite("someone@example.com", "joinerpw1"))
                .send()
                .await
        ),
        (400, "invalid_email".into())
    );
    assert_eq!(
        refused(
            app.console
                .login()
                .body(with_invite("joiner@example.com", "weak"))
                .send()
                .await
        ),
        (400, "invalid_param".into())
    );
    let pair = app
        .console
        .login()
        .body(with_invite("joiner@example.com", "joinerpw1"))
        .send()
        .await
        .expect("sign in")
        .into_inner()
        .data;
    let me = app
        .console_as(&pair.access_token)
        .get_account_ex_profile()
        .send()
        .await
        .expect("profile")
        .into_inner();
    assert_eq!(me.status, types::AccountStatus::Active);
    assert!(me.is_password_set);
    // The password now works on its own; the token is spent.
    login(&app.console, "joiner@example.com", "joinerpw1")
        .await
        .expect("plain sign-in");
    let check = app
        .console
        .check_activation()
        .email("joiner@example.com")
        .token(token.as_str())
        .send()
        .await
        .expect("check");
    assert!(!check.is_valid);
}
