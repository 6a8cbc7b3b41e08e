//! `PUT /vendors/{vendor}/credentials` and the vendor views. A credential goes in; only whether
//! one is configured ever comes out.

use super::{kind, optional, required, FieldError, RawField};
use keybrake_core::{Vendor, VendorCredential};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest accepted credential string, in characters.
pub const MAX_SECRET_CHARS: usize = 512;

/// The body of `PUT /vendors/{vendor}/credentials` as it arrived: `api_key` for Stripe and
/// Resend; for Twilio `account_sid` with either `auth_token` or `api_key_sid` and
/// `api_key_secret`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    #[serde(default)]
    pub api_key: RawField,
    #[serde(default)]
    pub account_sid: RawField,
    #[serde(default)]
    pub auth_token: RawField,
    #[serde(default)]
    pub api_key_sid: RawField,
    #[serde(default)]
    pub api_key_secret: RawField,
}

/// How a Twilio API key's SID starts (an Account SID starts with `AC`).
pub const TWILIO_API_KEY_SID_PREFIX: &str = "SK";

/// Whether a vendor has a credential, and since when.
#[derive(Debug, Serialize, Deserialize)]
pub struct VendorStatus {
    pub vendor: Vendor,
    pub configured: bool,
    pub updated_at: Option<String>,
}

/// `{"vendors": [...]}`, one entry per vendor.
#[derive(Debug, Serialize, Deserialize)]
pub struct VendorList {
    pub vendors: Vec<VendorStatus>,
}

/// A vendor named in a path.
pub fn vendor_from_path(name: &str) -> Result<Vendor, FieldError> {
    Vendor::from_name(name).ok_or_else(|| {
        FieldError::new(
            "vendor",
            format!("unknown vendor {name:?}: use stripe, twilio or resend"),
        )
    })
}

fn secret(name: &str, v: Value) -> Result<String, FieldError> {
    let Value::String(s) = v else {
        return Err(FieldError::new(
            name,
            format!("{name} must be a string, not {}", kind(&v)),
        ));
    };
    if s.is_empty() {
        return Err(FieldError::new(name, format!("{name} must not be empty")));
    }
    if s.chars().count() > MAX_SECRET_CHARS {
        return Err(FieldError::new(
            name,
            format!("{name} must be at most {MAX_SECRET_CHARS} characters"),
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            name,
            format!("{name} must not contain whitespace or control characters"),
        ));
    }
    Ok(s)
}

fn refuse(vendor: Vendor, name: &str, raw: RawField, wants: &str) -> Result<(), FieldError> {
    match optional(name, raw)? {
        None => Ok(()),
        Some(_) => Err(FieldError::new(
            name,
            format!("{vendor} takes {wants}, not {name}"),
        )),
    }
}

// === impl CredentialsRequest ===

impl CredentialsRequest {
    /// Validates the body as `vendor`'s credential. (Not `TryFrom<(Vendor, Self)>`: the orphan
    /// rule forbids that impl for the core's `VendorCredential`.)
    pub fn for_vendor(self, vendor: Vendor) -> Result<VendorCredential, FieldError> {
        let r = self;
        match vendor {
            Vendor::Stripe | Vendor::Resend => {
                refuse(vendor, "account_sid", r.account_sid, "api_key")?;
                refuse(vendor, "auth_token", r.auth_token, "api_key")?;
                refuse(vendor, "api_key_sid", r.api_key_sid, "api_key")?;
                refuse(vendor, "api_key_secret", r.api_key_secret, "api_key")?;
                let api_key = secret("api_key", required("api_key", r.api_key)?)?;
                Ok(match vendor {
                    Vendor::Stripe => VendorCredential::Stripe { api_key },
                    _ => VendorCredential::Resend { api_key },
                })
            }
            Vendor::Twilio => {
                let forms = "account_sid with auth_token, or account_sid with api_key_sid and api_key_secret";
                refuse(vendor, "api_key", r.api_key, forms)?;
                let account_sid = secret("account_sid", required("account_sid", r.account_sid)?)?;
                let token = optional("auth_token", r.auth_token)?;
                let key_sid = optional("api_key_sid", r.api_key_sid)?;
                let key_secret = optional("api_key_secret", r.api_key_secret)?;
                match (token, key_sid, key_secret) {
                    (Some(token), None, None) => Ok(VendorCredential::Twilio {
                        account_sid,
                        auth_token: Some(secret("auth_token", token)?),
                        api_key_sid: None,
                        api_key_secret: None,
                    }),
                    (None, Some(sid), Some(key_secret)) => {
                        let sid = secret("api_key_sid", sid)?;
                        if !sid.starts_with(TWILIO_API_KEY_SID_PREFIX) {
                            return Err(FieldError::new(
                                "api_key_sid",
                                "api_key_sid is the API key's SID, which starts with SK",
                            ));
                        }
                        Ok(VendorCredential::Twilio {
                            account_sid,
                            auth_token: None,
                            api_key_sid: Some(sid),
                            api_key_secret: Some(secret("api_key_secret", key_secret)?),
                        })
                    }
                    (None, None, None) => Err(FieldError::new(
                        "auth_token",
                        format!("twilio takes {forms}"),
                    )),
                    (Some(_), sid, _) => Err(FieldError::new(
                        if sid.is_some() { "api_key_sid" } else { "api_key_secret" },
                        "give either auth_token or an API key (api_key_sid and api_key_secret), not both",
                    )),
                    (None, None, Some(_)) => Err(FieldError::new(
                        "api_key_sid",
                        "api_key_sid is required with api_key_secret",
                    )),
                    (None, Some(_), None) => Err(FieldError::new(
                        "api_key_secret",
                        "api_key_secret is required with api_key_sid",
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "vendors_tests.rs"]
mod tests;
