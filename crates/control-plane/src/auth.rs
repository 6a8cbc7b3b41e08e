//! Bearer-token checks: the admin key for the admin API, the data-plane token for gateways.
//! Neither works in the other's place. Comparison is constant-time.

use crate::error::{ApiError, Credential};
use crate::extract::bearer;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;
use subtle::ConstantTimeEq;

/// True when the request carries exactly `expected` as its bearer token.
fn presents(req: &Request, expected: &str) -> bool {
    bearer(req.headers()).is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())))
}

/// Admits requests bearing the admin key.
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if presents(&req, state.admin_key.expose()) {
        return next.run(req).await;
    }
    state
        .counters
        .admin_auth_failures
        .fetch_add(1, Ordering::Relaxed);
    ApiError::Unauthorized(Credential::AdminKey).into_response()
}

/// Admits requests bearing the data-plane token.
pub async fn require_dataplane(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if presents(&req, state.dataplane_token.expose()) {
        return next.run(req).await;
    }
    state
        .counters
        .dataplane_auth_failures
        .fetch_add(1, Ordering::Relaxed);
    ApiError::Unauthorized(Credential::DataplaneToken).into_response()
}
