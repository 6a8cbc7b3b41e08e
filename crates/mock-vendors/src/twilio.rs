//! The Twilio mock: `GET /2010-04-01/Accounts/{Sid}.json` (the account), and `POST
//! …/Messages.json`, `GET …/Messages/{Sid}.json`, `POST …/Calls.json`, `GET …/Calls/{Sid}.json`
//! under `/2010-04-01/Accounts/{AccountSid}/`.
//!
//! Each request goes through the steps Twilio takes, in order: HTTP Basic authentication,
//! the mock-only failure injection, routing, the account check (the path must name the
//! authenticated account), the endpoint. Every reply is compact JSON with
//! `Content-Type: application/json` and a `Twilio-Request-Id`.

mod auth;
mod calls;
mod error;
mod form;
mod messages;
mod pricing;
mod route;
mod segments;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;

pub use self::error::TwilioError;
pub use self::segments::{count as count_segments, Encoding};

use self::auth::Credentials;
use self::form::Params;
use self::route::{Endpoint, Route};
use crate::ids::twilio_sid;
use crate::inject;
use crate::recorder::Recorder;
use crate::vendor::{self, Vendor};

/// The account SID accepted when none is configured: `AC` + 32 characters, like a real one.
pub const DEFAULT_TWILIO_ACCOUNT_SID: &str = "ACkeybrakemock00000000000000000000";

/// The auth token accepted when none is configured (32 characters, like a real one).
pub const DEFAULT_TWILIO_AUTH_TOKEN: &str = "keybrakemocktwilioauthtoken00000";

/// One Twilio mock: the account it serves, its messages and calls, its request log. Clones
/// share state.
#[derive(Clone, Debug)]
pub struct TwilioMock {
    credentials: Arc<Credentials>,
    recorder: Recorder,
    state: Arc<Mutex<MockState>>,
}

/// Messages and calls by SID, in the state a later `GET` sees (delivered, completed).
#[derive(Debug, Default)]
struct MockState {
    messages: HashMap<String, Value>,
    calls: HashMap<String, Value>,
}

/// A new message or call: the create reply, and the object a later fetch returns.
#[derive(Clone, Debug)]
struct Created {
    reply: Value,
    later: Value,
}

// === impl TwilioMock ===

impl TwilioMock {
    /// A mock for one account that accepts its SID and auth token.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self {
            credentials: Arc::new(Credentials {
                account_sid: account_sid.into(),
                auth_token: auth_token.into(),
                api_key: None,
            }),
            recorder: Recorder::new(),
            state: Arc::default(),
        }
    }

    /// Also accepts an API key (`SK…` SID and its secret) for the same account.
    pub fn with_api_key(mut self, sid: impl Into<String>, secret: impl Into<String>) -> Self {
        let mut credentials = (*self.credentials).clone();
        credentials.api_key = Some((sid.into(), secret.into()));
        self.credentials = Arc::new(credentials);
        self
    }

    /// The one account this mock serves.
    pub fn account_sid(&self) -> &str {
        &self.credentials.account_sid
    }

    /// The request log served at `/__mock/requests`.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
    fn decide(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(StatusCode, Value), TwilioError> {
        let account = self.credentials.check(headers)?;
        injected_failure(headers)?;
        let route = Route::parse(method, path)?;
        if route.account != account {
            return Err(TwilioError::NotFound {
                path: path.to_owned(),
            });
        }
        let not_found = || TwilioError::NotFound {
            path: path.to_owned(),
        };
        let mut state = self.lock();
        match route.endpoint {
            Endpoint::FetchAccount => Ok((StatusCode::OK, self.account_resource())),
            Endpoint::CreateMessage => {
                let created = messages::create(account, &Params::parse(body))?;
                Ok(save(&mut state.messages, created))
            }
            Endpoint::CreateCall => {
                let created = calls::create(account, &Params::parse(body))?;
                Ok(save(&mut state.calls, created))
            }
            Endpoint::FetchMessage(sid) => state
                .messages
                .get(&sid)
                .map(|m| (StatusCode::OK, m.clone()))
                .ok_or_else(not_found),
            Endpoint::FetchCall(sid) => state
                .calls
                .get(&sid)
                .map(|c| (StatusCode::OK, c.clone()))
                .ok_or_else(not_found),
        }
    }

    /// The account as Twilio's Account resource shows it to its own credentials, auth token
    /// included (Twilio returns it: an agent must never see this through the gateway).
    fn account_resource(&self) -> Value {
        let sid = &self.credentials.account_sid;
        let created = crate::dates::rfc2822(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        );
        serde_json::json!({
            "sid": sid,
            "owner_account_sid": sid,
            "friendly_name": "keybrake mock account",
            "status": "active",
            "type": "Full",
            "auth_token": self.credentials.auth_token,
            "date_created": created,
            "date_updated": created,
            "uri": format!("/2010-04-01/Accounts/{sid}.json"),
            "subresource_uris": {
                "messages": format!("/2010-04-01/Accounts/{sid}/Messages.json"),
                "calls": format!("/2010-04-01/Accounts/{sid}/Calls.json"),
            },
        })
    }

    fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps the later state of a new object under its SID and answers 201 with the reply.
fn save(objects: &mut HashMap<String, Value>, created: Created) -> (StatusCode, Value) {
    let sid = created.reply["sid"].as_str().unwrap_or_default().to_owned();
    objects.insert(sid, created.later);
    (StatusCode::CREATED, created.reply)
}

/// The failure forced by `x-mock-status`, or the refusal of a bad mock-only header.
fn injected_failure(headers: &HeaderMap) -> Result<(), TwilioError> {
    inject::check(headers).map_err(|e| TwilioError::InvalidParameter {
        message: e.message.to_owned(),
    })?;
    match inject::forced_status(headers) {
        Ok(Some(status)) => Err(TwilioError::Injected { status }),
        _ => Ok(()),
    }
}

impl Vendor for TwilioMock {
    fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn answer(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let (status, body) = match self.decide(method, path, headers, body) {
            Ok(reply) => reply,
            Err(e) => e.to_reply(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, bytes).into_response();
        let out = response.headers_mut();
        out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(id) = HeaderValue::from_str(&twilio_sid("RQ")) {
            out.insert(HeaderName::from_static("twilio-request-id"), id);
        }
        if status == StatusCode::UNAUTHORIZED {
            out.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

/// The Twilio mock's router: the vendor routes (recorded) and `/__mock/requests` (not
/// recorded), gzip on both when asked.
pub fn twilio_app(mock: TwilioMock) -> Router {
    vendor::app(mock)
}

/// Serves `mock` on `listener` until `shutdown` resolves.
pub async fn serve_twilio(
    listener: TcpListener,
    mock: TwilioMock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::serve(listener, twilio_app(mock), shutdown).await
}

#[cfg(test)]
#[path = "twilio/bound_tests.rs"]
mod bound_tests;
