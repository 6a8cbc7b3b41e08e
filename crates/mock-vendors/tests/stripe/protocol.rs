//! Idempotency keys, gzip and the mock-only failure injection.

use std::io::Read as _;

use axum::http::StatusCode;
use flate2::read::GzDecoder;
use serde_json::Value;

use super::support::*;

#[tokio::test]
async fn idempotent_replay() {
    let app = app();
    let key = |k: &str| ("idempotency-key", k.to_owned());
    let body = "amount=1000&currency=usd&confirm=true";
    let first = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        body,
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("idempotency-key"), Some("k-1"));
    assert_eq!(first.header("idempotent-replayed"), None);

    let again = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        body,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.raw, first.raw,
        "the replay is byte for byte the first reply"
    );
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("request-id"), first.header("request-id"));
    assert_eq!(again.header("idempotency-key"), Some("k-1"));

    let other = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        "amount=2000&currency=usd",
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.error_field("type"), "idempotency_error");
    let message = other.error_field("message").as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("Keys for idempotent requests can only be used with the same parameters"),
        "{message}"
    );

    let fresh = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-2")],
        body,
    )
    .await;
    assert_ne!(
        fresh.json["id"], first.json["id"],
        "a new key creates a new object"
    );

    // A validation failure is not saved: the corrected retry runs.
    let bad = send(&app, "POST", "/v1/customers", &[bearer(), key("k-3")], "").await;
    assert_eq!(bad.status, StatusCode::OK);
    let invalid = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-4")],
        "currency=usd",
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let retried = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-4")],
        "currency=usd",
    )
    .await;
    assert_eq!(retried.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn gzip_only_when_asked() {
    let app = app();
    let cases = [
        ("python sdk asks for gzip", Some("gzip, deflate"), true),
        ("identity", Some("identity"), false),
        ("stripe-node sends none", None, false),
    ];
    for (name, accept, gzipped) in cases {
        let mut headers = vec![bearer()];
        if let Some(accept) = accept {
            headers.push(("accept-encoding", accept.to_owned()));
        }
        let reply = send(
            &app,
            "POST",
            "/v1/payment_intents",
            &headers,
            "amount=1000&currency=usd",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let length: Option<usize> = reply.header("content-length").and_then(|l| l.parse().ok());
        if gzipped {
            assert_eq!(reply.header("content-encoding"), Some("gzip"), "{name}");
            assert_eq!(
                length,
                Some(reply.raw.len()),
                "{name}: exact content-length"
            );
            let mut text = String::new();
            GzDecoder::new(reply.raw.as_slice())
                .read_to_string(&mut text)
                .unwrap();
            let object: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(object["object"], "payment_intent", "{name}");
            assert_eq!(object["amount"], 1000, "{name}");
        } else {
            assert_eq!(reply.header("content-encoding"), None, "{name}");
            assert_eq!(reply.json["object"], "payment_intent", "{name}");
        }
    }
    // Errors are compressed too, and so is the request log.
    let headers = [("accept-encoding", "gzip".to_owned())];
    let refused = send(&app, "GET", "/v1/charges/ch_1", &headers, "").await;
    assert_eq!(refused.header("content-encoding"), Some("gzip"));
    let log = send(&app, "GET", "/__mock/requests", &headers, "").await;
    assert_eq!(log.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn injected_failure() {
    let app = app();
    let headers = [
        bearer(),
        ("x-mock-status", "500".to_owned()),
        ("idempotency-key", "k".to_owned()),
    ];
    let reply = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &headers,
        "amount=1&currency=usd",
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.error_field("type"), "api_error");
    assert!(reply.header("request-id").is_some());
    let retry = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), ("idempotency-key", "k".to_owned())],
        "amount=1&currency=usd",
    )
    .await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "a forced failure is not saved under the key"
    );

    let declined = send(
        &app,
        "POST",
        "/v1/charges",
        &[bearer(), ("x-mock-status", "402".to_owned())],
        "",
    )
    .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(declined.error_field("type"), "card_error");

    let unauthenticated = send(
        &app,
        "POST",
        "/v1/charges",
        &[("x-mock-status", "500".to_owned())],
        "",
    )
    .await;
    assert_eq!(
        unauthenticated.status,
        StatusCode::UNAUTHORIZED,
        "authentication comes first"
    );
}
