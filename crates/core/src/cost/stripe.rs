//! Stripe's cost rules. Creating a PaymentIntent, Charge, Transfer or Payout costs its `amount`
//! in `currency`; a Refund costs its `amount`, or the full amount the response reports when the
//! request names none. Everything else (reads, customers, confirmations of an intent already
//! counted at creation) costs nothing.

use super::{single_field, CostError, Estimate, Settlement};
use crate::currency::Rates;

const AMOUNT_OBJECTS: [&str; 4] = ["payment_intents", "charges", "transfers", "payouts"];

fn created_object<'p>(method: &str, path: &'p [String]) -> Option<&'p str> {
    match path {
        [v1, object] if v1 == "v1" && method.eq_ignore_ascii_case("POST") => Some(object.as_str()),
        _ => None,
    }
}

/// Request fields the price is read from: none may also arrive in the query string.
pub const PRICED_FIELDS: &[&str] = &["amount", "currency"];

pub fn is_costed(method: &str, path: &[String]) -> bool {
    created_object(method, path).is_some_and(|o| o == "refunds" || AMOUNT_OBJECTS.contains(&o))
}

fn parse_amount(s: &str) -> Result<u64, CostError> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CostError::Unpriceable(
            "amount must be a non-negative integer",
        ));
    }
    s.parse()
        .map_err(|_| CostError::Unpriceable("amount must be a non-negative integer"))
}

pub fn estimate(
    method: &str,
    path: &[String],
    body: &[u8],
    rates: &Rates,
) -> Result<Estimate, CostError> {
    let Some(object) = created_object(method, path).filter(|_| is_costed(method, path)) else {
        return Ok(Estimate::Free);
    };
    // Form bodies; `[`/`]` arrive raw or percent-encoded, and only top-level fields matter.
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let amount = single_field(&fields, "amount")?;
    let currency = single_field(&fields, "currency")?;
    match (object, amount, currency) {
        (_, Some(a), Some(c)) => Ok(Estimate::Reserve(rates.to_micros(parse_amount(a)?, c)?)),
        ("refunds", _, _) => {
            if let Some(a) = amount {
                parse_amount(a)?;
            }
            Ok(Estimate::HoldRemaining)
        }
        (_, None, _) => Err(CostError::Unpriceable("amount is required")),
        (_, _, None) => Err(CostError::Unpriceable("currency is required")),
    }
}

pub fn settle(
    path: &[String],
    status: u32,
    replayed: bool,
    body: &[u8],
    rates: &Rates,
) -> Settlement {
    if replayed {
        return Settlement::NoCharge;
    }
    match status {
        200..=299 => {
            #[derive(serde::Deserialize)]
            struct Moved {
                amount: u64,
                currency: String,
            }
            match serde_json::from_slice::<Moved>(body) {
                Ok(m) => rates
                    .to_micros(m.amount, &m.currency)
                    .map_or(Settlement::Unknown, Settlement::Actual),
                Err(_) => Settlement::Unknown,
            }
        }
        // Stripe answered with an error: a declined card, bad parameters, a refusal. Nothing moved.
        400..=499 => {
            let _ = path;
            Settlement::NoCharge
        }
        _ => Settlement::Unknown,
    }
}
