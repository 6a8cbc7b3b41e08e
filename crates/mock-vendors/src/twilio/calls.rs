//! `POST …/Calls.json`: validating a call and building the call object, as queued and as
//! completed.

use std::time::SystemTime;

use serde_json::json;

use super::error::TwilioError;
use super::form::{is_call_address, is_e164, Params};
use super::pricing;
use super::route::API_VERSION;
use super::Created;
use crate::dates::rfc2822;
use crate::ids::twilio_sid;

/// Twilio's default and largest `TimeLimit`, in seconds (four hours; 24 hours at most).
pub(super) const DEFAULT_TIME_LIMIT: u64 = 14_400;
pub(super) const MAX_TIME_LIMIT: u64 = 86_400;

/// Validates a call for `account` and builds it in both its states.
pub fn create(account: &str, params: &Params) -> Result<Created, TwilioError> {
    let to = params.get("To").ok_or(TwilioError::CallToMissing)?;
    if !is_call_address(to) {
        return Err(TwilioError::InvalidTo { to: to.to_owned() });
    }
    let from = params.get("From").ok_or(TwilioError::CallFromMissing)?;
    if !is_call_address(from) {
        return Err(TwilioError::InvalidFrom {
            from: from.to_owned(),
        });
    }
    if ["Url", "Twiml", "ApplicationSid"]
        .iter()
        .all(|p| params.get(p).is_none())
    {
        return Err(TwilioError::CallInstructionsMissing);
    }
    let time_limit =
        seconds(params, "TimeLimit", 1..=MAX_TIME_LIMIT)?.unwrap_or(DEFAULT_TIME_LIMIT);
    seconds(params, "Timeout", 1..=600)?;

    let sid = twilio_sid("CA");
    let base = format!("/{API_VERSION}/Accounts/{account}/Calls/{sid}");
    let now = rfc2822(SystemTime::now());
    let sub = |name: &str| format!("{base}/{name}.json");
    let reply = json!({
        "account_sid": account,
        "annotation": null,
        "answered_by": null,
        "api_version": API_VERSION,
        "caller_name": null,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": null,
        "end_time": null,
        "forwarded_from": null,
        "from": from,
        "from_formatted": formatted(from),
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": null,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": null,
        "status": "queued",
        "subresource_uris": {
            "events": sub("Events"),
            "notifications": sub("Notifications"),
            "payments": sub("Payments"),
            "recordings": sub("Recordings"),
            "siprec": sub("Siprec"),
            "streams": sub("Streams"),
            "transcriptions": sub("Transcriptions"),
            "user_defined_message_subscriptions": sub("UserDefinedMessageSubscriptions"),
            "user_defined_messages": sub("UserDefinedMessages"),
        },
        "to": to,
        "to_formatted": formatted(to),
        "trunk_sid": null,
        "uri": format!("{base}.json"),
    });

    let duration = pricing::CALL_SECONDS.min(time_limit);
    let mut later = reply.clone();
    later["status"] = json!("completed");
    later["duration"] = json!(duration.to_string());
    later["start_time"] = json!(now);
    later["end_time"] = json!(now);
    later["price"] = json!(pricing::price(pricing::call(duration)));
    Ok(Created { reply, later })
}

/// An optional whole number of seconds within `range`.
fn seconds(
    params: &Params,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, TwilioError> {
    let Some(raw) = params.get(name) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|s| range.contains(s))
        .map(Some)
        .ok_or_else(|| TwilioError::InvalidParameter {
            message: format!(
                "{name} must be a whole number of seconds from {} to {}.",
                range.start(),
                range.end()
            ),
        })
}

/// `+15558675310` → `(555) 867-5310`, as Twilio formats North American numbers.
fn formatted(number: &str) -> String {
    match number.strip_prefix("+1") {
        Some(d) if is_e164(number) && d.len() == 10 => {
            format!("({}) {}-{}", &d[0..3], &d[3..6], &d[6..10])
        }
        _ => number.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(formatted("+15558675310"), "(555) 867-5310");
        assert_eq!(formatted("+442071838750"), "+442071838750");
        assert_eq!(formatted("client:alice"), "client:alice");
    }
}
