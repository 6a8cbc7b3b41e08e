//! `POST …/Calls.json` and `POST …/Calls/{Sid}.json`: validating a call or an update, and the
//! call object as queued, in progress and completed.
//!
//! The mock's callee answers at once and hangs up after [`pricing::CALL_SECONDS`]; each update
//! with new instructions (`Url` or `Twiml`) keeps them on the line that much longer. `TimeLimit`
//! (from the start of the call) cuts it short; `Status=completed` hangs up now;
//! `Status=canceled` does nothing to a call in progress (as on Twilio). A call lasts
//! `min(planned, TimeLimit)` seconds and is billed per started minute.

use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use super::error::TwilioError;
use super::form::{is_call_address, is_e164, Params};
use super::pricing;
use super::route::API_VERSION;
use crate::dates::rfc2822;
use crate::ids::twilio_sid;

/// Twilio's default and largest `TimeLimit`, in seconds (four hours; 24 hours at most).
pub(super) const DEFAULT_TIME_LIMIT: u64 = 14_400;
pub(super) const MAX_TIME_LIMIT: u64 = 86_400;

/// A call as the mock keeps it: what a fetch shows, and what its price depends on.
#[derive(Clone, Debug)]
pub struct Call {
    /// The call as a later `GET` shows it: completed, with `duration` and `price`.
    pub later: Value,
    /// `TimeLimit`, seconds from the start of the call.
    pub time_limit: u64,
    /// Seconds the callee stays on the line.
    pub planned: u64,
    /// Seconds the call lasted when an update hung it up.
    pub hung_up_after: Option<u64>,
    placed: Instant,
}

// === impl Call ===

impl Call {
    /// Seconds the call lasts.
    pub fn duration(&self) -> u64 {
        self.hung_up_after
            .unwrap_or_else(|| self.planned.min(self.time_limit))
    }

    /// What the call is billed, in 0.00001 USD.
    pub fn billed_units(&self) -> u64 {
        pricing::call(self.duration())
    }

    /// Writes the duration and price into the completed state.
    fn settle_later(&mut self) {
        let duration = self.duration();
        self.later["duration"] = json!(duration.to_string());
        self.later["price"] = json!(pricing::price(pricing::call(duration)));
    }
}

/// Validates a call for `account`: the create reply (queued) and the call.
pub fn create(account: &str, params: &Params) -> Result<(Value, Call), TwilioError> {
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

    let mut later = reply.clone();
    later["status"] = json!("completed");
    later["start_time"] = json!(now);
    later["end_time"] = json!(now);
    let mut call = Call {
        later,
        time_limit,
        planned: pricing::CALL_SECONDS,
        hung_up_after: None,
        placed: Instant::now(),
    };
    call.settle_later();
    Ok((reply, call))
}

/// `POST …/Calls/{Sid}.json`: applies an update to a call in progress and answers with the call
/// as it is now (in progress, or completed with its `duration` when hung up; `price` null until
/// Twilio prices it). A call that is over cannot be updated (21220).
pub fn update(call: &mut Call, params: &Params) -> Result<Value, TwilioError> {
    if call.hung_up_after.is_some() {
        return Err(TwilioError::CallNotInProgress);
    }
    let status = params.get("Status");
    if let Some(s) = status.filter(|s| !matches!(*s, "canceled" | "completed")) {
        return Err(TwilioError::InvalidParameter {
            message: format!("Status must be canceled or completed, not {s}."),
        });
    }
    let time_limit = seconds(params, "TimeLimit", 1..=MAX_TIME_LIMIT)?;
    if let Some(limit) = time_limit {
        call.time_limit = limit;
    }
    if params.get("Url").is_some() || params.get("Twiml").is_some() {
        call.planned = call.planned.saturating_add(pricing::CALL_SECONDS);
    }
    let mut now = call.later.clone();
    now["price"] = Value::Null;
    now["date_updated"] = json!(rfc2822(SystemTime::now()));
    if status == Some("completed") {
        let elapsed = call.placed.elapsed().as_secs().max(1);
        call.hung_up_after = Some(elapsed.min(call.duration()));
        call.settle_later();
        now["duration"] = call.later["duration"].clone();
    } else {
        call.settle_later();
        now["status"] = json!("in-progress");
        now["duration"] = Value::Null;
        now["end_time"] = Value::Null;
    }
    Ok(now)
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
