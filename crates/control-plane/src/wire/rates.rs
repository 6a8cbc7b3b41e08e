//! `/rates`: the operator's conversion rates to USD, as the API takes and shows them.

use super::{kind, required, FieldError, RawField};
use crate::clock::rfc3339;
use crate::store::RateRow;
use keybrake_core::currency::{normalize_code, NANOS_PER_USD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest accepted `usd_per_unit`.
pub const MAX_USD_PER_UNIT: f64 = 1e6;

/// The body of `PUT /rates/{currency}` as it arrived.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRateRequest {
    #[serde(default)]
    pub usd_per_unit: RawField,
}

/// One rate as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RateView {
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// US dollars per major unit (one yen, one euro).
    pub usd_per_unit: f64,
    /// True for USD only: always 1.0, neither set nor deleted.
    pub builtin: bool,
    /// `None` for USD.
    pub updated_at: Option<String>,
}

/// `{"rates": [...]}`: USD first, then by currency.
#[derive(Debug, Serialize, Deserialize)]
pub struct RateList {
    pub rates: Vec<RateView>,
}

/// A currency named in a path: three ASCII letters, any case, not USD.
pub fn currency_from_path(raw: &str) -> Result<String, FieldError> {
    let code = normalize_code(raw).map_err(|_| {
        FieldError::new(
            "currency",
            format!("{raw:?} is not a currency code (three letters, such as jpy or eur)"),
        )
    })?;
    if code == "usd" {
        return Err(FieldError::new(
            "currency",
            "usd is built in at 1.0 and cannot be changed",
        ));
    }
    Ok(code)
}

// === impl SetRateRequest ===

impl SetRateRequest {
    /// The rate in nano-USD per unit, rounded to the nearest nano.
    pub fn nanos_per_unit(self) -> Result<u64, FieldError> {
        let f = "usd_per_unit";
        let v = required(f, self.usd_per_unit)?;
        let usd = match &v {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
        .ok_or_else(|| {
            FieldError::new(
                f,
                format!(
                    "usd_per_unit must be a number of US dollars, not {}",
                    kind(&v)
                ),
            )
        })?;
        if !usd.is_finite() || usd <= 0.0 {
            return Err(FieldError::new(f, "usd_per_unit must be greater than 0"));
        }
        if usd > MAX_USD_PER_UNIT {
            return Err(FieldError::new(
                f,
                format!("usd_per_unit must be at most {MAX_USD_PER_UNIT:.0}"),
            ));
        }
        let nanos = (usd * 1e9).round();
        if nanos < 1.0 {
            return Err(FieldError::new(
                f,
                "usd_per_unit must be at least 0.000000001 (one nano-dollar)",
            ));
        }
        // In range: 1 ≤ nanos ≤ 1e15 < 2^53, so the conversion is exact.
        Ok(nanos as u64)
    }
}

// === impl RateView ===

impl RateView {
    /// USD, always 1.0.
    pub fn usd() -> Self {
        Self {
            currency: "usd".to_owned(),
            usd_per_unit: 1.0,
            builtin: true,
            updated_at: None,
        }
    }
}

impl From<&RateRow> for RateView {
    fn from(row: &RateRow) -> Self {
        Self {
            currency: row.currency.clone(),
            usd_per_unit: row.usd_nanos_per_unit as f64 / NANOS_PER_USD as f64,
            builtin: false,
            updated_at: Some(rfc3339(row.updated_at_ms)),
        }
    }
}

#[cfg(test)]
#[path = "rates_tests.rs"]
mod tests;
