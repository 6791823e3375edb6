//! Forgot-password and self-registration: codes mailed over real SMTP, time moved with the
//! injected clock, every step through the generated client.

use std::time::Duration;

use base64::Engine;
use console_client::console::{Client, Error, types};
use console_server::clock::ManualClock;
use console_server::config::FeatureConfig;
use console_server::state::AppState;
use entity::{account, tenant, tenant_member};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{Backend, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};
use crate::smtp::{SmtpSink, decode_quoted_printable};

const NEW_EMAIL: &str = "newcomer@example.com";

/// An app whose mail goes to `sink`, with a manual clock; `adjust` sets features/limits.
pub(crate) async fn app_with_mail(
    backend: Backend,
    sink: &SmtpSink,
    adjust: impl FnOnce(AppState) -> AppState,
) -> Option<TestApp> {
    let mailer = sink.mailer();
    let app = TestApp::spawn_custom(backend, move |state: AppState| {
        adjust(
            state
                .with_mailer(mailer)
                .with_clock(ManualClock::new(1_800_000_000)),
        )
    })
    .await?;
    setup(&app).await;
    Some(app)
}

pub(crate) fn open_registration(state: AppState) -> AppState {
    AppState {
        features: FeatureConfig {
            allow_register: true,
            ..FeatureConfig::defaults()
        },
        ..state
    }
}

fn advance(app: &TestApp, seconds: i64) {
    app.state
        .clock
        .as_manual()
        .expect("manual clock")
        .advance(seconds);
}

pub(crate) fn refused<T: std::fmt::Debug>(
    result: Result<T, Error<types::ErrorResponse>>,
) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().code),
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// Decodes an RFC 2047 header value (`=?utf-8?b?…?=` / `=?utf-8?q?…?=` words).
fn decode_header(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&word[10..word.len() - 2])
                .expect("base64 word");
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else if lower.starts_with("=?utf-8?q?") && word.ends_with("?=") {
            out.push_str(&decode_quoted_printable(
                &word[10..word.len() - 2].replace('_', " "),
            ));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// The subject and the decoded text body of a raw message.
fn read_mail(raw: &str) -> (String, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").expect("headers and body");
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_string())
    };
    let subject = decode_header(&header("subject").expect("subject"));
    let body = match header("content-transfer-encoding").as_deref() {
        Some("base64") => {
            let joined: String = body.lines().collect();
            String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(joined.trim())
                    .expect("base64 body"),
            )
            .into_owned()
        }
        Some("quoted-printable") => decode_quoted_printable(body),
        _ => body.to_string(),
    };
    (subject, body)
}

/// The six-digit code in a mail body, if any.
pub(crate) fn code_in(body: &str) -> Option<String> {
    let chars: Vec<char> = body.chars().collect();
    chars.windows(6).enumerate().find_map(|(i, w)| {
        let digits = w.iter().all(|c| c.is_ascii_digit());
        let before = i == 0 || !chars[i - 1].is_ascii_digit();
        let after = chars.get(i + 6).is_none_or(|c| !c.is_ascii_digit());
        (digits && before && after).then(|| w.iter().collect())
    })
}

/// Waits for the `n`-th mail to `to` (mail goes out in the background).
pub(crate) async fn nth_mail(sink: &SmtpSink, to: &str, n: usize) -> (String, String) {
    for _ in 0..500 {
        if let Some(raw) = sink.to(to).get(n - 1) {
            return read_mail(raw);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no mail #{n} to {to}: {:?}", sink.messages());
}

fn send_body(email: &str, language: &str) -> types::SendEmailCodeRequest {
    types::SendEmailCodeRequest {
        email: email.try_into().expect("email"),
        language: Some(language.try_into().expect("language")),
    }
}

fn validity(email: &str, code: &str, token: &str) -> types::EmailCodeValidityRequest {
    types::EmailCodeValidityRequest {
        email: email.try_into().expect("email"),
        code: code.try_into().expect("code"),
        token: token.try_into().expect("token"),
    }
}

fn reset_body(
    email: &str,
    token: &str,
    password: &str,
    confirm: &str,
) -> types::ResetPasswordRequest {
    types::ResetPasswordRequest {
        email: email.try_into().expect("email"),
        token: token.try_into().expect("token"),
        password: password.try_into().expect("password"),
        password_confirm: confirm.try_into().expect("confirm"),
    }
}

fn finish_body(
    email: &str,
    token: &str,
    password: &str,
    confirm: &str,
) -> types::FinishRegisterRequest {
    types::FinishRegisterRequest {
        email: email.try_into().expect("email"),
        name: Some("Newcomer".try_into().expect("name")),
        token: token.try_into().expect("token"),
        password: password.try_into().expect("password"),
        password_confirm: confirm.try_into().expect("confirm"),
    }
}

async fn forgot(client: &Client, email: &str, language: &str) -> Result<String, (u16, String)> {
    match client
        .send_forgot_password_email()
        .body(send_body(email, language))
        .send()
        .await
    {
        Ok(rv) => {
            let rv = rv.into_inner();
            assert_eq!(rv.result, "success");
            Ok(rv.data)
        }
        other => Err(refused(other)),
    }
}

async fn register(client: &Client, email: &str, language: &str) -> Result<String, (u16, String)> {
    match client
        .send_register_email()
        .body(send_body(email, language))
        .send()
        .await
    {
        Ok(rv) => {
            let rv = rv.into_inner();
            assert_eq!(rv.result, "success");
            Ok(rv.data)
        }
        other => Err(refused(other)),
    }
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(crate::helpers::Backend::Postgres).await
            }
        }
    };
}

// ---------------------------------------------------------------- forgot password

async fn forgot_password_resets_and_revokes(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let c = &app.console;
    let old = login(c, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
    // Lock the email with failed sign-ins; the reset must clear that.
    for _ in 0..6 {
        login(c, ADMIN_EMAIL, "wrongpass1")
            .await
            .expect_err("wrong password");
    }
    assert_eq!(
        login(c, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect_err("locked")
            .0,
        429
    );

    let token = forgot(c, "Admin@Example.com", "en-US").await.expect("send");
    assert!(uuid::Uuid::parse_str(&token).is_ok(), "{token}");
    let (subject, body) = nth_mail(&sink, ADMIN_EMAIL, 1).await;
    assert_eq!(subject, "Reset your password");
    let code = code_in(&body).expect("a code in the mail");
    // Neither the token nor the code is stored as such.
    let rows = entity::email_code::Entity::find()
        .all(&app.state.db)
        .await
        .expect("rows");
    assert!(
        rows.iter()
            .all(|r| r.token_hash != token && !r.code_hash.contains(&code))
    );

    // One code per email per minute.
    assert_eq!(
        forgot(c, ADMIN_EMAIL, "en-US").await,
        Err((429, "password_reset_rate_limit_exceeded".into()))
    );

    // A code-phase token cannot reset.
    let r = c
        .reset_password()
        .body(reset_body(ADMIN_EMAIL, &token, "newpass123", "newpass123"))
        .send()
        .await;
    assert_eq!(refused(r), (400, "invalid_or_expired_token".into()));

    let check = |email: &str, code: &str, token: &str| {
        c.check_forgot_password_code()
            .body(validity(email, code, token))
            .send()
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        refused(check(ADMIN_EMAIL, wrong, &token).await),
        (400, "email_code_error".into())
    );
    assert_eq!(
        refused(check("other@example.com", &code, &token).await),
        (400, "invalid_email".into())
    );
    assert_eq!(
        refused(check(ADMIN_EMAIL, &code, "not-a-token").await),
        (400, "invalid_or_expired_token".into())
    );
    let ok = check(ADMIN_EMAIL, &code, &token)
        .await
        .expect("valid code")
        .into_inner();
    assert!(ok.is_valid);
    assert_eq!(ok.email, ADMIN_EMAIL);
    // A verified token cannot be checked again.
    assert_eq!(
        refused(check(ADMIN_EMAIL, &code, &token).await),
        (400, "invalid_or_expired_token".into())
    );

    let reset = |password: &str, confirm: &str, email: &str| {
        c.reset_password()
            .body(reset_body(email, &token, password, confirm))
            .send()
    };
    assert_eq!(
        refused(reset("newpass123", "newpass124", ADMIN_EMAIL).await),
        (400, "password_mismatch".into())
    );
    // A password without a digit breaks the contract's pattern, so the SDK cannot send it.
    assert!(types::ResetPasswordRequestPassword::try_from("newpassword").is_err());
    let weak = format!(
        r#"{{"email": "{ADMIN_EMAIL}", "token": "{token}", "password": "newpassword", "password_confirm": "newpassword"}}"#
    );
    let (status, json) = app
        .raw("POST", "/console/api/forgot-password/resets", Some(&weak))
        .await;
    assert_eq!(
        (status, crate::helpers::console_error(&json)),
        (400, ("invalid_param", 400))
    );
    assert_eq!(
        refused(reset("newpass123", "newpass123", "other@example.com").await),
        (400, "invalid_email".into())
    );
    let pair = reset("newpass123", "newpass123", ADMIN_EMAIL)
        .await
        .expect("reset")
        .into_inner();
    assert_eq!(pair.result, "success");
    // Signed in with the new session; the old access and refresh tokens are revoked.
    app.console_as(&pair.data.access_token)
        .get_account_profile()
        .send()
        .await
        .expect("new session");
    let r = app
        .console_as(&old.access_token)
        .get_account_profile()
        .send()
        .await;
    assert_eq!(refused(r), (401, "unauthorized".into()));
    let r = c
        .refresh_token()
        .body(types::RefreshTokenRequest {
            refresh_token: old.refresh_token.clone().try_into().expect("token"),
        })
        .send()
        .await;
    assert_eq!(refused(r), (401, "invalid_refresh_token".into()));
    // The lockout is gone; the new password works, the old one does not.
    login(c, ADMIN_EMAIL, "newpass123")
        .await
        .expect("new password");
    assert_eq!(
        login(c, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect_err("old password")
            .0,
        401
    );
    // The token is burnt.
    assert_eq!(
        refused(reset("newpass456", "newpass456", ADMIN_EMAIL).await),
        (400, "invalid_or_expired_token".into())
    );
}
both!(
    forgot_password_resets_and_revokes_sessions,
    forgot_password_resets_and_revokes
);

async fn forgot_password_unknown_email_looks_the_same(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let c = &app.console;
    let unknown = forgot(c, "nobody@example.com", "en-US")
        .await
        .expect("same answer");
    assert!(uuid::Uuid::parse_str(&unknown).is_ok());
    assert_eq!(
        forgot(c, "nobody@example.com", "en-US").await,
        Err((429, "password_reset_rate_limit_exceeded".into()))
    );
    // Mail to a known account arrives; none to the unknown email.
    forgot(c, ADMIN_EMAIL, "zh-Hans").await.expect("send");
    let (subject, body) = nth_mail(&sink, ADMIN_EMAIL, 1).await;
    assert_eq!(subject, "重置您的密码");
    assert!(body.contains("验证码"), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sink.to("nobody@example.com").is_empty(),
        "{:?}",
        sink.messages()
    );
    // Nobody can get further with it than a wrong code.
    let r = c
        .check_forgot_password_code()
        .body(validity("nobody@example.com", "123456", &unknown))
        .send()
        .await;
    assert_eq!(refused(r), (400, "email_code_error".into()));
}
both!(
    forgot_password_unknown_email_gets_the_same_answer_and_no_mail,
    forgot_password_unknown_email_looks_the_same
);

async fn forgot_password_codes_expire_and_wrong_codes_lock(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let c = &app.console;
    let check = |code: String, token: String| async move {
        c.check_forgot_password_code()
            .body(validity(ADMIN_EMAIL, &code, &token))
            .send()
            .await
    };
    // Expiry: five minutes.
    let token = forgot(c, ADMIN_EMAIL, "en-US").await.expect("send");
    let code = code_in(&nth_mail(&sink, ADMIN_EMAIL, 1).await.1).expect("code");
    advance(&app, 301);
    assert_eq!(
        refused(check(code.clone(), token).await),
        (400, "invalid_or_expired_token".into())
    );

    // A new code replaces the old token.
    let first = forgot(c, ADMIN_EMAIL, "en-US").await.expect("send");
    let first_code = code_in(&nth_mail(&sink, ADMIN_EMAIL, 2).await.1).expect("code");
    advance(&app, 61);
    let token = forgot(c, ADMIN_EMAIL, "en-US")
        .await
        .expect("send again after a minute");
    let code = code_in(&nth_mail(&sink, ADMIN_EMAIL, 3).await.1).expect("code");
    assert_eq!(
        refused(check(first_code, first).await),
        (400, "invalid_or_expired_token".into())
    );

    // Five wrong codes are answered as wrong; the sixth locks the email for a day, and
    // then even the right code is refused.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            refused(check(wrong.into(), token.clone()).await),
            (400, "email_code_error".into())
        );
    }
    assert_eq!(
        refused(check(wrong.into(), token.clone()).await),
        (429, "email_password_reset_limit".into())
    );
    assert_eq!(
        refused(check(code.clone(), token.clone()).await),
        (429, "email_password_reset_limit".into())
    );
    advance(&app, 86_400);
    let token = forgot(c, ADMIN_EMAIL, "en-US")
        .await
        .expect("send after a day");
    let code = code_in(&nth_mail(&sink, ADMIN_EMAIL, 4).await.1).expect("code");
    assert!(
        check(code, token)
            .await
            .expect("unlocked")
            .into_inner()
            .is_valid
    );
}
both!(
    forgot_password_codes_expire_and_wrong_codes_lock,
    forgot_password_codes_expire_and_wrong_codes_lock
);

async fn forgot_password_mail_limit_per_address(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |mut s| {
        s.auth.email_send_ip_limit_per_minute = 2;
        s
    })
    .await
    else {
        return;
    };
    let c = &app.console;
    forgot(c, "a@example.com", "en-US").await.expect("first");
    forgot(c, "b@example.com", "en-US").await.expect("second");
    assert_eq!(
        forgot(c, "c@example.com", "en-US").await,
        Err((429, "email_send_ip_limit".into()))
    );
    advance(&app, 61);
    forgot(c, "c@example.com", "en-US")
        .await
        .expect("a minute later");
}
both!(
    forgot_password_mail_limit_per_address,
    forgot_password_mail_limit_per_address
);

async fn forgot_password_needs_password_sign_in(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| AppState {
        features: FeatureConfig {
            enable_email_password_login: false,
            ..FeatureConfig::defaults()
        },
        ..s
    })
    .await
    else {
        return;
    };
    assert_eq!(
        forgot(&app.console, ADMIN_EMAIL, "en-US").await,
        Err((403, "forbidden".into()))
    );
}
both!(
    forgot_password_is_forbidden_without_password_sign_in,
    forgot_password_needs_password_sign_in
);

// ---------------------------------------------------------------- registration

async fn register_closed_is_forbidden(c: &Client) {
    assert_eq!(
        register(c, NEW_EMAIL, "en-US").await,
        Err((403, "forbidden".into()))
    );
}

async fn register_is_closed_by_default(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, |s| s).await else {
        return;
    };
    let c = &app.console;
    let features = c
        .get_system_features()
        .send()
        .await
        .expect("features")
        .into_inner();
    assert!(!features.is_allow_register);
    register_closed_is_forbidden(c).await;
    let r = c
        .check_register_code()
        .body(validity(NEW_EMAIL, "123456", "x"))
        .send()
        .await;
    assert_eq!(refused(r), (403, "forbidden".into()));
    let r = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, "x", "abcdefg12", "abcdefg12"))
        .send()
        .await;
    assert_eq!(refused(r), (403, "forbidden".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.messages().is_empty());
}
both!(
    register_is_forbidden_while_registration_is_closed,
    register_is_closed_by_default
);

async fn register_creates_an_account_with_its_workspace(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, open_registration).await else {
        return;
    };
    let c = &app.console;
    assert!(
        c.get_system_features()
            .send()
            .await
            .expect("features")
            .into_inner()
            .is_allow_register
    );
    let token = register(c, NEW_EMAIL, "zh-Hans").await.expect("send");
    let (subject, body) = nth_mail(&sink, NEW_EMAIL, 1).await;
    assert_eq!(subject, "注册您的账户");
    let code = code_in(&body).expect("code");
    assert_eq!(
        register(c, NEW_EMAIL, "en-US").await,
        Err((429, "email_register_rate_limit_exceeded".into()))
    );

    let r = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg12"))
        .send()
        .await;
    assert_eq!(
        refused(r),
        (400, "invalid_or_expired_token".into()),
        "a code-phase token cannot finish"
    );
    let ok = c
        .check_register_code()
        .body(validity(NEW_EMAIL, &code, &token))
        .send()
        .await
        .expect("valid")
        .into_inner();
    assert_eq!((ok.is_valid, ok.email.as_str()), (true, NEW_EMAIL));
    let r = c
        .check_register_code()
        .body(validity(NEW_EMAIL, &code, &token))
        .send()
        .await;
    assert_eq!(refused(r), (400, "invalid_or_expired_token".into()));

    let r = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg13"))
        .send()
        .await;
    assert_eq!(refused(r), (400, "password_mismatch".into()));
    let pair = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg12"))
        .send()
        .await
        .expect("finish")
        .into_inner();
    let profile = app
        .console_as(&pair.data.access_token)
        .get_account_profile()
        .send()
        .await
        .expect("profile")
        .into_inner();
    assert_eq!(
        (profile.email.as_str(), profile.name.as_str()),
        (NEW_EMAIL, "Newcomer")
    );
    assert_eq!(profile.interface_language, "zh-Hans");
    login(c, NEW_EMAIL, "abcdefg12")
        .await
        .expect("password sign-in");
    let member = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(profile.id))
        .all(&app.state.db)
        .await
        .expect("query");
    assert_eq!(member.len(), 1);
    assert_eq!(
        (member[0].role.as_str(), member[0].current),
        ("owner", true)
    );
    let workspace = tenant::Entity::find_by_id(member[0].tenant_id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("workspace");
    assert_eq!(workspace.name, "Newcomer's Workspace");
    let r = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg12"))
        .send()
        .await;
    assert_eq!(
        refused(r),
        (400, "invalid_or_expired_token".into()),
        "the token is burnt"
    );
}
both!(
    register_creates_an_account_with_its_workspace,
    register_creates_an_account_with_its_workspace
);

async fn register_existing_email(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, open_registration).await else {
        return;
    };
    let c = &app.console;
    // Same answer for a registered email; its owner is told, and gets no code.
    let token = register(c, ADMIN_EMAIL, "en-US")
        .await
        .expect("same answer");
    assert!(uuid::Uuid::parse_str(&token).is_ok());
    let (subject, body) = nth_mail(&sink, ADMIN_EMAIL, 1).await;
    assert_eq!(subject, "You already have an account");
    assert_eq!(code_in(&body), None, "{body}");

    // The email gets an account between the check and the finish.
    let token = register(c, NEW_EMAIL, "en-US").await.expect("send");
    let code = code_in(&nth_mail(&sink, NEW_EMAIL, 1).await.1).expect("code");
    c.check_register_code()
        .body(validity(NEW_EMAIL, &code, &token))
        .send()
        .await
        .expect("valid");
    let admin = app.console_as(
        &login(c, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("login")
            .access_token,
    );
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: NEW_EMAIL.try_into().expect("email"),
            name: "Taken".try_into().expect("name"),
            password: "abcdefg12".try_into().expect("password"),
        })
        .send()
        .await
        .expect("admin registers it");
    let r = c
        .finish_register()
        .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg12"))
        .send()
        .await;
    assert_eq!(refused(r), (400, "email_already_in_use".into()));
}
both!(
    register_answers_the_same_for_a_registered_email,
    register_existing_email
);

async fn register_wrong_codes_lock(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, open_registration).await else {
        return;
    };
    let c = &app.console;
    let token = register(c, NEW_EMAIL, "en-US").await.expect("send");
    let code = code_in(&nth_mail(&sink, NEW_EMAIL, 1).await.1).expect("code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = c
            .check_register_code()
            .body(validity(NEW_EMAIL, wrong, &token))
            .send()
            .await;
        assert_eq!(refused(r), (400, "email_code_error".into()));
    }
    let r = c
        .check_register_code()
        .body(validity(NEW_EMAIL, wrong, &token))
        .send()
        .await;
    assert_eq!(refused(r), (429, "email_register_limit".into()));
    let r = c
        .check_register_code()
        .body(validity(NEW_EMAIL, &code, &token))
        .send()
        .await;
    assert_eq!(refused(r), (429, "email_register_limit".into()));
}
both!(
    register_wrong_codes_lock_the_email,
    register_wrong_codes_lock
);

async fn concurrent_finishes(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = app_with_mail(backend, &sink, open_registration).await else {
        return;
    };
    let c = &app.console;
    let token = register(c, NEW_EMAIL, "en-US").await.expect("send");
    let code = code_in(&nth_mail(&sink, NEW_EMAIL, 1).await.1).expect("code");
    c.check_register_code()
        .body(validity(NEW_EMAIL, &code, &token))
        .send()
        .await
        .expect("valid");
    let attempts = (0..4).map(|_| {
        let client = Client::new(&app.base);
        let token = token.clone();
        tokio::spawn(async move {
            client
                .finish_register()
                .body(finish_body(NEW_EMAIL, &token, "abcdefg12", "abcdefg12"))
                .send()
                .await
                .is_ok()
        })
    });
    let outcomes: Vec<bool> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{outcomes:?}");
    let accounts = account::Entity::find()
        .filter(account::Column::Email.eq(NEW_EMAIL))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(accounts, 1);
}
both!(
    register_concurrent_finishes_create_one_account,
    concurrent_finishes
);
