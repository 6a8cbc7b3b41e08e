//! The plumbing the three mocks share around their vendor logic: one router shape (vendor
//! routes recorded, `/__mock/requests` and `/__mock/billed` not, gzip on all) and one request
//! handler (read the body, answer, then hold the reply back as `x-mock-delay-ms` asks).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::billing::{self, Billing};
use crate::inject;
use crate::recorder::{self, Recorder, MAX_BODY_BYTES};

/// One vendor mock: its request log and how it answers a request. Clones share state.
pub(crate) trait Vendor: Clone + Send + Sync + 'static {
    /// Whether [`Vendor::answer`] sees the query string as part of the path.
    const WITH_QUERY: bool = false;

    fn recorder(&self) -> &Recorder;

    /// What the vendor bills, when the mock models it (served at `/__mock/billed`).
    fn billing(&self) -> Option<&Billing> {
        None
    }

    /// The whole reply to one request, from its method, path, headers and body.
    fn answer(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Response;
}

/// `mock`'s router: the vendor routes (recorded), `/__mock/requests` and, when the mock bills,
/// `/__mock/billed` (not recorded), gzip on all when asked.
pub(crate) fn app<V: Vendor>(mock: V) -> Router {
    let recorder = mock.recorder().clone();
    let mut router = Router::new()
        .fallback(handle::<V>)
        .layer(from_fn_with_state(recorder.clone(), recorder::record))
        .merge(recorder::routes(recorder));
    if let Some(billing) = mock.billing() {
        router = router.merge(billing::routes(billing.clone()));
    }
    router
        .with_state(mock)
        .layer(from_fn(crate::gzip::compress))
}

async fn handle<V: Vendor>(State(mock): State<V>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = match parts.uri.path_and_query() {
        Some(pq) if V::WITH_QUERY => pq.as_str(),
        _ => parts.uri.path(),
    };
    let response = mock.answer(&parts.method, path, &parts.headers, &body);
    // The request has had its effect already: a client that gives up while waiting leaves
    // behind whatever it created, as with a slow real vendor.
    inject::hold_reply(&parts.headers).await;
    response
}
