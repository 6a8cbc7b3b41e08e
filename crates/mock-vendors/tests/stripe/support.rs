//! Sending requests to an in-process Stripe mock and reading its replies.

#[path = "../common/http.rs"]
mod http;

pub use self::http::Reply;

use axum::Router;
use keybrake_mock_vendors::{stripe_app, StripeMock};
use serde_json::Value;

pub const KEY: &str = "sk_test_mockkey_0123456789abcdef";

impl Reply {
    pub fn error_field(&self, field: &str) -> &Value {
        &self.json["error"][field]
    }
}

pub fn app() -> Router {
    stripe_app(StripeMock::new(KEY))
}

pub fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {KEY}"))
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

pub async fn post(app: &Router, path: &str, body: &str) -> Reply {
    send(app, "POST", path, &[bearer()], body).await
}

pub async fn get(app: &Router, path: &str) -> Reply {
    send(app, "GET", path, &[bearer()], "").await
}

pub fn assert_id(value: &Value, prefix: &str) {
    let id = value.as_str().unwrap_or_default();
    assert!(id.starts_with(prefix), "{id} should start with {prefix}");
    assert_eq!(id.len(), prefix.len() + 24, "{id}");
    assert!(
        id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()),
        "{id}"
    );
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
