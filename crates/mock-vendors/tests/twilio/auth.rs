//! Which credentials the mock accepts, how it refuses the rest, and the account in the path.

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

const MESSAGE: [(&str, &str); 3] = [
    ("To", "+15558675310"),
    ("From", "+15005550006"),
    ("Body", "hi"),
];

#[tokio::test]
async fn authentication() {
    let app = app();
    let cases: Vec<(&str, Vec<(&str, String)>, StatusCode)> = vec![
        (
            "account sid and auth token",
            vec![auth()],
            StatusCode::CREATED,
        ),
        (
            "api key sid and secret",
            vec![basic(KEY_SID, KEY_SECRET)],
            StatusCode::CREATED,
        ),
        (
            "wrong auth token",
            vec![basic(SID, "not-the-token")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "api key sid with the auth token",
            vec![basic(KEY_SID, TOKEN)],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown account",
            vec![basic("AC00000000000000000000000000000000", TOKEN)],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bearer instead of basic",
            vec![("authorization", format!("Bearer {TOKEN}"))],
            StatusCode::UNAUTHORIZED,
        ),
        ("no credentials", vec![], StatusCode::UNAUTHORIZED),
    ];
    for (name, headers, expected) in cases {
        let reply = send(
            &app,
            "POST",
            &path("Messages.json"),
            &headers,
            &form(&MESSAGE),
        )
        .await;
        assert_eq!(reply.status, expected, "{name}: {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        assert!(
            reply
                .header("twilio-request-id")
                .is_some_and(|id| id.starts_with("RQ")),
            "{name}"
        );
        if expected == StatusCode::UNAUTHORIZED {
            assert_eq!(
                reply.json,
                json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
                "{name}"
            );
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Basic realm=\"Twilio API\""),
                "{name}"
            );
        }
        for secret in [TOKEN, KEY_SECRET, "not-the-token"] {
            assert!(
                !reply.text.contains(secret),
                "{name}: a secret was echoed: {}",
                reply.text
            );
        }
    }
}

#[tokio::test]
async fn path_must_name_the_authenticated_account() {
    let app = app();
    let other = "AC99999999999999999999999999999999";
    let cases = [
        (
            "send for another account",
            "POST",
            format!("/2010-04-01/Accounts/{other}/Messages.json"),
        ),
        (
            "fetch from another account",
            "GET",
            format!(
                "/2010-04-01/Accounts/{other}/Messages/SM00000000000000000000000000000000.json"
            ),
        ),
        (
            "api key used for another account",
            "POST",
            format!("/2010-04-01/Accounts/{other}/Calls.json"),
        ),
    ];
    for (name, method, path) in cases {
        let reply = send(
            &app,
            method,
            &path,
            &[basic(KEY_SID, KEY_SECRET)],
            &form(&MESSAGE),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(
            reply.json,
            json!({"code": 20404, "message": format!("The requested resource {path} was not found"),
                   "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}),
            "{name}"
        );
    }
    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    assert_eq!(
        log.json.as_array().map(Vec::len),
        Some(3),
        "refusals are recorded"
    );
}
