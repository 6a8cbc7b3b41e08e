//! The Twilio mock: `GET /2010-04-01/Accounts/{Sid}.json` (the account), and `POST
//! …/Messages.json`, `GET …/Messages/{Sid}.json`, `POST …/Calls.json`, `GET` and `POST
//! …/Calls/{Sid}.json` under `/2010-04-01/Accounts/{AccountSid}/`. What each message or call
//! will be billed is in its [`Billing`].
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
use self::calls::Call;
use self::form::Params;
use self::route::{Endpoint, Route};
use crate::billing::{Bill, Billing};
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
    billing: Billing,
    state: Arc<Mutex<MockState>>,
}

/// Messages by SID in the state a later `GET` sees (delivered), and calls.
#[derive(Debug, Default)]
struct MockState {
    messages: HashMap<String, Value>,
    calls: HashMap<String, Call>,
}

/// A new message: the create reply, the object a later fetch returns, and what it is billed
/// (0.00001 USD).
#[derive(Clone, Debug)]
struct Created {
    reply: Value,
    later: Value,
    units: u64,
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
            billing: Billing::new(),
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

    /// What each message and call is billed, served at `/__mock/billed`.
    pub fn billing(&self) -> &Billing {
        &self.billing
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
        let bill = |sid: &str, units: i64| {
            let micro_usd = units.saturating_mul(MICROS_PER_UNIT);
            self.billing
                .push(Bill::twilio(method.as_str(), path, sid, micro_usd));
        };
        let mut state = self.lock();
        match route.endpoint {
            Endpoint::FetchAccount => Ok((StatusCode::OK, self.account_resource())),
            Endpoint::CreateMessage => {
                let created = messages::create(account, &Params::parse(body))?;
                let sid = sid_of(&created.reply);
                bill(&sid, units(created.units));
                state.messages.insert(sid, created.later);
                Ok((StatusCode::CREATED, created.reply))
            }
            Endpoint::CreateCall => {
                let (reply, call) = calls::create(account, &Params::parse(body))?;
                let sid = sid_of(&reply);
                bill(&sid, units(call.billed_units()));
                state.calls.insert(sid, call);
                Ok((StatusCode::CREATED, reply))
            }
            Endpoint::UpdateCall(sid) => {
                let call = state.calls.get_mut(&sid).ok_or_else(not_found)?;
                let before = call.billed_units();
                let reply = calls::update(call, &Params::parse(body))?;
                let change = units(call.billed_units()) - units(before);
                if change != 0 {
                    bill(&sid, change);
                }
                Ok((StatusCode::OK, reply))
            }
            Endpoint::FetchMessage(sid) => state
                .messages
                .get(&sid)
                .map(|m| (StatusCode::OK, m.clone()))
                .ok_or_else(not_found),
            Endpoint::FetchCall(sid) => state
                .calls
                .get(&sid)
                .map(|c| (StatusCode::OK, c.later.clone()))
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

/// The mock prices in 0.00001 USD: ten micro-USD each.
const MICROS_PER_UNIT: i64 = 10;

fn sid_of(object: &Value) -> String {
    object["sid"].as_str().unwrap_or_default().to_owned()
}

fn units(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
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

    fn billing(&self) -> Option<&Billing> {
        Some(&self.billing)
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
