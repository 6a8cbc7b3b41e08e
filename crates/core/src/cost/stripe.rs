//! Stripe's pricing rules (which endpoint gets which rule: [`super::catalog`]).
//!
//! A call that names an amount and its currency costs that amount. A follow-up names an amount
//! but not its currency (Stripe uses the currency of the intent or charge it follows): it is
//! priced in the currency this gateway recorded for that object, else at
//! [`Rates::ceiling_micros`] (the dearest minor unit there is). A follow-up that names no amount
//! moves the object's whole amount: it is free when this key already counted that amount through
//! this gateway ([`super::counted`]), and unbounded otherwise.
use super::catalog::Rule;
use super::{single_field, CostError, Counted, Estimate, Known, Settlement};
use crate::currency::Rates;
use serde_json::Value;

/// Request fields a price is read from: none may also arrive in the query string (Stripe reads
/// both).
pub const PRICED_FIELDS: &[&str] = &[
    "amount",
    "currency",
    "amount_to_capture",
    "amount_to_confirm",
    "invoice_now",
    "auto_advance",
    "type",
    "charge",
    "payment_intent",
];

const NAME_AMOUNT_AND_CURRENCY: &str =
    "name `amount` and `currency`: keybrake prices this call from them.";
const NAME_REFUND_AMOUNT: &str = "without `amount` this moves the whole original amount, which the request does not state. Name `amount` (in the minor unit of the original charge's currency).";
const CURRENCY_ALONE: &str = "changing `currency` without `amount` changes what the intent is worth by an amount the request does not state. Name `amount` with it.";
const FOLLOW_UP: &str = "this moves the whole amount of an intent or charge that this key did not create through this gateway, and the request does not state it. Name the amount (`amount_to_capture`, `amount_to_confirm` or `amount`), or create the intent with confirm=true through keybrake.";
const INVOICE_AUTO: &str = "with auto_advance=true Stripe finalizes and charges the invoice later, for a total the request does not state. Leave auto_advance off and charge with a PaymentIntent.";
const INVOICE_NOW: &str = "invoice_now=true bills the final invoice at once, for a total the request does not state. Cancel without invoice_now.";
const PHYSICAL_CARD: &str =
    "a physical card carries fees keybrake has no price for. Issue virtual cards (type=virtual).";
const CREDIT_NOTE: &str = "a credit note without `amount` credits or refunds a total the request does not state. Name `amount` (the note's total).";

fn parse_amount(s: &str) -> Result<u64, CostError> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CostError::Unpriceable(
            "amount must be a non-negative integer",
        ));
    }
    s.parse()
        .map_err(|_| CostError::Unpriceable("amount must be a non-negative integer"))
}

/// An amount that may be negative (a customer balance credit): its magnitude.
fn parse_signed_amount(s: &str) -> Result<u64, CostError> {
    parse_amount(s.strip_prefix('-').unwrap_or(s))
}

/// Top-level form fields; `[`/`]` arrive raw or percent-encoded, and only top-level names count.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn amount_in(amount: u64, currency: &str, rates: &Rates) -> Result<Estimate, CostError> {
    Ok(Estimate::Reserve(rates.to_micros(amount, currency)?))
}

/// `amount` in a currency the request does not name: the recorded object's, else the ceiling.
fn amount_of_follow_up(
    amount: u64,
    counted: Option<&Counted>,
    rates: &Rates,
) -> Result<Estimate, CostError> {
    match counted {
        Some(c) => amount_in(amount, &c.currency, rates),
        None => Ok(Estimate::Reserve(rates.ceiling_micros(amount)?)),
    }
}

pub fn estimate(
    rule: Rule,
    path: &[String],
    body: &[u8],
    rates: &Rates,
    known: Known<'_>,
) -> Result<Estimate, CostError> {
    if let Rule::StripeV2Amount = rule {
        return v2_amount(body, rates);
    }
    let fields = form(body);
    let field = |name: &str| single_field(&fields, name);
    // The object a follow-up moves money of, as this gateway recorded it.
    let counted = known.counted;
    let own = counted.filter(|c| c.key_id == known.key_id);
    match rule {
        Rule::StripeAmount | Rule::StripeSignedAmount => {
            let parse = if rule == Rule::StripeSignedAmount {
                parse_signed_amount
            } else {
                parse_amount
            };
            match (field("amount")?, field("currency")?) {
                (Some(a), Some(c)) => amount_in(parse(a)?, c, rates),
                _ => Err(CostError::Unbounded(NAME_AMOUNT_AND_CURRENCY)),
            }
        }
        Rule::StripeIntentUpdate => match (field("amount")?, field("currency")?) {
            (Some(a), Some(c)) => amount_in(parse_amount(a)?, c, rates),
            (Some(a), None) => amount_of_follow_up(parse_amount(a)?, counted, rates),
            (None, Some(_)) => Err(CostError::Unbounded(CURRENCY_ALONE)),
            (None, None) => Ok(Estimate::Free),
        },
        Rule::StripeFollowUp(name) => match (field(name)?, own) {
            (None, Some(_)) => Ok(Estimate::Free),
            (None, None) => Err(CostError::Unbounded(FOLLOW_UP)),
            (Some(a), Some(c)) if parse_amount(a)? <= c.amount => Ok(Estimate::Free),
            (Some(a), _) => amount_of_follow_up(parse_amount(a)?, counted, rates),
        },
        Rule::StripeIncrement => match field("amount")? {
            Some(a) => amount_of_follow_up(parse_amount(a)?, counted, rates),
            None => Err(CostError::Unbounded(FOLLOW_UP)),
        },
        Rule::StripeNamedAmount(_) => match field("amount")? {
            Some(a) => amount_of_follow_up(parse_amount(a)?, counted, rates),
            None => Err(CostError::Unbounded(NAME_REFUND_AMOUNT)),
        },
        Rule::StripeCreditNote => match field("amount")? {
            Some(a) => amount_of_follow_up(parse_amount(a)?, None, rates),
            None => Err(CostError::Unbounded(CREDIT_NOTE)),
        },
        Rule::StripeCancelSubscription => match field("invoice_now")? {
            Some(v) if v.eq_ignore_ascii_case("true") => Err(CostError::Unbounded(INVOICE_NOW)),
            _ => Ok(Estimate::Free),
        },
        Rule::StripeInvoiceDraft => match field("auto_advance")? {
            Some(v) if v.eq_ignore_ascii_case("true") => Err(CostError::Unbounded(INVOICE_AUTO)),
            _ => Ok(Estimate::Free),
        },
        Rule::StripeIssuingCard => match field("type")? {
            Some("virtual") => Ok(Estimate::Free),
            _ => Err(CostError::Unbounded(PHYSICAL_CARD)),
        },
        _ => {
            let _ = path;
            Err(CostError::Unbounded(super::catalog::UNKNOWN))
        }
    }
}

/// `/v2` money movements: `{"amount": {"value": 1000, "currency": "usd"}, …}`.
fn v2_amount(body: &[u8], rates: &Rates) -> Result<Estimate, CostError> {
    #[derive(serde::Deserialize)]
    struct Amount {
        value: u64,
        currency: String,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        amount: Option<Amount>,
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| {
        if e.to_string().starts_with("duplicate field") {
            CostError::Unpriceable("a priced field is sent more than once")
        } else {
            CostError::Unpriceable("the body must be a JSON object with amount {value, currency}")
        }
    })?;
    match parsed.amount {
        Some(a) => amount_in(a.value, &a.currency, rates),
        None => Err(CostError::Unbounded(NAME_AMOUNT_AND_CURRENCY)),
    }
}

/// The id of the intent or charge a follow-up moves money of: the path's id
/// (`/v1/payment_intents/{id}/capture`), or a refund's `payment_intent` / `charge`.
pub fn follow_up_object(path: &[String], body: &[u8]) -> Option<String> {
    match path {
        [v1, object, id, ..]
            if v1 == "v1" && (object == "payment_intents" || object == "charges") =>
        {
            Some(id.clone())
        }
        [v1, refunds] if v1 == "v1" && refunds == "refunds" => {
            let fields = form(body);
            let pick = |name| {
                single_field(&fields, name)
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            };
            pick("payment_intent").or_else(|| pick("charge"))
        }
        _ => None,
    }
}

/// The response fields whose sum says what a call moved: a capture reports the captured
/// amount; a confirm what it received or authorized (`amount_to_confirm` may be less than the
/// intent's `amount`); everything else the object's `amount`.
fn moved_fields(path: &[String]) -> &'static [&'static str] {
    match path {
        [_, object, _, action] if object == "payment_intents" && action == "capture" => {
            &["amount_received"]
        }
        [_, object, _, action] if object == "payment_intents" && action == "confirm" => {
            &["amount_received", "amount_capturable"]
        }
        [_, object, _, action] if object == "charges" && action == "capture" => {
            &["amount_captured"]
        }
        _ => &["amount"],
    }
}

/// The amount a 2xx answer reports as moved, and its currency.
fn moved(path: &[String], v: &Value) -> Option<(u64, String)> {
    if let Some(Value::Object(a)) = v.get("amount") {
        // v2: {"amount": {"value", "currency"}}
        let value = a.get("value")?.as_i64()?.unsigned_abs();
        return Some((value, a.get("currency")?.as_str()?.to_owned()));
    }
    let mut total: u64 = 0;
    for field in moved_fields(path) {
        let amount = v.get(*field)?.as_i64()?.unsigned_abs();
        total = total.checked_add(amount)?;
    }
    Some((total, v.get("currency")?.as_str()?.to_owned()))
}

/// `answer` is the response body parsed once ([`super::Answer`]); `None` when it was not JSON.
pub fn settle(
    path: &[String],
    status: u32,
    replayed: bool,
    answer: Option<&Value>,
    rates: &Rates,
) -> Settlement {
    if replayed {
        return Settlement::NoCharge;
    }
    match status {
        200..=299 => {
            let Some(v) = answer else {
                return Settlement::Unknown;
            };
            match moved(path, v) {
                Some((amount, currency)) => rates
                    .to_micros(amount, &currency)
                    .map_or(Settlement::Unknown, Settlement::Actual),
                None => Settlement::Unknown,
            }
        }
        // Stripe answered with an error: a declined card, bad parameters, a refusal. Nothing moved.
        400..=499 => Settlement::NoCharge,
        _ => Settlement::Unknown,
    }
}

/// After a priced call answered 2xx: the intent or charge whose money may still move (an
/// uncaptured or unconfirmed intent, an uncaptured charge), to remember for its follow-ups.
pub fn to_remember(v: &Value) -> Option<(String, u64, String)> {
    let id = v.get("id")?.as_str()?;
    let pending = match v.get("object")?.as_str()? {
        "payment_intent" => v
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("requires_")),
        "charge" => v.get("captured").and_then(Value::as_bool) == Some(false),
        _ => false,
    };
    if !pending {
        return None;
    }
    let amount = v.get("amount")?.as_u64()?;
    let currency = v.get("currency")?.as_str()?;
    Some((id.to_owned(), amount, currency.to_ascii_lowercase()))
}
