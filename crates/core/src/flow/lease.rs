//! A costed call whose gateway lease lacks room: it asks the control plane for more and waits
//! for the answer (at most [`super::MAX_LEASE_ATTEMPTS`] times per call).

use super::{Costed, Flow, Host, Level, Phase, Step};
use crate::deny::DenyReason;
use crate::lease::{no_room_after_grant, KeyUsage, LeaseGrant, LeaseRequest, LEASE_PATH};
use crate::ledger;
use std::time::Duration;

impl Flow {
    pub(super) fn ask_for_lease<H: Host>(
        &mut self,
        host: &mut H,
        costed: Box<Costed>,
        want: u64,
    ) -> Step {
        let Some(info) = host.dataplane() else {
            host.log(
                Level::Warn,
                "keybrake: the sync service has not published how to reach the control plane",
            );
            return self.refuse_costed(host, DenyReason::PolicyUnavailable, &costed);
        };
        let record = ledger::read(host, &costed.key_id).unwrap_or_default();
        let request = LeaseRequest {
            gateway: info.gateway.clone(),
            instance: info.instance.clone(),
            usage: KeyUsage::for_day(&costed.key_id, &record, costed.day),
            want_micros: want,
        };
        let timeout = Duration::from_millis(self.limits.lease_timeout_ms);
        let sent = serde_json::to_vec(&request)
            .map_err(|e| e.to_string())
            .and_then(|body| host.dispatch(&info, LEASE_PATH, &body, timeout));
        match sent {
            Ok(token) => {
                self.phase = Phase::AwaitLease(costed, token);
                Step::Pause
            }
            Err(e) => {
                host.log(
                    Level::Warn,
                    &format!("keybrake: cannot ask the control plane for a lease: {e}"),
                );
                self.refuse_costed(host, DenyReason::PolicyUnavailable, &costed)
            }
        }
    }

    /// The control plane's answer to a lease request (`num_headers` 0: the callout failed
    /// without one, a reset or a timeout). A grant is applied to the budget record and the
    /// reservation tried again; anything else refuses the call (fail closed).
    pub fn on_lease_answer<H: Host>(
        &mut self,
        host: &mut H,
        token: u32,
        num_headers: usize,
        body_size: usize,
    ) {
        let costed = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::AwaitLease(costed, t) if t == token => costed,
            other => {
                self.phase = other;
                return;
            }
        };
        // Reading a failed callout's headers would trap in Envoy: never ask.
        let status = if num_headers == 0 {
            0
        } else {
            host.call_status()
        };
        let grant = (status == 200)
            .then(|| serde_json::from_slice::<LeaseGrant>(&host.call_body(body_size)).ok())
            .flatten();
        let Some(grant) = grant else {
            host.log(
                Level::Warn,
                &format!(
                    "keybrake: lease request for {} failed (status {status})",
                    costed.key_id
                ),
            );
            self.refuse_costed(host, DenyReason::PolicyUnavailable, &costed);
            return;
        };
        let before = ledger::read(host, &costed.key_id)
            .map(|r| r.lease)
            .unwrap_or(0);
        let after = match ledger::apply_grant(
            host,
            &costed.key_id,
            grant.day,
            grant.lease_micros,
            grant.seq,
        ) {
            Ok(r) => Some(r),
            Err(e) => {
                host.log(
                    Level::Warn,
                    &format!(
                        "keybrake: cannot apply a lease grant for {}: {e}",
                        costed.key_id
                    ),
                );
                None
            }
        };
        host.touched(&costed.key_id);
        if no_room_after_grant(
            &grant,
            costed.day,
            before,
            after.as_ref(),
            costed.estimate.min_room(),
        ) {
            self.refuse_costed(host, DenyReason::SpendCapExceeded, &costed);
            return;
        }
        if let Step::Continue = self.reserve(host, costed) {
            host.resume_request();
        }
    }

    fn refuse_costed<H: Host>(&mut self, host: &mut H, reason: DenyReason, c: &Costed) -> Step {
        let advice = match reason {
            DenyReason::SpendCapExceeded => c.cap_advice,
            _ => None,
        };
        self.refuse(host, reason, Some(c.vendor), advice, &c.scrub)
    }
}
