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
