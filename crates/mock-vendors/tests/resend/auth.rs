//! Which keys the mock accepts and how it refuses the rest.

use axum::http::StatusCode;

use super::support::*;

const MISSING: &str = "Missing API key in the authorization header. Include the following \
header Authorization: Bearer YOUR_API_KEY in the request.";

#[tokio::test]
async fn authentication() {
    let app = app();
    let cases: Vec<(&str, Vec<(&str, String)>, StatusCode, &str, &str)> = vec![
        ("bearer accepted", vec![bearer()], StatusCode::OK, "", ""),
        (
            "lower-case scheme accepted",
            vec![("authorization", format!("bearer {KEY}"))],
            StatusCode::OK,
            "",
            "",
        ),
        (
            "no header",
            vec![],
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            MISSING,
        ),
        (
            "empty bearer",
            vec![("authorization", "Bearer ".to_owned())],
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            MISSING,
        ),
        (
            "basic scheme",
            vec![("authorization", format!("Basic {KEY}"))],
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            MISSING,
        ),
        (
            "wrong key",
            vec![("authorization", "Bearer re_not_the_key_42".to_owned())],
            StatusCode::FORBIDDEN,
            "invalid_api_key",
            "API key is invalid",
        ),
    ];
    for (case, headers, status, name, message) in cases {
        let reply = send(&app, "POST", "/emails", &headers, &email().to_string()).await;
        if status == StatusCode::OK {
            assert_eq!(reply.status, status, "{case}: {}", reply.text);
            assert_uuid(&reply.json["id"]);
        } else {
            assert_error(&reply, status, name, message, case);
        }
        for secret in [KEY, "re_not_the_key_42"] {
            assert!(
                !reply.text.contains(secret),
                "{case}: a key was echoed: {}",
                reply.text
            );
        }
    }
}
