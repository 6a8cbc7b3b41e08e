//! The audit trail's wire format: one record per call, shipped by the sync service in batches
//! with per-instance sequence numbers, acknowledged by the control plane only after it commits.
//!
//! - Workers put an [`AuditRecord`] (JSON) on the shared queue [`AUDIT_QUEUE`].
//! - The sync service numbers records as it takes them off the queue (1, 2, 3, … per gateway
//!   instance), keeps them in a bounded buffer, and sends `POST /dataplane/v1/audit`
//!   ([`AuditBatch`] → [`AuditAck`]) with the data-plane token, resending until acknowledged.
//! - The control plane stores each `(instance, seq)` once, so a resent batch is not doubled, and
//!   acknowledges the highest sequence below which it holds every record.

use crate::deny::DenyReason;
use crate::vendor::Vendor;
use serde::{Deserialize, Serialize};

pub const AUDIT_PATH: &str = "/dataplane/v1/audit";
/// Shared queue (registered by the sync service) for audit records from the workers.
pub const AUDIT_QUEUE: &str = "keybrake/audit";

/// One call as the gateway saw it. Never holds a secret: keys appear only by their public id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the call arrived, Unix milliseconds.
    pub time_ms: u64,
    pub key_id: Option<String>,
    pub agent_run_label: Option<String>,
    pub vendor: Option<Vendor>,
    pub method: String,
    /// The vendor's own path, normalized, without the query.
    pub path: String,
    /// The status the client received; 0 when it received none (reset, client gone).
    pub status: u16,
    pub decision: Decision,
    pub deny_reason: Option<DenyReason>,
    pub cost_micros: u64,
    /// `request`, `response` or `estimate`; `None` for a refusal.
    pub cost_source: Option<String>,
    /// The key's spend today through this gateway after the call.
    pub spend_micros: Option<u64>,
    /// From forwarding the request to the vendor's response headers.
    pub upstream_latency_ms: Option<u64>,
    /// The vendor's own id for the request or the object it made (`Request-Id`, `sid`, `id`).
    pub vendor_request_id: Option<String>,
    /// Micro-USD the vendor reported above what keybrake reserved for the call: a pricing rule
    /// that was not an upper bound. Always 0 unless something is wrong.
    #[serde(default)]
    pub over_reserved_micros: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
    /// Envoy sent the request on before the filter decided it (a failure of the filter's own
    /// flow, never a policy outcome). The filter takes the client's credential out of a request
    /// before it pauses, so such a call reached the vendor with no credential at all.
    Undecided,
}

/// A record with its place in the instance's sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: AuditRecord,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBatch {
    pub gateway: String,
    pub instance: String,
    /// In sequence order. May be empty (a heartbeat of the counters below).
    pub entries: Vec<AuditEntry>,
    /// The next sequence number the instance will give: every record below it was taken.
    pub next_seq: u64,
    /// Records this instance could not keep (its buffer was full) since it started.
    pub dropped_total: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditAck {
    /// Every record of the instance with `seq <= acked_through` is stored.
    pub acked_through: u64,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Undecided => "undecided",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_a_flat_json_object() {
        let e = AuditEntry {
            seq: 7,
            record: AuditRecord {
                time_ms: 1,
                key_id: Some("kid_0123456789abcdef".into()),
                agent_run_label: Some("run/1".into()),
                vendor: Some(Vendor::Stripe),
                method: "POST".into(),
                path: "/v1/payment_intents".into(),
                status: 200,
                decision: Decision::Allow,
                deny_reason: None,
                cost_micros: 10_000_000,
                cost_source: Some("response".into()),
                spend_micros: Some(10_000_000),
                upstream_latency_ms: Some(3),
                vendor_request_id: Some("req_1".into()),
                over_reserved_micros: 0,
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["seq"], 7);
        assert_eq!(v["vendor"], "stripe");
        assert_eq!(v["decision"], "allow");
        let back: AuditEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
