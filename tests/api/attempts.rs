//! The shared attempt counters, on both databases.

use console_server::auth::attempts;

use crate::db_test;

db_test!(async fn counters_count_within_a_window_and_reset(app) {
    let db = &app.state.db;
    let (key, window) = ("login:email:a@example.com", 100);
    assert_eq!(attempts::count(db, key, window, 1_000).await.expect("count"), 0);
    for expected in 1..=3 {
        assert_eq!(attempts::record(db, key, window, 1_000 + expected).await.expect("record"), expected as u32);
    }
    assert_eq!(attempts::count(db, key, window, 1_099).await.expect("count"), 3);
    // The window began at the first attempt (t=1001) and has passed at t=1101.
    assert_eq!(attempts::count(db, key, window, 1_101).await.expect("count"), 0);
    assert_eq!(attempts::record(db, key, window, 1_101).await.expect("record"), 1, "a new window starts");
    assert_eq!(attempts::count(db, "login:email:other@example.com", window, 1_101).await.expect("count"), 0);
    attempts::clear(db, key).await.expect("clear");
    assert_eq!(attempts::count(db, key, window, 1_102).await.expect("count"), 0);
});

db_test!(async fn concurrent_attempts_are_all_counted(app) {
    let tasks = (0..20).map(|_| {
        let db = app.state.db.clone();
        tokio::spawn(async move { attempts::record(&db, "ip:203.0.113.7", 60, 5_000).await })
    });
    let mut seen: Vec<u32> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("record"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<u32>>(), "every attempt got its own count");
});

db_test!(async fn reservations_stop_at_the_limit_and_count_nothing_beyond(app) {
    let db = &app.state.db;
    let (key, window) = ("login:email-ip:a@example.com|203.0.113.7", 100);
    let mut held = Vec::new();
    for expected in 1..=3 {
        let r = attempts::reserve(db, key, 3, window, 1_000).await.expect("reserve").expect("a place");
        assert_eq!(r, attempts::Reservation { count: expected, window_start: 1_000 });
        held.push(r);
    }
    assert_eq!(attempts::reserve(db, key, 3, window, 1_050).await.expect("reserve"), None, "full");
    assert_eq!(attempts::count(db, key, window, 1_050).await.expect("count"), 3, "a refusal counts nothing");
    // A place given back can be taken again.
    attempts::release(db, &[(key, held[0])]).await.expect("release");
    assert_eq!(attempts::count(db, key, window, 1_050).await.expect("count"), 2);
    assert!(attempts::reserve(db, key, 3, window, 1_050).await.expect("reserve").is_some());
    // Once the window has passed a new one starts, and an old place is not given back to it.
    let fresh = attempts::reserve(db, key, 3, window, 1_100).await.expect("reserve").expect("a place");
    assert_eq!(fresh, attempts::Reservation { count: 1, window_start: 1_100 });
    attempts::release(db, &[(key, held[1])]).await.expect("release");
    assert_eq!(attempts::count(db, key, window, 1_100).await.expect("count"), 1);
    assert_eq!(attempts::reserve(db, key, 0, window, 1_100).await.expect("reserve"), None, "a zero limit");
    // restart: a fresh window of one, whatever was there.
    attempts::restart(db, key, 1_150).await.expect("restart");
    assert_eq!(attempts::count(db, key, window, 1_249).await.expect("count"), 1);
    attempts::restart(db, "lock:new", 1_150).await.expect("restart");
    assert_eq!(attempts::count(db, "lock:new", window, 1_150).await.expect("count"), 1);
});

db_test!(async fn concurrent_reservations_never_exceed_the_limit(app) {
    let tasks = (0..20).map(|_| {
        let db = app.state.db.clone();
        tokio::spawn(async move { attempts::reserve(&db, "ip:203.0.113.7", 5, 60, 5_000).await })
    });
    let mut seen: Vec<u32> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter_map(|r| r.expect("task").expect("reserve"))
        .map(|r| r.count)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=5).collect::<Vec<u32>>(), "five places, each taken once");
    assert_eq!(attempts::count(&app.state.db, "ip:203.0.113.7", 60, 5_000).await.expect("count"), 5);
});

db_test!(async fn clear_prefix_forgets_exactly_the_keys_that_start_with_it(app) {
    let db = &app.state.db;
    let keys = [
        "login:email-ip:a_b%c@example.com|203.0.113.7",
        "login:email-ip:a_b%c@example.com|::1",
        "login:email-ip:axbyc@example.com|203.0.113.7",
        "login:email-ip:A_B%C@example.com|203.0.113.7",
        "login:email-ip:a_b%c@example.com.evil|203.0.113.7",
        "login:email:a_b%c@example.com",
    ];
    for key in keys {
        attempts::record(db, key, 100, 1_000).await.expect("record");
    }
    attempts::clear_prefix(db, "login:email-ip:a_b%c@example.com|").await.expect("clear");
    let left: Vec<u32> = attempts::counts(db, &keys.map(|k| (k, 100)), 1_000).await.expect("counts");
    assert_eq!(left, vec![0, 0, 1, 1, 1, 1]);
});

// The admin surface's lockout: the full window, held open past its end.
db_test!(async fn a_held_full_window_refuses_new_places_until_the_hold_ends(app) {
    let db = &app.state.db;
    let (key, window) = ("admin-login:fail:203.0.113.9", 100);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(attempts::reserve(db, key, 3, window, 1_000).await.expect("reserve").expect("a place"));
    }
    // Held from t=1050 for 30 s: the window now ends at 1080 instead of 1100.
    attempts::hold_window(db, key, 1_050 - window + 30).await.expect("hold");
    assert_eq!(attempts::count(db, key, window, 1_079).await.expect("count"), 3, "the count is kept");
    assert_eq!(attempts::reserve(db, key, 3, window, 1_079).await.expect("reserve"), None, "locked");
    // A place taken before the hold is not given back to the held window.
    attempts::release(db, &[(key, held[0])]).await.expect("release");
    assert_eq!(attempts::count(db, key, window, 1_079).await.expect("count"), 3);
    let fresh = attempts::reserve(db, key, 3, window, 1_080).await.expect("reserve").expect("the hold has ended");
    assert_eq!(fresh, attempts::Reservation { count: 1, window_start: 1_080 });
    // Holding a cleared key makes nothing.
    attempts::clear(db, key).await.expect("clear");
    attempts::hold_window(db, key, 2_000).await.expect("hold");
    assert_eq!(attempts::count(db, key, window, 2_050).await.expect("count"), 0);
});
