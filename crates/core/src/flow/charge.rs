//! The response side of a costed call: what it said, and the settlement of its reservation.

use super::{Flow, Host, Level, Phase, ResponseHeaders};
use crate::body;
use crate::cost::{self, Answer, Settlement, MAX_RESPONSE_BODY};
use crate::ledger::{self, LedgerError};
use crate::vendor::Vendor;

/// A forwarded call holding a reservation, and what its response said so far.
#[derive(Debug)]
pub(super) struct Charge {
    key_id: String,
    vendor: Vendor,
    path: Vec<String>,
    /// Micro-USD.
    reserved: u64,
    /// The reservation is the request's own amount (not an estimate).
    from_request: bool,
    /// The response status; 0 when none came.
    pub(super) status: u32,
    replayed: bool,
    encoding: Option<Vec<u8>>,
    /// Whether the body is read (a fresh 2xx answer).
    read_body: bool,
    body: Vec<u8>,
    /// The body went past [`MAX_RESPONSE_BODY`]: it is not read further, and the call settles
    /// at its reservation.
    overflow: bool,
}

impl Charge {
    pub(super) fn new(
        key_id: String,
        vendor: Vendor,
        path: Vec<String>,
        reserved: u64,
        from_request: bool,
    ) -> Self {
        Self {
            key_id,
            vendor,
            path,
            reserved,
            from_request,
            status: 0,
            replayed: false,
            encoding: None,
            read_body: false,
            body: Vec::new(),
            overflow: false,
        }
    }

    /// The response headers (`answer`) arrived with `status`.
    pub(super) fn answered<H: Host>(
        &mut self,
        host: &mut H,
        answer: &ResponseHeaders,
        status: u32,
    ) {
        self.status = status;
        self.replayed = (200..300).contains(&status)
            && answer
                .get(host, "idempotent-replayed")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        self.read_body = cost::needs_body(status, self.replayed);
        if self.read_body {
            self.encoding = answer.get(host, "content-encoding");
        }
    }

    pub(super) fn reads_body(&self) -> bool {
        self.read_body
    }

    /// One chunk of the response body (Envoy hands each chunk once when the flow does not
    /// pause).
    pub(super) fn chunk<H: Host>(&mut self, host: &mut H, size: usize) {
        if !self.read_body || self.overflow {
            return;
        }
        if self.body.len().saturating_add(size) > MAX_RESPONSE_BODY {
            self.overflow = true;
            self.body = Vec::new();
            return;
        }
        let chunk = host.response_body(size);
        self.body.extend_from_slice(&chunk);
    }
}

impl Flow {
    /// Settles the reservation from what the response said (or did not say).
    pub(super) fn finish<H: Host>(&mut self, host: &mut H) {
        let Phase::Charging(charge) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let answer = if charge.read_body && !charge.overflow && charge.status != 0 {
            body::decode(charge.encoding.as_deref(), &charge.body, MAX_RESPONSE_BODY)
                .map(|b| Answer::parse(&b))
                .unwrap_or_default()
        } else {
            Answer::default()
        };
        let (vendor, path, status, replayed) =
            (charge.vendor, &charge.path, charge.status, charge.replayed);
        let settlement = host
            .pricing(|rates, _| cost::settle_answer(vendor, path, status, replayed, &answer, rates))
            .unwrap_or(Settlement::Unknown);
        if (200..300).contains(&charge.status) {
            if let Some(id) = answer.object_id() {
                self.log.vendor_request_id = Some(id);
            }
        }
        // An intent or charge whose money may still move: its follow-ups find it counted.
        if let Some((id, counted)) = cost::counted::to_remember_answer(
            charge.vendor,
            &charge.key_id,
            charge.status,
            answer.json(),
        ) {
            let slot = cost::counted::encode_slot(&id, &counted);
            if host.set(&cost::counted::key(&id), &slot, 0).is_err() {
                host.log(
                    Level::Warn,
                    &format!("keybrake: cannot remember {id} as counted"),
                );
            }
        }
        let charged = cost::final_charge(charge.reserved, charge.from_request, settlement);
        if charged.over_reserved_micros > 0 {
            host.log(
                Level::Error,
                &format!(
                    "keybrake: the vendor reported {} micro-USD more than was reserved for a call of {}",
                    charged.over_reserved_micros, charge.key_id
                ),
            );
        }
        let record = match ledger::settle(host, &charge.key_id, charge.reserved, charged.micros) {
            Ok(r) => Some(r),
            Err(LedgerError::Contended) => {
                host.defer_settlement(&charge.key_id, charge.reserved, charged.micros);
                None
            }
            Err(e) => {
                host.log(
                    Level::Error,
                    &format!(
                        "keybrake: cannot settle a call of {}: {e}; its reservation stays charged",
                        charge.key_id
                    ),
                );
                None
            }
        };
        host.touched(&charge.key_id);
        self.log.over_reserved_micros = charged.over_reserved_micros;
        self.log
            .cost(charged.micros, charged.source, record.map(|r| r.spent));
    }
}
