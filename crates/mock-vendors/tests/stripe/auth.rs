//! Which credentials the mock accepts and how it refuses the rest.

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::support::*;

#[tokio::test]
async fn authentication() {
    let app = app();
    let basic = |creds: &str| ("authorization", format!("Basic {}", STANDARD.encode(creds)));
    let cases: Vec<(&str, Vec<(&str, String)>, StatusCode)> = vec![
        ("bearer accepted", vec![bearer()], StatusCode::OK),
        (
            "basic with empty password accepted",
            vec![basic(&format!("{KEY}:"))],
            StatusCode::OK,
        ),
        (
            "basic without password accepted",
            vec![basic(KEY)],
            StatusCode::OK,
        ),
        (
            "wrong bearer key refused",
            vec![("authorization", "Bearer sk_test_wrongkey_999999WXYZ".into())],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong basic key refused",
            vec![basic("sk_test_wrongkey_999999WXYZ:")],
            StatusCode::UNAUTHORIZED,
        ),
        ("missing header refused", vec![], StatusCode::UNAUTHORIZED),
    ];
    for (name, headers, expected) in cases {
        let reply = send(&app, "POST", "/v1/customers", &headers, "email=a%40b.c").await;
        assert_eq!(reply.status, expected, "{name}: {}", reply.json);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        assert!(
            reply
                .header("request-id")
                .is_some_and(|id| id.starts_with("req_")),
            "{name}"
        );
        assert_eq!(
            reply.header("stripe-version"),
            Some("2026-10-28.endive"),
            "{name}"
        );
        if expected == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.error_field("type"), "invalid_request_error", "{name}");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Basic realm=\"Stripe\""),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn wrong_key_is_masked_in_the_message() {
    let app = app();
    let wrong = "sk_test_thisisnotthekey_ABCDwxyz";
    let reply = send(
        &app,
        "GET",
        "/v1/charges/ch_1",
        &[("authorization", format!("Bearer {wrong}"))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let message = reply.error_field("message").as_str().unwrap_or_default();
    assert!(
        message.starts_with("Invalid API Key provided: sk_test_****"),
        "{message}"
    );
    assert!(message.ends_with("wxyz"), "{message}");
    let body = String::from_utf8_lossy(&reply.raw);
    assert!(!body.contains(wrong), "the full key leaked: {body}");
    assert!(!body.contains(KEY), "the registered key leaked: {body}");

    let missing = send(&app, "GET", "/v1/charges/ch_1", &[], "").await;
    let message = missing.error_field("message").as_str().unwrap_or_default();
    assert!(
        message.starts_with("You did not provide an API key."),
        "{message}"
    );
}

#[tokio::test]
async fn stripe_version_is_echoed() {
    let app = app();
    let headers = [bearer(), ("stripe-version", "2024-06-20".to_owned())];
    let reply = send(&app, "POST", "/v1/customers", &headers, "").await;
    assert_eq!(reply.header("stripe-version"), Some("2024-06-20"));
}
