//! Sending requests to an in-process Twilio mock and reading its replies.

#[path = "../common/http.rs"]
mod http;

pub use self::http::Reply;

use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keybrake_mock_vendors::{twilio_app, TwilioMock};
use serde_json::Value;

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "token_0123456789abcdef0123456789";
pub const KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
pub const KEY_SECRET: &str = "secret_for_the_api_key";

pub fn app() -> Router {
    twilio_app(TwilioMock::new(SID, TOKEN).with_api_key(KEY_SID, KEY_SECRET))
}

pub fn basic(user: &str, password: &str) -> (&'static str, String) {
    (
        "authorization",
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
    )
}

pub fn auth() -> (&'static str, String) {
    basic(SID, TOKEN)
}

/// `/2010-04-01/Accounts/{SID}/{rest}`.
pub fn path(rest: &str) -> String {
    format!("/2010-04-01/Accounts/{SID}/{rest}")
}

/// A form body from pairs, percent-encoded as twilio-python sends it (`+` as `%2B`).
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    http::send(
        app,
        method,
        path,
        headers,
        "application/x-www-form-urlencoded",
        body,
    )
    .await
}

pub async fn post(app: &Router, rest: &str, pairs: &[(&str, &str)]) -> Reply {
    send(app, "POST", &path(rest), &[auth()], &form(pairs)).await
}

pub async fn get(app: &Router, rest: &str) -> Reply {
    send(app, "GET", &path(rest), &[auth()], "").await
}

pub fn assert_sid(value: &Value, prefix: &str) {
    let sid = value.as_str().unwrap_or_default();
    assert!(sid.starts_with(prefix), "{sid} should start with {prefix}");
    assert_eq!(sid.len(), 34, "{sid}");
    assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{sid}");
}

pub fn assert_subset(actual: &Value, expected: &Value, name: &str) {
    match expected {
        Value::Object(fields) => {
            for (field, value) in fields {
                assert_subset(&actual[field], value, &format!("{name}.{field}"));
            }
        }
        other => assert_eq!(actual, other, "{name}"),
    }
}
