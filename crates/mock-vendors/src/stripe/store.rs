//! The in-memory objects behind the Stripe mock, and the rules for creating them.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::error::StripeError;
use super::form::Params;
use super::objects::{self, ChargeInput, PaymentIntentInput, ID_LEN};
use super::outflows;
use crate::ids::random_id;

mod follow_ups;

/// Currencies whose amounts have no minor unit (https://stripe.com/docs/currencies).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// The resources the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    PaymentIntent,
    Customer,
    Charge,
    Refund,
    Transfer,
    Payout,
}

impl Resource {
    /// The resource named by a `/v1/<segment>` path.
    pub fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "payment_intents" => Some(Self::PaymentIntent),
            "customers" => Some(Self::Customer),
            "charges" => Some(Self::Charge),
            "refunds" => Some(Self::Refund),
            "transfers" => Some(Self::Transfer),
            "payouts" => Some(Self::Payout),
            _ => None,
        }
    }

    /// The value of the object's `object` field, also used in "No such ..." messages.
    pub fn object(self) -> &'static str {
        match self {
            Self::PaymentIntent => "payment_intent",
            Self::Customer => "customer",
            Self::Charge => "charge",
            Self::Refund => "refund",
            Self::Transfer => "transfer",
            Self::Payout => "payout",
        }
    }
}

/// What a call did: the object it answers with, and the money it moved.
#[derive(Clone, Debug, PartialEq)]
pub struct Done {
    pub object: Value,
    pub moved: Option<Moved>,
}

/// Money a call moved: `amount` minor units of `currency`, on the object `id` (the charge
/// captured, the refund, the transfer, the payout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub id: String,
    pub amount: i64,
    pub currency: String,
}

/// Every object created since the mock started, by id.
#[derive(Debug, Default)]
pub struct Store {
    objects: HashMap<String, Value>,
}

// === impl Done ===

impl Done {
    fn nothing_moved(object: Value) -> Self {
        Self {
            object,
            moved: None,
        }
    }

    /// An object that is itself money moved (a transfer, a payout, a refund, a captured
    /// charge): its `id`, `amount` and `currency`.
    fn moved_itself(object: Value) -> Self {
        let moved = Moved {
            id: object["id"].as_str().unwrap_or_default().to_owned(),
            amount: object["amount"].as_i64().unwrap_or(0),
            currency: object["currency"].as_str().unwrap_or_default().to_owned(),
        };
        Self {
            object,
            moved: Some(moved),
        }
    }
}

// === impl Store ===

impl Store {
    /// `GET /v1/<resource>/{id}`.
    pub fn retrieve(&self, resource: Resource, id: &str) -> Result<Done, StripeError> {
        self.find(resource, id)
            .cloned()
            .map(Done::nothing_moved)
            .ok_or_else(|| StripeError::NoSuchObject {
                kind: resource.object(),
                id: id.to_owned(),
            })
    }

    /// `POST /v1/<resource>`.
    pub fn create(&mut self, resource: Resource, params: &Params) -> Result<Done, StripeError> {
        match resource {
            Resource::PaymentIntent => self.create_payment_intent(params),
            Resource::Customer => Ok(Done::nothing_moved(self.insert(objects::customer(
                params.non_empty("email"),
                params.non_empty("name"),
                params.non_empty("description"),
                params.non_empty("phone"),
                params.metadata(),
            )))),
            Resource::Charge => self.create_charge(params),
            Resource::Refund => self.create_refund(params),
            Resource::Transfer => Ok(Done::moved_itself(self.insert(outflows::transfer(params)?))),
            Resource::Payout => Ok(Done::moved_itself(self.insert(outflows::payout(params)?))),
        }
    }

    fn create_payment_intent(&mut self, params: &Params) -> Result<Done, StripeError> {
        let amount = params.required_positive_integer("amount")?;
        let currency = params.currency()?;
        let customer = self.existing(params, "customer", Resource::Customer)?;
        let confirm = params.boolean("confirm", false)?;
        let capture_method = capture_method(params)?.unwrap_or("automatic_async");
        let payment_method = params
            .non_empty("payment_method")
            .map(str::to_owned)
            .or_else(|| confirm.then(|| random_id("pm_", ID_LEN)));
        let input = PaymentIntentInput {
            amount,
            currency,
            customer,
            description: params.non_empty("description").map(str::to_owned),
            receipt_email: params.non_empty("receipt_email").map(str::to_owned),
            payment_method,
            payment_method_types: params.list("payment_method_types"),
            capture_method: capture_method.to_owned(),
            metadata: params.metadata(),
        };
        let id = random_id("pi_", ID_LEN);
        let intent = self.insert(objects::payment_intent(&id, &input, false, None));
        if confirm {
            self.confirm_intent(&id, params)
        } else {
            Ok(Done::nothing_moved(intent))
        }
    }

    fn create_charge(&mut self, params: &Params) -> Result<Done, StripeError> {
        let amount = params.required_positive_integer("amount")?;
        let currency = params.currency()?;
        let customer = self.existing(params, "customer", Resource::Customer)?;
        let source = params.non_empty("source");
        if source.is_none() && customer.is_none() {
            return Err(StripeError::OneOfMissing {
                params: "source or customer",
            });
        }
        let payment_method = match source {
            // A token is exchanged for a new card; anything else is charged as given.
            Some(s) if !s.starts_with("tok_") => s.to_owned(),
            _ => random_id("card_", ID_LEN),
        };
        let charge = objects::charge(&ChargeInput {
            amount,
            currency,
            customer,
            description: params.non_empty("description").map(str::to_owned),
            receipt_email: params.non_empty("receipt_email").map(str::to_owned),
            payment_intent: None,
            payment_method,
            captured: params.boolean("capture", true)?,
            metadata: params.metadata(),
        });
        let charge = self.insert(charge);
        Ok(if charge["captured"] == json!(true) {
            Done::moved_itself(charge)
        } else {
            Done::nothing_moved(charge)
        })
    }

    /// A refund of a captured charge moves money back to the customer; one of an uncaptured
    /// charge releases (part of) the authorization and moves nothing.
    fn create_refund(&mut self, params: &Params) -> Result<Done, StripeError> {
        let amount = params.positive_integer("amount")?;
        let charge_id = self.refunded_charge(params)?;
        let Some(charge) = self.objects.get_mut(&charge_id) else {
            return Err(StripeError::NoSuchParamObject {
                kind: "charge",
                id: charge_id,
                param: "charge".to_owned(),
            });
        };
        let captured = charge["captured"].as_bool().unwrap_or(true);
        let charged = if captured {
            charge["amount_captured"].as_i64().unwrap_or(0)
        } else {
            charge["amount"].as_i64().unwrap_or(0)
        };
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let remaining = charged.saturating_sub(refunded);
        if remaining <= 0 {
            return Err(StripeError::ChargeAlreadyRefunded { charge: charge_id });
        }
        let amount = amount.unwrap_or(remaining);
        if amount > remaining {
            let currency = charge["currency"].as_str().unwrap_or("usd");
            return Err(StripeError::RefundTooLarge {
                requested: format_amount(amount, currency),
                remaining: format_amount(remaining, currency),
            });
        }
        charge["amount_refunded"] = json!(refunded + amount);
        charge["refunded"] = json!(refunded + amount == charged);
        let refund = objects::refund(
            charge,
            amount,
            params.non_empty("reason"),
            params.metadata(),
        );
        let refund = self.insert(refund);
        Ok(if captured {
            Done::moved_itself(refund)
        } else {
            Done::nothing_moved(refund)
        })
    }

    /// The id of the charge a refund request is about, from `charge` or `payment_intent`.
    fn refunded_charge(&self, params: &Params) -> Result<String, StripeError> {
        let payment_intent = self.existing(params, "payment_intent", Resource::PaymentIntent)?;
        let intent_charge = match &payment_intent {
            Some(pi) => Some(
                self.find(Resource::PaymentIntent, pi)
                    .and_then(|o| o["latest_charge"].as_str())
                    .ok_or_else(|| StripeError::NothingToRefund {
                        payment_intent: pi.clone(),
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        match (
            self.existing(params, "charge", Resource::Charge)?,
            intent_charge,
        ) {
            (Some(charge), Some(from_intent)) if charge != from_intent => {
                Err(StripeError::InvalidParam {
                    param: "charge".to_owned(),
                    message: format!(
                        "The charge {charge} does not belong to the PaymentIntent given in \
                         payment_intent."
                    ),
                })
            }
            (Some(charge), _) | (None, Some(charge)) => Ok(charge),
            (None, None) => Err(StripeError::OneOfMissing {
                params: "payment_intent or charge",
            }),
        }
    }

    /// The id in parameter `param`, if given, after checking it names an existing object.
    fn existing(
        &self,
        params: &Params,
        param: &str,
        resource: Resource,
    ) -> Result<Option<String>, StripeError> {
        match params.non_empty(param) {
            None => Ok(None),
            Some(id) if self.find(resource, id).is_some() => Ok(Some(id.to_owned())),
            Some(id) => Err(StripeError::NoSuchParamObject {
                kind: resource.object(),
                id: id.to_owned(),
                param: param.to_owned(),
            }),
        }
    }

    fn find(&self, resource: Resource, id: &str) -> Option<&Value> {
        self.objects
            .get(id)
            .filter(|o| o["object"].as_str() == Some(resource.object()))
    }

    /// Stores an object under its `id` and returns the stored copy.
    fn insert(&mut self, object: Value) -> Value {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        self.objects.insert(id, object.clone());
        object
    }
}

/// `capture_method`, if given: `automatic`, `automatic_async` or `manual`.
fn capture_method(params: &Params) -> Result<Option<&'static str>, StripeError> {
    match params.non_empty("capture_method") {
        None => Ok(None),
        Some("automatic") => Ok(Some("automatic")),
        Some("automatic_async") => Ok(Some("automatic_async")),
        Some("manual") => Ok(Some("manual")),
        Some(other) => Err(StripeError::InvalidParam {
            param: "capture_method".to_owned(),
            message: format!(
                "Invalid capture_method: must be one of automatic, automatic_async, or manual \
                 (got {other})"
            ),
        }),
    }
}

/// An amount as Stripe writes it in messages: `$10.00`, `1000 jpy`, `12.50 eur`.
fn format_amount(amount: i64, currency: &str) -> String {
    if ZERO_DECIMAL.contains(&currency) {
        return format!("{amount} {currency}");
    }
    let major = format!("{}.{:02}", amount / 100, amount % 100);
    if currency == "usd" {
        format!("${major}")
    } else {
        format!("{major} {currency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_messages() {
        assert_eq!(format_amount(1050, "usd"), "$10.50");
        assert_eq!(format_amount(5, "eur"), "0.05 eur");
        assert_eq!(format_amount(1000, "jpy"), "1000 jpy");
    }
}
