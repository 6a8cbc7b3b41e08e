//! The Stripe mock through its router, in process: each behaviour the SDKs and the
//! end-to-end tests rely on, by name.

// Helpers here are test code too, but not `#[test]` functions, which is all that
// `allow-unwrap-in-tests` covers.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

mod auth;
mod follow_ups;
mod money;
mod protocol;
mod request_log;
mod resources;
