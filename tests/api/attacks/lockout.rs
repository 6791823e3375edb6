//! Attacks: lockout (issue 15).
//!
//! Item 2: the failure counters were read before the password hash and written after it,
//! so a burst of concurrent guesses was evaluated in full (51 of 60 on the console login,
//! 54 on the admin surface) and a right password inside the burst got through. Each guess
//! now reserves its place in the counters before it is hashed; the hasher's own count
//! ("hashes done") says how many guesses were really evaluated, whatever the timing.
//!
//! Item 11: six unauthenticated wrong passwords from anywhere locked the owner's e-mail
//! for a day. Failures now count per e-mail and client address, under a much higher
//! per-e-mail ceiling (`LOGIN_EMAIL_CEILING`).

use console_client::{admin, console};
use console_server::clock::ManualClock;
use console_server::config::AuthConfig;
use console_server::domain::admin_users::LOGIN_MAX_FAILURES;
use console_server::domain::session::EMAIL_FAILURE_LIMIT;
use futures::future::join_all;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::db_test;
use crate::helpers::{ADMIN_PASSWORD as ADMIN_SURFACE_PASSWORD, TestApp};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

/// Concurrent guesses in a burst (the review's figure).
const BURST: usize = 60;
const WRONG: &str = "wrongpass1";

/// Hashes computed so far by all of `apps` (each instance has its own hasher).
fn hashes(apps: &[&TestApp]) -> u64 {
    apps.iter().map(|a| a.state.hasher.computed()).sum()
}

/// The status of a console sign-in (200 on success).
async fn console_status(client: &console::Client, email: &str, password: &str) -> u16 {
    match login(client, email, password).await {
        Ok(_) => 200,
        Err((status, _)) => status,
    }
}

/// `BURST` console sign-ins with `password`, all at once, spread over `clients`; their
/// statuses.
async fn console_burst(clients: &[&console::Client], email: &str, password: &str) -> Vec<u16> {
    join_all((0..BURST).map(|i| console_status(clients[i % clients.len()], email, password))).await
}

/// The envelope `code` of an admin-surface sign-in (200 on success).
async fn admin_code(client: &admin::Client, username: &str, password: &str) -> i32 {
    client
        .login()
        .body(admin::types::LoginRequest {
            username: username.into(),
            password: password.into(),
            otp_code: None,
        })
        .send()
        .await
        .expect("admin login")
        .into_inner()
        .code
}

async fn admin_burst(clients: &[&admin::Client], username: &str, password: &str) -> Vec<i32> {
    join_all((0..BURST).map(|i| admin_code(clients[i % clients.len()], username, password))).await
}

fn tally<T: PartialEq>(seen: &[T], value: T) -> usize {
    seen.iter().filter(|s| **s == value).count()
}

/// A console burst of wrong passwords against `email` on `apps` (clients spread over
/// them): exactly the limit is evaluated (401), the rest refused unhashed (429).
async fn console_burst_is_capped(apps: &[&TestApp], email: &str) {
    let clients: Vec<&console::Client> = apps.iter().map(|a| &a.console).collect();
    let before = hashes(apps);
    let statuses = console_burst(&clients, email, WRONG).await;
    let evaluated = hashes(apps) - before;
    let limit = u64::from(EMAIL_FAILURE_LIMIT);
    assert!(
        evaluated <= limit,
        "{email}: {evaluated} of {BURST} concurrent wrong passwords were evaluated (limit {limit})"
    );
    assert_eq!(
        evaluated, limit,
        "{email}: the guesses within the limit are still evaluated"
    );
    assert_eq!(
        (tally(&statuses, 401), tally(&statuses, 429)),
        (
            EMAIL_FAILURE_LIMIT as usize,
            BURST - EMAIL_FAILURE_LIMIT as usize
        ),
        "{email}: {statuses:?}"
    );
}

db_test!(async fn a_console_burst_of_guesses_is_evaluated_only_up_to_the_limit(app) {
    setup(&app).await;
    console_burst_is_capped(&[&app], ADMIN_EMAIL).await;
    // The limit is spent: the right password, arriving now, is refused without a hash.
    let before = hashes(&[&app]);
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("locked");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    assert_eq!(hashes(&[&app]) - before, 0, "a refused sign-in computes no hash");
    // An unknown e-mail costs what a known one costs, bursts included.
    console_burst_is_capped(&[&app], "nobody@example.com").await;
});

db_test!(async fn a_console_burst_across_two_instances_is_evaluated_only_up_to_the_limit(app) {
    setup(&app).await;
    let other = app.second_instance().await;
    console_burst_is_capped(&[&app, &other], ADMIN_EMAIL).await;
    for instance in [&app, &other] {
        let (status, err) = login(&instance.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("locked");
        assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    }
});

/// An admin-surface burst of wrong passwords on `apps`: exactly the limit is evaluated
/// (401), the rest refused unhashed (429), and the right password afterwards is 429.
async fn admin_burst_is_capped(apps: &[&TestApp]) {
    let clients: Vec<&admin::Client> = apps.iter().map(|a| &a.admin).collect();
    let before = hashes(apps);
    let codes = admin_burst(&clients, "admin", "wrong-password").await;
    let evaluated = hashes(apps) - before;
    let limit = u64::from(LOGIN_MAX_FAILURES);
    assert!(
        evaluated <= limit,
        "{evaluated} of {BURST} concurrent wrong passwords were evaluated (limit {limit})"
    );
    assert_eq!(
        evaluated, limit,
        "the guesses within the limit are still evaluated"
    );
    assert_eq!(
        (tally(&codes, 401), tally(&codes, 429)),
        (
            LOGIN_MAX_FAILURES as usize,
            BURST - LOGIN_MAX_FAILURES as usize
        ),
        "{codes:?}"
    );
    for app in apps {
        let before = hashes(&[app]);
        assert_eq!(
            admin_code(&app.admin, "admin", ADMIN_SURFACE_PASSWORD).await,
            429
        );
        assert_eq!(
            hashes(&[app]) - before,
            0,
            "a refused sign-in computes no hash"
        );
    }
}

db_test!(async fn an_admin_burst_of_guesses_is_evaluated_only_up_to_the_limit(app) {
    admin_burst_is_capped(&[&app]).await;
});

db_test!(async fn an_admin_burst_across_two_instances_is_evaluated_only_up_to_the_limit(app) {
    let other = app.second_instance().await;
    admin_burst_is_capped(&[&app, &other]).await;
});

fn proxies(list: &str) -> Vec<ipnet::IpNet> {
    list.split(',')
        .map(|p| console_server::api::context::parse_proxy(p).expect("proxy"))
        .collect()
}

// Three attackers, each at its own address, spend their six failures on the owner's
// e-mail, and one keeps hammering after its lockout: the owner, at an address that has
// not failed, still signs in. The attackers stay locked out, and so is an address once it
// has failed six times itself (Dify's lockout, per client).
db_test!(async fn failures_from_other_addresses_do_not_lock_the_owner_out(app) using |state| state
    .with_trusted_proxies(proxies("127.0.0.1,::1")); {
    setup(&app).await;
    let attackers = ["203.0.113.5", "203.0.113.6", "203.0.113.7"].map(|a| app.console_forwarded_for(a));
    for (i, attacker) in attackers.iter().enumerate() {
        for n in 0..EMAIL_FAILURE_LIMIT {
            assert_eq!(
                console_status(attacker, ADMIN_EMAIL, WRONG).await,
                401,
                "attempt {n} of attacker {i} was refused, yet that address had not failed {EMAIL_FAILURE_LIMIT} times"
            );
        }
    }
    // Refused attempts count towards nothing: far more of them than any ceiling.
    let hammered = join_all((0..120).map(|_| console_status(&attackers[0], ADMIN_EMAIL, WRONG))).await;
    assert_eq!(tally(&hammered, 429), 120, "{hammered:?}");
    for attacker in &attackers {
        let (status, err) = login(attacker, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("attacker locked");
        assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    }

    let owner = app.console_forwarded_for("198.51.100.7");
    login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("the owner, at an address that has not failed, signs in");
    for _ in 0..EMAIL_FAILURE_LIMIT {
        assert_eq!(console_status(&owner, ADMIN_EMAIL, WRONG).await, 401);
    }
    let (status, err) = login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("owner's address locked");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
});

// The admin surface counts failures per client address only (no per-username limit), so
// it never had this hole; this keeps it so.
db_test!(async fn admin_failures_from_other_addresses_do_not_lock_the_admin_out(app) using |state| state
    .with_trusted_proxies(proxies("127.0.0.1,::1")); {
    for addr in ["203.0.113.5", "203.0.113.6", "203.0.113.7"] {
        let attacker = app.admin_forwarded_for(addr);
        for _ in 0..LOGIN_MAX_FAILURES {
            assert_eq!(admin_code(&attacker, "admin", "wrong-password").await, 401);
        }
        assert_eq!(admin_code(&attacker, "admin", ADMIN_SURFACE_PASSWORD).await, 429);
    }
    let admin = app.admin_forwarded_for("198.51.100.7");
    assert_eq!(admin_code(&admin, "admin", ADMIN_SURFACE_PASSWORD).await, 200);
});

const START: i64 = 1_800_000_000;

// The per-e-mail ceiling (LOGIN_EMAIL_CEILING, here 10): many addresses together are held
// to it, a burst included, and once it is reached the e-mail is locked for every address
// for LOGIN_LOCKOUT_DURATION, as Dify's lockout was.
db_test!(async fn the_email_ceiling_locks_the_email_for_every_address(app) using |state| state
    .with_clock(ManualClock::new(START))
    .with_trusted_proxies(proxies("127.0.0.1,::1"))
    .with_auth(AuthConfig { login_email_ceiling: 10, ..AuthConfig::defaults() }); {
    setup(&app).await;
    // One guess each from BURST addresses, all at once: only the ceiling's worth is hashed.
    let attackers: Vec<console::Client> =
        (0..BURST).map(|i| app.console_forwarded_for(&format!("203.0.113.{i}"))).collect();
    let before = hashes(&[&app]);
    let statuses = join_all(attackers.iter().map(|c| console_status(c, ADMIN_EMAIL, WRONG))).await;
    assert_eq!(hashes(&[&app]) - before, 10, "{statuses:?}");
    assert_eq!((tally(&statuses, 401), tally(&statuses, 429)), (10, BURST - 10), "{statuses:?}");

    let owner = app.console_forwarded_for("198.51.100.7");
    let before = hashes(&[&app]);
    let (status, err) = login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("ceiling reached");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    assert_eq!(hashes(&[&app]) - before, 0, "a refused sign-in computes no hash");
    // Other e-mails are not affected.
    assert_eq!(console_status(&owner, "other@example.com", WRONG).await, 401);
    // The lock lasts LOGIN_LOCKOUT_DURATION from the first failure, and no longer.
    let clock = app.state.clock.as_manual().expect("manual clock");
    clock.advance(86_399);
    assert_eq!(console_status(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await, 429);
    clock.advance(1);
    login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("the window has passed");
});

// The per-address limit (LOGIN_IP_LIMIT, here 3) holds against a burst over many e-mails.
db_test!(async fn a_burst_over_many_emails_is_held_to_the_address_limit(app) using |state| state
    .with_auth(AuthConfig { login_ip_limit: 3, ..AuthConfig::defaults() }); {
    setup(&app).await;
    let before = hashes(&[&app]);
    let emails: Vec<String> = (0..BURST).map(|i| format!("u{i}@example.com")).collect();
    let statuses = join_all(emails.iter().map(|e| console_status(&app.console, e, WRONG))).await;
    assert_eq!(hashes(&[&app]) - before, 3, "{statuses:?}");
    assert_eq!((tally(&statuses, 401), tally(&statuses, 429)), (3, BURST - 3), "{statuses:?}");
    let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("address locked");
    assert_eq!((status, err.code.as_str()), (429, "email_code_login_limit"));
    assert!(err.message.contains("address"), "{}", err.message);
});

// A right password for a banned account is not a failed guess: it gives its places back,
// so it can never lock anyone out. A success forgets its address's failures.
db_test!(async fn only_failed_guesses_count(app) {
    setup(&app).await;
    for _ in 0..EMAIL_FAILURE_LIMIT - 1 {
        assert_eq!(console_status(&app.console, ADMIN_EMAIL, WRONG).await, 401);
    }
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("the last allowed attempt");
    for _ in 0..EMAIL_FAILURE_LIMIT - 1 {
        assert_eq!(console_status(&app.console, ADMIN_EMAIL, WRONG).await, 401);
    }
    let db = &app.state.db;
    let admin = entity::account::Entity::find()
        .filter(entity::account::Column::Email.eq(ADMIN_EMAIL))
        .one(db)
        .await
        .expect("query")
        .expect("admin");
    let mut banned: entity::account::ActiveModel = admin.into();
    banned.status = Set(entity::roles::AccountStatus::Banned);
    banned.update(db).await.expect("ban");
    for _ in 0..EMAIL_FAILURE_LIMIT * 2 {
        let (status, err) = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect_err("banned");
        assert_eq!((status, err.code.as_str()), (400, "account_banned"));
    }
    assert_eq!(console_status(&app.console, ADMIN_EMAIL, WRONG).await, 401, "the sixth failure");
    assert_eq!(console_status(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await, 429);
});
