//! The end-to-end harness: starts the real processes on free ports and drives them over HTTP,
//! as a user would. Each test gets its own stack, so tests run beside each other and beside
//! `make run`.
//!
//! Binaries come from the environment the Makefile sets (`KEYBRAKE_ENVOY_BIN`, `KEYBRAKE_WASM`,
//! `KEYBRAKE_BIN_DIR`, `KEYBRAKE_PYTHON`), with defaults relative to the workspace.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod paths;
pub mod postgres;
pub mod process;
pub mod stack;
pub mod wait;

pub use stack::{
    deny_reason, IssuedKey, Stack, StackOptions, RESEND_KEY, STRIPE_KEY, TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
};
pub use wait::{wait_refused, wait_until};
