//! The HTTP API: which routes exist and which credential each one takes.

mod audit;
mod dataplane;
pub mod keys;
mod lease;
mod ops;
mod prices;
mod rates;
mod vendors;

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use axum::Router;
use keybrake_core::audit::AUDIT_PATH;
use keybrake_core::config::SNAPSHOT_PATH;
use keybrake_core::lease::{LEASE_PATH, USAGE_PATH};

/// Every route of the control plane.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/vault/keys", get(keys::list).post(keys::issue))
        .route("/vault/keys/{key_id}", get(keys::show).delete(keys::revoke))
        .route("/vendors", get(vendors::list))
        .route("/vendors/{vendor}/credentials", put(vendors::set))
        .route("/rates", get(rates::list))
        .route("/rates/{currency}", put(rates::set).delete(rates::delete))
        .route("/audit", get(audit::list))
        .route("/audit/gaps", get(audit::gaps))
        .route("/spend", get(audit::spend))
        .route("/prices", get(prices::list))
        .route("/prices/{vendor}", put(prices::set).delete(prices::reset))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin));
    let dataplane = Router::new()
        .route(SNAPSHOT_PATH, get(dataplane::snapshot))
        .route(LEASE_PATH, post(lease::lease))
        .route(
            USAGE_PATH,
            post(lease::usage).layer(DefaultBodyLimit::max(state.limits.body_limit(USAGE_PATH))),
        )
        .route(
            AUDIT_PATH,
            post(audit::ingest).layer(DefaultBodyLimit::max(state.limits.body_limit(AUDIT_PATH))),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_dataplane));
    let open = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics));
    Router::new()
        .merge(admin)
        .merge(dataplane)
        .merge(open)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::malformed("the request path could not be decoded")
    }
}
