//! Twilio's pricing rules (which endpoint gets which rule: [`super::catalog`]).
//!
//! A Message costs its segments (counted as Twilio counts them, [`crate::sms`]) times the
//! per-segment rate of its destination, or one MMS when it carries media or `SendAsMms=true`; an
//! MMS to a destination outside +1 may go out as SMS segments (Twilio's MMS converter: the text
//! plus a link per media item), so it reserves the larger of the two. A Call reserves its
//! per-minute rate times `TimeLimit`, or the configured longest call. A call update that can
//! lengthen the call (`TimeLimit`, `Url`, `Twiml`) reserves a new call at the dearest per-minute
//! rate (the update does not name the destination). Destinations are E.164 (`+` and digits,
//! spaces, dashes, dots and brackets removed), or a channel address (`whatsapp:+1…`) priced from
//! its own entry; anything else is refused. Twilio reports `price` only after delivery, so at
//! creation the bound usually stands; a `price` in the response settles when present.
use super::catalog::Rule;
use super::{single_field, CostError, Estimate, Settlement};
use crate::currency::Rates;
use crate::prices::{bounded_price_for, channel_price, dearest, TwilioPrices};
use crate::sms;

/// Longest `Body` Twilio accepts, as UCS-2 segments: the reservation for a templated message
/// (`ContentSid`) whose text the request does not carry.
const MAX_BODY_SEGMENTS: u64 = 24;
/// What Twilio's MMS converter adds to the text per media item: a link, bounded generously.
const CONVERTER_LINK: &str = " https://mms.twiliocdn.example/0123456789abcdef0123456789abcdef0123";

/// Request fields a price is read from: none may also arrive in the query string.
pub const PRICED_FIELDS: &[&str] = &[
    "To",
    "Body",
    "MediaUrl",
    "TimeLimit",
    "ContentSid",
    "SendAsMms",
    "Url",
    "Twiml",
];

const NOT_E164: &str = "the destination (`To`) must be a phone number in E.164 form (+15558675310) or a channel address keybrake has a price for.";
const NO_CHANNEL_PRICE: &str = "keybrake has no price for this channel (`whatsapp:`, `messenger:`, `client:`, `sip:` …). Ask an operator to set one, or send to a phone number.";

const NO_DESTINATION_PRICE: &str = "keybrake has no price for this destination: its default Twilio prices are US list prices, which do not bound what Twilio bills outside +1. Ask an operator to set a price for the destination's prefix (keybrake prices set twilio --prefix-sms 44=… / --prefix-mms / --prefix-call).";

/// Where a message or call goes.
enum Destination<'a> {
    /// E.164 digits, without the `+`.
    Number(String),
    /// A channel address: the channel's name (`whatsapp`).
    Channel(&'a str),
}

/// Reads `To` as Twilio accepts it: E.164 with formatting characters removed, or a channel
/// address.
fn destination(to: &str) -> Result<Destination<'_>, CostError> {
    let to = to.trim();
    if let Some((channel, _address)) = to.split_once(':') {
        if !channel.is_empty() && channel.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Ok(Destination::Channel(channel));
        }
        return Err(CostError::Unbounded(NOT_E164));
    }
    let Some(rest) = to.strip_prefix('+') else {
        return Err(CostError::Unbounded(NOT_E164));
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(CostError::Unbounded(NOT_E164)),
        }
    }
    // E.164: at most 15 digits; no country code starts with 0.
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(CostError::Unbounded(NOT_E164));
    }
    Ok(Destination::Number(digits))
}

fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn time_limit_minutes(limit: Option<&str>, prices: &TwilioPrices) -> Result<u64, CostError> {
    Ok(match limit {
        Some(s) => {
            let secs: u64 = s
                .trim()
                .parse()
                .map_err(|_| CostError::Unpriceable("TimeLimit must be a number of seconds"))?;
            secs.div_ceil(60).max(1)
        }
        None => prices.call_max_minutes.max(1),
    })
}

/// What to tell an agent whose call was refused `spend_cap_exceeded` when the reservation was
/// the longest call because the request set no `TimeLimit`.
pub const NO_TIME_LIMIT_ADVICE: &str = "the call sets no TimeLimit, so it was reserved for the longest call an operator allows (call_max_minutes, 240 minutes unless set): set TimeLimit (seconds) to reserve only what the call may last, or ask an operator for a higher cap.";

/// Whether a call (or a call update that can lengthen it) is reserved for the longest call
/// because it names no `TimeLimit`.
pub fn reserved_for_longest_call(rule: Rule, body: &[u8]) -> bool {
    matches!(rule, Rule::TwilioCall | Rule::TwilioCallUpdate)
        && !form_urlencoded::parse(body).any(|(k, _)| k == "TimeLimit")
}

pub fn estimate(rule: Rule, body: &[u8], prices: &TwilioPrices) -> Result<Estimate, CostError> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| single_field(&fields, name);
    let micros = match rule {
        Rule::TwilioMessage => {
            let to = destination(field("To")?.unwrap_or_default())?;
            let media = fields.iter().filter(|(k, _)| k == "MediaUrl").count();
            let text = field("Body")?;
            let segments = |extra: usize| match text {
                Some(t) => sms::segments(&format!("{t}{}", CONVERTER_LINK.repeat(extra))),
                None if extra == 0 => MAX_BODY_SEGMENTS,
                None => sms::segments(&CONVERTER_LINK.repeat(extra)).max(MAX_BODY_SEGMENTS),
            };
            match to {
                Destination::Channel(channel) => channel_price(&prices.channel_message, channel)
                    .ok_or(CostError::Unbounded(NO_CHANNEL_PRICE))?,
                Destination::Number(number) => {
                    let sms = bounded_price_for(
                        &prices.sms_segment,
                        prices.sms_segment_default_micros,
                        prices.sms_segment_default_covers_all,
                        &number,
                    )
                    .ok_or(CostError::Unbounded(NO_DESTINATION_PRICE))?;
                    if media > 0 || is_true(field("SendAsMms")?) {
                        let mms = bounded_price_for(
                            &prices.mms_message,
                            prices.mms_message_default_micros,
                            prices.mms_message_default_covers_all,
                            &number,
                        )
                        .ok_or(CostError::Unbounded(NO_DESTINATION_PRICE))?;
                        if number.starts_with('1') {
                            mms
                        } else {
                            // The converter may send text plus links as SMS instead.
                            mms.max(segments(media.max(1)).saturating_mul(sms))
                        }
                    } else {
                        segments(0).saturating_mul(sms)
                    }
                }
            }
        }
        Rule::TwilioCall => {
            let minutes = time_limit_minutes(field("TimeLimit")?, prices)?;
            let rate = match destination(field("To")?.unwrap_or_default())? {
                Destination::Channel(channel) => {
                    channel_price(&prices.channel_call_minute, channel)
                        .ok_or(CostError::Unbounded(NO_CHANNEL_PRICE))?
                }
                Destination::Number(number) => bounded_price_for(
                    &prices.call_minute,
                    prices.call_minute_default_micros,
                    prices.call_minute_default_covers_all,
                    &number,
                )
                .ok_or(CostError::Unbounded(NO_DESTINATION_PRICE))?,
            };
            minutes.saturating_mul(rate)
        }
        Rule::TwilioCallUpdate => {
            let limit = field("TimeLimit")?;
            let redirect = field("Url")?.is_some() || field("Twiml")?.is_some();
            if limit.is_none() && !redirect {
                return Ok(Estimate::Free);
            }
            let minutes = time_limit_minutes(limit, prices)?;
            let rate = dearest(
                &prices.call_minute,
                prices.call_minute_default_micros,
                &prices.channel_call_minute,
            );
            minutes.saturating_mul(rate)
        }
        _ => return Err(CostError::Unbounded(super::catalog::UNKNOWN)),
    };
    Ok(Estimate::Approximate(micros))
}

/// `answer` is the response body parsed once ([`super::Answer`]); `None` when it was not JSON.
pub fn settle(status: u32, answer: Option<&serde_json::Value>, rates: &Rates) -> Settlement {
    match status {
        200..=299 => {
            let Some(v) = answer.filter(|v| v.is_object()) else {
                return Settlement::Unknown;
            };
            // A field of another type than Twilio's string (or null) makes the answer unreadable.
            let text = |name: &str| match v.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(()),
            };
            let (Ok(price), Ok(price_unit)) = (text("price"), text("price_unit")) else {
                return Settlement::Unknown;
            };
            match price.and_then(parse_price_micros) {
                Some(micros) => {
                    let unit = price_unit.unwrap_or("USD");
                    // Convert through the rate table with the unit as if it had 6 decimals.
                    if unit.eq_ignore_ascii_case("usd") {
                        Settlement::Actual(micros)
                    } else {
                        rates
                            .to_micros(micros, unit)
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
