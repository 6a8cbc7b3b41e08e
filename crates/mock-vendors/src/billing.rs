//! What the mocks bill, behind `GET /__mock/billed` and `DELETE /__mock/billed`: one entry per
//! request that changed what the vendor charges, so a test can set keybrake's reservations
//! beside the vendor's own figure.
//!
//! Stripe: the money a call moved (a payment captured, a refund, a transfer, a payout), in the
//! minor unit of its currency; an authorization, an intent update or a replay moves nothing and
//! has no entry. Twilio: what a message or call will be billed once delivered or completed (the
//! `price` a later `GET` shows), and for a call update the change it makes to that price (a
//! hang-up can lower it: negative). Like the request log, these routes need no credentials and
//! are not recorded.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::ids::now_millis;

/// The path of the billing log.
pub const BILLED_PATH: &str = "/__mock/billed";

/// Micro-USD in one US cent.
const MICROS_PER_CENT: i64 = 10_000;

/// One request that changed what the vendor bills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    /// When the request arrived, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// `POST`, ...
    pub method: String,
    /// The path without its query string, e.g. `/v1/payment_intents/pi_1/capture`.
    pub path: String,
    /// The object the money belongs to: `ch_…` / `re_…` / `tr_…` / `po_…` for Stripe, `SM…` /
    /// `MM…` / `CA…` for Twilio.
    pub object: String,
    /// Stripe: what the call moved, in the minor unit of `currency` (never negative). Twilio:
    /// `null` (it prices in fractions of a cent; see `micro_usd`).
    pub amount: Option<i64>,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// The same in micro-US dollars; `null` for a currency other than USD. Negative when a
    /// request lowered what the vendor bills (a Twilio call hung up early).
    pub micro_usd: Option<i64>,
}

/// `GET /__mock/billed`: every entry, oldest first, and their sum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Billed {
    pub entries: Vec<Bill>,
    /// The sum of `micro_usd` over the entries that have one.
    pub total_micro_usd: i64,
}

/// A shared log of bills. Cloning shares the log.
#[derive(Clone, Debug, Default)]
pub struct Billing {
    bills: Arc<Mutex<Vec<Bill>>>,
}

// === impl Bill ===

impl Bill {
    /// Money a Stripe call moved: `amount` minor units of `currency`.
    pub fn stripe(method: &str, path: &str, object: &str, amount: i64, currency: &str) -> Self {
        let currency = currency.to_ascii_lowercase();
        Self {
            time_ms: now_millis(),
            method: method.to_owned(),
            path: strip_query(path).to_owned(),
            object: object.to_owned(),
            amount: Some(amount),
            micro_usd: (currency == "usd").then(|| amount.saturating_mul(MICROS_PER_CENT)),
            currency,
        }
    }

    /// A change of `micro_usd` to what Twilio bills for `object`.
    pub fn twilio(method: &str, path: &str, object: &str, micro_usd: i64) -> Self {
        Self {
            time_ms: now_millis(),
            method: method.to_owned(),
            path: strip_query(path).to_owned(),
            object: object.to_owned(),
            amount: None,
            currency: "usd".to_owned(),
            micro_usd: Some(micro_usd),
        }
    }
}

fn strip_query(path: &str) -> &str {
    path.split('?').next().unwrap_or_default()
}

// === impl Billing ===

impl Billing {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one entry.
    pub fn push(&self, bill: Bill) {
        self.lock().push(bill);
    }

    /// Every entry so far, oldest first, with their sum.
    pub fn billed(&self) -> Billed {
        let entries = self.lock().clone();
        let total_micro_usd = entries.iter().filter_map(|b| b.micro_usd).sum();
        Billed {
            entries,
            total_micro_usd,
        }
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Bill>> {
        self.bills.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `GET` and `DELETE` on [`BILLED_PATH`], for any router state.
pub fn routes<S>(billing: Billing) -> Router<S> {
    Router::new()
        .route(BILLED_PATH, get(list).delete(clear))
        .with_state(billing)
}

async fn list(State(billing): State<Billing>) -> Json<Billed> {
    Json(billing.billed())
}

async fn clear(State(billing): State<Billing>) -> StatusCode {
    billing.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_only_us_dollars() {
        let billing = Billing::new();
        billing.push(Bill::stripe(
            "POST",
            "/v1/charges?expand[]=x",
            "ch_1",
            1_000,
            "USD",
        ));
        billing.push(Bill::stripe("POST", "/v1/charges", "ch_2", 500, "eur"));
        billing.push(Bill::twilio("POST", "/x/Calls/CA1.json", "CA1", -14_000));
        let billed = billing.billed();
        assert_eq!(billed.total_micro_usd, 10_000_000 - 14_000);
        assert_eq!(billed.entries[0].path, "/v1/charges");
        assert_eq!(billed.entries[0].currency, "usd");
        assert_eq!(billed.entries[1].micro_usd, None);
        billing.clear();
        assert!(billing.billed().entries.is_empty());
    }
}
