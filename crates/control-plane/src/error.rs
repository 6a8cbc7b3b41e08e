//! The one error type every handler returns, and its one mapping to an HTTP status and the
//! JSON body `{"error": {"type", "message", "field"}}`.
//!
//! Messages are written for the caller: they say what was wrong and never carry internal detail
//! or a secret. Internal causes are logged, not returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a field is invalid. `field` names the offending field when
    /// there is one.
    #[error("{message}")]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    /// No credential, or the wrong one, for this endpoint; the message names the one it needs.
    #[error("missing or invalid bearer token: {0}")]
    Unauthorized(Credential),
    /// The addressed resource does not exist.
    #[error("{message}")]
    NotFound {
        field: Option<String>,
        message: String,
    },
    /// A gateway asked for a lease on a revoked key.
    #[error("vault key {0} is revoked")]
    KeyRevoked(String),
    /// A gateway asked for a lease on an expired key.
    #[error("vault key {0} has expired")]
    KeyExpired(String),
    /// A gateway asked for a lease on a UTC day that is not the control plane's today (its
    /// clock is off, or the request crossed midnight).
    #[error("the request counts UTC day {asked}, but today is day {today} on the control plane")]
    StaleDay { asked: u32, today: u32 },
    #[error("this endpoint does not accept that HTTP method")]
    MethodNotAllowed,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The database could not be reached ([`crate::store::StoreError::is_unavailable`]): worth
    /// asking again, here or at another replica. The cause is logged, never returned.
    #[error(
        "the control plane cannot reach its database just now; ask again (another replica may \
         answer)"
    )]
    Unavailable(#[source] anyhow::Error),
    /// Something failed on our side. The cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The bearer credential an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The admin API (`/vault/…`, `/audit`, `/vendors/…`, …).
    AdminKey,
    /// The gateways' API (`/dataplane/…`).
    DataplaneToken,
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AdminKey => "this endpoint takes the admin key (`Authorization: Bearer kba_…`; the CLI reads it from KEYBRAKE_ADMIN_KEY, and `make run` keeps it in admin.key in its data folder)",
            Self::DataplaneToken => "this endpoint is for gateways and takes the data-plane token (KEYBRAKE_DATAPLANE_TOKEN), not the admin key",
        })
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: String,
    field: Option<&'a str>,
}

// === impl ApiError ===

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An invalid request that no single field is to blame for.
    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            field: None,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// The one mapping from error to status and wire `type`.
    pub fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::KeyRevoked(_) => (StatusCode::FORBIDDEN, "key_revoked"),
            ApiError::KeyExpired(_) => (StatusCode::FORBIDDEN, "key_expired"),
            ApiError::StaleDay { .. } => (StatusCode::CONFLICT, "stale_day"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest { field, .. } | ApiError::NotFound { field, .. } => {
                field.as_deref()
            }
            ApiError::KeyRevoked(_) | ApiError::KeyExpired(_) => Some("usage.key_id"),
            ApiError::StaleDay { .. } => Some("usage.day"),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_type();
        match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = chain_text(cause), "request failed");
            }
            ApiError::Unavailable(cause) => {
                // Every gateway asks a few times a second while the database is away.
                static THROTTLE: LogThrottle = LogThrottle::new(UNAVAILABLE_LOG_EVERY_MS);
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                if let Some(held_back) = THROTTLE.admit(now_ms) {
                    tracing::warn!(
                        error = chain_text(cause),
                        held_back,
                        "requests answered 503: the database is unavailable (one line per 10 s; \
                         held_back: how many more since the last line)"
                    );
                }
            }
            _ => {}
        }
        let body = Body {
            error: Detail {
                kind,
                message: self.to_string(),
                field: self.field(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable(e.into())
        } else {
            ApiError::internal(e)
        }
    }
}

/// At most one log line per this many milliseconds for requests answered 503 `unavailable`.
pub const UNAVAILABLE_LOG_EVERY_MS: u64 = 10_000;

/// Lets one log line through per period and counts the ones it held back, for failures that
/// repeat many times a second while they last (a database away). Lock-free; shared by every
/// request of the process.
#[derive(Debug)]
pub struct LogThrottle {
    every_ms: u64,
    /// Unix ms of the last line let through, 0 before the first.
    last_ms: AtomicU64,
    held_back: AtomicU64,
}

impl LogThrottle {
    pub const fn new(every_ms: u64) -> Self {
        Self {
            every_ms,
            last_ms: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// At `now_ms` (Unix ms): `Some(n)` when a line may be written, `n` the lines held back
    /// since the last one; `None` when it is to be held back.
    pub fn admit(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == 0 || now_ms.saturating_sub(last) >= self.every_ms;
        if due
            && self
                .last_ms
                .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// `error` and its causes, outermost first, joined with `: `, leaving out a cause whose text
/// the message already holds. (`{:#}` repeats them: several error types print their source in
/// their own message, so a refused PostgreSQL connection read "postgres: error connecting to
/// server: error connecting to server: Connection refused".)
pub fn chain_text(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod throttle_tests {
    use super::LogThrottle;

    #[test]
    fn one_line_per_period_with_the_count_held_back() {
        let t = LogThrottle::new(10_000);
        assert_eq!(t.admit(1_000), Some(0), "the first goes through");
        assert_eq!(t.admit(1_001), None);
        assert_eq!(t.admit(10_999), None);
        assert_eq!(
            t.admit(11_000),
            Some(2),
            "a period later, with the two held back"
        );
        assert_eq!(t.admit(11_001), None);
        assert_eq!(t.admit(30_000), Some(1));
        assert_eq!(t.admit(30_000), None);
    }
}

#[cfg(test)]
mod chain_tests {
    use super::chain_text;

    #[derive(Debug, thiserror::Error)]
    #[error("postgres: {0}")]
    struct Outer(#[from] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("error connecting to server")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = anyhow::Error::new(Outer(Inner(io))).context("database");
        assert_eq!(
            chain_text(&e),
            "database: postgres: error connecting to server: Connection refused"
        );
        assert_eq!(
            format!("{e:#}"),
            "database: postgres: error connecting to server: error connecting to server: Connection refused",
            "what {{:#}} printed"
        );
    }
}
