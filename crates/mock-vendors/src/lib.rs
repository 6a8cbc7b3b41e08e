//! Local stand-ins for the vendor APIs keybrake fronts, for the end-to-end tests and
//! `make run`. Machines running them have no internet, so each mock answers like the real
//! vendor as far as the official SDKs can tell. Stripe is served today; Twilio and Resend
//! slot in beside it as `twilio.rs` and `resend.rs`, each on its own port.
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
//! ## Mock-only behaviour
//!
//! - `x-mock-status: <400..599>` on a request (after authentication) forces that status with
//!   a body of the type Stripe uses for it: `api_error` for 5xx, `card_error` for 402,
//!   `invalid_request_error` (`code: rate_limit` for 429) otherwise. Nothing is created and
//!   nothing is saved under the idempotency key, so a retry fails the same way. Any other
//!   value answers 400.
//! - `x-mock-delay-ms: <0..30000>` holds every reply back that many milliseconds, refusals
//!   included, so tests can keep calls in flight or make a client time out. The request
//!   takes effect *before* the wait: an object created by a call whose client gave up
//!   exists, as it would at a slow real vendor. Any other value answers 400.
//! - `GET /__mock/requests` returns, oldest first, every request the vendor routes received
//!   (refused ones included, recorded before authentication), as a JSON array of
//!   [`RecordedRequest`]:
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

mod gzip;
mod ids;
pub mod inject;
pub mod recorder;
pub mod stripe;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use recorder::{RecordedRequest, Recorder};
pub use stripe::{
    serve_stripe, stripe_app, StripeMock, DEFAULT_STRIPE_KEY, DEFAULT_STRIPE_VERSION,
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
