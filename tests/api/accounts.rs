//! Account administration: listing and finding accounts, and the rules for changing them.

use console_client::console::{Client, Error, types};

use crate::db_test;
use crate::helpers::TestApp;
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

async fn register(admin: &Client, email: &str) -> uuid::Uuid {
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: email.try_into().expect("email"),
            name: "Someone".try_into().expect("name"),
            password: "password1".try_into().expect("password"),
        })
        .send()
        .await
        .expect("register");
    admin
        .get_account_ex_by_email()
        .email(email)
        .send()
        .await
        .expect("find")
        .into_inner()
        .id
}

async fn signed_in(app: &TestApp, email: &str, password: &str) -> Client {
    app.console_as(
        &login(&app.console, email, password)
            .await
            .expect("login")
            .access_token,
    )
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error<types::ErrorResponse>>) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().code),
        other => panic!("expected an error response, got {other:?}"),
    }
}

fn changes() -> types::UpdateAccountExRequest {
    types::UpdateAccountExRequest {
        name: None,
        avatar: None,
        status: None,
        mobile: None,
        role_type: None,
        group_role: None,
    }
}

db_test!(async fn accounts_are_listed_newest_first_and_found_by_email_or_id(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(register(&admin, &format!("user{i}@example.com")).await);
    }
    let first = admin.list_accounts_ex().page(1).limit(2).send().await.expect("page 1").into_inner();
    assert_eq!((first.page, first.limit, first.total, first.has_more), (1, 2, 4, true));
    let second = admin.list_accounts_ex().page(2).limit(2).send().await.expect("page 2").into_inner();
    assert_eq!((second.data.len(), second.has_more), (2, false));
    let all: Vec<uuid::Uuid> = first.data.iter().chain(&second.data).map(|a| a.id).collect();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], ids[2], "newest first: {all:?}");
    assert_eq!(second.data.last().map(|a| a.email.as_str()), Some(ADMIN_EMAIL));
    let beyond = admin.list_accounts_ex().page(9).send().await.expect("page 9").into_inner();
    assert!(beyond.data.is_empty() && !beyond.has_more && beyond.total == 4);

    let by_email = admin.get_account_ex_by_email().email("USER1@example.com").send().await.expect("email");
    assert_eq!(by_email.id, ids[1]);
    let by_id = admin.get_account_ex_by_id().id(ids[0]).send().await.expect("id");
    assert_eq!(by_id.email, "user0@example.com");
    assert_eq!(refused(admin.get_account_ex_by_id().id(uuid::Uuid::now_v7()).send().await), (404, "account_not_found".into()));
    assert_eq!(refused(admin.get_account_ex_by_email().email("ghost@example.com").send().await), (404, "account_not_found".into()));
});

db_test!(async fn profile_fields_change_and_show_up(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = register(&admin, "ann@example.com").await;
    let updated = admin
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest {
            name: Some("Ann Example".try_into().expect("name")),
            avatar: Some("https://cdn.example.com/ann.png".try_into().expect("avatar")),
            mobile: Some("13800000001".try_into().expect("mobile")),
            ..changes()
        })
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name, "Ann Example");
    assert_eq!(updated.avatar_url.as_deref(), Some("https://cdn.example.com/ann.png"));
    assert_eq!(updated.extension.and_then(|e| e.mobile).as_deref(), Some("13800000001"));
    // A blank name is refused: by the SDK (the contract's pattern) and by the server.
    assert!(types::UpdateAccountExRequestName::try_from(" ").is_err());
    let token = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token;
    let path = format!("/console/api/account-ex/id?id={id}");
    let (status, body) = app.raw_as(&token, reqwest::Method::PUT, &path, serde_json::json!({"name": " "})).await;
    assert_eq!((status, crate::helpers::console_error(&body)), (400, ("invalid_param", 400)));
    // The account has no enterprise group yet, so it has no group role to change.
    let (status, code) = refused(
        admin
            .update_account_ex()
            .id(id)
            .body(types::UpdateAccountExRequest { group_role: Some(types::AssignableGroupRole::Admin), ..changes() })
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "invalid_param"));
});

db_test!(async fn banning_ends_sessions_at_once_and_unbanning_restores_sign_in(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = register(&admin, "ann@example.com").await;
    let ann = signed_in(&app, "ann@example.com", "password1").await;
    ann.get_account_profile().send().await.expect("signed in");

    let banned = admin
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest { status: Some(types::SettableAccountStatus::Banned), ..changes() })
        .send()
        .await
        .expect("ban")
        .into_inner();
    assert_eq!(banned.status, types::AccountStatus::Banned);
    assert_eq!(refused(ann.get_account_profile().send().await), (401, "unauthorized".into()));
    let (status, err) = login(&app.console, "ann@example.com", "password1").await.expect_err("banned");
    assert_eq!((status, err.code.as_str()), (400, "account_banned"));

    admin
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest { status: Some(types::SettableAccountStatus::Active), ..changes() })
        .send()
        .await
        .expect("unban");
    login(&app.console, "ann@example.com", "password1").await.expect("signs in again");
    // `pending` is not a status anyone sets: the contract leaves it out, so only raw HTTP can send it.
    let token = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login").access_token;
    let path = format!("/console/api/account-ex/id?id={id}");
    let (status, body) = app.raw_as(&token, reqwest::Method::PUT, &path, serde_json::json!({"status": "pending"})).await;
    assert_eq!((status, crate::helpers::console_error(&body)), (400, ("invalid_param", 400)));
});

db_test!(async fn role_rules_hold(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin_id = admin.get_account_profile().send().await.expect("me").into_inner().id;
    let sys_id = register(&admin, "sys@example.com").await;
    let other_id = register(&admin, "other@example.com").await;

    // A super_admin grants system_admin.
    let promoted = admin
        .update_account_role()
        .id(sys_id)
        .body(types::UpdateAccountRoleRequest { role_type: types::AssignableRoleType::SystemAdmin })
        .send()
        .await
        .expect("promote")
        .into_inner();
    assert_eq!(promoted.account_role.map(|r| r.role_type), Some(types::RoleType::SystemAdmin));
    let sys = signed_in(&app, "sys@example.com", "password1").await;

    // A system_admin may not change roles, through either operation.
    assert_eq!(
        refused(sys.update_account_role().id(other_id).body(types::UpdateAccountRoleRequest { role_type: types::AssignableRoleType::SystemAdmin }).send().await),
        (403, "forbidden".into())
    );
    assert_eq!(
        refused(sys.update_account_ex().id(other_id).body(types::UpdateAccountExRequest { role_type: Some(types::AssignableRoleType::SystemAdmin), ..changes() }).send().await),
        (403, "forbidden".into())
    );
    // Nobody changes their own role or bans or closes themselves.
    assert_eq!(
        refused(admin.update_account_role().id(admin_id).body(types::UpdateAccountRoleRequest { role_type: types::AssignableRoleType::Normal }).send().await),
        (403, "forbidden".into())
    );
    for status in [types::SettableAccountStatus::Banned, types::SettableAccountStatus::Closed] {
        assert_eq!(
            refused(sys.update_account_ex().id(sys_id).body(types::UpdateAccountExRequest { status: Some(status), ..changes() }).send().await),
            (403, "forbidden".into())
        );
    }
    // The last active super_admin cannot be banned or closed, even by a system_admin.
    assert_eq!(
        refused(sys.update_account_ex().id(admin_id).body(types::UpdateAccountExRequest { status: Some(types::SettableAccountStatus::Closed), ..changes() }).send().await),
        (403, "forbidden".into())
    );
    admin.get_account_profile().send().await.expect("the super_admin is untouched");
    // A system_admin may ban a normal account; a super_admin may demote a system_admin.
    sys.update_account_ex()
        .id(other_id)
        .body(types::UpdateAccountExRequest { status: Some(types::SettableAccountStatus::Banned), ..changes() })
        .send()
        .await
        .expect("ban a normal account");
    let demoted = admin
        .update_account_role()
        .id(sys_id)
        .body(types::UpdateAccountRoleRequest { role_type: types::AssignableRoleType::Normal })
        .send()
        .await
        .expect("demote")
        .into_inner();
    assert_eq!(demoted.account_role.map(|r| r.role_type), Some(types::RoleType::Normal));
    assert_eq!(refused(sys.list_accounts_ex().send().await), (403, "forbidden".into()), "demotion applies at once");
});

db_test!(async fn signed_in_requests_are_served_from_the_account_cache(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = register(&admin, "cached@example.com").await;
    let me = signed_in(&app, "cached@example.com", "password1").await;
    assert_eq!(me.get_account_profile().send().await.expect("profile").name, "Someone");
    // A write behind the server's back is not seen: the profile came from the cache…
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let row = entity::account::Entity::find_by_id(id).one(&app.state.db).await.expect("read").expect("row");
    let mut row: entity::account::ActiveModel = row.into();
    row.name = Set("Behind its back".to_string());
    row.update(&app.state.db).await.expect("write");
    assert_eq!(me.get_account_profile().send().await.expect("profile").name, "Someone");
    // …and a change through the API is seen at once, by the account and its administrator.
    admin
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest { name: Some("Renamed".try_into().expect("name")), ..changes() })
        .send()
        .await
        .expect("rename");
    assert_eq!(me.get_account_profile().send().await.expect("profile").name, "Renamed");
    assert_eq!(me.get_account_ex_profile().send().await.expect("profile").name, "Renamed");
    admin
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest { status: Some(types::SettableAccountStatus::Banned), ..changes() })
        .send()
        .await
        .expect("ban");
    assert_eq!(refused(me.get_account_profile().send().await), (401, "unauthorized".into()));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_see_account_changes_at_once() {
    let Some(a) = TestApp::spawn(crate::helpers::Backend::Postgres).await else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    let b = a.second_instance().await;
    setup(&a).await;
    let admin_a = signed_in(&a, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = register(&admin_a, "eve@example.com").await;
    let eve_b = signed_in(&b, "eve@example.com", "password1").await;
    assert_eq!(
        eve_b
            .get_account_profile()
            .send()
            .await
            .expect("profile")
            .name,
        "Someone"
    );
    assert!(
        b.state.accounts.get(&id.to_string()).is_some(),
        "B caches eve"
    );
    // Renamed through A: B shows the new name on the very next request.
    admin_a
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest {
            name: Some("Eve".try_into().expect("name")),
            ..changes()
        })
        .send()
        .await
        .expect("rename");
    assert_eq!(
        eve_b
            .get_account_profile()
            .send()
            .await
            .expect("profile")
            .name,
        "Eve"
    );
    // Banned through A: B refuses her token on the very next request.
    admin_a
        .update_account_ex()
        .id(id)
        .body(types::UpdateAccountExRequest {
            status: Some(types::SettableAccountStatus::Banned),
            ..changes()
        })
        .send()
        .await
        .expect("ban");
    assert_eq!(
        refused(eve_b.get_account_profile().send().await),
        (401, "unauthorized".into())
    );
}

// Two super_admins demoting each other at once: the checks before the write both see two;
// the locked re-count after it lets exactly one through. (The API cannot make a second
// super_admin, so the test writes the role itself; older data or an operator can.)
db_test!(async fn concurrent_demotions_never_remove_the_last_super_admin(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin_id = admin.get_account_profile().send().await.expect("profile").id;
    let other_id = register(&admin, "other@example.com").await;
    let other = signed_in(&app, "other@example.com", "password1").await;
    let role = |role_type| types::UpdateAccountRoleRequest { role_type };
    for round in 0..4 {
        make_super_admins(&app, &[admin_id, other_id]).await;
        let (a, b) = tokio::join!(
            admin.update_account_role().id(other_id).body(role(types::AssignableRoleType::Normal)).send(),
            other.update_account_role().id(admin_id).body(role(types::AssignableRoleType::Normal)).send(),
        );
        let codes: Vec<u16> = [a.map(|_| ()), b.map(|_| ())]
            .into_iter()
            .map(|r| match r {
                Ok(()) => 200,
                Err(err) => refused::<()>(Err(err)).0,
            })
            .collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(sorted, vec![200, 403], "round {round}: exactly one demotion goes through");
        assert_eq!(super_admins(&app).await.len(), 1, "round {round}");
    }
});

async fn super_admins(app: &TestApp) -> Vec<uuid::Uuid> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::account_role::Entity::find()
        .filter(entity::account_role::Column::RoleType.eq("super_admin"))
        .all(&app.state.db)
        .await
        .expect("roles")
        .into_iter()
        .map(|r| r.account_id)
        .collect()
}

async fn make_super_admins(app: &TestApp, ids: &[uuid::Uuid]) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    entity::account_role::Entity::update_many()
        .col_expr(
            entity::account_role::Column::RoleType,
            Expr::value("super_admin"),
        )
        .filter(entity::account_role::Column::AccountId.is_in(ids.to_vec()))
        .exec(&app.state.db)
        .await
        .expect("promote");
    app.state
        .accounts
        .forget(&app.state.db, ids)
        .await
        .expect("forget");
}
