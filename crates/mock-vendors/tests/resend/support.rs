//! Sending requests to an in-process Resend mock and reading its replies.

#[path = "../common/http.rs"]
mod http;

pub use self::http::Reply;

use axum::http::StatusCode;
use axum::Router;
use keybrake_mock_vendors::{resend_app, ResendMock};
use serde_json::{json, Value};

pub const KEY: &str = "re_mock_0123456789abcdef";

pub fn app() -> Router {
    resend_app(ResendMock::new(KEY))
}

pub fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {KEY}"))
}

/// A minimal valid send object.
pub fn email() -> Value {
    json!({"from": "Acme <onboarding@resend.dev>", "to": "ann@example.com", "subject": "Hi", "html": "<p>hi</p>"})
}

/// `email()` with `field` set to `value` (`null` removes it).
pub fn email_with(field: &str, value: Value) -> Value {
    let mut email = email();
    if let Some(fields) = email.as_object_mut() {
        if value.is_null() {
            fields.remove(field);
        } else {
            fields.insert(field.to_owned(), value);
        }
    }
    email
}

pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    http::send(app, method, path, headers, "application/json", body).await
}

pub async fn post(app: &Router, path: &str, body: &Value) -> Reply {
    send(app, "POST", path, &[bearer()], &body.to_string()).await
}

pub async fn get(app: &Router, path: &str) -> Reply {
    send(app, "GET", path, &[bearer()], "").await
}

/// Lower-case hyphenated UUID v4.
pub fn assert_uuid(value: &Value) {
    let id = value.as_str().unwrap_or_default();
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
    assert_eq!(&id[14..15], "4", "{id}");
    assert!(
        id.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id}"
    );
}

/// Resend's error body, exactly.
pub fn assert_error(reply: &Reply, status: StatusCode, name: &str, message: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    assert_eq!(
        reply.json,
        json!({"statusCode": status.as_u16(), "name": name, "message": message}),
        "{case}"
    );
}
