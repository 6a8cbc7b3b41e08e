//! Why keybrake refused a call, and the refusal shaped like the vendor's own error so that the
//! agent's SDK raises its usual exception with a message that says what to do.

use crate::vendor::Vendor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Header carrying the deny reason on every local refusal.
pub const DENY_REASON_HEADER: &str = "x-keybrake-deny-reason";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    UnknownKey,
    KeyExpired,
    KeyRevoked,
    WrongVendor,
    EndpointNotAllowed,
    SpendCapExceeded,
    CurrencyNotSupported,
    PolicyUnavailable,
    BadRequest,
    /// The call can move money the request does not bound (a refund without `amount`, a
    /// subscription, an endpoint keybrake does not know): refused on every capped key.
    CostNotBounded,
}

/// A local reply ready for the host to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenyResponse {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

// === impl DenyReason ===

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::UnknownKey => "unknown_key",
            DenyReason::KeyExpired => "key_expired",
            DenyReason::KeyRevoked => "key_revoked",
            DenyReason::WrongVendor => "wrong_vendor",
            DenyReason::EndpointNotAllowed => "endpoint_not_allowed",
            DenyReason::SpendCapExceeded => "spend_cap_exceeded",
            DenyReason::CurrencyNotSupported => "currency_not_supported",
            DenyReason::PolicyUnavailable => "policy_unavailable",
            DenyReason::BadRequest => "bad_request",
            DenyReason::CostNotBounded => "cost_not_bounded",
        }
    }

    /// One mapping from reason to HTTP status: 401 for key problems, 403 for policy, 400 for
    /// input, 503 while the gateway has no fresh policy. Never 402, 409 or 5xx-with-retry, which
    /// SDKs read as card errors or retry.
    pub fn status(self) -> u32 {
        match self {
            DenyReason::UnknownKey
            | DenyReason::KeyExpired
            | DenyReason::KeyRevoked
            | DenyReason::WrongVendor => 401,
            DenyReason::EndpointNotAllowed
            | DenyReason::SpendCapExceeded
            | DenyReason::CostNotBounded => 403,
            DenyReason::CurrencyNotSupported | DenyReason::BadRequest => 400,
            DenyReason::PolicyUnavailable => 503,
        }
    }

    /// What happened and what the agent can do about it. Never names a secret.
    pub fn message(self) -> &'static str {
        match self {
            DenyReason::UnknownKey => "keybrake: this vault key is not known to the gateway. Use the vault key issued for this run, or ask for a new one.",
            DenyReason::KeyExpired => "keybrake: this vault key has expired. Ask for a new vault key for this run.",
            DenyReason::KeyRevoked => "keybrake: this vault key has been revoked. Stop and ask an operator; do not retry.",
            DenyReason::WrongVendor => "keybrake: this vault key was issued for a different vendor. Use a vault key issued for this vendor.",
            DenyReason::EndpointNotAllowed => "keybrake: this vault key may not call this endpoint. Only the endpoints on the key's allowlist are permitted.",
            DenyReason::SpendCapExceeded => "keybrake: this call would exceed the vault key's daily spend cap. Do not retry today; ask an operator for a higher cap.",
            DenyReason::CurrencyNotSupported => "keybrake: this currency has no conversion rate configured, so its cost cannot be counted. Use a supported currency.",
            DenyReason::PolicyUnavailable => "keybrake: the gateway could not get a current policy, or more of this key's budget, from the control plane, so it refuses the call. Try again shortly.",
            DenyReason::BadRequest => "keybrake: the request could not be checked against the key's policy (malformed path, header or body).",
            DenyReason::CostNotBounded => "keybrake: this call can move money that the request does not bound, so a capped vault key may not make it.",
        }
    }

    /// The refusal in `vendor`'s own error shape (Stripe's when the vendor is not known).
    pub fn response(self, vendor: Option<Vendor>) -> DenyResponse {
        self.response_with(vendor, None)
    }

    /// The refusal with `advice` (what to do instead, never a secret) after the reason's message.
    pub fn response_with(self, vendor: Option<Vendor>, advice: Option<&str>) -> DenyResponse {
        let message = match advice {
            Some(a) => format!("{} {}", self.message(), capitalized(a)),
            None => self.message().to_owned(),
        };
        let status = self.status();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            (DENY_REASON_HEADER, self.as_str().to_owned()),
        ];
        if status == 503 {
            headers.push(("retry-after", "1".to_owned()));
        }
        let body = match vendor.unwrap_or(Vendor::Stripe) {
            Vendor::Stripe => {
                headers.push(("stripe-should-retry", "false".to_owned()));
                serde_json::json!({"error": {
                    "type": "invalid_request_error",
                    "code": self.as_str(),
                    "message": message,
                }})
            }
            Vendor::Twilio => serde_json::json!({
                "code": self.twilio_code(),
                "message": message,
                "more_info": format!("https://github.com/keybrake/keybrake#{}", self.as_str()),
                "status": status,
            }),
            Vendor::Resend => serde_json::json!({
                "statusCode": status,
                "message": message,
                "name": self.as_str(),
            }),
        };
        DenyResponse {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// Twilio error codes closest in meaning, so that agents reading `code` behave sensibly.
    fn twilio_code(self) -> u32 {
        match self {
            DenyReason::UnknownKey
            | DenyReason::KeyExpired
            | DenyReason::KeyRevoked
            | DenyReason::WrongVendor => 20003,
            DenyReason::EndpointNotAllowed
            | DenyReason::SpendCapExceeded
            | DenyReason::CostNotBounded => 20403,
            DenyReason::CurrencyNotSupported | DenyReason::BadRequest => 21000,
            DenyReason::PolicyUnavailable => 20503,
        }
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "deny_tests.rs"]
mod tests;
