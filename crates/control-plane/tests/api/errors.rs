//! Every refusal answers in the one error shape and names the offending field.

use crate::support::{As, TestApp};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use keybrake_control_plane::{Limits, Settings};
use serde_json::{json, Value};

fn good() -> Value {
    json!({
        "vendor": "stripe",
        "daily_usd_cap": 500,
        "allowed_endpoints": ["POST /v1/payment_intents"],
        "expires_in": "30m",
        "agent_run_label": "billing-agent/42",
    })
}

fn with(field: &str, value: Value) -> String {
    let mut v = good();
    v[field] = value;
    v.to_string()
}

fn without(field: &str) -> String {
    let mut v = good();
    v.as_object_mut().unwrap().remove(field);
    v.to_string()
}

async fn post_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: String,
) -> crate::support::Reply {
    let mut req = Request::builder().method(Method::POST).uri("/vault/keys");
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    app.send(As::Admin, req.body(Body::from(body)).unwrap())
        .await
}

/// (name, content type, body, expected status, expected `error.field`)
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    String,
    StatusCode,
    Option<&'a str>,
);

#[tokio::test]
async fn bad_issue_requests_name_the_field() {
    let settings = Settings {
        limits: Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        },
        ..Settings::new(crate::support::temp_data_dir())
    };
    let app = TestApp::with_settings(settings).await;
    let json = Some("application/json");
    let big_label = format!("\"{}\"", "x".repeat(5000));
    let cases: Vec<Case> = vec![
        (
            "unknown vendor",
            json,
            with("vendor", json!("paypal")),
            StatusCode::BAD_REQUEST,
            Some("vendor"),
        ),
        (
            "missing vendor",
            json,
            without("vendor"),
            StatusCode::BAD_REQUEST,
            Some("vendor"),
        ),
        (
            "cap zero",
            json,
            with("daily_usd_cap", json!(0)),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap negative",
            json,
            with("daily_usd_cap", json!(-5)),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap as string",
            json,
            with("daily_usd_cap", json!("500")),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap huge",
            json,
            with("daily_usd_cap", json!(1e12)),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap beyond f64",
            json,
            good()
                .to_string()
                .replace("\"daily_usd_cap\":500", "\"daily_usd_cap\":1e400"),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap below a micro",
            json,
            with("daily_usd_cap", json!(1e-7)),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "cap null",
            json,
            with("daily_usd_cap", Value::Null),
            StatusCode::BAD_REQUEST,
            Some("daily_usd_cap"),
        ),
        (
            "expires_in zero",
            json,
            with("expires_in", json!(0)),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in negative",
            json,
            with("expires_in", json!(-60)),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in fraction",
            json,
            with("expires_in", json!(1.5)),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in word",
            json,
            with("expires_in", json!("soon")),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in unit only",
            json,
            with("expires_in", json!("m")),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in empty",
            json,
            with("expires_in", json!("")),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in too long",
            json,
            with("expires_in", json!("31d")),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "expires_in too long secs",
            json,
            with("expires_in", json!(2_592_001)),
            StatusCode::BAD_REQUEST,
            Some("expires_in"),
        ),
        (
            "empty allowlist",
            json,
            with("allowed_endpoints", json!([])),
            StatusCode::BAD_REQUEST,
            Some("allowed_endpoints"),
        ),
        (
            "allowlist string",
            json,
            with("allowed_endpoints", json!("POST /v1/x")),
            StatusCode::BAD_REQUEST,
            Some("allowed_endpoints"),
        ),
        (
            "malformed pattern",
            json,
            with("allowed_endpoints", json!(["POST /v1/x", "POST v1"])),
            StatusCode::BAD_REQUEST,
            Some("allowed_endpoints"),
        ),
        (
            "unknown method",
            json,
            with("allowed_endpoints", json!(["FETCH /v1/x"])),
            StatusCode::BAD_REQUEST,
            Some("allowed_endpoints"),
        ),
        (
            "too many patterns",
            json,
            with("allowed_endpoints", json!(vec!["GET /v1/x"; 101])),
            StatusCode::BAD_REQUEST,
            Some("allowed_endpoints"),
        ),
        (
            "empty label",
            json,
            with("agent_run_label", json!("")),
            StatusCode::BAD_REQUEST,
            Some("agent_run_label"),
        ),
        (
            "label too long",
            json,
            with("agent_run_label", json!("x".repeat(201))),
            StatusCode::BAD_REQUEST,
            Some("agent_run_label"),
        ),
        (
            "label control char",
            json,
            with("agent_run_label", json!("a\u{7}b")),
            StatusCode::BAD_REQUEST,
            Some("agent_run_label"),
        ),
        (
            "unknown field",
            json,
            with("daily_cap", json!(5)),
            StatusCode::BAD_REQUEST,
            Some("daily_cap"),
        ),
        (
            // The object as a whole refuses it; the message names the field.
            "duplicate field",
            json,
            good().to_string().replace("{", "{\"vendor\":\"stripe\","),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "malformed JSON",
            json,
            "{\"vendor\":".into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "not an object",
            json,
            "[1,2]".into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "empty body",
            json,
            String::new(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "text content type",
            Some("text/plain"),
            good().to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            "no content type",
            None,
            good().to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            "oversized body",
            json,
            with("agent_run_label", serde_json::from_str(&big_label).unwrap()),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (name, content_type, body, status, field) in cases {
        let r = post_raw(&app, content_type, body).await;
        assert_eq!(r.status, status, "case {name}: {}", r.text());
        let (_, got) = r.error();
        assert_eq!(got.as_deref(), field, "case {name}: {}", r.text());
    }
    let duplicate = good().to_string().replace("{", "{\"vendor\":\"stripe\",");
    let r = post_raw(&app, json, duplicate).await;
    assert!(
        r.text().contains("duplicate field `vendor`"),
        "{}",
        r.text()
    );
    let listed = app.get("/vault/keys").await.json();
    assert_eq!(listed["keys"], json!([]), "no refused request issued a key");
}

#[tokio::test]
async fn json_content_type_variants_are_accepted() {
    let app = TestApp::new().await;
    for ct in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
    ] {
        let r = post_raw(&app, Some(ct), good().to_string()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ct}: {}", r.text());
    }
}

#[tokio::test]
async fn messages_say_what_is_wrong() {
    let app = TestApp::new().await;
    let r = post_raw(
        &app,
        Some("application/json"),
        with("allowed_endpoints", json!(["POST /v1/x", "POST v1"])),
    )
    .await;
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("allowed_endpoints[1]"), "{msg}");
    let r = post_raw(
        &app,
        Some("application/json"),
        with("expires_in", json!("31d")),
    )
    .await;
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("30days"), "{msg}");
    assert_eq!(r.json()["error"]["type"], "invalid_request");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = TestApp::new().await;
    let cases = [
        (
            "unknown path",
            Method::GET,
            "/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "wrong method",
            Method::PATCH,
            "/vault/keys",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "put on healthz",
            Method::PUT,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (name, method, uri, status, kind) in cases {
        let r = app.call(As::Admin, method, uri, None).await;
        assert_eq!(r.status, status, "case {name}");
        assert_eq!(r.error().0, kind, "case {name}");
    }
}

#[tokio::test]
async fn bad_list_queries_name_the_parameter() {
    let app = TestApp::new().await;
    let cases = [
        ("bad status", "/vault/keys?status=gone", "status"),
        ("zero limit", "/vault/keys?limit=0", "limit"),
        ("word limit", "/vault/keys?limit=all", "limit"),
        ("unknown parameter", "/vault/keys?vendor=stripe", "vendor"),
    ];
    for (name, uri, field) in cases {
        let r = app.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "case {name}");
        assert_eq!(r.error().1.as_deref(), Some(field), "case {name}");
    }
}

/// A handler that panics gets a 500 in our error shape, and the same service keeps answering:
/// the control plane never aborts on a handler's panic.
#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
    use axum::routing::get;
    use tower::ServiceExt;
    async fn boom() -> &'static str {
        panic!("secret detail that must not reach the client");
    }
    let app = crate::support::TestApp::new().await;
    let router = keybrake_control_plane::catch_panics(
        axum::Router::new()
            .route("/boom", get(boom))
            .merge(keybrake_control_plane::app(app.state.clone())),
    );
    let call = |uri: &'static str| {
        let router = router.clone();
        async move {
            let resp = router
                .oneshot(
                    axum::http::Request::builder()
                        .uri(uri)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (status, body) = call("/boom").await;
    assert_eq!(
        status,
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "{body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "internal_error", "{body}");
    assert!(!body.contains("secret detail"), "{body}");
    let (status, body) = call("/healthz").await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
}
