//! The response side of a costed call: what it said, and the settlement of its reservation.

use super::{Phase, Stream};
use crate::host;
use keybrake_core::body;
use keybrake_core::cost::{self, Settlement, MAX_RESPONSE_BODY};
use keybrake_core::Vendor;

/// A forwarded call holding a reservation, and what its response said so far.
pub(super) struct Charge {
    pub(super) key_id: String,
    pub(super) vendor: Vendor,
    pub(super) path: Vec<String>,
    pub(super) reserved: u64,
    pub(super) from_request: bool,
    pub(super) status: u32,
    pub(super) replayed: bool,
    pub(super) encoding: Option<Vec<u8>>,
    pub(super) body: Vec<u8>,
    pub(super) overflow: bool,
}

impl Stream {
    /// Settles the reservation from what the response said (or did not say).
    pub(super) fn finish(&mut self) {
        let Phase::Charging(charge) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let decoded = if charge.overflow {
            Vec::new()
        } else {
            body::decode(charge.encoding.as_deref(), &charge.body, MAX_RESPONSE_BODY)
                .map(|b| b.into_owned())
                .unwrap_or_default()
        };
        let settlement = match self.vm.try_borrow() {
            Ok(vm) => match vm.index.as_ref() {
                Some(index) => cost::settle(
                    charge.vendor,
                    &charge.path,
                    charge.status,
                    charge.replayed,
                    &decoded,
                    &index.rates,
                ),
                None => Settlement::Unknown,
            },
            Err(_) => Settlement::Unknown,
        };
        if (200..300).contains(&charge.status) {
            if let Some(id) = object_id(&decoded) {
                self.log.vendor_request_id = Some(id);
            }
        }
        // An intent or charge whose money may still move: its follow-ups find it counted.
        if let Some((id, counted)) =
            cost::counted::to_remember(charge.vendor, &charge.key_id, charge.status, &decoded)
        {
            let slot = cost::counted::encode_slot(&id, &counted);
            if let Err(e) = host::set_shared_data(&cost::counted::key(&id), &slot) {
                log::warn!("keybrake: cannot remember {id} as counted: {e:?}");
            }
        }
        let charged = cost::final_charge(charge.reserved, charge.from_request, settlement);
        if charged.over_reserved_micros > 0 {
            log::error!(
                "keybrake: the vendor reported {} micro-USD more than was reserved for a call of {}",
                charged.over_reserved_micros,
                charge.key_id
            );
        }
        let record = match self.vm.try_borrow_mut() {
            Ok(mut vm) => vm.settle(&charge.key_id, charge.reserved, charged.micros),
            Err(_) => None,
        };
        self.log.over_reserved_micros = charged.over_reserved_micros;
        self.log
            .cost(charged.micros, charged.source, record.map(|r| r.spent));
    }
}

/// The vendor's id of the object a call made (`pi_…`, `SM…`, an email id), from a JSON body.
fn object_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Ids {
        id: Option<String>,
        sid: Option<String>,
    }
    let ids: Ids = serde_json::from_slice(body).ok()?;
    ids.id
        .or(ids.sid)
        .and_then(|id| printable_id(id.as_bytes()))
}

/// An id fit for the audit trail: short, printable ASCII.
pub(super) fn printable_id(v: &[u8]) -> Option<String> {
    (!v.is_empty() && v.len() <= 128 && v.iter().all(|b| (0x21..0x7f).contains(b)))
        .then(|| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
#[path = "settle_tests.rs"]
mod tests;
