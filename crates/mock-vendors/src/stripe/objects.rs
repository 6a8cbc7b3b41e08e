//! Stripe API objects as JSON, with every top-level field the real object carries.
//!
//! Field lists follow `stripe/openapi` (`openapi/fixtures3.json`) for the pinned API version;
//! values that the mock does not model are the ones a fresh test-mode object has.

use serde_json::{json, Map, Value};

use crate::ids::{now_secs, random_id};

/// Length of the random part of an object id (`pi_` + 24).
pub const ID_LEN: usize = 24;

/// What a new payment intent is made of, already validated.
#[derive(Clone, Debug)]
pub struct PaymentIntentInput {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub receipt_email: Option<String>,
    pub payment_method: Option<String>,
    pub payment_method_types: Vec<String>,
    /// `automatic`, `automatic_async` or `manual`.
    pub capture_method: String,
    pub metadata: Map<String, Value>,
}

/// What a new charge is made of, already validated.
#[derive(Clone, Debug)]
pub struct ChargeInput {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub receipt_email: Option<String>,
    pub payment_intent: Option<String>,
    /// The card or payment method charged (`source`, `payment_method` or a generated one).
    pub payment_method: String,
    pub captured: bool,
    pub metadata: Map<String, Value>,
}

/// A payment intent. `charge` is the id of its successful charge once confirmed.
pub fn payment_intent(
    id: &str,
    input: &PaymentIntentInput,
    confirmed: bool,
    charge: Option<&str>,
) -> Value {
    let manual = input.capture_method == "manual";
    let (status, received, capturable) = match (confirmed, manual) {
        (false, _) => ("requires_payment_method", 0, 0),
        (true, false) => ("succeeded", input.amount, 0),
        (true, true) => ("requires_capture", 0, input.amount),
    };
    let types = if input.payment_method_types.is_empty() {
        vec!["card".to_owned()]
    } else {
        input.payment_method_types.clone()
    };
    json!({
        "id": id,
        "object": "payment_intent",
        "amount": input.amount,
        "amount_capturable": capturable,
        "amount_details": { "tip": {} },
        "amount_received": received,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": input.capture_method,
        "client_secret": format!("{id}_secret_{}", random_id("", ID_LEN)),
        "confirmation_method": "automatic",
        "created": now_secs(),
        "currency": input.currency,
        "customer": input.customer,
        "description": input.description,
        "last_payment_error": null,
        "latest_charge": charge,
        "livemode": false,
        "metadata": input.metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": input.payment_method,
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": types,
        "processing": null,
        "receipt_email": input.receipt_email,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// A successful charge.
pub fn charge(input: &ChargeInput) -> Value {
    let id = random_id("ch_", ID_LEN);
    let captured_amount = if input.captured { input.amount } else { 0 };
    let balance_transaction = input.captured.then(|| random_id("txn_", ID_LEN));
    json!({
        "id": id,
        "object": "charge",
        "amount": input.amount,
        "amount_captured": captured_amount,
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": balance_transaction,
        "billing_details": {
            "address": {
                "city": null, "country": null, "line1": null, "line2": null,
                "postal_code": null, "state": null
            },
            "email": null,
            "name": null,
            "phone": null
        },
        "calculated_statement_descriptor": "KEYBRAKE MOCK",
        "captured": input.captured,
        "created": now_secs(),
        "currency": input.currency,
        "customer": input.customer,
        "description": input.description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
        "livemode": false,
        "metadata": input.metadata,
        "on_behalf_of": null,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": null,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized"
        },
        "paid": true,
        "payment_intent": input.payment_intent,
        "payment_method": input.payment_method,
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "country": "US",
                "exp_month": 12,
                "exp_year": 2030,
                "funding": "credit",
                "last4": "4242",
                "network": "visa"
            },
            "type": "card"
        },
        "receipt_email": input.receipt_email,
        "receipt_number": null,
        "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", random_id("", 40)),
        "refunded": false,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// A customer.
pub fn customer(
    email: Option<&str>,
    name: Option<&str>,
    description: Option<&str>,
    phone: Option<&str>,
    metadata: Map<String, Value>,
) -> Value {
    json!({
        "id": random_id("cus_", ID_LEN),
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": now_secs(),
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": description,
        "discount": null,
        "email": email,
        "invoice_prefix": random_id("", 8).to_ascii_uppercase(),
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null
        },
        "livemode": false,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    })
}

/// A successful refund of `amount` on `charge` (an existing charge object).
pub fn refund(
    charge: &Value,
    amount: i64,
    reason: Option<&str>,
    metadata: Map<String, Value>,
) -> Value {
    json!({
        "id": random_id("re_", ID_LEN),
        "object": "refund",
        "amount": amount,
        "balance_transaction": random_id("txn_", ID_LEN),
        "charge": charge["id"],
        "created": now_secs(),
        "currency": charge["currency"],
        "destination_details": {
            "card": {
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund"
            },
            "type": "card"
        },
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    })
}
