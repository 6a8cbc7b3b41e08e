//! The admin key opens the admin API only; the data-plane token opens the snapshot only.

use crate::support::{As, TestApp};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

const ADMIN_ROUTES: [(&str, &str); 15] = [
    ("POST", "/vault/keys"),
    ("GET", "/vault/keys"),
    ("GET", "/vault/keys/kid_0123456789abcdef"),
    ("DELETE", "/vault/keys/kid_0123456789abcdef"),
    ("GET", "/vendors"),
    ("PUT", "/vendors/stripe/credentials"),
    ("GET", "/rates"),
    ("PUT", "/rates/jpy"),
    ("DELETE", "/rates/jpy"),
    ("GET", "/prices"),
    ("PUT", "/prices/twilio"),
    ("DELETE", "/prices/resend"),
    ("GET", "/audit"),
    ("GET", "/audit/gaps"),
    ("GET", "/spend?by=label"),
];

#[tokio::test]
async fn admin_routes_refuse_missing_wrong_and_data_plane_credentials() {
    let app = TestApp::new().await;
    let gateway_token: &'static str = Box::leak(
        app.state
            .dataplane_token
            .expose()
            .to_owned()
            .into_boxed_str(),
    );
    let callers = [
        ("no credential", As::Nobody),
        ("wrong key", As::Token("kba_wrong")),
        ("data-plane token", As::Token(gateway_token)),
    ];
    let mut refused = 0;
    for (who_name, who) in callers {
        for (method, uri) in ADMIN_ROUTES {
            let method: Method = method.parse().unwrap();
            let r = app.call(who, method.clone(), uri, Some(&json!({}))).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{who_name} {method} {uri}"
            );
            assert_eq!(r.error(), ("unauthorized".to_owned(), None));
            assert!(
                r.text().contains("takes the admin key") && r.text().contains("KEYBRAKE_ADMIN_KEY"),
                "the refusal says which credential: {}",
                r.text()
            );
            assert!(!r.text().contains(gateway_token), "no secret echoed");
            assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
            refused += 1;
        }
    }
    let metrics = app
        .call(As::Nobody, Method::GET, "/metrics", None)
        .await
        .text();
    assert!(
        metrics.contains(&format!("keybrake_admin_auth_failures_total {refused}\n")),
        "{metrics}"
    );
}

#[tokio::test]
async fn other_schemes_and_an_empty_bearer_are_refused() {
    let app = TestApp::new().await;
    let key = app.state.admin_key.expose().to_owned();
    let values = [
        format!("Basic {key}"),
        format!("Token {key}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        key.clone(),
        format!("Bearer {key}x"),
        format!("Bearer {}", &key[..key.len() - 1]),
    ];
    for v in values {
        let req = Request::builder()
            .uri("/vault/keys")
            .header(header::AUTHORIZATION, &v)
            .body(Body::empty())
            .unwrap();
        let r = app.send(As::Nobody, req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{v:?}");
    }
    let req = Request::builder()
        .uri("/vault/keys")
        .header(header::AUTHORIZATION, format!("bearer {key}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.send(As::Nobody, req).await.status,
        StatusCode::OK,
        "scheme is case-insensitive"
    );
}

#[tokio::test]
async fn the_snapshot_refuses_the_admin_key() {
    let app = TestApp::new().await;
    let admin: &'static str = Box::leak(app.state.admin_key.expose().to_owned().into_boxed_str());
    for (name, who) in [
        ("admin key", As::Token(admin)),
        ("nobody", As::Nobody),
        ("wrong", As::Token("kbd_x")),
    ] {
        let r = app
            .call(
                who,
                Method::GET,
                "/dataplane/v1/snapshot?gateway=g&after=0&wait_ms=0",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(r.error().0, "unauthorized");
    }
    assert_eq!(app.poll("g", 0, 0).await.status, StatusCode::OK);
}

#[tokio::test]
async fn lease_and_usage_take_the_data_plane_token_only() {
    let app = TestApp::new().await;
    let admin: &'static str = Box::leak(app.state.admin_key.expose().to_owned().into_boxed_str());
    let lease = json!({"gateway": "g", "instance": "i", "want_micros": 1,
        "usage": {"key_id": "kid_0123456789abcdef", "day": 1, "lease_micros": 0, "seq": 0,
                  "spent_micros": 0, "reserved_micros": 0}});
    let usage = json!({"gateway": "g", "instance": "i", "keys": []});
    for (path, body) in [
        ("/dataplane/v1/lease", &lease),
        ("/dataplane/v1/usage", &usage),
    ] {
        for (name, who) in [
            ("admin key", As::Token(admin)),
            ("nobody", As::Nobody),
            ("wrong", As::Token("kbd_x")),
        ] {
            let r = app.call(who, Method::POST, path, Some(body)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name} {path}");
            assert_eq!(r.error().0, "unauthorized");
            assert!(
                r.text()
                    .contains("data-plane token (KEYBRAKE_DATAPLANE_TOKEN)"),
                "{name} {path}: {}",
                r.text()
            );
            assert!(!r.text().contains(admin), "no secret echoed");
        }
    }
    let r = app
        .call(
            As::Gateway,
            Method::POST,
            "/dataplane/v1/usage",
            Some(&usage),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .call(
            As::Gateway,
            Method::POST,
            "/dataplane/v1/lease",
            Some(&lease),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "authenticated, then a stale day"
    );
}

#[tokio::test]
async fn healthz_and_metrics_need_no_credential() {
    let app = TestApp::new().await;
    let r = app.call(As::Nobody, Method::GET, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"status": "ok", "database": "ok"}));
    app.issue_stripe("run/1").await;
    let second = app.issue_stripe("run/2").await;
    let uri = format!("/vault/keys/{}", second["key_id"].as_str().unwrap());
    app.call(As::Admin, Method::DELETE, &uri, None).await;
    let r = app.call(As::Nobody, Method::GET, "/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text();
    for line in [
        "keybrake_keys_issued_total 2",
        "keybrake_keys_active 1",
        "keybrake_keys_revoked 1",
        &format!("keybrake_snapshot_version {}", app.state.version()),
        "keybrake_admin_auth_failures_total 0",
        "# TYPE keybrake_keys_issued_total counter",
        "# TYPE keybrake_keys_active gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
