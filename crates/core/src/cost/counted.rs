//! Money counted once: what this gateway remembers about an intent or charge whose amount a
//! key reserved when it created it, so that the follow-up that moves that money (a confirm or
//! capture without an amount) is not charged again — and is not let through unbounded when the
//! gateway did not count it.
//!
//! The filter stores a [`Counted`] in shared data under [`key`] when a priced Stripe call answers
//! with an intent still `requires_…` or a charge not yet captured ([`to_remember`]), and reads it
//! back before pricing a follow-up of that object ([`follow_up_object`]). The record lives in the
//! gateway process: a follow-up through another gateway, or after a restart, finds none and must
//! name its amount (fail closed).

use crate::vendor::Vendor;
use serde::{Deserialize, Serialize};

/// Shared-data key prefix of the records.
pub const PREFIX: &str = "keybrake/counted/";

/// An intent or charge whose amount a key reserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The key that reserved it.
    pub key_id: String,
    /// In the minor unit of `currency`.
    pub amount: u64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
}

/// The shared-data key of the record for the vendor object `object_id` (`pi_…`, `ch_…`).
pub fn key(object_id: &str) -> String {
    format!("{PREFIX}{object_id}")
}

impl Counted {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The object a follow-up moves money of, whose record the filter should look up before
/// pricing it: the intent or charge in a Stripe path, or the one a refund names.
pub fn follow_up_object(vendor: Vendor, path: &[String], body: &[u8]) -> Option<String> {
    match vendor {
        Vendor::Stripe => super::stripe::follow_up_object(path, body),
        Vendor::Twilio | Vendor::Resend => None,
    }
}

/// After a priced call by `key_id` answered 2xx with `body`: the record to store, with the id of
/// its object, when money of that object may still move.
pub fn to_remember(
    vendor: Vendor,
    key_id: &str,
    status: u32,
    body: &[u8],
) -> Option<(String, Counted)> {
    if vendor != Vendor::Stripe || !(200..300).contains(&status) {
        return None;
    }
    let (id, amount, currency) = super::stripe::to_remember(body)?;
    Some((
        id,
        Counted {
            key_id: key_id.to_owned(),
            amount,
            currency,
        },
    ))
}
