//! In-process tests of the control plane's router: every request goes through `app(state)`
//! with `tower::ServiceExt::oneshot`, against a fresh data directory under the OS temp dir.

// `cfg(test)` marks the helpers as test code for clippy's unwrap/panic allowances.
#[cfg(test)]
#[path = "api/support.rs"]
mod support;

#[cfg(test)]
#[path = "api/auth.rs"]
mod auth;
#[cfg(test)]
#[path = "api/dataplane.rs"]
mod dataplane;
#[cfg(test)]
#[path = "api/errors.rs"]
mod errors;
#[cfg(test)]
#[path = "api/keys.rs"]
mod keys;
#[cfg(test)]
#[path = "api/vendors.rs"]
mod vendors;
