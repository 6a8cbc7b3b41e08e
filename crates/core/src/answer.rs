//! Vendor answers that carry the real credential back to the caller, and how the filter
//! withholds it.
//!
//! keybrake's promise is that an agent never holds a real vendor credential. Some vendor
//! endpoints answer with one (each vendor's API reference names the field):
//! - Twilio's Account resource (`GET`/`POST /2010-04-01/Accounts/{Sid}.json`, the account list
//!   and subaccount creation `/2010-04-01/Accounts.json`): `auth_token`;
//! - Twilio API keys and signing keys created (`POST …/Keys.json`, `POST …/SigningKeys.json`):
//!   `secret`; Twilio Network Traversal tokens (`POST …/Tokens.json`): `password` and each ICE
//!   server's `credential`;
//! - Resend API keys created (`POST /api-keys`): `token`;
//! - Stripe ephemeral keys and webhook endpoints created (`POST /v1/ephemeral_keys`,
//!   `POST /v1/webhook_endpoints`): `secret`.
//!
//! A call to such an endpoint may still be allowed (twilio-python's
//! `client.api.v2010.account.fetch()` reads the account's status), but the filter buffers its
//! answer and replaces each credential field with [`crate::redact::REDACTED`] before the agent
//! sees it. An answer that cannot be read as JSON is withheld whole.

use crate::redact::REDACTED;
use crate::vendor::Vendor;
use serde_json::Value;

/// The Twilio Account resource's credential field.
const TWILIO_ACCOUNT_FIELDS: &[&str] = &["auth_token"];
/// A new key's secret (Twilio API and signing keys; Stripe ephemeral keys and webhook
/// endpoints' signing secrets).
const SECRET_FIELDS: &[&str] = &["secret"];
/// A Network Traversal token's TURN credentials.
const TWILIO_TOKEN_FIELDS: &[&str] = &["password", "credential"];
/// A new Resend API key.
const RESEND_KEY_FIELDS: &[&str] = &["token"];

/// What stands in for an answer that could not be checked (not JSON, or compressed although
/// the filter asked for an uncompressed one).
pub const WITHHELD: &str = r#"{"message":"keybrake: this answer may hold a vendor credential and could not be checked, so it was withheld."}"#;

/// The fields to take out of the answer to `method` `path` (the vendor's own path segments,
/// method upper-case), or `None` when the answer carries no credential.
pub fn credential_fields(
    vendor: Vendor,
    method: &str,
    path: &[String],
) -> Option<&'static [&'static str]> {
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    match (vendor, method, segs.as_slice()) {
        (Vendor::Twilio, "GET" | "POST", ["2010-04-01", "Accounts.json"]) => {
            Some(TWILIO_ACCOUNT_FIELDS)
        }
        (Vendor::Twilio, "GET" | "POST", ["2010-04-01", "Accounts", account])
            if account.ends_with(".json") =>
        {
            Some(TWILIO_ACCOUNT_FIELDS)
        }
        (
            Vendor::Twilio,
            "POST",
            ["2010-04-01", "Accounts", _, "Keys.json" | "SigningKeys.json"],
        ) => Some(SECRET_FIELDS),
        (Vendor::Twilio, "POST", ["2010-04-01", "Accounts", _, "Tokens.json"]) => {
            Some(TWILIO_TOKEN_FIELDS)
        }
        (Vendor::Resend, "POST", ["api-keys"]) => Some(RESEND_KEY_FIELDS),
        (Vendor::Stripe, "POST", ["v1", "ephemeral_keys" | "webhook_endpoints"]) => {
            Some(SECRET_FIELDS)
        }
        _ => None,
    }
}

/// `body` with every member named in `fields`, at any depth, replaced by `"[redacted]"`.
/// `encoding` is the answer's `Content-Encoding`: anything but none or `identity` cannot be
/// read here, so the answer is withheld ([`WITHHELD`]), as is one that is not JSON. A member
/// that is `null` stays `null`.
pub fn withhold_credentials(body: &[u8], encoding: Option<&[u8]>, fields: &[&str]) -> Vec<u8> {
    let identity =
        encoding.is_none_or(|e| e.trim_ascii().is_empty() || e.eq_ignore_ascii_case(b"identity"));
    if !identity {
        return WITHHELD.as_bytes().to_vec();
    }
    if body.is_empty() {
        return Vec::new();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_members(&mut value, fields);
            serde_json::to_vec(&value).unwrap_or_else(|_| WITHHELD.as_bytes().to_vec())
        }
        Err(_) => WITHHELD.as_bytes().to_vec(),
    }
}

fn redact_members(value: &mut Value, fields: &[&str]) {
    match value {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                if fields.contains(&name.as_str()) && !member.is_null() {
                    *member = Value::String(REDACTED.to_owned());
                } else {
                    redact_members(member, fields);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_members(item, fields);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
