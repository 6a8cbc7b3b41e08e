//! Routing, gzip, the mock-only headers and the request log.

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app();
    let cases = [
        (
            "unknown endpoint",
            "POST",
            "/domains",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "stripe path",
            "POST",
            "/v1/charges",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "list emails",
            "GET",
            "/emails",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "update an email",
            "PATCH",
            "/emails/49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (case, method, path, status, name) in cases {
        let reply = send(&app, method, path, &[bearer()], "").await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text);
        assert_eq!(reply.json["name"], name, "{case}");
        assert_eq!(reply.json["statusCode"], status.as_u16(), "{case}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn gzip_when_asked() {
    let app = app();
    let cases = [
        ("python sdk asks for gzip", Some("gzip, deflate"), true),
        ("identity", Some("identity"), false),
        ("no header", None, false),
    ];
    for (name, accept, gzipped) in cases {
        let mut headers = vec![bearer()];
        if let Some(accept) = accept {
            headers.push(("accept-encoding", accept.to_owned()));
        }
        let reply = send(&app, "POST", "/emails", &headers, &email().to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(
            reply.header("content-encoding"),
            gzipped.then_some("gzip"),
            "{name}"
        );
        assert_uuid(&reply.json["id"]);
    }
}

#[tokio::test]
async fn mock_status() {
    let app = app();
    let with = |name: &'static str, value: &str| vec![bearer(), (name, value.to_owned())];
    let cases = [
        (
            "forced 429",
            with("x-mock-status", "429"),
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
        ),
        (
            "forced 500",
            with("x-mock-status", "500"),
            StatusCode::INTERNAL_SERVER_ERROR,
            "application_error",
        ),
        (
            "bad status value",
            with("x-mock-status", "abc"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "bad delay value",
            with("x-mock-delay-ms", "-5"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
    ];
    for (case, headers, status, name) in cases {
        let reply = send(&app, "POST", "/emails", &headers, &email().to_string()).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text);
        assert_eq!(reply.json["name"], name, "{case}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn request_log_records_everything_and_clears() {
    let app = app();
    let body = email().to_string();
    send(
        &app,
        "POST",
        "/emails",
        &[bearer(), ("idempotency-key", "k".to_owned())],
        &body,
    )
    .await;
    send(&app, "POST", "/emails", &[], &body).await;

    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    let entries = log.json.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{}", log.text);
    assert_eq!(entries[0]["path"], "/emails");
    assert_eq!(entries[0]["body"], body.as_str());
    assert_eq!(entries[0]["headers"]["idempotency-key"], "k");
    assert_eq!(
        entries[0]["headers"]["authorization"],
        format!("Bearer {KEY}")
    );
    assert!(entries[1]["headers"].get("authorization").is_none());

    let cleared = send(&app, "DELETE", "/__mock/requests", &[], "").await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, "GET", "/__mock/requests", &[], "").await.json,
        json!([])
    );
}
