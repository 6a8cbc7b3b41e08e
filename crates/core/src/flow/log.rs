//! What one call leaves behind: the access-log fields (Envoy filter state `wasm.keybrake_*`,
//! or the one `wasm.keybrake` entry holding them all, set in one place when the call ends) and
//! one audit record for the control plane.

use super::Host;
use crate::audit::{AuditRecord, Decision};
use crate::config::AccessLogFields;
use crate::cost::CostSource;
use crate::deny::DenyReason;
use crate::money::format_usd;
use crate::vendor::Vendor;

/// The access-log field names (README, "The access log"), printed with
/// `%FILTER_STATE(wasm.NAME:PLAIN)%`. A stable interface: never renamed.
pub const FIELD_VENDOR: &str = "keybrake_vendor";
pub const FIELD_KEY_ID: &str = "keybrake_key_id";
pub const FIELD_LABEL: &str = "keybrake_label";
pub const FIELD_CAP: &str = "keybrake_cap_usd";
pub const FIELD_DECISION: &str = "keybrake_decision";
pub const FIELD_DENY_REASON: &str = "keybrake_deny_reason";
pub const FIELD_COST: &str = "keybrake_cost_usd";
pub const FIELD_COST_SOURCE: &str = "keybrake_cost_source";
pub const FIELD_SPEND: &str = "keybrake_spend_usd";
/// The one entry of [`AccessLogFields::Record`]: the fields above as one JSON object, each
/// named without its `keybrake_` prefix. A stable interface too.
pub const FIELD_RECORD: &str = "keybrake";

/// The key a call presented, as the log names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyNames {
    pub key_id: String,
    pub label: String,
    /// Micro-USD.
    pub daily_cap_micros: u64,
}

/// Everything the call's log line and audit record say, collected as the call goes.
#[derive(Debug, Default)]
pub struct CallLog {
    /// When the call arrived, Unix milliseconds.
    pub time_ms: u64,
    /// Upper-case, at most 16 bytes.
    pub method: String,
    /// The vendor's own path, redacted.
    pub path: String,
    pub key: Option<KeyNames>,
    pub vendor: Option<Vendor>,
    pub decision: Option<Decision>,
    pub deny_reason: Option<DenyReason>,
    pub cost_micros: u64,
    pub cost_source: Option<CostSource>,
    pub spend_micros: Option<u64>,
    /// When the call went to the vendor, Unix milliseconds.
    pub forwarded_at_ms: Option<u64>,
    pub upstream_latency_ms: Option<u64>,
    pub vendor_request_id: Option<String>,
    /// What the vendor reported above the reservation (never expected).
    pub over_reserved_micros: u64,
    /// The status the client got, when the filter saw it (its own refusal, the response
    /// headers); `None`: ask the host at the end.
    pub status: Option<u16>,
}

impl CallLog {
    pub fn key(&mut self, vendor: Option<Vendor>, key: Option<KeyNames>) {
        if vendor.is_some() {
            self.vendor = vendor;
        }
        if key.is_some() {
            self.key = key;
        }
    }

    pub fn allowed(&mut self, now_ms: u64) {
        self.decision = Some(Decision::Allow);
        self.forwarded_at_ms = Some(now_ms);
    }

    pub fn denied(&mut self, reason: DenyReason) {
        self.decision = Some(Decision::Deny);
        self.deny_reason = Some(reason);
    }

    /// Envoy sent the call on before the filter decided it (it went without a credential).
    pub fn undecided(&mut self) {
        self.decision = Some(Decision::Undecided);
    }

    pub fn cost(&mut self, cost_micros: u64, source: CostSource, spend_micros: Option<u64>) {
        self.cost_micros = cost_micros;
        self.cost_source = Some(source);
        self.spend_micros = spend_micros;
    }

    /// The access-log fields this call has a value for, in the order they are set. A field
    /// with nothing to say is left unset (Envoy prints `-`): a refusal of an unknown key sets
    /// three, an allowed call eight.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(8);
        if let Some(vendor) = self.vendor {
            out.push((FIELD_VENDOR, vendor.as_str().to_owned()));
        }
        if let Some(key) = &self.key {
            out.push((FIELD_KEY_ID, key.key_id.clone()));
            out.push((FIELD_LABEL, key.label.clone()));
            out.push((FIELD_CAP, format_usd(key.daily_cap_micros)));
        }
        if let Some(decision) = self.decision {
            out.push((FIELD_DECISION, decision.as_str().to_owned()));
        }
        if let Some(reason) = self.deny_reason {
            out.push((FIELD_DENY_REASON, reason.as_str().to_owned()));
        }
        if let Some(source) = self.cost_source {
            out.push((FIELD_COST, format_usd(self.cost_micros)));
            out.push((FIELD_COST_SOURCE, source.as_str().to_owned()));
        }
        if let Some(spend) = self.spend_micros {
            out.push((FIELD_SPEND, format_usd(spend)));
        }
        out
    }

    /// The fields as one JSON object, in the order [`Self::fields`] gives them, each named
    /// without its `keybrake_` prefix: `{"vendor":"stripe","key_id":"kid_…",…}`. Names and
    /// values are escaped straight into the one buffer (RFC 8259, section 7).
    pub fn fields_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        for (i, (name, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let name = name.strip_prefix("keybrake_").unwrap_or(name);
            // Writing a `&str` into a `Vec` cannot fail.
            let _ = serde_json::to_writer(&mut out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, value.as_str());
        }
        out.push(b'}');
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Sets the fields at once, as `mode` says: one `set_property` each, one for them all, or
    /// none.
    pub fn write_fields<H: Host>(&self, host: &mut H, mode: AccessLogFields) {
        match mode {
            AccessLogFields::Each => {
                for (name, value) in self.fields() {
                    host.set_log_field(name, &value);
                }
            }
            AccessLogFields::Record => host.set_log_field(FIELD_RECORD, &self.fields_json()),
            AccessLogFields::None => {}
        }
    }

    /// The audit record of the call; `status` is what the client received (0 for none).
    pub fn record(&self, status: u16) -> AuditRecord {
        AuditRecord {
            time_ms: self.time_ms,
            key_id: self.key.as_ref().map(|k| k.key_id.clone()),
            agent_run_label: self.key.as_ref().map(|k| k.label.clone()),
            vendor: self.vendor,
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            // A stream that ended before any decision (the client left during a lease wait)
            // counts as refused: nothing was forwarded.
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
