//! The operator console at `/ui`: server-rendered pages (askama templates in `templates/ui/`)
//! enhanced with htmx, every asset embedded in the binary, so it works offline and with no CDN.
//!
//! Signing in trades the admin key for a session cookie (HttpOnly, SameSite=Strict, Secure
//! behind TLS, expiring); the key itself is never stored where a page script could read it.
//! Every state-changing form is a same-origin POST carrying the session's CSRF token (see
//! [`guard`]). Every answer carries a Content-Security-Policy without inline script,
//! `X-Frame-Options: DENY` and a `Referrer-Policy`.
//!
//! The pages read through the same store and ledger code as the API, and issuing or revoking
//! a key goes through the API's own handlers, so a revocation answers once the gateways hold it.

mod assets;
mod audit;
mod gateways;
mod guard;
mod keys;
mod page;
mod session;
mod spend;
mod view;

pub use session::{Sessions, UiSettings, COOKIE, DEFAULT_SESSION_TTL};

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

/// Largest form the console accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What every console answer's `Content-Security-Policy` says: scripts, styles and
/// connections only from this origin (no inline script or style, no eval), no framing, forms
/// only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, under `/ui`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/keys") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/keys") }))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/keys", get(keys::list).post(keys::issue))
        .route("/ui/keys/{key_id}", get(keys::detail))
        .route("/ui/keys/{key_id}/revoke", post(keys::revoke))
        .route("/ui/spend", get(spend::page))
        .route("/ui/audit", get(audit::page))
        .route("/ui/audit/stream", get(audit::stream))
        .route("/ui/gateways", get(gateways::page))
        .route("/ui/assets/{name}", get(assets::serve))
        // Any other path under /ui is the console's own 404, with its headers.
        .route("/ui/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

/// A console path that names no page.
async fn not_found() -> (
    axum::http::StatusCode,
    [(header::HeaderName, &'static str); 1],
    &'static str,
) {
    (
        axum::http::StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "keybrake console: no such page. Start at /ui/keys.\n",
    )
}

/// Adds the console's security headers; pages (everything but assets) are never cached.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    // `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends `Origin: null` on
    // the console's own form posts, which the same-origin check must refuse. No referrer ever
    // leaves for another origin either way.
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
