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
//!
//! Envoy's shared data never forgets a key (there is no delete in the ABI), so records do not get
//! a key each: they live in [`SLOTS`] fixed slots chosen by a hash of the object id, each holding
//! the id it is for. A newer record overwrites an older one in its slot; the older object's
//! follow-up then finds another object there and must name its amount (fail closed). Memory stays
//! bounded at about `SLOTS` × 150 bytes per Envoy process.

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

/// How many shared-data slots hold records.
pub const SLOTS: u64 = 4096;

/// The shared-data key of the slot for the vendor object `object_id` (`pi_…`, `ch_…`).
pub fn key(object_id: &str) -> String {
    format!("{PREFIX}{}", slot(object_id))
}

/// FNV-1a (64-bit) of the id, modulo [`SLOTS`]: stable across processes and builds.
fn slot(object_id: &str) -> u64 {
    let hash = object_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % SLOTS
}

/// A record as its slot holds it: with the id of the object it is for.
#[derive(Serialize, Deserialize)]
struct Slot {
    object: String,
    #[serde(flatten)]
    counted: Counted,
}

/// The slot's value for `counted`, the record of `object_id`.
pub fn encode_slot(object_id: &str, counted: &Counted) -> Vec<u8> {
    serde_json::to_vec(&Slot {
        object: object_id.to_owned(),
        counted: counted.clone(),
    })
    .unwrap_or_default()
}

/// The record of `object_id` in a slot's value; `None` when the slot holds another object's
/// (it was overwritten) or cannot be read.
pub fn decode_slot(object_id: &str, bytes: &[u8]) -> Option<Counted> {
    serde_json::from_slice::<Slot>(bytes)
        .ok()
        .filter(|s| s.object == object_id)
        .map(|s| s.counted)
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
    to_remember_answer(vendor, key_id, status, super::Answer::parse(body).json())
}

/// [`to_remember`] from the response body parsed once ([`super::Answer`]).
pub fn to_remember_answer(
    vendor: Vendor,
    key_id: &str,
    status: u32,
    answer: Option<&serde_json::Value>,
) -> Option<(String, Counted)> {
    if vendor != Vendor::Stripe || !(200..300).contains(&status) {
        return None;
    }
    let (id, amount, currency) = super::stripe::to_remember(answer?)?;
    Some((
        id,
        Counted {
            key_id: key_id.to_owned(),
            amount,
            currency,
        },
    ))
}

#[cfg(test)]
mod slot_tests {
    use super::*;

    #[test]
    fn records_live_in_a_bounded_set_of_slots_and_name_their_object() {
        let c = Counted {
            key_id: "kid_a".into(),
            amount: 1000,
            currency: "usd".into(),
        };
        let keys: std::collections::HashSet<String> =
            (0..20_000).map(|i| key(&format!("pi_{i:024}"))).collect();
        assert!(keys.len() as u64 <= SLOTS, "{} slots", keys.len());
        assert!(keys.len() as u64 > SLOTS / 2, "the hash spreads ids");
        assert_eq!(key("pi_1"), key("pi_1"), "stable");

        let stored = encode_slot("pi_1", &c);
        assert_eq!(decode_slot("pi_1", &stored), Some(c.clone()));
        assert_eq!(
            decode_slot("pi_2", &stored),
            None,
            "another object's record"
        );
        assert_eq!(decode_slot("pi_1", b"garbage"), None);
    }
}
