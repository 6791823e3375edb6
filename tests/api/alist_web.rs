//! What AList's web front end (alist-web) needs from this server alone: the public
//! settings it reads before drawing anything, the user list without paging parameters, the
//! base-path picker's folders (`fs/dirs`) and the home page's storage calls. CI cannot run
//! the front end, so these pin the shapes it reads (`src/app/App.tsx`, `store/settings.ts`,
//! `hooks/usePath.ts`, `components/FolderTree.tsx`, `pages/home/toolbar/OfflineDownload.tsx`).

use console_client::admin::{Client, types};
use console_server::api::admin::authz::FORCE_ROOT_DENIED;
use console_server::config::AdminWebConfig;
use console_server::domain::admin_users::{self, USER_LIST_CAP};
use console_server::state::AppState;
use entity::admin_user;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;

use crate::db_test;
use crate::helpers::{ADMIN_PASSWORD, TestApp};

async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let r = app
        .admin
        .login()
        .body(types::LoginRequest {
            username: username.into(),
            password: password.into(),
            otp_code: None,
        })
        .send()
        .await
        .expect("login")
        .into_inner();
    assert_eq!(r.code, 200, "{username}: {}", r.message);
    r.data.expect("token").token
}

async fn admin(app: &TestApp) -> Client {
    app.admin_as(&token(app, "admin", ADMIN_PASSWORD).await)
}

async fn create(admin: &Client, username: &str, base_path: &str) {
    let r = admin
        .create_user()
        .body(types::CreateUserRequest {
            username: username.parse().expect("username"),
            password: Some(format!("{username}-Passw0rd")),
            base_path: Some(base_path.into()),
            role: None,
            permission: Some(0),
            disabled: None,
            sso_id: None,
            id: None,
        })
        .send()
        .await
        .expect("create")
        .into_inner();
    assert_eq!(r.code, 200, "{}", r.message);
}

/// A raw call, as the front end's axios makes it: the envelope as JSON.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    assert_eq!(resp.status(), 200, "{path}: AList answers HTTP 200");
    resp.json().await.expect("json")
}

fn dirs_body(path: &str, force_root: bool) -> types::FsDirsRequest {
    types::FsDirsRequest {
        path: Some(path.into()),
        password: Some(String::new()),
        force_root: Some(force_root),
    }
}

async fn dir_names(
    client: &Client,
    path: &str,
    force_root: bool,
) -> (i32, String, Option<Vec<String>>) {
    let r = client
        .fs_dirs()
        .body(dirs_body(path, force_root))
        .send()
        .await
        .expect("fs/dirs")
        .into_inner();
    let names = r.data.map(|d| d.into_iter().map(|d| d.name).collect());
    (r.code, r.message, names)
}

/// The keys alist-web reads from `/api/public/settings` (`getSetting*` calls and
/// `store/settings.ts`), and the ones the issue names.
const READ_BY_THE_FRONT_END: &[&str] = &[
    "site_title",
    "logo",
    "favicon",
    "main_color",
    "announcement",
    "pagination_type",
    "default_page_size",
    "ldap_login_enabled",
    "ldap_login_tips",
    "sso_login_enabled",
    "sso_login_platform",
    "webauthn_login_enabled",
    "sso_compatibility_mode",
    "home_container",
    "home_icon",
    "settings_layout",
    "customize_head",
    "customize_body",
    "version",
    "hide_files",
    "package_download",
    "search_index",
    "audio_autoplay",
    "video_autoplay",
    "audio_cover",
    "external_previews",
    "iframe_previews",
];

db_test!(async fn public_settings_are_alists_public_strings_with_features_off(app) {
    // No credential: the sign-in page needs them.
    let body = call(&app, "GET", "/api/public/settings", None, None).await;
    assert_eq!((body["code"].as_i64(), body["message"].as_str()), (Some(200), Some("success")), "{body}");
    let data = body["data"].as_object().expect("an object of settings");
    for key in READ_BY_THE_FRONT_END {
        assert!(data.contains_key(*key), "missing {key}: {body}");
    }
    for (key, value) in data {
        assert!(value.is_string(), "{key} is not a string (AList stores strings): {value}");
    }
    let get = |k: &str| data[k].as_str().unwrap_or_default().to_string();
    for off in ["ldap_login_enabled", "sso_login_enabled", "webauthn_login_enabled", "sso_compatibility_mode", "package_download"] {
        assert_eq!(get(off), "false", "{off}");
    }
    assert_eq!(get("search_index"), "none");
    assert_eq!(get("site_title"), "AList");
    assert_eq!(get("logo"), console_server::config::DEFAULT_SITE_LOGO);
    assert_eq!(get("favicon"), get("logo"));
    assert_eq!(get("pagination_type"), "all");
    assert_eq!(get("default_page_size"), "30");
    assert_eq!(get("main_color"), "#1890ff");
    assert_eq!(get("announcement"), "", "an announcement would pop up on every home page");
    assert!(get("version").starts_with("console-server/"), "{}", get("version"));
    // Parsed by the front end as JSON.
    for json in ["external_previews", "iframe_previews"] {
        serde_json::from_str::<Value>(&get(json)).unwrap_or_else(|e| panic!("{json}: {e}"));
    }
    // The SDK reads the same answer.
    let typed = app.admin.get_public_settings().send().await.expect("settings").into_inner();
    assert_eq!(typed.data.expect("data").site_title, "AList");

    let tools = call(&app, "GET", "/api/public/offline_download_tools", None, None).await;
    assert_eq!(tools, serde_json::json!({"code": 200, "message": "success", "data": []}));
});

db_test!(async fn the_site_title_and_logo_come_from_the_configuration(app) using |state: AppState| {
    state.with_admin_web(&AdminWebConfig {
        site_title: "Example Files".into(),
        site_logo: "https://example.com/light.svg\nhttps://example.com/dark.svg".into(),
        base_paths: vec![],
    })
}; {
    let s = app.admin.get_public_settings().send().await.expect("settings").into_inner().data.expect("data");
    assert_eq!(s.site_title, "Example Files");
    assert_eq!(s.logo, "https://example.com/light.svg\nhttps://example.com/dark.svg");
    assert_eq!(s.favicon, "https://example.com/light.svg");
});

db_test!(async fn the_user_list_without_paging_answers_every_user(app) {
    // The front end's users page: `GET /api/admin/user/list`, no parameters, no pager.
    let admin = admin(&app).await;
    for i in 1..=33 {
        create(&admin, &format!("user{i:02}"), "/").await;
    }
    let raw = call(&app, "GET", "/api/admin/user/list", Some(&token(&app, "admin", ADMIN_PASSWORD).await), None).await;
    assert_eq!(raw["data"]["total"], 35);
    let content = raw["data"]["content"].as_array().expect("content");
    assert_eq!(content.len(), 35, "all 35 users, not the first 30");
    assert_eq!(content[34]["username"], "user33");
    for field in ["id", "username", "base_path", "role", "permission", "disabled"] {
        assert!(content[0].get(field).is_some(), "{field}");
    }
    // Explicit paging still pages; per_page < 1 is every user too (AList).
    let page = admin.list_users().page(2).per_page(30).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!((page.content.len(), page.total), (5, 35));
    let page = admin.list_users().per_page(-1).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(page.content.len(), 35);
    // Above the cap is refused, naming the parameter.
    let over = call(&app, "GET", &format!("/api/admin/user/list?per_page={}", USER_LIST_CAP + 1), Some(&token(&app, "admin", ADMIN_PASSWORD).await), None).await;
    assert_eq!(over["code"], 400, "{over}");
    assert!(over["message"].as_str().unwrap_or_default().contains("per_page"), "{over}");
});

db_test!(async fn the_unpaged_user_list_stops_at_the_cap(app) {
    // Rows straight into the table: 10 000 sign-up hashes would take minutes.
    let cap = usize::try_from(USER_LIST_CAP).expect("cap");
    let rows: Vec<admin_user::ActiveModel> = (0..cap - 1)
        .map(|i| admin_user::ActiveModel {
            username: Set(format!("bulk{i:05}")),
            password_hash: Set(String::new()),
            pwd_ts: Set(0),
            base_path: Set("/".into()),
            role: Set(admin_users::ROLE_GENERAL),
            disabled: Set(false),
            permission: Set(0),
            sso_id: Set(String::new()),
            otp_secret: Set(String::new()),
            otp_last_step: Set(0),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        admin_user::Entity::insert_many(chunk.to_vec()).exec(&app.state.db).await.expect("insert");
    }
    // admin, guest and cap - 1 more: one over the cap.
    let admin = admin(&app).await;
    let page = admin.list_users().send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(page.total, i64::from(USER_LIST_CAP) + 1);
    assert_eq!(page.content.len(), cap, "the cap bounds the answer");
    assert_eq!(page.content[0].username, "admin");
    let rest = admin.list_users().page(2).per_page(USER_LIST_CAP).send().await.expect("list").into_inner().data.expect("page");
    assert_eq!(rest.content.len(), 1, "the rest is reachable by paging");
});

fn folders(state: AppState) -> AppState {
    state.with_admin_web(&AdminWebConfig {
        base_paths: vec![
            "/".into(),
            "/team".into(),
            "/team/docs".into(),
            "/media/films".into(),
        ],
        ..AdminWebConfig::defaults()
    })
}

db_test!(async fn the_base_path_picker_browses_the_configured_folders(app) using folders; {
    let admin = admin(&app).await;
    // What the picker sends first: `{"path":"/","password":"","force_root":true}`.
    let raw = call(&app, "POST", "/api/fs/dirs", Some(&token(&app, "admin", ADMIN_PASSWORD).await),
        Some(serde_json::json!({"path": "/", "password": "", "force_root": true}))).await;
    assert_eq!(raw["code"], 200, "{raw}");
    assert_eq!(raw["data"], serde_json::json!([
        {"name": "media", "modified": "0001-01-01T00:00:00Z"},
        {"name": "team", "modified": "0001-01-01T00:00:00Z"},
    ]));
    // Then each folder it opens: `pathJoin(parent, name)`.
    assert_eq!(dir_names(&admin, "/team", true).await.2, Some(vec!["docs".to_string()]));
    assert_eq!(dir_names(&admin, "/media", true).await.2, Some(vec!["films".to_string()]));
    assert_eq!(dir_names(&admin, "/team/docs", true).await.2, Some(vec![]));
    let (code, message, data) = dir_names(&admin, "/elsewhere", true).await;
    assert_eq!((code, message.as_str(), data), (404, "object not found", None));

    // The path the picker chose is a base path like any other.
    create(&admin, "tess", "/team").await;
    let tess = app.admin_as(&token(&app, "tess", "tess-Passw0rd").await);
    // As in AList: force_root is the admin's; without it the path is inside one's base path.
    let (code, message, _) = dir_names(&tess, "/", true).await;
    assert_eq!((code, message.as_str()), (403, FORCE_ROOT_DENIED));
    assert_eq!(dir_names(&tess, "/", false).await.2, Some(vec!["docs".to_string()]));
    assert_eq!(dir_names(&tess, "/../..", false).await.2, Some(vec!["docs".to_string()]), "no climbing out");
    // No credential with the guest disabled: AList's 401.
    let anon = call(&app, "POST", "/api/fs/dirs", None, Some(serde_json::json!({"path": "/"}))).await;
    assert_eq!((anon["code"].as_i64(), anon["message"].as_str()), (Some(401), Some("Guest user is disabled, login please")));
});

db_test!(async fn without_configured_folders_the_root_is_the_only_choice(app) {
    let admin = admin(&app).await;
    assert_eq!(dir_names(&admin, "/", true).await, (200, "success".to_string(), Some(vec![])));
    assert_eq!(dir_names(&admin, "/team", true).await.0, 404);
});

db_test!(async fn the_home_page_gets_an_empty_folder_with_a_note(app) {
    let t = token(&app, "admin", ADMIN_PASSWORD).await;
    // `usePath`: fs/get first; a folder (`is_dir`) is then listed with fs/list.
    let got = call(&app, "POST", "/api/fs/get", Some(&t), Some(serde_json::json!({"path": "/", "password": ""}))).await;
    assert_eq!(got["code"], 200, "{got}");
    let obj = &got["data"];
    assert_eq!(obj["is_dir"], true, "a file would be previewed");
    assert_eq!(obj["name"], "root");
    for (field, kind) in [("name", "string"), ("size", "number"), ("modified", "string"), ("type", "number"),
        ("raw_url", "string"), ("readme", "string"), ("header", "string"), ("provider", "string")] {
        let ok = match kind { "string" => obj[field].is_string(), _ => obj[field].is_number() };
        assert!(ok, "{field} should be a {kind}: {obj}");
    }
    assert!(obj.get("related").is_some(), "{obj}");
    let listed = call(&app, "POST", "/api/fs/list", Some(&t),
        Some(serde_json::json!({"path": "/", "password": "", "page": 1, "per_page": 0, "refresh": false}))).await;
    assert_eq!(listed["code"], 200, "{listed}");
    let data = &listed["data"];
    assert_eq!(data["content"], serde_json::json!([]));
    assert_eq!(data["total"], 0);
    assert_eq!(data["write"], false, "no upload offered");
    assert!(data["header"].is_string() && data["provider"].is_string(), "{data}");
    let readme = data["readme"].as_str().expect("readme");
    assert!(readme.contains("files are served elsewhere") && readme.contains("(/@manage/users)"), "{readme}");

    // Any path, and any signed-in user (AList's `fs` routes need no admin).
    let admin = app.admin_as(&t);
    create(&admin, "gus", "/gus").await;
    let gus = app.admin_as(&token(&app, "gus", "gus-Passw0rd").await);
    let r = gus.fs_get().body(types::FsGetRequest { path: Some("/a/b".into()), password: None }).send().await.expect("fs/get").into_inner();
    assert_eq!(r.data.expect("data").name, "b");
    let r = gus.fs_list().body(types::FsListRequest { path: Some("/a".into()), ..Default::default() }).send().await.expect("fs/list").into_inner();
    assert_eq!(r.data.expect("data").total, 0);
    // Without a token and the guest disabled, the front end is sent to sign in.
    let anon = call(&app, "POST", "/api/fs/get", None, Some(serde_json::json!({"path": "/"}))).await;
    assert_eq!(anon["code"], 401, "{anon}");
});
