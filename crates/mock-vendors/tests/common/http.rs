//! Sending one request to an in-process mock's router and reading its reply, for all three
//! vendors' tests (each `support.rs` includes this file).

use std::io::Read as _;

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use flate2::read::GzDecoder;
use serde_json::Value;
use tower::ServiceExt as _;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as sent.
    #[allow(dead_code)] // Only the Stripe tests look at the bytes on the wire.
    pub raw: Vec<u8>,
    /// The body as sent, then decompressed if it was gzipped.
    #[allow(dead_code)] // The Stripe tests read `raw` and `json` only.
    pub text: String,
    /// `text` as JSON, `null` if it is not.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `method path` with `headers`, and `body` as `content_type` on a `POST`.
pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    content_type: &str,
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if method == "POST" {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let text = if headers.get("content-encoding").is_some() {
        let mut text = String::new();
        GzDecoder::new(raw.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    };
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        raw,
        text,
        json,
    }
}
