//! Resend's pricing rules (which endpoint gets which rule: [`super::catalog`]): every `to`, `cc`
//! and `bcc` address of an email is one email at the operator's per-email price, sent now or
//! scheduled (`scheduled_at`); a batch is the sum of its emails. The response carries no price,
//! so the request's count stands.

use super::catalog::Rule;
use super::{CostError, Estimate, Settlement};
use crate::prices::ResendPrices;
use serde_json::Value;

/// Most emails Resend takes in one batch.
const MAX_BATCH: usize = 100;

/// Request fields the price is read from: none may also arrive in the query string.
pub const PRICED_FIELDS: &[&str] = &["to", "cc", "bcc"];

fn addresses(v: Option<&Value>) -> Result<u64, CostError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(1),
        Some(Value::Array(a)) => {
            if a.iter()
                .all(|x| x.as_str().is_some_and(|s| !s.trim().is_empty()))
            {
                Ok(u64::try_from(a.len()).unwrap_or(u64::MAX))
            } else {
                Err(CostError::Unpriceable(
                    "recipients must be email address strings",
                ))
            }
        }
        Some(_) => Err(CostError::Unpriceable(
            "recipients must be email address strings",
        )),
    }
}

fn recipients(email: &Value) -> Result<u64, CostError> {
    let Value::Object(o) = email else {
        return Err(CostError::Unpriceable("an email must be a JSON object"));
    };
    Ok(addresses(o.get("to"))? + addresses(o.get("cc"))? + addresses(o.get("bcc"))?)
}

/// A JSON object with `to` twice is read as its last `to` by some parsers and its first by
/// others; one with a repeated recipient field is refused. (`serde_json::Value` keeps the last
/// silently; a derived struct reports the repeat.)
fn refuse_repeated_recipients(body: &[u8], batch: bool) -> Result<(), CostError> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Recipients {
        to: Option<serde::de::IgnoredAny>,
        cc: Option<serde::de::IgnoredAny>,
        bcc: Option<serde::de::IgnoredAny>,
    }
    let parsed = if batch {
        serde_json::from_slice::<Vec<Recipients>>(body).map(drop)
    } else {
        serde_json::from_slice::<Recipients>(body).map(drop)
    };
    // Every other shape error was already reported from the `Value`.
    match parsed {
        Err(e) if e.to_string().starts_with("duplicate field") => Err(CostError::Unpriceable(
            "a recipient field is sent more than once",
        )),
        _ => Ok(()),
    }
}

pub fn estimate(rule: Rule, body: &[u8], prices: &ResendPrices) -> Result<Estimate, CostError> {
    let batch = match rule {
        Rule::ResendEmail => false,
        Rule::ResendBatch => true,
        _ => return Err(CostError::Unbounded(super::catalog::UNKNOWN)),
    };
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| CostError::Unpriceable("the body must be JSON"))?;
    let count = if batch {
        let Value::Array(emails) = &v else {
            return Err(CostError::Unpriceable("a batch must be a JSON array"));
        };
        if emails.len() > MAX_BATCH {
            return Err(CostError::Unpriceable("a batch holds at most 100 emails"));
        }
        emails
            .iter()
            .map(recipients)
            .try_fold(0u64, |acc, n| n.map(|n| acc.saturating_add(n)))?
    } else {
        recipients(&v)?
    };
    refuse_repeated_recipients(body, batch)?;
    Ok(Estimate::Reserve(count.saturating_mul(prices.email_micros)))
}

pub fn settle(status: u32) -> Settlement {
    match status {
        400..=499 => Settlement::NoCharge,
        _ => Settlement::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        let p = ResendPrices::default();
        let emails = Rule::ResendEmail;
        let batch = Rule::ResendBatch;
        let many = serde_json::to_string(&vec![serde_json::json!({"to": "a@x.y"}); 101]).unwrap();
        let cases: Vec<(&str, Rule, String, Result<Estimate, CostError>)> = vec![
            (
                "one to",
                emails,
                r#"{"from":"a@x.y","to":"b@x.y","subject":"s"}"#.into(),
                Ok(Estimate::Reserve(900)),
            ),
            (
                "to cc bcc all count",
                emails,
                r#"{"to":["a@x.y","b@x.y"],"cc":"c@x.y","bcc":["d@x.y"]}"#.into(),
                Ok(Estimate::Reserve(3_600)),
            ),
            (
                "batch sums",
                batch,
                r#"[{"to":"a@x.y"},{"to":["b@x.y","c@x.y"]}]"#.into(),
                Ok(Estimate::Reserve(2_700)),
            ),
            (
                "batch too big",
                batch,
                many,
                Err(CostError::Unpriceable("a batch holds at most 100 emails")),
            ),
            (
                "not json",
                emails,
                "to=a@x.y".into(),
                Err(CostError::Unpriceable("the body must be JSON")),
            ),
            (
                "bad recipient",
                emails,
                r#"{"to":[1]}"#.into(),
                Err(CostError::Unpriceable(
                    "recipients must be email address strings",
                )),
            ),
            (
                "batch not array",
                batch,
                r#"{"to":"a@x.y"}"#.into(),
                Err(CostError::Unpriceable("a batch must be a JSON array")),
            ),
            (
                "to twice",
                emails,
                r#"{"to":"a@x.y","subject":"s","to":["b@x.y","c@x.y","d@x.y"]}"#.into(),
                Err(CostError::Unpriceable(
                    "a recipient field is sent more than once",
                )),
            ),
            (
                "escaped key is the same key",
                emails,
                r#"{"to":"a@x.y","\u0074o":["b@x.y","c@x.y"]}"#.into(),
                Err(CostError::Unpriceable(
                    "a recipient field is sent more than once",
                )),
            ),
            (
                "bcc twice in a batch",
                batch,
                r#"[{"to":"a@x.y"},{"to":"b@x.y","bcc":"c@x.y","bcc":["d@x.y","e@x.y"]}]"#.into(),
                Err(CostError::Unpriceable(
                    "a recipient field is sent more than once",
                )),
            ),
        ];
        for (name, path, body, want) in cases {
            assert_eq!(estimate(path, body.as_bytes(), &p), want, "case {name}");
        }
    }
}
