//! Attacks: guessing short secrets in a burst (issue 15, after item 2).
//!
//! The e-mail-code check (forgot-password and registration codes, 6 digits) and the
//! `INIT_PASSWORD` gate read their failure counter before comparing and wrote it after, so
//! a burst of concurrent guesses was compared in full: 40 at once left the counter at 40,
//! every one of them compared. Each guess now takes its place in the counter before it is
//! compared; the counter is the record of how many were.

use console_client::console::types;
use console_server::domain::email_codes::FAILURE_LIMIT;
use entity::rate_counter;
use futures::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db_test;
use crate::helpers::TestApp;
use crate::session::{ADMIN_EMAIL, setup};

const BURST: usize = 40;

/// The count held by the failure counters whose key ends with `suffix`.
async fn failures(app: &TestApp, suffix: &str) -> i64 {
    rate_counter::Entity::find()
        .filter(rate_counter::Column::Key.ends_with(suffix))
        .all(&app.state.db)
        .await
        .expect("counters")
        .iter()
        .map(|c| i64::from(c.count))
        .sum()
}

db_test!(async fn a_burst_of_wrong_email_codes_is_compared_only_up_to_the_limit(app) {
    setup(&app).await;
    let token = app
        .console
        .send_forgot_password_email()
        .body(types::SendEmailCodeRequest {
            email: ADMIN_EMAIL.try_into().expect("email"),
            language: None,
        })
        .send()
        .await
        .expect("forgot password")
        .into_inner()
        .data;
    let guess = |code: String| {
        let client = app.console.clone();
        let token = token.clone();
        async move {
            client
                .check_forgot_password_code()
                .body(types::EmailCodeValidityRequest {
                    email: ADMIN_EMAIL.try_into().expect("email"),
                    code: code.try_into().expect("code"),
                    token: token.try_into().expect("token"),
                })
                .send()
                .await
                .is_ok()
        }
    };
    // Codes that are surely wrong: the real one is six digits.
    let accepted = join_all((0..BURST).map(|i| guess(format!("x{i:05}")))).await;
    assert!(accepted.iter().all(|ok| !ok), "a wrong code was accepted");
    let counted = failures(&app, &format!("fail:{ADMIN_EMAIL}")).await;
    assert!(
        counted <= i64::from(FAILURE_LIMIT) + 1,
        "{counted} of {BURST} concurrent wrong codes were compared (limit {FAILURE_LIMIT})"
    );
});

db_test!(async fn a_burst_of_init_password_guesses_is_compared_only_up_to_the_limit(app) using |state| state.with_init_password(Some("let-me-in-42".into())); {
    let guess = |password: String| {
        let client = app.console.clone();
        async move {
            client
                .validate_init_password()
                .body(types::InitValidateRequest { password: password.try_into().expect("password") })
                .send()
                .await
                .is_ok()
        }
    };
    let accepted = join_all((0..BURST).map(|i| guess(format!("guess-{i}")))).await;
    assert!(accepted.iter().all(|ok| !ok), "a wrong init password was accepted");
    let counted = failures(&app, "-").await + failures(&app, "127.0.0.1").await;
    assert!(counted <= 10, "{counted} of {BURST} concurrent init guesses were compared (limit 10)");
    // The limit is spent: the right password is refused too.
    assert!(!guess("let-me-in-42".into()).await, "the right password got through a spent limit");
});
