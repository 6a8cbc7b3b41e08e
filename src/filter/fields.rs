//! What one call leaves behind: the access-log fields (Envoy filter state `wasm.keybrake_*`,
//! set as soon as each is known) and, at the end, one audit record for the control plane.

use crate::host;
use keybrake_core::audit::{AuditRecord, Decision};
use keybrake_core::cost::CostSource;
use keybrake_core::money::format_usd;
use keybrake_core::snapshot::IndexedKey;
use keybrake_core::{DenyReason, Vendor};

#[derive(Debug, Default)]
pub struct CallLog {
    pub time_ms: u64,
    pub method: String,
    pub path: String,
    key_id: Option<String>,
    label: Option<String>,
    pub vendor: Option<Vendor>,
    decision: Option<Decision>,
    deny_reason: Option<DenyReason>,
    cost_micros: u64,
    cost_source: Option<CostSource>,
    spend_micros: Option<u64>,
    pub forwarded_at_ms: Option<u64>,
    pub upstream_latency_ms: Option<u64>,
    pub vendor_request_id: Option<String>,
    /// What the vendor reported above the reservation (never expected).
    pub over_reserved_micros: u64,
}

impl CallLog {
    pub fn key(&mut self, vendor: Option<Vendor>, key: Option<&IndexedKey>) {
        if let Some(vendor) = vendor {
            host::set_log_field("keybrake_vendor", vendor.as_str());
            self.vendor = Some(vendor);
        }
        if let Some(key) = key {
            host::set_log_field("keybrake_key_id", key.key_id.as_str());
            host::set_log_field("keybrake_label", &key.label);
            host::set_log_field("keybrake_cap_usd", &format_usd(key.daily_cap_micros));
            self.key_id = Some(key.key_id.as_str().to_owned());
            self.label = Some(key.label.clone());
        }
    }

    pub fn allowed(&mut self) {
        host::set_log_field("keybrake_decision", "allow");
        self.decision = Some(Decision::Allow);
        self.forwarded_at_ms = Some(host::now_ms());
    }

    pub fn denied(&mut self, reason: DenyReason) {
        host::set_log_field("keybrake_decision", "deny");
        host::set_log_field("keybrake_deny_reason", reason.as_str());
        self.decision = Some(Decision::Deny);
        self.deny_reason = Some(reason);
    }

    /// Envoy sent the call on before the filter decided it (it went without a credential).
    pub fn undecided(&mut self) {
        host::set_log_field("keybrake_decision", "undecided");
        self.decision = Some(Decision::Undecided);
    }

    pub fn cost(&mut self, cost_micros: u64, source: CostSource, spend_micros: Option<u64>) {
        host::set_log_field("keybrake_cost_usd", &format_usd(cost_micros));
        host::set_log_field("keybrake_cost_source", source.as_str());
        if let Some(spend) = spend_micros {
            host::set_log_field("keybrake_spend_usd", &format_usd(spend));
        }
        self.cost_micros = cost_micros;
        self.cost_source = Some(source);
        self.spend_micros = spend_micros;
    }

    /// The audit record of the call; `status` is what the client received (0 for none).
    pub fn record(&self, status: u16) -> AuditRecord {
        AuditRecord {
            time_ms: self.time_ms,
            key_id: self.key_id.clone(),
            agent_run_label: self.label.clone(),
            vendor: self.vendor,
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            // A stream that ended before any decision (the client left during a lease wait
            // counts as refused: nothing was forwarded).
            decision: self.decision.unwrap_or(Decision::Deny),
            deny_reason: self.deny_reason,
            cost_micros: self.cost_micros,
            cost_source: self.cost_source.map(|s| s.as_str().to_owned()),
            spend_micros: self.spend_micros,
            upstream_latency_ms: self.upstream_latency_ms,
            vendor_request_id: self.vendor_request_id.clone(),
            over_reserved_micros: self.over_reserved_micros,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_ended_before_a_decision_is_recorded_as_refused() {
        let log = CallLog {
            time_ms: 5,
            method: "POST".into(),
            path: "/v1/payment_intents".into(),
            ..CallLog::default()
        };
        let r = log.record(0);
        assert_eq!(r.decision, Decision::Deny, "nothing was forwarded");
        assert_eq!((r.time_ms, r.status), (5, 0));
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1/payment_intents")
        );
        assert_eq!(
            (r.deny_reason, r.cost_micros, r.cost_source),
            (None, 0, None)
        );
        assert_eq!((r.key_id, r.vendor, r.spend_micros), (None, None, None));
    }
}
