//! A costed call whose gateway lease lacks room: it joins the key's lease round in this worker
//! ([`crate::lease_desk`]: one request in flight per key) and waits for the round's
//! [`Resolution`], at most [`super::MAX_LEASE_ATTEMPTS`] rounds per call.

use super::{Costed, Flow, Host, Phase, Step};
use crate::deny::DenyReason;
use crate::lease_desk::Resolution;

impl Flow {
    pub(super) fn wait_for_lease<H: Host>(
        &mut self,
        host: &mut H,
        costed: Box<Costed>,
        shortfall: u64,
    ) -> Step {
        host.wait_for_lease(&costed.key_id, shortfall, costed.lease_attempts);
        self.phase = Phase::AwaitLease(costed);
        Step::Pause
    }

    /// The round this call waited on ended. After a grant the reservation is tried again (a
    /// call still short joins the next round); when the cap had no room a call the record
    /// cannot hold is refused `spend_cap_exceeded`; when no grant came it is refused
    /// `policy_unavailable` (fail closed). An allowed call is resumed.
    pub fn on_lease_resolved<H: Host>(&mut self, host: &mut H, resolution: Resolution) {
        let costed = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::AwaitLease(costed) => costed,
            other => {
                self.phase = other;
                return;
            }
        };
        let step = match resolution {
            Resolution::Failed => self.refuse_costed(host, DenyReason::PolicyUnavailable, &costed),
            Resolution::NoRoom => self.reserve_or(host, costed, Some(DenyReason::SpendCapExceeded)),
            Resolution::Grew => self.reserve(host, costed),
        };
        if step == Step::Continue {
            host.resume_request();
        }
    }

    pub(super) fn refuse_costed<H: Host>(
        &mut self,
        host: &mut H,
        reason: DenyReason,
        c: &Costed,
    ) -> Step {
        let advice = match reason {
            DenyReason::SpendCapExceeded => c.cap_advice,
            _ => None,
        };
        self.refuse(host, reason, Some(c.vendor), advice, &c.scrub)
    }
}
