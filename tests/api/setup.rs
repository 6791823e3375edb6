//! First-run setup through the generated client.

use console_client::console::{Error, types};
use entity::{account, account_role, enterprise_group, group_member, tenant, tenant_member};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db_test;
use crate::helpers::TestApp;

fn request(email: &str, password: &str) -> types::SetupRequest {
    types::SetupRequest {
        email: email.try_into().expect("email within the SDK's bounds"),
        name: "zgi".try_into().expect("name"),
        password: password
            .try_into()
            .expect("password within the SDK's bounds"),
        language: Some("zh-Hans".try_into().expect("language")),
    }
}

async fn setup_error(app: &TestApp, body: types::SetupRequest) -> (u16, types::ErrorResponse) {
    match app.console.setup().body(body).send().await {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner()),
        other => panic!("expected an error response, got {other:?}"),
    }
}

db_test!(async fn setup_creates_the_first_admin_once(app) {
    let status = app.console.get_setup_status().send().await.expect("status").into_inner();
    assert_eq!(status.step, types::SetupStep::NotStarted);
    assert_eq!(status.setup_at, None);

    let created = app
        .console
        .setup()
        .body(request("Admin@Example.com", "abcdefg12"))
        .send()
        .await
        .expect("setup");
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.into_inner().result, "success");

    let status = app.console.get_setup_status().send().await.expect("status").into_inner();
    assert_eq!(status.step, types::SetupStep::Finished);
    let at = status.setup_at.expect("setup_at once finished");
    assert!(chrono::NaiveDateTime::parse_from_str(&at, "%Y-%m-%dT%H:%M:%S").is_ok(), "{at}");

    let (code, err) = setup_error(&app, request("other@example.com", "abcdefg12")).await;
    assert_eq!((code, err.code.as_str(), err.status), (403, "already_setup", 403));

    let db = &app.state.db;
    let accounts = account::Entity::find().all(db).await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let admin = &accounts[0];
    assert_eq!(admin.email, "admin@example.com", "emails are stored lower-cased");
    assert_eq!(admin.status.as_str(), "active");
    assert_eq!((admin.interface_language.as_str(), admin.timezone.as_str()), ("zh-Hans", "Asia/Shanghai"));
    let hash = admin.password_hash.as_deref().expect("hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(app.state.hasher.verify("abcdefg12".into(), hash.to_string()).await.expect("verify"));
    assert!(!app.state.hasher.verify("abcdefg13".into(), hash.to_string()).await.expect("verify"));

    let role = account_role::Entity::find_by_id(admin.id).one(db).await.expect("role").expect("a role");
    assert_eq!(role.role_type.as_str(), "super_admin");
    let groups = enterprise_group::Entity::find().all(db).await.expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "Default Group");
    let membership = group_member::Entity::find().one(db).await.expect("member").expect("membership");
    assert_eq!((membership.account_id, membership.group_role.as_str()), (admin.id, "super_admin"));
    let tenants = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(groups[0].id))
        .all(db)
        .await
        .expect("tenants");
    assert_eq!(tenants.len(), 2, "the shadow workspace and the admin's own");
    assert!(tenants.iter().any(|t| t.id == groups[0].id && t.name == "Default Group"));
    let own = tenants.iter().find(|t| t.id != groups[0].id).expect("own workspace");
    assert_eq!(own.name, "zgi's Workspace");
    let owner = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(own.id))
        .one(db)
        .await
        .expect("member")
        .expect("owner");
    assert_eq!((owner.account_id, owner.role.as_str(), owner.current), (admin.id, "owner", true));
});

db_test!(async fn concurrent_setups_create_exactly_one_admin(app) {
    let attempts = (0..6).map(|i| {
        let client = app.console.clone();
        tokio::spawn(async move {
            client
                .setup()
                .body(request(&format!("admin{i}@example.com"), "abcdefg12"))
                .send()
                .await
        })
    });
    let mut created = 0;
    let mut refused = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("task") {
            Ok(rv) if rv.status().as_u16() == 201 => created += 1,
            Err(Error::ErrorResponse(rv)) if rv.code == "already_setup" => refused += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((created, refused), (1, 5));
    assert_eq!(account::Entity::find().count(&app.state.db).await.expect("count"), 1);
    assert_eq!(enterprise_group::Entity::find().count(&app.state.db).await.expect("count"), 1);
});

db_test!(async fn setup_rejects_bad_input_and_creates_nothing(app) {
    // The contract carries the e-mail, password and name rules as patterns, so the SDK refuses
    // these values itself; the server must refuse them too, so they go raw.
    assert!(types::SetupRequestEmail::try_from("not-an-email").is_err());
    assert!(types::SetupRequestPassword::try_from("lettersonly").is_err());
    assert!(types::SetupRequestName::try_from("   ").is_err());
    let cases = [
        (r#"{"email": "not-an-email", "name": "zgi", "password": "abcdefg12"}"#, "not-an-email is not a valid email."),
        (r#"{"email": "admin@example.com", "name": "zgi", "password": "lettersonly"}"#, "letters and numbers"),
        (r#"{"email": "admin@example.com", "name": "zgi", "password": "short1"}"#, "password"),
        (r#"{"email": "admin@example.com", "name": "   ", "password": "abcdefg12"}"#, "Name"),
    ];
    for (body, message) in cases {
        let (code, json) = app.raw("POST", "/console/api/setup", Some(body)).await;
        assert_eq!((code, json["code"].as_str()), (400, Some("invalid_param")), "{json}");
        assert!(json["message"].as_str().unwrap_or_default().contains(message), "{body}: {json}");
    }

    let long_name = format!(
        r#"{{"email": "admin@example.com", "name": "{}", "password": "abcdefg12"}}"#,
        "n".repeat(31)
    );
    let (code, json) = app.raw("POST", "/console/api/setup", Some(&long_name)).await;
    assert_eq!((code, json["code"].as_str()), (400, Some("invalid_param")), "{json}");

    assert_eq!(account::Entity::find().count(&app.state.db).await.expect("count"), 0);
    let status = app.console.get_setup_status().send().await.expect("status").into_inner();
    assert_eq!(status.step, types::SetupStep::NotStarted);
});

db_test!(async fn system_features_report_the_configuration(app) {
    use console_server::config::FeatureConfig;
    let defaults = app;
    let f = defaults
        .console
        .get_system_features()
        .send()
        .await
        .expect("features")
        .into_inner();
    assert!(!f.is_allow_register && f.enable_email_password_login && !f.is_email_setup);
    assert_eq!(f.license.status, types::LicenseStatus::None);

    let features = FeatureConfig {
        allow_register: true,
        enable_email_password_login: false,
        mail_type: Some("smtp".into()),
        ..FeatureConfig::defaults()
    };
    let custom = TestApp::spawn_with(defaults.backend, features)
        .await
        .expect("app");
    let f = custom
        .console
        .get_system_features()
        .send()
        .await
        .expect("features")
        .into_inner();
    assert!(f.is_allow_register && !f.enable_email_password_login && f.is_email_setup);
});

fn init(password: &str) -> types::InitValidateRequest {
    types::InitValidateRequest {
        password: password.try_into().expect("password"),
    }
}

db_test!(async fn init_password_gates_setup(app) using |state| state.with_init_password(Some("let-me-in-42".into())); {
    let status = app.console.get_init_status().send().await.expect("init status").into_inner();
    assert_eq!(status.status, types::InitStatus::NotStarted);
    let (code, err) = setup_error(&app, request("admin@example.com", "abcdefg12")).await;
    assert_eq!((code, err.code.as_str()), (401, "not_init_validated"));

    match app.console.validate_init_password().body(init("guess")).send().await {
        Err(Error::ErrorResponse(rv)) => assert_eq!((rv.status().as_u16(), rv.code.as_str()), (401, "init_validate_failed")),
        other => panic!("wrong init password accepted: {other:?}"),
    }
    let ok = app.console.validate_init_password().body(init("let-me-in-42")).send().await.expect("init");
    assert_eq!(ok.status().as_u16(), 201);
    let status = app.console.get_init_status().send().await.expect("init status").into_inner();
    assert_eq!(status.status, types::InitStatus::Finished);
    app.console.setup().body(request("admin@example.com", "abcdefg12")).send().await.expect("setup after init");
    match app.console.validate_init_password().body(init("let-me-in-42")).send().await {
        Err(Error::ErrorResponse(rv)) => assert_eq!((rv.status().as_u16(), rv.code.as_str()), (403, "already_setup")),
        other => panic!("init after setup: {other:?}"),
    }
});

db_test!(async fn init_password_guesses_are_limited(app) using |state| state.with_init_password(Some("let-me-in-42".into())); {
    for _ in 0..10 {
        assert!(app.console.validate_init_password().body(init("guess")).send().await.is_err());
    }
    match app.console.validate_init_password().body(init("let-me-in-42")).send().await {
        Err(Error::ErrorResponse(rv)) => assert_eq!(rv.code, "init_validate_failed", "locked after 10 guesses"),
        other => panic!("the right password got through the lock: {other:?}"),
    }
});

db_test!(async fn without_an_init_password_the_gate_is_open(app) {
    let status = app.console.get_init_status().send().await.expect("init status").into_inner();
    assert_eq!(status.status, types::InitStatus::Finished);
    app.console.validate_init_password().body(init("anything")).send().await.expect("nothing to validate");
    app.console.setup().body(request("admin@example.com", "abcdefg12")).send().await.expect("setup");
});

fn proxies(list: &str) -> Vec<ipnet::IpNet> {
    list.split(',')
        .map(|p| console_server::api::context::parse_proxy(p).expect("proxy"))
        .collect()
}

// Behind a trusted proxy the init gate is tied to the forwarded client, not the proxy: a
// second client behind the same proxy cannot ride on the first one's validation.
db_test!(async fn behind_a_trusted_proxy_the_forwarded_client_counts(app) using |state| state
    .with_init_password(Some("let-me-in-42".into()))
    .with_trusted_proxies(proxies("127.0.0.1,::1")); {
    let alice = app.console_forwarded_for("203.0.113.5");
    let mallory = app.console_forwarded_for("203.0.113.66");
    alice.validate_init_password().body(init("let-me-in-42")).send().await.expect("init");
    match mallory.setup().body(request("mallory@example.com", "abcdefg12")).send().await {
        Err(Error::ErrorResponse(rv)) => assert_eq!(rv.code, "not_init_validated"),
        other => panic!("another client behind the proxy set up the server: {other:?}"),
    }
    alice.setup().body(request("admin@example.com", "abcdefg12")).send().await.expect("setup by the validated client");
});

// Without TRUSTED_PROXIES the header is the client's own claim and is ignored: both
// "clients" are the same peer.
db_test!(async fn forwarded_for_from_an_untrusted_peer_is_ignored(app) using |state| state
    .with_init_password(Some("let-me-in-42".into())); {
    app.console_forwarded_for("203.0.113.5").validate_init_password().body(init("let-me-in-42")).send().await.expect("init");
    app.console_forwarded_for("203.0.113.66").setup().body(request("admin@example.com", "abcdefg12")).send().await.expect("same peer, same client");
});
