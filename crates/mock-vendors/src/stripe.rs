//! The Stripe mock: `/v1/payment_intents` (with update, confirm, capture and
//! increment_authorization), `/v1/customers`, `/v1/charges` (with capture), `/v1/refunds`,
//! `/v1/transfers`, `/v1/payouts`. What each call moved is in its [`Billing`].
//!
//! Each request goes through the same steps Stripe takes, in order: authentication, the
//! mock-only failure injection, routing, the idempotency check, the endpoint. Every reply
//! carries `Request-Id`, `Stripe-Version` and `Content-Type: application/json`.

mod auth;
mod error;
mod form;
mod objects;
mod outflows;
mod route;
mod store;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;

pub use self::error::StripeError;

use self::form::Params;
use self::route::Route;
use self::store::Store;
use crate::billing::{Bill, Billing};
use crate::idempotency::{Fingerprint, Idempotency, Lookup};
use crate::ids::random_id;
use crate::inject;
use crate::recorder::Recorder;
use crate::vendor::{self, Vendor};

/// The API version answered when the request names none (stripe-python 16.1.0's pin).
pub const DEFAULT_STRIPE_VERSION: &str = "2026-10-28.endive";

/// The key accepted when none is configured.
pub const DEFAULT_STRIPE_KEY: &str = "sk_test_keybrake_mock";

/// Mock-only request header that forces a failure status (see the crate docs).
pub const MOCK_STATUS_HEADER: &str = inject::STATUS_HEADER;

/// One Stripe mock: its accepted key, its objects and its request log. Clones share state.
#[derive(Clone, Debug)]
pub struct StripeMock {
    api_key: Arc<str>,
    recorder: Recorder,
    billing: Billing,
    state: Arc<Mutex<MockState>>,
}

#[derive(Debug, Default)]
struct MockState {
    store: Store,
    idempotency: Idempotency<Saved>,
}

/// The first reply given under an idempotency key, byte for byte.
#[derive(Clone, Debug)]
struct Saved {
    status: StatusCode,
    body: Vec<u8>,
    request_id: String,
}

/// A finished reply before headers are attached.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    request_id: String,
    replayed: bool,
}

// === impl StripeMock ===

impl StripeMock {
    /// A mock that accepts only `api_key`, with no objects and an empty request log.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: Arc::from(api_key.into()),
            recorder: Recorder::new(),
            billing: Billing::new(),
            state: Arc::default(),
        }
    }

    /// The request log served at `/__mock/requests`.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The money each call moved, served at `/__mock/billed`.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// The one key this mock accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    fn decide(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        request_id: &str,
    ) -> Reply {
        let fail = |e: StripeError| Reply::error(&e, request_id);
        if let Err(e) = auth::check(headers, &self.api_key) {
            return fail(e);
        }
        if let Some(e) = injected_failure(headers) {
            return fail(e);
        }
        let path = path_and_query.split('?').next().unwrap_or_default();
        let route = match Route::parse(method, path) {
            Ok(route) => route,
            Err(e) => return fail(e),
        };
        let idempotency_key = headers
            .get("idempotency-key")
            .filter(|_| method == Method::POST)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let fingerprint = Fingerprint {
            method: method.as_str().to_owned(),
            path: path_and_query.to_owned(),
            body: body.to_vec(),
        };

        let mut state = self.lock();
        if let Some(key) = &idempotency_key {
            match state.idempotency.lookup(&self.api_key, key, &fingerprint) {
                Lookup::Fresh => {}
                Lookup::Replay(saved) => {
                    return Reply {
                        status: saved.status,
                        body: saved.body.clone(),
                        request_id: saved.request_id.clone(),
                        replayed: true,
                    }
                }
                Lookup::Mismatch => return fail(StripeError::IdempotencyMismatch),
            }
        }
        let params = Params::parse(body);
        let outcome = match route {
            Route::Create(resource) => state.store.create(resource, &params),
            Route::Retrieve(resource, id) => state.store.retrieve(resource, &id),
            Route::UpdateIntent(id) => state.store.update_intent(&id, &params),
            Route::Act(resource, id, action) => state.store.act(resource, &id, action, &params),
        };
        let (reply, save) = match outcome {
            Ok(done) => {
                if let Some(m) = done.moved {
                    let bill = Bill::stripe(method.as_str(), path, &m.id, m.amount, &m.currency);
                    self.billing.push(bill);
                }
                (Reply::ok(&done.object, request_id), true)
            }
            Err(e) => (Reply::error(&e, request_id), e.saved_for_idempotency()),
        };
        if let (Some(key), true) = (idempotency_key, save) {
            let saved = Saved {
                status: reply.status,
                body: reply.body.clone(),
                request_id: reply.request_id.clone(),
            };
            state
                .idempotency
                .save(&self.api_key, &key, fingerprint, saved);
        }
        reply
    }

    fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// === impl Reply ===

impl Reply {
    fn ok(object: &Value, request_id: &str) -> Self {
        Self::json(StatusCode::OK, object, request_id)
    }

    fn error(error: &StripeError, request_id: &str) -> Self {
        let (status, body) = error.to_reply(request_id);
        Self::json(status, &body, request_id)
    }

    fn json(status: StatusCode, body: &Value, request_id: &str) -> Self {
        // Stripe pretty-prints its JSON with two-space indents.
        let mut bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
        bytes.push(b'\n');
        Self {
            status,
            body: bytes,
            request_id: request_id.to_owned(),
            replayed: false,
        }
    }
}

impl Vendor for StripeMock {
    const WITH_QUERY: bool = true;

    fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn billing(&self) -> Option<&Billing> {
        Some(&self.billing)
    }

    /// Answers one request; everything but the body buffering happens here, synchronously.
    fn answer(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let request_id = random_id("req_", 14);
        let reply = self.decide(method, path_and_query, headers, body, &request_id);
        let mut response = (reply.status, reply.body).into_response();
        let out = response.headers_mut();
        out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        insert(out, "request-id", &reply.request_id);
        let version = headers
            .get("stripe-version")
            .cloned()
            .unwrap_or(HeaderValue::from_static(DEFAULT_STRIPE_VERSION));
        out.insert(HeaderName::from_static("stripe-version"), version);
        if let Some(key) = headers.get("idempotency-key") {
            out.insert(HeaderName::from_static("idempotency-key"), key.clone());
        }
        if reply.replayed {
            insert(out, "idempotent-replayed", "true");
            insert(out, "original-request", &reply.request_id);
        }
        if reply.status == StatusCode::UNAUTHORIZED {
            out.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Stripe\""),
            );
        }
        response
    }
}

/// The Stripe mock's router: the vendor routes (recorded) and `/__mock/requests` (not
/// recorded), gzip on both when asked.
pub fn stripe_app(mock: StripeMock) -> Router {
    vendor::app(mock)
}

/// Serves a Stripe mock accepting `api_key` on `listener` until `shutdown` resolves.
pub async fn serve_stripe(
    listener: TcpListener,
    api_key: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::serve(listener, stripe_app(StripeMock::new(api_key)), shutdown).await
}

/// The failure forced by `x-mock-status`, or the refusal of a bad mock-only header.
fn injected_failure(headers: &HeaderMap) -> Option<StripeError> {
    let bad = |e: inject::BadMockHeader| StripeError::InvalidParam {
        param: e.header.to_owned(),
        message: e.message.to_owned(),
    };
    if let Err(e) = inject::check(headers) {
        return Some(bad(e));
    }
    inject::forced_status(headers)
        .ok()
        .flatten()
        .map(|status| StripeError::Injected { status })
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
#[path = "stripe/bound_tests.rs"]
mod bound_tests;
