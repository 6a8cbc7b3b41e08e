//! Money leaving the platform's balance: transfers to connected accounts and payouts to the
//! platform's bank. Each function validates a create request and builds the new object.

use serde_json::{json, Value};

use super::error::StripeError;
use super::form::Params;
use super::objects::ID_LEN;
use crate::ids::{now_secs, random_id};

/// Seconds a standard payout takes to arrive (two days); instant ones arrive at once.
const STANDARD_ARRIVAL_SECS: i64 = 2 * 24 * 60 * 60;

/// `POST /v1/transfers`: `amount`, `currency` and a connected account as `destination`.
pub fn transfer(params: &Params) -> Result<Value, StripeError> {
    let amount = params.required_positive_integer("amount")?;
    let currency = params.currency()?;
    let destination = params.required("destination")?;
    if !destination.starts_with("acct_") {
        // Stripe looks the account up and reports it missing rather than malformed.
        return Err(StripeError::NoSuchParamObject {
            kind: "destination",
            id: destination.to_owned(),
            param: "destination".to_owned(),
        });
    }
    let id = random_id("tr_", ID_LEN);
    Ok(json!({
        "id": id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": random_id("txn_", ID_LEN),
        "created": now_secs(),
        "currency": currency,
        "description": params.non_empty("description"),
        "destination": destination,
        "destination_payment": random_id("py_", ID_LEN),
        "livemode": false,
        "metadata": params.metadata(),
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": false,
            "total_count": 0,
            "url": format!("/v1/transfers/{id}/reversals")
        },
        "reversed": false,
        "source_transaction": params.non_empty("source_transaction"),
        "source_type": params.non_empty("source_type").unwrap_or("card"),
        "transfer_group": params.non_empty("transfer_group"),
    }))
}

/// `POST /v1/payouts`: `amount` and `currency`; `method` is `standard` (default) or
/// `instant`.
pub fn payout(params: &Params) -> Result<Value, StripeError> {
    let amount = params.required_positive_integer("amount")?;
    let currency = params.currency()?;
    let method = match params.non_empty("method") {
        None => "standard",
        Some(m @ ("standard" | "instant")) => m,
        Some(other) => {
            return Err(StripeError::InvalidParam {
                param: "method".to_owned(),
                message: format!(
                    "Invalid method: must be one of standard or instant (got {other})"
                ),
            })
        }
    };
    let created = now_secs();
    let arrival_date = if method == "instant" {
        created
    } else {
        created + STANDARD_ARRIVAL_SECS
    };
    let destination = params
        .non_empty("destination")
        .map_or_else(|| random_id("ba_", ID_LEN), str::to_owned);
    let kind = if destination.starts_with("card_") {
        "card"
    } else {
        "bank_account"
    };
    Ok(json!({
        "id": random_id("po_", ID_LEN),
        "object": "payout",
        "amount": amount,
        "application_fee": null,
        "application_fee_amount": null,
        "arrival_date": arrival_date,
        "automatic": false,
        "balance_transaction": random_id("txn_", ID_LEN),
        "created": created,
        "currency": currency,
        "description": params.non_empty("description"),
        "destination": destination,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "livemode": false,
        "metadata": params.metadata(),
        "method": method,
        "original_payout": null,
        "reconciliation_status": "not_applicable",
        "reversed_by": null,
        "source_type": params.non_empty("source_type").unwrap_or("card"),
        "statement_descriptor": params.non_empty("statement_descriptor"),
        "status": "pending",
        "trace_id": { "status": "pending", "value": null },
        "type": kind,
    }))
}
