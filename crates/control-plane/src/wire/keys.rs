//! `POST /vault/keys` and the key views the API returns.

use super::{kind, required, FieldError, RawField};
use crate::clock::rfc3339;
use crate::store::{DaySpend, KeyRow};
use keybrake_core::cost::catalog;
use keybrake_core::{EndpointPattern, Vendor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Largest accepted `daily_usd_cap`, in dollars.
pub const MAX_DAILY_USD_CAP: f64 = 1e9;
/// Most entries in `allowed_endpoints`.
pub const MAX_ALLOWED_ENDPOINTS: usize = 100;
/// Longest `agent_run_label`, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// The body of `POST /vault/keys` as it arrived.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueKeyRequest {
    #[serde(default)]
    pub vendor: RawField,
    #[serde(default)]
    pub daily_usd_cap: RawField,
    #[serde(default)]
    pub allowed_endpoints: RawField,
    #[serde(default)]
    pub expires_in: RawField,
    #[serde(default)]
    pub agent_run_label: RawField,
}

/// A validated request for a new vault key.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueSpec {
    pub vendor: Vendor,
    /// Greater than zero.
    pub daily_cap_micros: u64,
    /// Not empty, at most [`MAX_ALLOWED_ENDPOINTS`].
    pub allowed_endpoints: Vec<EndpointPattern>,
    /// At least one second; the configured maximum is checked by the handler.
    pub expires_in: Duration,
    /// 1 to [`MAX_LABEL_CHARS`] characters, no control characters.
    pub label: String,
}

/// The answer to `POST /vault/keys`: the only time the vault key is shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssuedKey {
    pub vault_key: String,
    pub key_id: String,
    pub vendor: Vendor,
    pub daily_usd_cap: f64,
    pub allowed_endpoints: Vec<String>,
    pub expires_at: String,
    pub agent_run_label: String,
}

/// A key as `GET /vault/keys[/{key_id}]` shows it: never the secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyView {
    pub key_id: String,
    pub vendor: Vendor,
    pub daily_usd_cap: f64,
    pub allowed_endpoints: Vec<String>,
    pub expires_at: String,
    pub agent_run_label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Spent today (UTC), counting the unreported lease of vanished gateways as spent.
    pub spend_today_usd: f64,
    /// Lease live gateways hold today and have not reported spent.
    pub leased_usd: f64,
    /// The cap less spend and lease: what no gateway holds yet. Never below zero.
    pub remaining_usd: f64,
    /// Endpoints `allowed_endpoints` matches that keybrake always refuses, because the request
    /// does not bound what they cost (`cost_not_bounded`).
    #[serde(default)]
    pub never_callable: Vec<String>,
}

/// `{"keys": [...]}`, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// Micro-USD to dollars, for the API edge only.
pub fn micros_to_usd(micros: u64) -> f64 {
    micros as f64 / 1e6
}

fn vendor(v: Value) -> Result<Vendor, FieldError> {
    let f = "vendor";
    let Value::String(name) = &v else {
        return Err(FieldError::new(
            f,
            format!("vendor must be a string, not {}", kind(&v)),
        ));
    };
    Vendor::from_name(name).ok_or_else(|| {
        FieldError::new(
            f,
            format!("unknown vendor {name:?}: use stripe, twilio or resend"),
        )
    })
}

/// Dollars to micro-USD, rounded to the nearest micro.
fn daily_cap(v: Value) -> Result<u64, FieldError> {
    let f = "daily_usd_cap";
    let usd = match &v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .ok_or_else(|| {
        FieldError::new(
            f,
            format!(
                "daily_usd_cap must be a number of US dollars, not {}",
                kind(&v)
            ),
        )
    })?;
    if !usd.is_finite() || usd <= 0.0 {
        return Err(FieldError::new(f, "daily_usd_cap must be greater than 0"));
    }
    if usd > MAX_DAILY_USD_CAP {
        return Err(FieldError::new(
            f,
            format!("daily_usd_cap must be at most {MAX_DAILY_USD_CAP:.0}"),
        ));
    }
    let micros = (usd * 1e6).round();
    if micros < 1.0 {
        return Err(FieldError::new(
            f,
            "daily_usd_cap must be at least 0.000001 (one micro-dollar)",
        ));
    }
    // In range: 1 ≤ micros ≤ 1e15 < 2^53, so the conversion is exact.
    Ok(micros as u64)
}

fn allowed_endpoints(v: Value) -> Result<Vec<EndpointPattern>, FieldError> {
    let f = "allowed_endpoints";
    let Value::Array(items) = v else {
        return Err(FieldError::new(
            f,
            format!(
                "allowed_endpoints must be an array of \"METHOD /path\" strings, not {}",
                kind(&v)
            ),
        ));
    };
    if items.is_empty() {
        return Err(FieldError::new(
            f,
            "allowed_endpoints must name at least one endpoint",
        ));
    }
    if items.len() > MAX_ALLOWED_ENDPOINTS {
        return Err(FieldError::new(
            f,
            format!("allowed_endpoints may name at most {MAX_ALLOWED_ENDPOINTS} endpoints"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::String(s) = item else {
                return Err(FieldError::new(
                    f,
                    format!(
                        "allowed_endpoints[{i}] must be a string, not {}",
                        kind(item)
                    ),
                ));
            };
            EndpointPattern::parse(s)
                .map_err(|e| FieldError::new(f, format!("allowed_endpoints[{i}]: {e}")))
        })
        .collect()
}

fn expires_in(v: Value) -> Result<Duration, FieldError> {
    let f = "expires_in";
    let bad = |why: String| FieldError::new(f, format!("expires_in {why}"));
    match &v {
        Value::Number(n) => match n.as_u64() {
            Some(0) => Err(bad("must be at least one second".into())),
            Some(secs) => Ok(Duration::from_secs(secs)),
            None => Err(bad("must be a whole, positive number of seconds".into())),
        },
        Value::String(s) => crate::duration::parse(s).map_err(bad),
        _ => Err(bad(format!(
            "must be seconds or a string like \"30m\", not {}",
            kind(&v)
        ))),
    }
}

fn label(v: Value) -> Result<String, FieldError> {
    let f = "agent_run_label";
    let Value::String(s) = v else {
        return Err(FieldError::new(
            f,
            format!("agent_run_label must be a string, not {}", kind(&v)),
        ));
    };
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS {
        return Err(FieldError::new(
            f,
            format!("agent_run_label must be 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(
            f,
            "agent_run_label must not contain control characters",
        ));
    }
    Ok(s)
}

// === impl IssueSpec ===

impl TryFrom<IssueKeyRequest> for IssueSpec {
    type Error = FieldError;

    fn try_from(r: IssueKeyRequest) -> Result<Self, FieldError> {
        let spec = Self {
            vendor: vendor(required("vendor", r.vendor)?)?,
            daily_cap_micros: daily_cap(required("daily_usd_cap", r.daily_usd_cap)?)?,
            allowed_endpoints: allowed_endpoints(required(
                "allowed_endpoints",
                r.allowed_endpoints,
            )?)?,
            expires_in: expires_in(required("expires_in", r.expires_in)?)?,
            label: label(required("agent_run_label", r.agent_run_label)?)?,
        };
        refuse_uncallable(spec.vendor, &spec.allowed_endpoints)?;
        Ok(spec)
    }
}

/// Most endpoints a refusal names before it says "and N more".
const NAMED_ENDPOINTS: usize = 10;

fn named(endpoints: &[String]) -> String {
    let mut s = endpoints
        .iter()
        .take(NAMED_ENDPOINTS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if endpoints.len() > NAMED_ENDPOINTS {
        s.push_str(&format!(" and {} more", endpoints.len() - NAMED_ENDPOINTS));
    }
    s
}

/// A pattern that can only match endpoints keybrake always refuses (their cost is not bounded by
/// the request) would issue a key that cannot make the call it was issued for: refused, naming
/// the pattern and the endpoints.
fn refuse_uncallable(vendor: Vendor, patterns: &[EndpointPattern]) -> Result<(), FieldError> {
    for (i, p) in patterns.iter().enumerate() {
        let reach = catalog::reach(vendor, p);
        if reach.callable.is_empty() {
            return Err(FieldError::new(
                "allowed_endpoints",
                format!(
                    "allowed_endpoints[{i}] \"{p}\" matches only endpoints whose cost the request does not bound, which keybrake refuses on every key (cost_not_bounded): {}. See \"What costs what\" in the README for what to call instead.",
                    named(&reach.never)
                ),
            ));
        }
    }
    Ok(())
}

/// The endpoints `patterns` match that keybrake always refuses (`cost_not_bounded`), for the
/// key views.
pub fn never_callable(vendor: Vendor, patterns: &[EndpointPattern]) -> Vec<String> {
    let mut out: Vec<String> = patterns
        .iter()
        .flat_map(|p| catalog::reach(vendor, p).never)
        .collect();
    out.sort();
    out.dedup();
    out
}

// === impl KeyView ===

impl KeyView {
    pub fn new(row: &KeyRow, now_ms: u64, today: DaySpend) -> Self {
        let remaining = row
            .daily_cap_micros
            .saturating_sub(today.spent)
            .saturating_sub(today.leased);
        Self {
            key_id: row.key_id.to_string(),
            vendor: row.vendor,
            daily_usd_cap: micros_to_usd(row.daily_cap_micros),
            allowed_endpoints: row
                .allowed_endpoints
                .iter()
                .map(ToString::to_string)
                .collect(),
            expires_at: rfc3339(row.expires_at_ms),
            agent_run_label: row.label.clone(),
            created_at: rfc3339(row.created_at_ms),
            revoked_at: row.revoked_at_ms.map(rfc3339),
            status: row.status(now_ms).as_str().to_owned(),
            spend_today_usd: micros_to_usd(today.spent),
            leased_usd: micros_to_usd(today.leased),
            remaining_usd: micros_to_usd(remaining),
            never_callable: never_callable(row.vendor, &row.allowed_endpoints),
        }
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
