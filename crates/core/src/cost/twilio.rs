//! Twilio's cost rules. A Message costs its segments times the per-segment rate of its
//! destination (one MMS price when it carries media); a Call reserves its per-minute rate times
//! `TimeLimit`, or the configured longest call. Twilio reports `price` only after delivery, so
//! at creation the estimate usually stands; a `price` in the response settles when present.

use super::{single_field, CostError, Estimate, Settlement};
use crate::currency::Rates;
use crate::prices::{price_for, TwilioPrices};
use crate::sms;

/// Longest `Body` Twilio accepts, as UCS-2 segments: the reservation for a templated message
/// (`ContentSid`) whose text the request does not carry.
const MAX_BODY_SEGMENTS: u64 = 24;

enum Resource {
    Messages,
    Calls,
}

fn created(method: &str, path: &[String]) -> Option<Resource> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    match path {
        [version, accounts, _sid, resource]
            if version == "2010-04-01" && accounts == "Accounts" =>
        {
            match resource.as_str() {
                "Messages.json" => Some(Resource::Messages),
                "Calls.json" => Some(Resource::Calls),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Request fields the price is read from: none may also arrive in the query string.
pub const PRICED_FIELDS: &[&str] = &["To", "Body", "MediaUrl", "TimeLimit", "ContentSid"];

pub fn is_costed(method: &str, path: &[String]) -> bool {
    created(method, path).is_some()
}

pub fn estimate(
    method: &str,
    path: &[String],
    body: &[u8],
    prices: &TwilioPrices,
) -> Result<Estimate, CostError> {
    let Some(resource) = created(method, path) else {
        return Ok(Estimate::Free);
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let to = single_field(&fields, "To")?.unwrap_or_default();
    let micros = match resource {
        Resource::Messages => {
            if fields.iter().any(|(k, _)| k == "MediaUrl") {
                price_for(&prices.mms_message, prices.mms_message_default_micros, to)
            } else {
                let segments = match single_field(&fields, "Body")? {
                    Some(text) => sms::segments(text),
                    None => MAX_BODY_SEGMENTS,
                };
                segments.saturating_mul(price_for(
                    &prices.sms_segment,
                    prices.sms_segment_default_micros,
                    to,
                ))
            }
        }
        Resource::Calls => {
            let minutes = match single_field(&fields, "TimeLimit")? {
                Some(s) => {
                    let secs: u64 = s.trim().parse().map_err(|_| {
                        CostError::Unpriceable("TimeLimit must be a number of seconds")
                    })?;
                    secs.div_ceil(60).max(1)
                }
                None => prices.call_max_minutes.max(1),
            };
            minutes.saturating_mul(price_for(
                &prices.call_minute,
                prices.call_minute_default_micros,
                to,
            ))
        }
    };
    Ok(Estimate::Approximate(micros))
}

pub fn settle(status: u32, body: &[u8], rates: &Rates) -> Settlement {
    match status {
        200..=299 => {
            #[derive(serde::Deserialize)]
            struct Priced {
                price: Option<String>,
                price_unit: Option<String>,
            }
            let Ok(p) = serde_json::from_slice::<Priced>(body) else {
                return Settlement::Unknown;
            };
            match p.price.as_deref().and_then(parse_price_micros) {
                Some(micros) => {
                    let unit = p.price_unit.unwrap_or_else(|| "USD".to_owned());
                    // Convert through the rate table with the unit as if it had 6 decimals.
                    if unit.eq_ignore_ascii_case("usd") {
                        Settlement::Actual(micros)
                    } else {
                        rates
                            .to_micros(micros, &unit)
                            .map(|m| Settlement::Actual(m.div_ceil(10_000)))
                            .unwrap_or(Settlement::Unknown)
                    }
                }
                None => Settlement::Unknown,
            }
        }
        400..=499 => Settlement::NoCharge,
        _ => Settlement::Unknown,
    }
}

/// `"-0.00830"` → 8300 micro-units (Twilio reports charges as negative decimals).
fn parse_price_micros(s: &str) -> Option<u64> {
    let s = s.trim().trim_start_matches('-');
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = whole.checked_mul(1_000_000)?;
    let digits: Vec<u64> = frac.bytes().map(|b| u64::from(b - b'0')).collect();
    for (i, d) in digits.iter().take(6).enumerate() {
        micros += d * 10u64.pow(5 - u32::try_from(i).ok()?);
    }
    if digits.iter().skip(6).any(|d| *d > 0) {
        micros += 1;
    }
    Some(micros)
}

#[cfg(test)]
#[path = "twilio_tests.rs"]
mod tests;
