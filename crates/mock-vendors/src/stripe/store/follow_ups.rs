//! Follow-ups of an existing payment intent or charge: update, confirm, capture,
//! increment_authorization, and the capture of a charge made with `capture=false`.
//!
//! Money moves when a charge is captured (a confirm with automatic capture, a capture); an
//! update or an increment changes only what a later capture may take.

use serde_json::{json, Value};

use super::{capture_method, format_amount, Done, Moved, Resource, Store};
use crate::ids::random_id;
use crate::stripe::error::StripeError;
use crate::stripe::form::Params;
use crate::stripe::objects::{self, ChargeInput, ID_LEN};
use crate::stripe::route::Action;

/// Statuses in which an intent's amount can change and it can be confirmed.
const OPEN: [&str; 3] = [
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
];
const OPEN_LIST: &str = "requires_payment_method, requires_confirmation, requires_action";
/// The status in which an intent can be captured or its authorization incremented.
const CAPTURABLE: &str = "requires_capture";

impl Store {
    /// `POST /v1/payment_intents/{id}`: `amount` and `currency` only while the intent is
    /// open; `description`, `receipt_email`, `payment_method`, `capture_method` and
    /// `metadata` (merged) as given.
    pub fn update_intent(&mut self, id: &str, params: &Params) -> Result<Done, StripeError> {
        let status = self.intent_status(id)?;
        let amount = params.positive_integer("amount")?;
        let currency = match params.non_empty("currency") {
            Some(_) => Some(params.currency()?),
            None => None,
        };
        let capture = capture_method(params)?;
        if (amount.is_some() || currency.is_some() || capture.is_some())
            && !OPEN.contains(&status.as_str())
        {
            return Err(unexpected(id, status, "updated", OPEN_LIST));
        }
        let intent = self.intent_mut(id)?;
        if let Some(amount) = amount {
            intent["amount"] = json!(amount);
        }
        if let Some(currency) = currency {
            intent["currency"] = json!(currency);
        }
        if let Some(capture) = capture {
            intent["capture_method"] = json!(capture);
        }
        for field in ["description", "receipt_email"] {
            if let Some(v) = params.non_empty(field) {
                intent[field] = json!(v);
            }
        }
        if let Some(pm) = params.non_empty("payment_method") {
            intent["payment_method"] = json!(pm);
            if status == "requires_payment_method" {
                intent["status"] = json!("requires_confirmation");
            }
        }
        let mut metadata = intent["metadata"].as_object().cloned().unwrap_or_default();
        metadata.extend(params.metadata());
        intent["metadata"] = Value::Object(metadata);
        Ok(Done::nothing_moved(intent.clone()))
    }

    /// `POST /v1/<resource>/{id}/<action>`.
    pub fn act(
        &mut self,
        resource: Resource,
        id: &str,
        action: Action,
        params: &Params,
    ) -> Result<Done, StripeError> {
        match (resource, action) {
            (Resource::PaymentIntent, Action::Confirm) => self.confirm_intent(id, params),
            (Resource::PaymentIntent, Action::Capture) => self.capture_intent(id, params),
            (Resource::PaymentIntent, Action::IncrementAuthorization) => {
                self.increment_authorization(id, params)
            }
            (Resource::Charge, Action::Capture) => self.capture_charge(id, params),
            (resource, _) => Err(StripeError::NoSuchObject {
                kind: resource.object(),
                id: id.to_owned(),
            }),
        }
    }

    /// Confirms an open intent: a charge of `amount_to_confirm` (default: the whole amount),
    /// captured at once unless the capture method is `manual`.
    pub fn confirm_intent(&mut self, id: &str, params: &Params) -> Result<Done, StripeError> {
        let status = self.intent_status(id)?;
        if !OPEN.contains(&status.as_str()) {
            return Err(unexpected(id, status, "confirmed", OPEN_LIST));
        }
        let intent = self.intent_mut(id)?.clone();
        let payment_method = params
            .non_empty("payment_method")
            .or_else(|| intent["payment_method"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| StripeError::InvalidParam {
                param: "payment_method".to_owned(),
                message: "You cannot confirm this PaymentIntent because it's missing a payment \
                          method. To confirm the PaymentIntent, specify a payment_method."
                    .to_owned(),
            })?;
        let capture = capture_method(params)?
            .map(str::to_owned)
            .or_else(|| intent["capture_method"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "automatic_async".to_owned());
        let amount = intent["amount"].as_i64().unwrap_or(0);
        let currency = intent["currency"].as_str().unwrap_or("usd").to_owned();
        let to_confirm = params
            .positive_integer("amount_to_confirm")?
            .unwrap_or(amount);
        if to_confirm > amount {
            return Err(StripeError::AmountTooLarge {
                param: "amount_to_confirm",
                message: format!(
                    "amount_to_confirm ({}) must be less than or equal to the PaymentIntent's \
                     amount ({}).",
                    format_amount(to_confirm, &currency),
                    format_amount(amount, &currency)
                ),
            });
        }
        let captured = capture != "manual";
        let text = |f: &str| intent[f].as_str().map(str::to_owned);
        let charge = self.insert(objects::charge(&ChargeInput {
            amount: to_confirm,
            currency: currency.clone(),
            customer: text("customer"),
            description: text("description"),
            receipt_email: text("receipt_email"),
            payment_intent: Some(id.to_owned()),
            payment_method: payment_method.clone(),
            captured,
            metadata: intent["metadata"].as_object().cloned().unwrap_or_default(),
        }));
        let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
        let intent = self.intent_mut(id)?;
        intent["status"] = json!(if captured { "succeeded" } else { CAPTURABLE });
        intent["amount_received"] = json!(if captured { to_confirm } else { 0 });
        intent["amount_capturable"] = json!(if captured { 0 } else { to_confirm });
        intent["latest_charge"] = json!(charge_id);
        intent["payment_method"] = json!(payment_method);
        intent["capture_method"] = json!(capture);
        Ok(Done {
            object: intent.clone(),
            moved: captured.then_some(Moved {
                id: charge_id,
                amount: to_confirm,
                currency,
            }),
        })
    }

    /// Captures an intent in `requires_capture`: `amount_to_capture` (default: all that is
    /// capturable, never more); the rest of the authorization is released.
    fn capture_intent(&mut self, id: &str, params: &Params) -> Result<Done, StripeError> {
        let status = self.intent_status(id)?;
        if status != CAPTURABLE {
            return Err(unexpected(id, status, "captured", CAPTURABLE));
        }
        let intent = self.intent_mut(id)?;
        let capturable = intent["amount_capturable"].as_i64().unwrap_or(0);
        let currency = intent["currency"].as_str().unwrap_or("usd").to_owned();
        let amount = params
            .positive_integer("amount_to_capture")?
            .unwrap_or(capturable);
        if amount > capturable {
            return Err(StripeError::AmountTooLarge {
                param: "amount_to_capture",
                message: format!(
                    "The amount_to_capture ({}) must be less than or equal to the \
                     PaymentIntent's amount_capturable ({}).",
                    format_amount(amount, &currency),
                    format_amount(capturable, &currency)
                ),
            });
        }
        intent["status"] = json!("succeeded");
        intent["amount_received"] = json!(amount);
        intent["amount_capturable"] = json!(0);
        let intent = intent.clone();
        let charge_id = intent["latest_charge"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(charge) = self.objects.get_mut(&charge_id) {
            capture(charge, amount);
        }
        Ok(Done {
            object: intent,
            moved: Some(Moved {
                id: charge_id,
                amount,
                currency,
            }),
        })
    }

    /// Raises the authorization of an intent in `requires_capture` to `amount` (the new
    /// total, above the current one). Nothing moves until the capture.
    fn increment_authorization(&mut self, id: &str, params: &Params) -> Result<Done, StripeError> {
        let status = self.intent_status(id)?;
        if status != CAPTURABLE {
            return Err(unexpected(id, status, "incremented", CAPTURABLE));
        }
        let amount = params.required_positive_integer("amount")?;
        let intent = self.intent_mut(id)?;
        let current = intent["amount"].as_i64().unwrap_or(0);
        if amount <= current {
            return Err(StripeError::InvalidParam {
                param: "amount".to_owned(),
                message: format!(
                    "The amount must be greater than the currently authorized amount \
                     ({current})."
                ),
            });
        }
        intent["amount"] = json!(amount);
        intent["amount_capturable"] = json!(amount);
        let intent = intent.clone();
        if let Some(charge) = intent["latest_charge"]
            .as_str()
            .and_then(|c| self.objects.get_mut(c))
        {
            charge["amount"] = json!(amount);
        }
        Ok(Done::nothing_moved(intent))
    }

    /// `POST /v1/charges/{id}/capture` of a charge made with `capture=false`: `amount`
    /// (default: all not released by a refund, never more).
    fn capture_charge(&mut self, id: &str, params: &Params) -> Result<Done, StripeError> {
        let charge = self
            .objects
            .get_mut(id)
            .filter(|o| o["object"] == "charge")
            .ok_or_else(|| StripeError::NoSuchObject {
                kind: "charge",
                id: id.to_owned(),
            })?;
        if charge["captured"] != json!(false) {
            return Err(StripeError::ChargeAlreadyCaptured {
                charge: id.to_owned(),
            });
        }
        let currency = charge["currency"].as_str().unwrap_or("usd").to_owned();
        let authorized = charge["amount"].as_i64().unwrap_or(0)
            - charge["amount_refunded"].as_i64().unwrap_or(0);
        let amount = params.positive_integer("amount")?.unwrap_or(authorized);
        if amount > authorized {
            return Err(StripeError::AmountTooLarge {
                param: "amount",
                message: format!(
                    "Amount must be no more than {}.",
                    format_amount(authorized, &currency)
                ),
            });
        }
        capture(charge, amount);
        let charge = charge.clone();
        if let Some(intent) = charge["payment_intent"]
            .as_str()
            .and_then(|pi| self.objects.get_mut(pi))
        {
            intent["status"] = json!("succeeded");
            intent["amount_received"] = json!(amount);
            intent["amount_capturable"] = json!(0);
        }
        Ok(Done {
            moved: Some(Moved {
                id: id.to_owned(),
                amount,
                currency,
            }),
            object: charge,
        })
    }

    fn intent_mut(&mut self, id: &str) -> Result<&mut Value, StripeError> {
        self.objects
            .get_mut(id)
            .filter(|o| o["object"] == "payment_intent")
            .ok_or_else(|| StripeError::NoSuchObject {
                kind: "payment_intent",
                id: id.to_owned(),
            })
    }

    fn intent_status(&mut self, id: &str) -> Result<String, StripeError> {
        Ok(self.intent_mut(id)?["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

/// Marks a charge captured for `amount`.
fn capture(charge: &mut Value, amount: i64) {
    charge["captured"] = json!(true);
    charge["amount_captured"] = json!(amount);
    charge["balance_transaction"] = json!(random_id("txn_", ID_LEN));
}

fn unexpected(
    id: &str,
    status: String,
    action: &'static str,
    allowed: &'static str,
) -> StripeError {
    StripeError::IntentUnexpectedState {
        id: id.to_owned(),
        status,
        action,
        allowed,
    }
}
