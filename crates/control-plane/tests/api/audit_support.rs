//! Helpers for the audit tests: records and batches as a gateway instance sends them.

use crate::support::{As, Reply, TestApp, T0_MS};
use axum::http::{Method, StatusCode};
use keybrake_core::audit::{AuditBatch, AuditEntry, AuditRecord, Decision};
use keybrake_core::{DenyReason, Vendor};
use serde_json::Value;

pub const KEY_A: &str = "kid_aaaaaaaaaaaaaaaa";
pub const KEY_B: &str = "kid_bbbbbbbbbbbbbbbb";

/// An allowed Stripe call by `KEY_A` labelled `run/a`, `offset_ms` after T0, costing `micros`.
pub fn record(offset_ms: u64, micros: u64) -> AuditRecord {
    AuditRecord {
        time_ms: T0_MS + offset_ms,
        key_id: Some(KEY_A.into()),
        agent_run_label: Some("run/a".into()),
        vendor: Some(Vendor::Stripe),
        method: "POST".into(),
        path: "/v1/payment_intents".into(),
        status: 200,
        decision: Decision::Allow,
        deny_reason: None,
        cost_micros: micros,
        cost_source: Some("response".into()),
        spend_micros: Some(micros),
        upstream_latency_ms: Some(12),
        vendor_request_id: Some("pi_123".into()),
        over_reserved_micros: 0,
    }
}

/// The same record refused with `reason`.
pub fn denied(offset_ms: u64, reason: DenyReason) -> AuditRecord {
    AuditRecord {
        status: 403,
        decision: Decision::Deny,
        deny_reason: Some(reason),
        cost_micros: 0,
        cost_source: None,
        upstream_latency_ms: None,
        vendor_request_id: None,
        over_reserved_micros: 0,
        ..record(offset_ms, 0)
    }
}

/// One gateway process shipping records, numbered from 1 as its sync service does.
pub struct Instance {
    pub gateway: &'static str,
    pub id: &'static str,
    pub dropped_total: u64,
}

impl Instance {
    pub fn new(id: &'static str) -> Self {
        Self {
            gateway: "gw-1",
            id,
            dropped_total: 0,
        }
    }

    /// The batch of `records` numbered from `first_seq`, reporting `next_seq`.
    pub fn batch(&self, first_seq: u64, records: Vec<AuditRecord>, next_seq: u64) -> AuditBatch {
        AuditBatch {
            gateway: self.gateway.into(),
            instance: self.id.into(),
            entries: records
                .into_iter()
                .zip(first_seq..)
                .map(|(record, seq)| AuditEntry { seq, record })
                .collect(),
            next_seq,
            dropped_total: self.dropped_total,
        }
    }

    /// Sends a batch and returns the reply.
    pub async fn send(&self, app: &TestApp, batch: &AuditBatch) -> Reply {
        let body = serde_json::to_value(batch).unwrap();
        app.call(
            As::Gateway,
            Method::POST,
            "/dataplane/v1/audit",
            Some(&body),
        )
        .await
    }

    /// Sends `records` numbered from `first_seq` (next_seq right after them); returns the ack.
    pub async fn ship(&self, app: &TestApp, first_seq: u64, records: Vec<AuditRecord>) -> u64 {
        let next = first_seq + records.len() as u64;
        let r = self.send(app, &self.batch(first_seq, records, next)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["acked_through"].as_u64().unwrap()
    }
}

/// `GET /audit?{query}` as the admin; the JSON answer.
pub async fn audit(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/audit?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    r.json()
}

/// `(instance, seq)` of every record of a page.
pub fn ids(page: &Value) -> Vec<(String, u64)> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["instance"].as_str().unwrap().to_owned(),
                r["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}
