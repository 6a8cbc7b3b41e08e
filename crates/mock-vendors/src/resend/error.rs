//! Resend's error replies: one enum, one exhaustive mapping to status and body
//! `{"statusCode", "message", "name"}`.

use axum::http::StatusCode;
use serde_json::{json, Value};

const MISSING_KEY_MESSAGE: &str = "Missing API key in the authorization header. Include the \
following header Authorization: Bearer YOUR_API_KEY in the request.";

/// Everything the Resend mock can refuse a request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResendError {
    /// No `Authorization: Bearer …` header.
    MissingApiKey,
    /// A key other than the registered one.
    InvalidApiKey,
    /// No such endpoint.
    NoSuchEndpoint,
    /// No email with that id.
    EmailNotFound,
    /// A known endpoint with a method it does not take.
    MethodNotAllowed { method: String },
    /// A required field is absent, null or empty.
    MissingField { field: &'static str },
    /// Neither `html` nor `text` (nor a `template`).
    MissingContent,
    /// Any other invalid field, with the message naming it.
    Invalid { message: String },
    /// An attachment with neither `content` nor `path`, or without `filename`.
    InvalidAttachment,
    /// An `Idempotency-Key` outside 1 to 256 characters.
    InvalidIdempotencyKey,
    /// An `Idempotency-Key` reused with a different payload.
    IdempotencyMismatch,
    /// A status forced with the mock-only `x-mock-status` header.
    Injected { status: StatusCode },
}

impl ResendError {
    /// An invalid-field error with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    /// The HTTP status and JSON body Resend answers with.
    pub fn to_reply(&self) -> (StatusCode, Value) {
        let (status, name, message) = self.parts();
        let body = json!({
            "statusCode": status.as_u16(),
            "message": message,
            "name": name,
        });
        (status, body)
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match self {
            Self::MissingApiKey => (
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                MISSING_KEY_MESSAGE.to_owned(),
            ),
            Self::InvalidApiKey => (
                StatusCode::FORBIDDEN,
                "invalid_api_key",
                "API key is invalid".to_owned(),
            ),
            Self::NoSuchEndpoint => (
                StatusCode::NOT_FOUND,
                "not_found",
                "The requested endpoint does not exist.".to_owned(),
            ),
            Self::EmailNotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Email not found".to_owned(),
            ),
            Self::MethodNotAllowed { method } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("Method {method} is not allowed on this endpoint."),
            ),
            Self::MissingField { field } => (
                unprocessable,
                "missing_required_field",
                format!("Missing `{field}` field."),
            ),
            Self::MissingContent => (
                unprocessable,
                "missing_required_field",
                "Missing `html` or `text` field.".to_owned(),
            ),
            Self::Invalid { message } => (unprocessable, "validation_error", message.clone()),
            Self::InvalidAttachment => (
                unprocessable,
                "invalid_attachment",
                "Attachment must have a `filename` and either a `content` or a `path`.".to_owned(),
            ),
            Self::InvalidIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "The key must be between 1-256 chars.".to_owned(),
            ),
            Self::IdempotencyMismatch => (
                StatusCode::CONFLICT,
                "invalid_idempotent_request",
                "Same idempotency key used with a different request payload. Change your \
                 idempotency key or try with the same payload."
                    .to_owned(),
            ),
            Self::Injected { status } => injected(*status),
        }
    }
}

/// The body for a status forced with `x-mock-status`, named as Resend names it.
fn injected(status: StatusCode) -> (StatusCode, &'static str, String) {
    let (name, message) = match status.as_u16() {
        401 => ("missing_api_key", MISSING_KEY_MESSAGE),
        403 => ("invalid_api_key", "API key is invalid"),
        404 => ("not_found", "The requested endpoint does not exist."),
        409 => (
            "concurrent_idempotent_requests",
            "Same idempotency key used while original request is still in progress.",
        ),
        429 => (
            "rate_limit_exceeded",
            "Too many requests. You can only make 5 requests per second. See rate limit \
             response headers for more information.",
        ),
        500.. => (
            "application_error",
            "An unexpected error occurred (mock failure injected with x-mock-status).",
        ),
        _ => (
            "validation_error",
            "Request refused (mock failure injected with x-mock-status).",
        ),
    };
    (status, name, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let cases = [
            (
                "missing key",
                ResendError::MissingApiKey,
                json!({"statusCode": 401, "name": "missing_api_key", "message": MISSING_KEY_MESSAGE}),
            ),
            (
                "wrong key",
                ResendError::InvalidApiKey,
                json!({"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"}),
            ),
            (
                "missing to",
                ResendError::MissingField { field: "to" },
                json!({"statusCode": 422, "name": "missing_required_field", "message": "Missing `to` field."}),
            ),
            (
                "rate limit",
                ResendError::Injected {
                    status: StatusCode::TOO_MANY_REQUESTS,
                },
                json!({"statusCode": 429, "name": "rate_limit_exceeded"}),
            ),
        ];
        for (name, error, expected) in cases {
            let (status, body) = error.to_reply();
            assert_eq!(json!(status.as_u16()), expected["statusCode"], "{name}");
            for (field, value) in expected.as_object().into_iter().flatten() {
                assert_eq!(&body[field], value, "{name}: {field}");
            }
        }
    }
}
