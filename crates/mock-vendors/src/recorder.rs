//! The request log behind `GET /__mock/requests` and `DELETE /__mock/requests`.
//!
//! Every request to a vendor's routes is recorded before the mock looks at it, so refused
//! requests (wrong key, unknown route) are in the log too. The log routes themselves are not
//! recorded and need no credentials.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::ids::now_millis;

/// Bodies larger than this are refused; no vendor call in the tests comes close.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The path of the request log.
pub const REQUESTS_PATH: &str = "/__mock/requests";

/// One request as the mock received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query string exactly as sent, e.g. `/v1/charges?expand[]=customer`.
    pub path: String,
    /// Lower-case header name to value; a repeated header's values are joined with `", "`
    /// in the order received (RFC 9110 field combination).
    pub headers: BTreeMap<String, String>,
    /// Every header as a `[name, value]` pair, lower-case names, in the order received.
    pub header_list: Vec<(String, String)>,
    /// The raw body, decoded as UTF-8 with invalid bytes replaced by U+FFFD.
    pub body: String,
    /// When the request arrived, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl RecordedRequest {
    /// Builds a record from the parts of a request.
    pub fn new(method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> Self {
        let header_list: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let mut joined: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &header_list {
            joined
                .entry(name.clone())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: joined,
            header_list,
            body: String::from_utf8_lossy(body).into_owned(),
            time_ms: now_millis(),
        }
    }
}

/// A shared, append-only (until cleared) log of requests. Cloning shares the log.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one request.
    pub fn push(&self, request: RecordedRequest) {
        self.lock().push(request);
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// Forgets every request.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        // A poisoned log is still a log: keep serving it.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `GET` and `DELETE` on [`REQUESTS_PATH`], for any router state.
pub fn routes<S>(recorder: Recorder) -> Router<S> {
    Router::new()
        .route(REQUESTS_PATH, get(list).delete(clear))
        .with_state(recorder)
}

async fn list(State(recorder): State<Recorder>) -> Json<Vec<RecordedRequest>> {
    Json(recorder.requests())
}

async fn clear(State(recorder): State<Recorder>) -> StatusCode {
    recorder.clear();
    StatusCode::NO_CONTENT
}

/// Middleware: buffers the body, records the request, then passes it on unchanged.
pub async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large or unreadable\n",
        )
            .into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    recorder.push(RecordedRequest::new(
        parts.method.as_str(),
        &path,
        &parts.headers,
        &bytes,
    ));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn repeated_headers_are_joined_in_map_and_kept_in_list() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append("authorization", HeaderValue::from_static("Bearer k"));
        let r = RecordedRequest::new("POST", "/v1/x?y=1", &headers, b"a=\xff");
        assert_eq!(r.headers.get("x-a").map(String::as_str), Some("1, 2"));
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer k")
        );
        assert_eq!(r.header_list.len(), 3);
        assert_eq!(r.body, "a=\u{fffd}");
    }
}
