//! `POST …/Messages.json`: validating a send and building the message object, as created
//! and as delivered.

use std::time::SystemTime;

use serde_json::json;

use super::error::TwilioError;
use super::form::{is_message_address, is_sender, Params};
use super::pricing;
use super::route::API_VERSION;
use super::segments;
use super::Created;
use crate::dates::rfc2822;
use crate::ids::twilio_sid;

/// Twilio refuses longer bodies (error 21617).
const MAX_BODY_CHARS: usize = 1_600;

/// The number a Messaging Service picks from its pool when the request names none.
const POOL_NUMBER: &str = "+15005550006";

/// Validates a send for `account` and builds the message in both its states.
pub fn create(account: &str, params: &Params) -> Result<Created, TwilioError> {
    let to = params.get("To").ok_or(TwilioError::ToMissing)?;
    if !is_message_address(to) {
        return Err(TwilioError::InvalidTo { to: to.to_owned() });
    }
    let from = params.get("From");
    let service = params.get("MessagingServiceSid");
    if from.is_none() && service.is_none() {
        return Err(TwilioError::FromMissing);
    }
    if let Some(from) = from.filter(|f| !is_sender(f)) {
        return Err(TwilioError::InvalidFrom {
            from: from.to_owned(),
        });
    }
    if let Some(sid) = service.filter(|s| !is_service_sid(s)) {
        return Err(TwilioError::InvalidMessagingService {
            sid: sid.to_owned(),
        });
    }
    let body = params.get("Body");
    let media = params.all("MediaUrl");
    if body.is_none() && media.is_empty() {
        return Err(TwilioError::BodyMissing);
    }
    if body.is_some_and(|b| b.chars().count() > MAX_BODY_CHARS) {
        return Err(TwilioError::BodyTooLong);
    }

    let (_, segments) = segments::count(body.unwrap_or_default());
    let sid = twilio_sid(if media.is_empty() { "SM" } else { "MM" });
    let uri = format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}.json");
    let now = rfc2822(SystemTime::now());
    let reply = json!({
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body.unwrap_or_default(),
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": service,
        "num_media": media.len().to_string(),
        // A Messaging Service picks the sender later, so the count is not known yet.
        "num_segments": if service.is_some() { "0".to_owned() } else { segments.to_string() },
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": if from.is_none() { "accepted" } else { "queued" },
        "subresource_uris": {
            "media": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}/Media.json"),
            "feedback": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}/Feedback.json"),
        },
        "to": to,
        "uri": uri,
    });

    let units = billed_units(
        to,
        body.unwrap_or_default(),
        media.len(),
        params
            .get("SendAsMms")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    );
    let mut later = reply.clone();
    later["status"] = json!("delivered");
    later["date_sent"] = json!(now);
    later["num_segments"] = json!(segments.to_string());
    later["price"] = json!(pricing::price(units));
    if from.is_none() {
        later["from"] = json!(POOL_NUMBER);
    }
    Ok(Created {
        reply,
        later,
        units,
    })
}

/// What a delivered message to `to` is billed, in 0.00001 USD: one channel message to a
/// channel address (`whatsapp:+1…`), one MMS when it carries media or is sent with
/// `SendAsMms=true` (US destinations), else its segments.
pub fn billed_units(to: &str, body: &str, media: usize, send_as_mms: bool) -> u64 {
    if to.contains(':') {
        pricing::CHANNEL_MESSAGE
    } else if media > 0 || send_as_mms {
        pricing::MMS
    } else {
        u64::from(segments::count(body).1) * pricing::SMS_SEGMENT
    }
}

/// `MG` and 32 letters or digits.
fn is_service_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("MG") && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}
