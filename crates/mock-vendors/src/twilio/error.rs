//! Twilio's error replies: one enum, one exhaustive mapping to status and body
//! `{"code", "message", "more_info", "status"}`.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// Everything the Twilio mock can refuse a request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwilioError {
    /// No credentials, or not the registered ones (20003).
    Authenticate,
    /// No such route, object, or an account other than the authenticated one (20404).
    NotFound { path: String },
    /// A known resource with a method it does not take (20004).
    MethodNotAllowed { method: String },
    /// `To` absent on a message (21604).
    ToMissing,
    /// `To` not a phone number Twilio can deliver to (21211).
    InvalidTo { to: String },
    /// Neither `From` nor `MessagingServiceSid` on a message (21603).
    FromMissing,
    /// `From` not a number, short code or alphanumeric sender id (21212).
    InvalidFrom { from: String },
    /// `MessagingServiceSid` not an `MG…` SID (21701).
    InvalidMessagingService { sid: String },
    /// Neither `Body` nor `MediaUrl` on a message (21602).
    BodyMissing,
    /// `Body` over 1,600 characters (21617).
    BodyTooLong,
    /// `To` absent on a call (21201).
    CallToMissing,
    /// `From` absent on a call (21213).
    CallFromMissing,
    /// None of `Url`, `Twiml`, `ApplicationSid` on a call (21205).
    CallInstructionsMissing,
    /// An update of a call that is over (21220).
    CallNotInProgress,
    /// Any other invalid parameter (21200 family; mock-only headers included).
    InvalidParameter { message: String },
    /// A status forced with the mock-only `x-mock-status` header.
    Injected { status: StatusCode },
}

impl TwilioError {
    /// The HTTP status and JSON body Twilio answers with.
    pub fn to_reply(&self) -> (StatusCode, Value) {
        let (status, code, message) = self.parts();
        let body = json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        });
        (status, body)
    }

    fn parts(&self) -> (StatusCode, u32, String) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            Self::Authenticate => (StatusCode::UNAUTHORIZED, 20003, "Authenticate".to_owned()),
            Self::NotFound { path } => (
                StatusCode::NOT_FOUND,
                20404,
                format!("The requested resource {path} was not found"),
            ),
            Self::MethodNotAllowed { method } => (
                StatusCode::METHOD_NOT_ALLOWED,
                20004,
                format!("Method {method} not allowed"),
            ),
            Self::ToMissing => (bad, 21604, "A 'To' phone number is required.".to_owned()),
            Self::InvalidTo { to } => (
                bad,
                21211,
                format!("The 'To' number {to} is not a valid phone number."),
            ),
            Self::FromMissing => (bad, 21603, "A 'From' phone number is required.".to_owned()),
            Self::InvalidFrom { from } => (
                bad,
                21212,
                format!(
                    "The 'From' number {from} is not a valid phone number, shortcode, or \
                     alphanumeric sender ID."
                ),
            ),
            Self::InvalidMessagingService { sid } => (
                bad,
                21701,
                format!("The Messaging Service Sid {sid} is invalid."),
            ),
            Self::BodyMissing => (bad, 21602, "Message body is required.".to_owned()),
            Self::BodyTooLong => (
                bad,
                21617,
                "The concatenated message body exceeds the 1600 character limit.".to_owned(),
            ),
            Self::CallToMissing => (bad, 21201, "No 'To' number is specified".to_owned()),
            Self::CallFromMissing => (bad, 21213, "No 'From' number is specified".to_owned()),
            Self::CallInstructionsMissing => (
                bad,
                21205,
                "Either a Url, Twiml or ApplicationSid parameter is required.".to_owned(),
            ),
            Self::CallNotInProgress => (
                bad,
                21220,
                "Call is not in-progress. Cannot redirect.".to_owned(),
            ),
            Self::InvalidParameter { message } => (bad, 21200, message.clone()),
            Self::Injected { status } => injected(*status),
        }
    }
}

/// The body for a status forced with `x-mock-status`: Twilio's 20xxx code for the status.
fn injected(status: StatusCode) -> (StatusCode, u32, String) {
    let message = match status.as_u16() {
        401 => "Authenticate",
        404 => "The requested resource was not found (mock failure injected with x-mock-status)",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        500.. => "Internal Server Error (mock failure injected with x-mock-status)",
        _ => "Request refused (mock failure injected with x-mock-status)",
    };
    let code = match status.as_u16() {
        401 => 20003,
        other => 20_000 + u32::from(other),
    };
    (status, code, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let cases = [
            (
                "auth",
                TwilioError::Authenticate,
                401,
                json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
            ),
            (
                "missing to",
                TwilioError::ToMissing,
                400,
                json!({"code": 21604, "message": "A 'To' phone number is required.", "more_info": "https://www.twilio.com/docs/errors/21604", "status": 400}),
            ),
            (
                "rate limit",
                TwilioError::Injected {
                    status: StatusCode::TOO_MANY_REQUESTS,
                },
                429,
                json!({"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}),
            ),
        ];
        for (name, error, status, body) in cases {
            let (got_status, got_body) = error.to_reply();
            assert_eq!(got_status.as_u16(), status, "{name}");
            assert_eq!(got_body, body, "{name}");
        }
    }
}
