//! Local stand-ins for the vendor APIs keybrake fronts, for the end-to-end tests and
//! `make run`. Machines running them have no internet, so each mock answers like the real
//! vendor as far as the official SDKs can tell (stripe-python 16.1.0, twilio-python 9.13.0,
//! resend-python 2.52.0). Each mock has its own router and port; all three share the request
//! log, gzip and the mock-only headers described under [Mock-only
//! behaviour](#mock-only-behaviour).
//!
//! The binary serves Stripe always, Twilio and Resend only when their listen address is given:
//!
//! | flag | env | default |
//! |---|---|---|
//! | `--stripe-listen` | `MOCK_STRIPE_LISTEN` | `127.0.0.1:12111` |
//! | `--stripe-key` | `MOCK_STRIPE_KEY` | [`DEFAULT_STRIPE_KEY`] |
//! | `--twilio-listen` | `MOCK_TWILIO_LISTEN` | not served (`make run`: `127.0.0.1:12112`) |
//! | `--twilio-account-sid` | `MOCK_TWILIO_ACCOUNT_SID` | [`DEFAULT_TWILIO_ACCOUNT_SID`] |
//! | `--twilio-auth-token` | `MOCK_TWILIO_AUTH_TOKEN` | [`DEFAULT_TWILIO_AUTH_TOKEN`] |
//! | `--twilio-api-key-sid`, `--twilio-api-key-secret` | `MOCK_TWILIO_API_KEY_SID`, `MOCK_TWILIO_API_KEY_SECRET` | none |
//! | `--resend-listen` | `MOCK_RESEND_LISTEN` | not served (`make run`: `127.0.0.1:12113`) |
//! | `--resend-key` | `MOCK_RESEND_KEY` | [`DEFAULT_RESEND_KEY`] |
//!
//! Once bound, each mock prints `mock <vendor> listening on http://<addr>` on stdout.
//!
//! # Stripe
//!
//! [`stripe_app`] / [`serve_stripe`]: create (`POST`, form-encoded) and retrieve
//! (`GET /v1/<resource>/{id}`) for `payment_intents`, `customers`, `charges`, `refunds`,
//! `transfers` and `payouts`, kept in memory. Every money object carries top-level `amount`
//! (an integer in the currency's minor unit, so `jpy` amounts are echoed as given) and
//! `currency` (lower case). Only the configured key is accepted, as `Bearer <key>` or
//! `Basic base64(<key>:)`. `Idempotency-Key` replays the first reply
//! (`Idempotent-Replayed: true`, original `Request-Id`) or refuses different parameters with
//! an `idempotency_error`. Replies are gzipped when `Accept-Encoding` allows gzip.
//!
//! Follow-ups, as Stripe runs them: `POST /v1/payment_intents/{id}` (update; `amount` and
//! `currency` only while `requires_payment_method|confirmation|action`, else
//! `payment_intent_unexpected_state`), `…/confirm` (`amount_to_confirm` up to the amount; a
//! charge, captured unless `capture_method=manual`), `…/capture` (`requires_capture` only;
//! `amount_to_capture` up to `amount_capturable`, else `amount_too_large`),
//! `…/increment_authorization` (`requires_capture` only; the new `amount` above the current
//! one), and `POST /v1/charges/{id}/capture` (`amount` up to what is authorized;
//! `charge_already_captured` the second time). A refund of an uncaptured charge only releases
//! the authorization.
//!
//! What each call moved is listed at `GET /__mock/billed` (see [Mock-only
//! behaviour](#mock-only-behaviour)): a payment captured (a create or confirm with automatic
//! capture, a capture), a refund of a captured charge, a transfer, a payout. Authorizations,
//! updates, increments and replays move nothing.
//!
//! # Twilio
//!
//! [`twilio_app`] / [`serve_twilio`], like `api.twilio.com` under `/2010-04-01`:
//! `POST /Accounts/{Sid}/Messages.json`, `GET /Accounts/{Sid}/Messages/{MessageSid}.json`,
//! `POST /Accounts/{Sid}/Calls.json`, `GET /Accounts/{Sid}/Calls/{CallSid}.json`, form bodies.
//! HTTP Basic with the account SID and auth token, or with the API key of
//! [`TwilioMock::with_api_key`]; anything else is `401` `{"code": 20003, "message":
//! "Authenticate", …}`. The path must name the authenticated account, else `404` code 20404.
//!
//! - A message is created `queued` (`accepted` when only `MessagingServiceSid` is given) with
//!   `price: null`; `num_segments` is a string counted like Twilio (GSM-7 160/153, UCS-2
//!   70/67, see [`twilio::count_segments`]), `"0"` when sent through a Messaging Service.
//!   A later `GET` returns it `delivered` with `price` `"-0.00830"` per segment (an MMS:
//!   `"-0.02200"`; a message to `whatsapp:`, `messenger:` or `rcs:`: `"-0.00500"`) and the real
//!   `num_segments`, so a test can reconcile.
//! - A call is created `queued` with `price` and `duration` null; a later `GET` returns it
//!   `completed`, lasting 60 s or its `TimeLimit` if shorter, at `"-0.01400"` per started
//!   minute. `POST …/Calls/{CallSid}.json` updates a call in progress (the callee answered at
//!   once): `Url` or `Twiml` keeps the callee on the line 60 s more, `TimeLimit` (from the
//!   start of the call) cuts it short, `Status=completed` hangs up now, `Status=canceled` does
//!   nothing to a call in progress; the answer is the call `in-progress` (or `completed`),
//!   `price` null. An update of a call that is over is refused with 21220.
//! - What each message and call will be billed is listed at `GET /__mock/billed` when it is
//!   created (the `price` a later `GET` shows), and every call update that changes it adds the
//!   change (negative for a hang-up).
//! - Refusals: 21604 (no `To`), 21211 (`To` not E.164), 21603 (no `From` or service), 21212,
//!   21701, 21602 (no `Body` or `MediaUrl`), 21617 (over 1,600 characters); calls 21201,
//!   21213, 21205, 21200.
//!
//! # Resend
//!
//! [`resend_app`] / [`serve_resend`], like `api.resend.com`: `POST /emails` (`{"id": "<uuid
//! v4>"}`), `POST /emails/batch` (up to 100; `x-batch-validation: strict|permissive`),
//! `GET /emails/{id}` (`"object": "email"`, `to` as an array, `last_event: "delivered"`).
//! `Authorization: Bearer <key>` only: none is `401` `missing_api_key`, another key `403`
//! `invalid_api_key`. Validation errors are `422` `missing_required_field` or
//! `validation_error` (more than 50 addresses in `to`, `cc` or `bcc` included).
//! `Idempotency-Key` replays the first successful reply; the same key with another payload
//! is `409` `invalid_idempotent_request`. Every reply is JSON with
//! `Content-Type: application/json`.
//!
//! # Mock-only behaviour
//!
//! The same on all three mocks:
//!
//! - `x-mock-status: <400..599>` on a request (after authentication) forces that status with
//!   a body in the vendor's shape. Stripe: `api_error` for 5xx, `card_error` for 402,
//!   `invalid_request_error` (`code: rate_limit` for 429) otherwise. Twilio: code
//!   `20000 + status` (20429, 20500, …; 20003 for 401). Resend: `rate_limit_exceeded` for
//!   429, `application_error` for 5xx, the documented name for 401/403/404/409,
//!   `validation_error` otherwise. Nothing is created and nothing is saved under an
//!   idempotency key, so a retry fails the same way. Any other value is refused as a bad
//!   parameter (Stripe 400, Twilio 400 code 21200, Resend 422).
//! - `x-mock-delay-ms: <0..30000>` holds every reply back that many milliseconds, refusals
//!   included, so tests can keep calls in flight or make a client time out. The request
//!   takes effect *before* the wait: an object created by a call whose client gave up
//!   exists, as it would at a slow real vendor. Any other value is refused like a bad
//!   `x-mock-status`.
//! - `GET /__mock/requests` on each mock's port returns, oldest first, every request its
//!   vendor routes received (refused ones included, recorded before authentication), as a
//!   JSON array of [`RecordedRequest`]:
//!   ```json
//!   [{"method": "POST",
//!     "path": "/v1/payment_intents?expand[]=latest_charge",
//!     "headers": {"authorization": "Bearer sk_test_...", "x-repeated": "a, b"},
//!     "header_list": [["authorization", "Bearer sk_test_..."], ["x-repeated", "a"], ["x-repeated", "b"]],
//!     "body": "amount=1000&currency=usd",
//!     "time_ms": 1790000000000}]
//!   ```
//!   `headers` maps each lower-case name to its value, repeated headers joined with `", "`;
//!   `header_list` keeps every `[name, value]` pair in arrival order. `body` is the raw body
//!   as UTF-8 (invalid bytes replaced). `DELETE /__mock/requests` clears the log (204).
//!   Neither route needs credentials, and neither is recorded.
//! - `GET /__mock/billed` on the Stripe and Twilio mocks returns what the vendor bills, one
//!   [`Bill`] per request that changed it, oldest first, and their sum:
//!   ```json
//!   {"entries": [{"time_ms": 1790000000000, "method": "POST",
//!                 "path": "/v1/payment_intents/pi_1/capture", "object": "ch_1",
//!                 "amount": 1000, "currency": "usd", "micro_usd": 10000000}],
//!    "total_micro_usd": 10000000}
//!   ```
//!   `amount` is in the currency's minor unit (Stripe; `null` for Twilio), `micro_usd` the same
//!   in micro-US dollars (`null` for a currency other than USD). `DELETE /__mock/billed` clears
//!   it (204). No credentials; not recorded.

pub mod billing;
mod dates;
mod gzip;
mod idempotency;
mod ids;
pub mod inject;
pub mod recorder;
pub mod resend;
#[cfg(test)]
mod rng;
pub mod stripe;
pub mod twilio;
mod vendor;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use billing::{Bill, Billed, Billing};
pub use recorder::{RecordedRequest, Recorder};
pub use resend::{resend_app, serve_resend, ResendMock, DEFAULT_RESEND_KEY};
pub use stripe::{
    serve_stripe, stripe_app, StripeMock, DEFAULT_STRIPE_KEY, DEFAULT_STRIPE_VERSION,
};
pub use twilio::{
    serve_twilio, twilio_app, TwilioMock, DEFAULT_TWILIO_ACCOUNT_SID, DEFAULT_TWILIO_AUTH_TOKEN,
};

/// Serves `app` on a pre-bound `listener` until `shutdown` resolves, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
