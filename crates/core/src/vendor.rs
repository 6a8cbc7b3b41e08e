//! The vendors keybrake fronts: how each one presents a key, and what its real credential
//! looks like on the way out.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A vendor whose API keybrake fronts. Its name is also the gateway's route prefix
/// (`/stripe/…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Stripe,
    Twilio,
    Resend,
}

/// A vendor's real credential, as the control plane stores it (encrypted) and delivers it to
/// the gateways in the snapshot. Its `Debug` never prints a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "vendor", rename_all = "snake_case", deny_unknown_fields)]
pub enum VendorCredential {
    Stripe {
        api_key: String,
    },
    Resend {
        api_key: String,
    },
    /// The Account SID (always: it is in every request path) with either the account's Auth
    /// Token or an API key (`SK…` SID and secret). The control plane stores exactly one form.
    Twilio {
        account_sid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auth_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_sid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_secret: Option<String>,
    },
}

// === impl Vendor ===

impl Vendor {
    pub const ALL: [Vendor; 3] = [Vendor::Stripe, Vendor::Twilio, Vendor::Resend];

    /// The response header that carries the vendor's id of a request (Stripe's `Request-Id`,
    /// Twilio's `Twilio-Request-Id`), recorded in the audit trail; Resend sends none.
    pub fn request_id_header(self) -> Option<&'static str> {
        match self {
            Vendor::Stripe => Some("request-id"),
            Vendor::Twilio => Some("twilio-request-id"),
            Vendor::Resend => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Stripe => "stripe",
            Vendor::Twilio => "twilio",
            Vendor::Resend => "resend",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The vendor a gateway path is routed to, from its first segment, and how many leading
    /// segments are the gateway's own prefix: `/stripe/v1/…` is Stripe's `/v1/…`. Stripe's own
    /// `/v1/…` is also Stripe's, unprefixed, for SDKs that fix the path (stripe-node).
    pub fn route(first_segment: &str) -> Option<(Self, usize)> {
        match Self::from_name(first_segment) {
            Some(v) => Some((v, 1)),
            None if first_segment == "v1" => Some((Vendor::Stripe, 0)),
            None => None,
        }
    }

    /// Pulls the vault key out of an `Authorization` header value in the forms the vendor's
    /// SDKs send: `Bearer <key>` (Stripe, Resend), `Basic base64(<key>:)` (Stripe), or
    /// `Basic base64(<any account sid>:<key>)` (Twilio). The scheme is case-insensitive.
    pub fn presented_key(self, authorization: &[u8]) -> Option<String> {
        let value = std::str::from_utf8(authorization).ok()?.trim();
        let (scheme, rest) = value.split_once([' ', '\t'])?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return match self {
                Vendor::Stripe | Vendor::Resend => non_empty(rest),
                Vendor::Twilio => None,
            };
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = B64.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        match self {
            Vendor::Stripe => non_empty(user),
            Vendor::Twilio => non_empty(password),
            Vendor::Resend => None,
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl VendorCredential ===

impl VendorCredential {
    pub fn vendor(&self) -> Vendor {
        match self {
            VendorCredential::Stripe { .. } => Vendor::Stripe,
            VendorCredential::Resend { .. } => Vendor::Resend,
            VendorCredential::Twilio { .. } => Vendor::Twilio,
        }
    }

    /// The `Authorization` value that replaces the vault key on the way to the vendor. Twilio:
    /// Basic with the API key when both its SID and secret are set, else with the Account SID
    /// and Auth Token.
    pub fn authorization(&self) -> String {
        match self {
            VendorCredential::Stripe { api_key } | VendorCredential::Resend { api_key } => {
                format!("Bearer {api_key}")
            }
            VendorCredential::Twilio {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
            } => {
                let pair = match (api_key_sid, api_key_secret) {
                    (Some(sid), Some(secret)) => format!("{sid}:{secret}"),
                    _ => format!("{account_sid}:{}", auth_token.as_deref().unwrap_or("")),
                };
                format!("Basic {}", B64.encode(pair))
            }
        }
    }

    /// Every secret string in this credential, for redaction and leak scans.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            VendorCredential::Stripe { api_key } | VendorCredential::Resend { api_key } => {
                vec![api_key]
            }
            VendorCredential::Twilio {
                auth_token,
                api_key_secret,
                ..
            } => [auth_token, api_key_secret]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        }
    }
}

impl fmt::Debug for VendorCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VendorCredential({}, <redacted>)", self.vendor())
    }
}

#[cfg(test)]
#[path = "vendor_tests.rs"]
mod tests;
