//! `/prices`: what Twilio and Resend calls cost when the response cannot say, as the API takes
//! and shows it: US dollars at the edge, micro-USD inside.

use super::{kind, optional, FieldError, RawField};
use crate::clock::rfc3339;
use crate::prices::{
    PriceOverrides, ResendOverrides, TwilioOverrides, CALL_MAX_MINUTES_RANGE, MAX_CHANNEL_LETTERS,
    MAX_PREFIXES, MAX_PREFIX_DIGITS, MAX_PRICE_MICROS,
};
use crate::store::PriceRow;
use crate::wire::keys::micros_to_usd;
use keybrake_core::prices::{ChannelPrice, PrefixPrice, Prices};
use keybrake_core::Vendor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Twilio's fields, in the order the API shows them.
pub const TWILIO_FIELDS: [&str; 9] = [
    "sms_segment_usd",
    "sms_segment_by_prefix",
    "mms_message_usd",
    "mms_message_by_prefix",
    "call_minute_usd",
    "call_minute_by_prefix",
    "call_max_minutes",
    "message_by_channel",
    "call_minute_by_channel",
];
/// Resend's fields.
pub const RESEND_FIELDS: [&str; 1] = ["email_usd"];

/// The body of `PUT /prices/{vendor}` as it arrived. Every field is optional; what is omitted
/// (or `null`) is the default. The body replaces whatever was set before.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPricesRequest {
    #[serde(default)]
    pub sms_segment_usd: RawField,
    #[serde(default)]
    pub sms_segment_by_prefix: RawField,
    #[serde(default)]
    pub mms_message_usd: RawField,
    #[serde(default)]
    pub mms_message_by_prefix: RawField,
    #[serde(default)]
    pub call_minute_usd: RawField,
    #[serde(default)]
    pub call_minute_by_prefix: RawField,
    #[serde(default)]
    pub call_max_minutes: RawField,
    #[serde(default)]
    pub message_by_channel: RawField,
    #[serde(default)]
    pub call_minute_by_channel: RawField,
    #[serde(default)]
    pub email_usd: RawField,
}

/// Twilio's effective prices in US dollars; the same shape as a `PUT` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioTable {
    pub sms_segment_usd: f64,
    pub sms_segment_by_prefix: BTreeMap<String, f64>,
    pub mms_message_usd: f64,
    pub mms_message_by_prefix: BTreeMap<String, f64>,
    pub call_minute_usd: f64,
    pub call_minute_by_prefix: BTreeMap<String, f64>,
    pub call_max_minutes: u64,
    /// Channel name (`whatsapp`) to US dollars per message; a channel not listed is refused.
    pub message_by_channel: BTreeMap<String, f64>,
    /// Channel name (`client`, `sip`) to US dollars per call minute.
    pub call_minute_by_channel: BTreeMap<String, f64>,
}

/// Resend's effective prices in US dollars; the same shape as a `PUT` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendTable {
    pub email_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PriceTable {
    Twilio(TwilioTable),
    Resend(ResendTable),
}

/// One vendor's prices as the API shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceView {
    pub vendor: Vendor,
    /// What gateways charge now.
    pub prices: PriceTable,
    /// For each field of `prices`: true when it is the built-in default, false when set.
    pub default: BTreeMap<String, bool>,
    /// When the vendor's prices were last set; `None` when all are defaults.
    pub updated_at: Option<String>,
}

/// `GET /prices`: both vendors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceList {
    pub twilio: PriceView,
    pub resend: PriceView,
}

/// A vendor named in a path that has a price table.
pub fn priced_vendor_from_path(name: &str) -> Result<Vendor, FieldError> {
    match Vendor::from_name(name) {
        Some(v @ (Vendor::Twilio | Vendor::Resend)) => Ok(v),
        Some(Vendor::Stripe) => Err(FieldError::new(
            "vendor",
            "stripe calls are priced from the request's own amount; only twilio and resend have prices",
        )),
        None => Err(FieldError::new(
            "vendor",
            format!("unknown vendor {name:?}: prices are set for twilio or resend"),
        )),
    }
}

/// Micro-USD from a price in US dollars: a number from 0 to 100, rounded to the micro-dollar.
fn micros(field: &str, v: &Value) -> Result<u64, FieldError> {
    let usd = match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .ok_or_else(|| {
        FieldError::new(
            field,
            format!("{field} must be a number of US dollars, not {}", kind(v)),
        )
    })?;
    let max = micros_to_usd(MAX_PRICE_MICROS);
    if !usd.is_finite() || !(0.0..=max).contains(&usd) {
        return Err(FieldError::new(
            field,
            format!("{field} must be from 0 to {max} US dollars"),
        ));
    }
    // In range: 0 ≤ micros ≤ 1e8, exact in f64 and u64.
    Ok((usd * 1e6).round() as u64)
}

fn price(field: &str, raw: RawField) -> Result<Option<u64>, FieldError> {
    optional(field, raw)?.map(|v| micros(field, &v)).transpose()
}

fn prefix_table(field: &str, raw: RawField) -> Result<Option<Vec<PrefixPrice>>, FieldError> {
    let Some(v) = optional(field, raw)? else {
        return Ok(None);
    };
    let Value::Object(map) = &v else {
        return Err(FieldError::new(
            field,
            format!(
                "{field} must be an object of destination prefix to US dollars, such as {{\"44\": 0.04}}, not {}",
                kind(&v)
            ),
        ));
    };
    if map.len() > MAX_PREFIXES {
        return Err(FieldError::new(
            field,
            format!("{field} may hold at most {MAX_PREFIXES} prefixes"),
        ));
    }
    let mut out = Vec::with_capacity(map.len());
    for (prefix, value) in map {
        let digits = (1..=MAX_PREFIX_DIGITS).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return Err(FieldError::new(
                field,
                format!(
                    "{field}: {prefix:?} is not a destination prefix (1 to {MAX_PREFIX_DIGITS} digits of the E.164 number, without +)"
                ),
            ));
        }
        out.push(PrefixPrice {
            prefix: prefix.clone(),
            micros: micros(&format!("{field}.{prefix}"), value)?,
        });
    }
    out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    Ok(Some(out))
}

fn channel_table(field: &str, raw: RawField) -> Result<Option<Vec<ChannelPrice>>, FieldError> {
    let Some(v) = optional(field, raw)? else {
        return Ok(None);
    };
    let Value::Object(map) = &v else {
        return Err(FieldError::new(
            field,
            format!(
                "{field} must be an object of channel name to US dollars, such as {{\"whatsapp\": 0.005}}, not {}",
                kind(&v)
            ),
        ));
    };
    if map.len() > MAX_PREFIXES {
        return Err(FieldError::new(
            field,
            format!("{field} may hold at most {MAX_PREFIXES} channels"),
        ));
    }
    let mut out: Vec<ChannelPrice> = Vec::with_capacity(map.len());
    for (channel, value) in map {
        let letters = (1..=MAX_CHANNEL_LETTERS).contains(&channel.len())
            && channel.bytes().all(|b| b.is_ascii_alphabetic());
        if !letters {
            return Err(FieldError::new(
                field,
                format!(
                    "{field}: {channel:?} is not a channel name (1 to {MAX_CHANNEL_LETTERS} letters before the `:` of an address, such as whatsapp)"
                ),
            ));
        }
        let name = channel.to_ascii_lowercase();
        if out.iter().any(|c| c.channel == name) {
            return Err(FieldError::new(
                field,
                format!("{field}: {name:?} is given twice"),
            ));
        }
        out.push(ChannelPrice {
            micros: micros(&format!("{field}.{name}"), value)?,
            channel: name,
        });
    }
    out.sort_by(|a, b| a.channel.cmp(&b.channel));
    Ok(Some(out))
}

fn minutes(field: &str, raw: RawField) -> Result<Option<u64>, FieldError> {
    let Some(v) = optional(field, raw)? else {
        return Ok(None);
    };
    let range = CALL_MAX_MINUTES_RANGE;
    match v.as_u64() {
        Some(m) if range.contains(&m) => Ok(Some(m)),
        _ => Err(FieldError::new(
            field,
            format!(
                "{field} must be a whole number of minutes from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn refuse(vendor: Vendor, name: &str, raw: RawField, takes: &[&str]) -> Result<(), FieldError> {
    match optional(name, raw)? {
        None => Ok(()),
        Some(_) => Err(FieldError::new(
            name,
            format!(
                "{vendor} prices are {}; {name} is not one",
                takes.join(", ")
            ),
        )),
    }
}

// === impl SetPricesRequest ===

impl SetPricesRequest {
    /// Validates the body as `vendor`'s overrides. `vendor` must have a price table.
    pub fn for_vendor(self, vendor: Vendor) -> Result<PriceOverrides, FieldError> {
        let r = self;
        match vendor {
            Vendor::Twilio => {
                refuse(vendor, "email_usd", r.email_usd, &TWILIO_FIELDS)?;
                Ok(PriceOverrides::Twilio(TwilioOverrides {
                    sms_segment_micros: price("sms_segment_usd", r.sms_segment_usd)?,
                    sms_segment_by_prefix: prefix_table(
                        "sms_segment_by_prefix",
                        r.sms_segment_by_prefix,
                    )?,
                    mms_message_micros: price("mms_message_usd", r.mms_message_usd)?,
                    mms_message_by_prefix: prefix_table(
                        "mms_message_by_prefix",
                        r.mms_message_by_prefix,
                    )?,
                    call_minute_micros: price("call_minute_usd", r.call_minute_usd)?,
                    call_minute_by_prefix: prefix_table(
                        "call_minute_by_prefix",
                        r.call_minute_by_prefix,
                    )?,
                    call_max_minutes: minutes("call_max_minutes", r.call_max_minutes)?,
                    message_by_channel: channel_table("message_by_channel", r.message_by_channel)?,
                    call_minute_by_channel: channel_table(
                        "call_minute_by_channel",
                        r.call_minute_by_channel,
                    )?,
                }))
            }
            Vendor::Resend | Vendor::Stripe => {
                let twilio_only = [
                    ("sms_segment_usd", r.sms_segment_usd),
                    ("sms_segment_by_prefix", r.sms_segment_by_prefix),
                    ("mms_message_usd", r.mms_message_usd),
                    ("mms_message_by_prefix", r.mms_message_by_prefix),
                    ("call_minute_usd", r.call_minute_usd),
                    ("call_minute_by_prefix", r.call_minute_by_prefix),
                    ("call_max_minutes", r.call_max_minutes),
                    ("message_by_channel", r.message_by_channel),
                    ("call_minute_by_channel", r.call_minute_by_channel),
                ];
                for (name, raw) in twilio_only {
                    refuse(vendor, name, raw, &RESEND_FIELDS)?;
                }
                Ok(PriceOverrides::Resend(ResendOverrides {
                    email_micros: price("email_usd", r.email_usd)?,
                }))
            }
        }
    }
}

// === impl PriceView ===

fn usd_table(table: &[PrefixPrice]) -> BTreeMap<String, f64> {
    table
        .iter()
        .map(|p| (p.prefix.clone(), micros_to_usd(p.micros)))
        .collect()
}

fn usd_channels(table: &[ChannelPrice]) -> BTreeMap<String, f64> {
    table
        .iter()
        .map(|c| (c.channel.clone(), micros_to_usd(c.micros)))
        .collect()
}

impl PriceView {
    /// The effective prices of `overrides`' vendor, set last at `updated_at_ms` (`None`: never).
    pub fn new(overrides: &PriceOverrides, updated_at_ms: Option<u64>) -> Self {
        let mut effective = Prices::default();
        overrides.apply(&mut effective);
        let (prices, set, fields): (PriceTable, Vec<bool>, &[&str]) = match overrides {
            PriceOverrides::Twilio(o) => {
                let t = &effective.twilio;
                let table = TwilioTable {
                    sms_segment_usd: micros_to_usd(t.sms_segment_default_micros),
                    sms_segment_by_prefix: usd_table(&t.sms_segment),
                    mms_message_usd: micros_to_usd(t.mms_message_default_micros),
                    mms_message_by_prefix: usd_table(&t.mms_message),
                    call_minute_usd: micros_to_usd(t.call_minute_default_micros),
                    call_minute_by_prefix: usd_table(&t.call_minute),
                    call_max_minutes: t.call_max_minutes,
                    message_by_channel: usd_channels(&t.channel_message),
                    call_minute_by_channel: usd_channels(&t.channel_call_minute),
                };
                let set = vec![
                    o.sms_segment_micros.is_some(),
                    o.sms_segment_by_prefix.is_some(),
                    o.mms_message_micros.is_some(),
                    o.mms_message_by_prefix.is_some(),
                    o.call_minute_micros.is_some(),
                    o.call_minute_by_prefix.is_some(),
                    o.call_max_minutes.is_some(),
                    o.message_by_channel.is_some(),
                    o.call_minute_by_channel.is_some(),
                ];
                (PriceTable::Twilio(table), set, &TWILIO_FIELDS)
            }
            PriceOverrides::Resend(o) => {
                let table = ResendTable {
                    email_usd: micros_to_usd(effective.resend.email_micros),
                };
                let set = vec![o.email_micros.is_some()];
                (PriceTable::Resend(table), set, &RESEND_FIELDS)
            }
        };
        Self {
            vendor: overrides.vendor(),
            prices,
            default: fields
                .iter()
                .zip(set)
                .map(|(f, set)| ((*f).to_owned(), !set))
                .collect(),
            updated_at: updated_at_ms.map(rfc3339),
        }
    }
}

impl From<&PriceRow> for PriceView {
    fn from(row: &PriceRow) -> Self {
        Self::new(&row.overrides, Some(row.updated_at_ms))
    }
}

#[cfg(test)]
#[path = "prices_tests.rs"]
mod tests;
