//! Routing, gzip, the mock-only headers and the request log.

use std::time::Duration;
use tokio::time::Instant;

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

const MESSAGE: [(&str, &str); 3] = [
    ("To", "+15558675310"),
    ("From", "+15005550006"),
    ("Body", "hi"),
];

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app();
    let cases = [
        (
            "unknown resource",
            "POST",
            path("Faxes.json"),
            StatusCode::NOT_FOUND,
            20404,
        ),
        (
            "xml flavour",
            "POST",
            path("Messages"),
            StatusCode::NOT_FOUND,
            20404,
        ),
        (
            "other api",
            "GET",
            "/v1/Services".to_owned(),
            StatusCode::NOT_FOUND,
            20404,
        ),
        (
            "list messages",
            "GET",
            path("Messages.json"),
            StatusCode::METHOD_NOT_ALLOWED,
            20004,
        ),
        (
            "delete a message",
            "DELETE",
            path("Messages/SM1.json"),
            StatusCode::METHOD_NOT_ALLOWED,
            20004,
        ),
    ];
    for (name, method, path, status, code) in cases {
        let reply = send(&app, method, &path, &[auth()], "").await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert_eq!(reply.json["code"], code, "{name}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
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
        let mut headers = vec![auth()];
        if let Some(accept) = accept {
            headers.push(("accept-encoding", accept.to_owned()));
        }
        let reply = send(
            &app,
            "POST",
            &path("Messages.json"),
            &headers,
            &form(&MESSAGE),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}");
        assert_eq!(
            reply.header("content-encoding"),
            gzipped.then_some("gzip"),
            "{name}"
        );
        assert_eq!(
            reply.json["status"], "queued",
            "{name}: decodes to the message"
        );
    }
}

/// On tokio's paused clock: the delay is measured exactly.
#[tokio::test(start_paused = true)]
async fn mock_status_and_delay() {
    let app = app();
    let with = |name: &'static str, value: &str| vec![auth(), (name, value.to_owned())];
    let cases = [
        (
            "forced 500",
            with("x-mock-status", "500"),
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
        ),
        (
            "forced 429",
            with("x-mock-status", "429"),
            StatusCode::TOO_MANY_REQUESTS,
            20429,
        ),
        (
            "bad status value",
            with("x-mock-status", "200"),
            StatusCode::BAD_REQUEST,
            21200,
        ),
        (
            "bad delay value",
            with("x-mock-delay-ms", "99999"),
            StatusCode::BAD_REQUEST,
            21200,
        ),
    ];
    for (name, headers, status, code) in cases {
        let reply = send(
            &app,
            "POST",
            &path("Messages.json"),
            &headers,
            &form(&MESSAGE),
        )
        .await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert_eq!(reply.json["code"], code, "{name}");
    }
    let unauthenticated = send(
        &app,
        "POST",
        &path("Messages.json"),
        &[("x-mock-status", "500".to_owned())],
        "",
    )
    .await;
    assert_eq!(
        unauthenticated.status,
        StatusCode::UNAUTHORIZED,
        "authentication comes first"
    );

    let started = Instant::now();
    let slow = send(
        &app,
        "POST",
        &path("Messages.json"),
        &with("x-mock-delay-ms", "150"),
        &form(&MESSAGE),
    )
    .await;
    assert_eq!(slow.status, StatusCode::CREATED);
    assert_eq!(started.elapsed(), Duration::from_millis(150));
}

#[tokio::test]
async fn request_log_records_everything_and_clears() {
    let app = app();
    send(
        &app,
        "POST",
        &format!("{}?x=1", path("Messages.json")),
        &[auth()],
        &form(&MESSAGE),
    )
    .await;
    send(
        &app,
        "GET",
        &path("Calls/CA1.json"),
        &[basic(SID, "wrong")],
        "",
    )
    .await;

    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    let entries = log.json.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{}", log.text);
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["path"], format!("{}?x=1", path("Messages.json")));
    assert_eq!(
        entries[0]["body"],
        "To=%2B15558675310&From=%2B15005550006&Body=hi"
    );
    assert_eq!(entries[0]["headers"]["authorization"], auth().1);
    assert_eq!(entries[1]["method"], "GET");

    let cleared = send(&app, "DELETE", "/__mock/requests", &[], "").await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    assert_eq!(log.json, json!([]));
}
