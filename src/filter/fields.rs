//! The access-log fields of one call (Envoy filter state `wasm.keybrake_*`).

use crate::host;
use keybrake_core::money::format_usd;
use keybrake_core::snapshot::IndexedKey;
use keybrake_core::{DenyReason, Vendor};

pub fn key(vendor: Option<Vendor>, key: Option<&IndexedKey>) {
    if let Some(vendor) = vendor {
        host::set_log_field("keybrake_vendor", vendor.as_str());
    }
    if let Some(key) = key {
        host::set_log_field("keybrake_key_id", key.key_id.as_str());
        host::set_log_field("keybrake_label", &key.label);
        host::set_log_field("keybrake_cap_usd", &format_usd(key.daily_cap_micros));
    }
}

pub fn allowed() {
    host::set_log_field("keybrake_decision", "allow");
}

pub fn denied(reason: DenyReason) {
    host::set_log_field("keybrake_decision", "deny");
    host::set_log_field("keybrake_deny_reason", reason.as_str());
}

pub fn cost(cost_micros: u64, source: &str, spend_micros: Option<u64>) {
    host::set_log_field("keybrake_cost_usd", &format_usd(cost_micros));
    host::set_log_field("keybrake_cost_source", source);
    if let Some(spend) = spend_micros {
        host::set_log_field("keybrake_spend_usd", &format_usd(spend));
    }
}
