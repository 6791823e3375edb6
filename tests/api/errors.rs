//! The error layer: bad input of every kind gets the surface's envelope with a 4xx naming
//! the problem; unknown paths, wrong methods, oversize bodies and a lost database too.

use serde_json::Value;

use crate::db_test;
use crate::helpers::console_error;

const SETUP: &str = "/console/api/setup";

db_test!(async fn console_bad_input_gets_the_envelope(app) {
    let cases: &[(&str, &str)] = &[
        ("malformed JSON", r#"{"email": "a@example.com", "#),
        ("wrong type", r#"{"email": 5, "name": "zgi", "password": "abcdefg12"}"#),
        ("missing field", r#"{"email": "a@example.com", "name": "zgi"}"#),
        ("not an object", r#"["a@example.com"]"#),
    ];
    for (what, body) in cases {
        let (status, json) = app.raw("POST", SETUP, Some(body)).await;
        assert_eq!(status, 400, "{what}: {json}");
        assert_eq!(console_error(&json), ("invalid_param", 400), "{what}");
    }
    let (_, json) = app.raw("POST", SETUP, Some(cases[1].1)).await;
    assert!(json["message"].as_str().unwrap_or_default().contains("email"), "names the field: {json}");
    let (_, json) = app.raw("POST", SETUP, Some(cases[2].1)).await;
    assert!(json["message"].as_str().unwrap_or_default().contains("password"), "names the field: {json}");
    // Nothing was created by any of them.
    let (_, status) = app.raw("GET", SETUP, None).await;
    assert_eq!(status["step"], "not_started");
});

db_test!(async fn unknown_enum_values_and_bad_parameters_are_400(app) {
    let bearer = ("authorization", "Bearer test-token");
    for (what, method, path, body) in [
        (
            "enum in query",
            "GET",
            "/console/api/enterprise-groups?status=bogus",
            None,
        ),
        (
            "integer in query",
            "GET",
            "/console/api/enterprise-groups?page=abc",
            None,
        ),
        (
            "page below minimum",
            "GET",
            "/console/api/enterprise-groups?page=0",
            None,
        ),
        (
            "limit above maximum",
            "GET",
            "/console/api/enterprise-groups?limit=101",
            None,
        ),
        (
            "uuid in path",
            "GET",
            "/console/api/enterprise-groups/info/not-a-uuid",
            None,
        ),
        (
            "enum in body",
            "PUT",
            "/console/api/account-ex/role?id=0195d9b8-2f0a-7c3e-9a51-1c2d3e4f5a6b",
            Some(r#"{"role_type": "emperor"}"#),
        ),
    ] {
        let mut req = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                app.url(path),
            )
            .header(bearer.0, bearer.1);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.expect("json");
        assert_eq!(status, 400, "{what}: {json}");
        assert_eq!(console_error(&json), ("invalid_param", 400), "{what}");
    }
});

db_test!(async fn routing_and_size_failures_get_the_envelope(app) {
    for path in ["/console/api/no-such-thing", "/nowhere"] {
        let (status, json) = app.raw("GET", path, None).await;
        assert_eq!(
            (status, console_error(&json)),
            (404, ("not_found", 404)),
            "{path}"
        );
    }
    let (status, json) = app.raw("DELETE", SETUP, None).await;
    assert_eq!(
        (status, console_error(&json)),
        (405, ("method_not_allowed", 405))
    );

    let (status, json) = app.raw("GET", "/console/api/account/profile", None).await;
    assert_eq!(
        (status, console_error(&json)),
        (401, ("unauthorized", 401)),
        "no credential"
    );

    let big = format!(r#"{{"email": "{}"}}"#, "x".repeat(1024 * 1024));
    let (status, json) = app.raw("POST", SETUP, Some(&big)).await;
    assert_eq!(
        (status, console_error(&json)),
        (413, ("payload_too_large", 413))
    );

    // The same without a Content-Length: a streamed body is cut off at the limit too.
    let chunks =
        futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let resp = app
        .http
        .post(app.url(SETUP))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 413);
    assert_eq!(
        resp.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close"),
        "the unread body makes the connection unusable"
    );
    let json: Value = resp.json().await.expect("json");
    assert_eq!(console_error(&json), ("payload_too_large", 413));

    let resp = app
        .http
        .post(app.url(SETUP))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 415);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(console_error(&json), ("unsupported_media_type", 415));
});

db_test!(async fn admin_failures_use_the_alist_envelope(app) {
    // Through the SDK: AList's failures parse as the operation's own envelope.
    let envelope = app
        .admin
        .list_users()
        .send()
        .await
        .expect("HTTP 200")
        .into_inner();
    assert_eq!(envelope.code, 401);
    assert!(envelope.data.is_none());

    let (status, json) = app.raw("GET", "/api/admin/user/list", None).await;
    assert_eq!((status, json["code"].as_u64()), (200, Some(401)), "{json}");
    assert_eq!(json["message"], "Guest user is disabled, login please");
    assert!(json["data"].is_null());

    let resp = app
        .http
        .get(app.url("/api/admin/user/get?id=abc"))
        .header("authorization", "test-token")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["code"], 400, "{json}");
    assert!(
        json["message"].as_str().unwrap_or_default().contains("id"),
        "{json}"
    );

    let resp = app
        .http
        .post(app.url("/api/admin/user/create"))
        .header("authorization", "test-token")
        .header("content-type", "application/json")
        .body(r#"{"username": 1}"#)
        .send()
        .await
        .expect("send");
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["code"], 400, "{json}");

    let (status, json) = app.raw("GET", "/api/admin/nothing-here", None).await;
    assert_eq!((status, json["code"].as_u64()), (404, Some(404)), "{json}");
});

db_test!(async fn a_lost_database_is_503_not_500(app) {
    let (status, _) = app.raw("GET", "/ready", None).await;
    assert_eq!(status, 200);
    app.state.db.close_by_ref().await.expect("close pool");
    let (status, json) = app.raw("GET", "/ready", None).await;
    assert_eq!(status, 503, "{json}");
    let (status, json) = app.raw("GET", SETUP, None).await;
    assert_eq!((status, console_error(&json)), (503, ("service_unavailable", 503)));
    let (status, _) = app.raw("GET", "/health", None).await;
    assert_eq!(status, 200, "liveness does not depend on the database");
});

db_test!(async fn every_response_carries_a_request_id(app) {
    let a = app.http.get(app.url("/health")).send().await.expect("send");
    let b = app
        .http
        .get(app.url("/nowhere"))
        .send()
        .await
        .expect("send");
    let id = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap_or("").to_string())
    };
    let (a, b) = (id(&a).expect("id"), id(&b).expect("id"));
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
});

db_test!(async fn a_405_names_the_methods_the_path_answers(app) {
    // RFC 9110 §15.5.6: the methods of the resource, from the contract, on both surfaces.
    let cases = [
        ("DELETE", "/console/api/setup", "GET, POST"),
        ("TRACE", "/console/api/logout", "GET, POST"),
        ("PATCH", "/console/api/enterprise-groups", "DELETE, GET, POST, PUT"),
        ("PUT", "/api/me", "GET"),
        ("TRACE", "/api/admin/user/update", "POST"),
    ];
    for (method, path, allow) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = app.http.request(method.clone(), app.url(path)).send().await.expect("send");
        let status = resp.status().as_u16();
        let header = resp.headers().get("allow").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body: Value = resp.json().await.expect("envelope");
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(header.as_deref(), Some(allow), "{method} {path}");
    }
    // A path with a parameter takes the methods of its own template, not a neighbour's.
    let resp = app
        .http
        .delete(app.url("/console/api/enterprise-groups/info/00000000-0000-0000-0000-000000000000"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
});

db_test!(async fn swagger_ui_serves_its_page_and_every_asset(app) {
    let page = app.http.get(app.url("/swagger-ui/")).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    // Every asset the page links to must load: a missing one leaves a blank page.
    let assets: Vec<&str> = ["swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-initializer.js"]
        .into_iter()
        .filter(|a| html.contains(a))
        .collect();
    assert!(assets.len() >= 4, "the page links its assets: {html}");
    for asset in assets {
        let resp = app.http.get(app.url(&format!("/swagger-ui/{asset}"))).send().await.expect("asset");
        assert_eq!(resp.status().as_u16(), 200, "{asset}");
        assert!(!resp.bytes().await.expect("bytes").is_empty(), "{asset}");
    }
    let init = app.http.get(app.url("/swagger-ui/swagger-initializer.js")).send().await.expect("init");
    let init = init.text().await.expect("js");
    for setting in ["/openapi/console.yaml", "/openapi/admin.yaml", "persistAuthorization", "deepLinking"] {
        assert!(init.contains(setting), "{setting} in {init}");
    }
    let resp = app.http.get(app.url("/swagger-uix")).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 404);
});
