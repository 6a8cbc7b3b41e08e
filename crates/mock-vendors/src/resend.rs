//! The Resend mock: `POST /emails`, `POST /emails/batch`, `GET /emails/{id}`.
//!
//! Each request goes through the steps Resend takes, in order: Bearer authentication, the
//! mock-only failure injection, routing, the idempotency check (POSTs with an
//! `Idempotency-Key`), the endpoint. Every reply, refusals and 404s included, is JSON with
//! `Content-Type: application/json` (without it resend-python raises `application_error`).

mod email;
mod error;

#[cfg(test)]
#[path = "resend/bound_tests.rs"]
mod bound_tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use self::email::MAX_RECIPIENTS;
pub use self::error::ResendError;

use self::email::Origin;
use crate::dates::rfc3339_micros;
use crate::idempotency::{Fingerprint, Idempotency, Lookup};
use crate::ids::uuid_v4;
use crate::inject;
use crate::recorder::Recorder;
use crate::vendor::{self, Vendor};

/// The key accepted when none is configured.
pub const DEFAULT_RESEND_KEY: &str = "re_keybrake_mock";

/// Most emails in one `POST /emails/batch`.
pub const MAX_BATCH: usize = 100;

/// Longest `Idempotency-Key` Resend takes.
const MAX_IDEMPOTENCY_KEY: usize = 256;

/// One Resend mock: its accepted key, its emails and its request log. Clones share state.
#[derive(Clone, Debug)]
pub struct ResendMock {
    api_key: Arc<str>,
    recorder: Recorder,
    state: Arc<Mutex<MockState>>,
}

#[derive(Debug, Default)]
struct MockState {
    emails: HashMap<String, Value>,
    /// Successful replies by idempotency key: Resend replays the status and body.
    idempotency: Idempotency<Value>,
}

/// An endpoint the mock serves.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Send,
    Batch,
    Retrieve(String),
}

/// `x-batch-validation`: refuse the whole batch for one bad email, or send the good ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Validation {
    Strict,
    Permissive,
}

// === impl ResendMock ===

impl ResendMock {
    /// A mock that accepts only `api_key`, with no emails and an empty request log.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: Arc::from(api_key.into()),
            recorder: Recorder::new(),
            state: Arc::default(),
        }
    }

    /// The request log served at `/__mock/requests`.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The one key this mock accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
    fn decide(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, ResendError> {
        self.authenticate(headers)?;
        injected_failure(headers)?;
        let route = route(method, path)?;
        let idempotency_key = match headers.get("idempotency-key") {
            Some(key) if *method == Method::POST => {
                let key = String::from_utf8_lossy(key.as_bytes()).into_owned();
                if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY {
                    return Err(ResendError::InvalidIdempotencyKey);
                }
                Some(key)
            }
            _ => None,
        };
        let parsed = match route {
            Route::Retrieve(_) => Value::Null,
            Route::Send | Route::Batch => serde_json::from_slice(body)
                .map_err(|_| ResendError::invalid("The request body is not valid JSON."))?,
        };
        let fingerprint = Fingerprint {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            // Same payload means the same JSON, however it is spaced or its keys ordered.
            body: serde_json::to_vec(&parsed).unwrap_or_default(),
        };

        let mut state = self.lock();
        if let Some(key) = &idempotency_key {
            match state.idempotency.lookup(&self.api_key, key, &fingerprint) {
                Lookup::Fresh => {}
                Lookup::Replay(saved) => return Ok(saved.clone()),
                Lookup::Mismatch => return Err(ResendError::IdempotencyMismatch),
            }
        }
        let reply = match route {
            Route::Send => send_one(&mut state, &parsed)?,
            Route::Batch => send_batch(&mut state, &parsed, validation(headers)?)?,
            Route::Retrieve(id) => {
                return state
                    .emails
                    .get(&id)
                    .cloned()
                    .ok_or(ResendError::EmailNotFound)
            }
        };
        if let Some(key) = idempotency_key {
            state
                .idempotency
                .save(&self.api_key, &key, fingerprint, reply.clone());
        }
        Ok(reply)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), ResendError> {
        let value = headers
            .get(AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .unwrap_or_default();
        let key = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|key| !key.is_empty())
            .ok_or(ResendError::MissingApiKey)?;
        if key == &*self.api_key {
            Ok(())
        } else {
            Err(ResendError::InvalidApiKey)
        }
    }

    fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `POST /emails`: `{"id": "<uuid>"}`.
fn send_one(state: &mut MockState, send: &Value) -> Result<Value, ResendError> {
    let id = uuid_v4();
    let email = email::build(
        send,
        Origin::Single,
        &id,
        &rfc3339_micros(SystemTime::now()),
    )?;
    state.emails.insert(id.clone(), email);
    Ok(json!({ "id": id }))
}

/// `POST /emails/batch`: `{"data": [{"id"}, …]}`, plus `"errors": [{"index", "message"}]`
/// in permissive mode, where only the valid emails are sent.
fn send_batch(
    state: &mut MockState,
    batch: &Value,
    validation: Validation,
) -> Result<Value, ResendError> {
    let Some(sends) = batch.as_array() else {
        return Err(ResendError::invalid(
            "The request body must be an array of emails.",
        ));
    };
    if sends.is_empty() {
        return Err(ResendError::invalid(
            "The batch must contain at least 1 email.",
        ));
    }
    if sends.len() > MAX_BATCH {
        return Err(ResendError::invalid(format!(
            "Too many emails in the batch. The maximum is {MAX_BATCH}."
        )));
    }
    let created_at = rfc3339_micros(SystemTime::now());
    let mut emails = Vec::new();
    let mut errors = Vec::new();
    for (index, send) in sends.iter().enumerate() {
        match email::build(send, Origin::Batch, &uuid_v4(), &created_at) {
            Ok(email) => emails.push(email),
            Err(e) if validation == Validation::Strict => return Err(e),
            Err(e) => {
                let message = e.to_reply().1["message"].clone();
                errors.push(json!({ "index": index, "message": message }));
            }
        }
    }
    let data: Vec<Value> = emails.iter().map(|e| json!({ "id": e["id"] })).collect();
    for email in emails {
        let id = email["id"].as_str().unwrap_or_default().to_owned();
        state.emails.insert(id, email);
    }
    Ok(match validation {
        Validation::Strict => json!({ "data": data }),
        Validation::Permissive => json!({ "data": data, "errors": errors }),
    })
}

fn route(method: &Method, path: &str) -> Result<Route, ResendError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let (route, allowed) = match segments.as_slice() {
        ["", "emails"] => (Route::Send, Method::POST),
        ["", "emails", "batch"] => (Route::Batch, Method::POST),
        ["", "emails", id] if !id.is_empty() => (Route::Retrieve((*id).to_owned()), Method::GET),
        _ => return Err(ResendError::NoSuchEndpoint),
    };
    if *method == allowed {
        Ok(route)
    } else {
        Err(ResendError::MethodNotAllowed {
            method: method.as_str().to_owned(),
        })
    }
}

fn validation(headers: &HeaderMap) -> Result<Validation, ResendError> {
    match headers.get("x-batch-validation").map(HeaderValue::as_bytes) {
        None | Some(b"strict") => Ok(Validation::Strict),
        Some(b"permissive") => Ok(Validation::Permissive),
        Some(_) => Err(ResendError::invalid(
            "The `x-batch-validation` header must be `strict` or `permissive`.",
        )),
    }
}

/// The failure forced by `x-mock-status`, or the refusal of a bad mock-only header.
fn injected_failure(headers: &HeaderMap) -> Result<(), ResendError> {
    inject::check(headers).map_err(|e| ResendError::invalid(e.message))?;
    match inject::forced_status(headers) {
        Ok(Some(status)) => Err(ResendError::Injected { status }),
        _ => Ok(()),
    }
}

impl Vendor for ResendMock {
    fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn answer(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let (status, body) = match self.decide(method, path, headers, body) {
            Ok(reply) => (StatusCode::OK, reply),
            Err(e) => e.to_reply(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, bytes).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// The Resend mock's router: the vendor routes (recorded) and `/__mock/requests` (not
/// recorded), gzip on both when asked.
pub fn resend_app(mock: ResendMock) -> Router {
    vendor::app(mock)
}

/// Serves a Resend mock accepting `api_key` on `listener` until `shutdown` resolves.
pub async fn serve_resend(
    listener: TcpListener,
    api_key: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::serve(listener, resend_app(ResendMock::new(api_key)), shutdown).await
}
