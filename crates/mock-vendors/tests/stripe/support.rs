//! Sending requests to an in-process Stripe mock and reading its replies.

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use keybrake_mock_vendors::{stripe_app, StripeMock};
use serde_json::Value;
use tower::ServiceExt as _;

pub const KEY: &str = "sk_test_mockkey_0123456789abcdef";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

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
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if method == "POST" {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let json = if headers.get("content-encoding").is_some() || raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        raw,
        json,
    }
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
