//! The audit trail of record, control-plane side: the gateways' batches validated at the edge,
//! the filters of a query, the cursor that pages through it, and what makes a gap.
//!
//! Each gateway instance numbers its records 1, 2, 3, …; the control plane stores each
//! `(instance, seq)` once and acknowledges the highest sequence below which it holds every
//! record (see `keybrake_core::audit`). An instance that died with records it never delivered
//! leaves a *gap*: sequence numbers below the `next_seq` it reported that are not stored.

use crate::leases::{Instance, MAX_FIGURE};
use crate::wire::FieldError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use keybrake_core::audit::{AuditBatch, AuditEntry, Decision};
use keybrake_core::redact;
use keybrake_core::Vendor;

/// Most entries in one batch (a gateway sends 500 by default).
pub const MAX_BATCH_ENTRIES: usize = 5_000;
pub const MAX_METHOD_CHARS: usize = 32;
pub const MAX_PATH_CHARS: usize = 4_096;
pub const MAX_KEY_ID_CHARS: usize = 64;
pub const MAX_LABEL_CHARS: usize = crate::wire::keys::MAX_LABEL_CHARS;
pub const MAX_COST_SOURCE_CHARS: usize = 32;
pub const MAX_VENDOR_REQUEST_ID_CHARS: usize = 256;
/// Records a query returns when it does not say, and the most it may ask for.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1_000;
/// Default `KEYBRAKE_AUDIT_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// A batch that passed validation: every entry fits the bounds, so storing it cannot fail
/// half-way for a reason of its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidBatch {
    pub instance: Instance,
    /// Each with `1 <= seq <= MAX_FIGURE`.
    pub entries: Vec<AuditEntry>,
    /// Above every entry's `seq`.
    pub next_seq: u64,
    pub dropped_total: u64,
}

/// The filters of `GET /audit`. Every one narrows; none is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    pub key_id: Option<String>,
    /// Exact label.
    pub label: Option<String>,
    /// Labels starting with this. Never together with `label`.
    pub label_prefix: Option<String>,
    pub vendor: Option<Vendor>,
    pub decision: Option<Decision>,
    /// Records at or after this instant, Unix ms.
    pub since_ms: Option<u64>,
    /// Records before this instant, Unix ms.
    pub until_ms: Option<u64>,
    /// 1 to [`MAX_LIMIT`].
    pub limit: u32,
    /// Records after this one, in newest-first order.
    pub cursor: Option<Cursor>,
    /// Records whose row id is at most this: a page as of the moment this id was the highest
    /// stored (`GET /audit` sets it to the `next_after_id` it answers, so that reading on from
    /// there neither repeats nor skips a record).
    pub through_id: Option<i64>,
}

/// A place in the newest-first order: the last record of a page. Stable under inserts: records
/// stored later sort by their own time and never shift a page boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub time_ms: u64,
    /// The record's row id: breaks ties between records of the same millisecond.
    pub id: i64,
}

/// What `GET /spend` groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendBy {
    Label,
    Key,
    Vendor,
}

/// One instance's sequence as the control plane knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub gateway: String,
    pub instance: String,
    pub next_seq: u64,
    pub dropped_total: u64,
    /// Every record at or below it was stored.
    pub acked_through: u64,
    /// Records stored above `acked_through` (they arrived out of order).
    pub stored_above: u64,
    /// When any data-plane request last carried the instance's id.
    pub last_seen_ms: u64,
}

// === impl AuditFilter ===

impl AuditFilter {
    /// The filter that matches every record, [`DEFAULT_LIMIT`] of them.
    pub fn everything() -> Self {
        Self {
            key_id: None,
            label: None,
            label_prefix: None,
            vendor: None,
            decision: None,
            since_ms: None,
            until_ms: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
            through_id: None,
        }
    }
}

// === impl ValidBatch ===

fn bounded(field: String, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field.clone(),
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn figure(field: String, value: u64) -> Result<(), FieldError> {
    if value > MAX_FIGURE {
        return Err(FieldError::new(
            field.clone(),
            format!("{field} must be at most {MAX_FIGURE}"),
        ));
    }
    Ok(())
}

impl ValidBatch {
    /// Checks every bound; the whole batch is refused at the first entry out of them. The
    /// free-text fields a client's request shaped (`path`, `vendor_request_id`) are stored with
    /// anything secret-shaped redacted, whatever the gateway already did.
    pub fn parse(mut batch: AuditBatch) -> Result<Self, FieldError> {
        for e in &mut batch.entries {
            let r = &mut e.record;
            r.path = redact::redacted_or_same(&r.path);
            if let Some(id) = &r.vendor_request_id {
                r.vendor_request_id = Some(redact::redacted_or_same(id));
            }
        }
        let instance = Instance::parse(&batch.gateway, &batch.instance)?;
        if batch.entries.len() > MAX_BATCH_ENTRIES {
            return Err(FieldError::new(
                "entries",
                format!("a batch may hold at most {MAX_BATCH_ENTRIES} entries"),
            ));
        }
        figure("next_seq".into(), batch.next_seq)?;
        figure("dropped_total".into(), batch.dropped_total)?;
        let mut highest = 0;
        for (i, e) in batch.entries.iter().enumerate() {
            let f = |name: &str| format!("entries[{i}].{name}");
            if e.seq == 0 {
                return Err(FieldError::new(f("seq"), "sequence numbers start at 1"));
            }
            figure(f("seq"), e.seq)?;
            let r = &e.record;
            figure(f("time_ms"), r.time_ms)?;
            figure(f("cost_micros"), r.cost_micros)?;
            figure(f("spend_micros"), r.spend_micros.unwrap_or(0))?;
            figure(f("upstream_latency_ms"), r.upstream_latency_ms.unwrap_or(0))?;
            bounded(f("method"), &r.method, MAX_METHOD_CHARS)?;
            bounded(f("path"), &r.path, MAX_PATH_CHARS)?;
            let optional = [
                ("key_id", &r.key_id, MAX_KEY_ID_CHARS),
                ("agent_run_label", &r.agent_run_label, MAX_LABEL_CHARS),
                ("cost_source", &r.cost_source, MAX_COST_SOURCE_CHARS),
                (
                    "vendor_request_id",
                    &r.vendor_request_id,
                    MAX_VENDOR_REQUEST_ID_CHARS,
                ),
            ];
            for (name, value, max) in optional {
                bounded(f(name), value.as_deref().unwrap_or(""), max)?;
            }
            highest = highest.max(e.seq);
        }
        Ok(Self {
            instance,
            entries: batch.entries,
            // Every entry was numbered before the count the instance reports, whatever it says.
            next_seq: batch.next_seq.max(highest + 1),
            dropped_total: batch.dropped_total,
        })
    }
}

// === impl Cursor ===

impl Cursor {
    pub fn encode(&self) -> String {
        B64.encode(format!("{}.{}", self.time_ms, self.id))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let text = String::from_utf8(B64.decode(s).ok()?).ok()?;
        let (t, id) = text.split_once('.')?;
        Some(Self {
            time_ms: t.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

// === impl SpendBy ===

impl SpendBy {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "label" => Some(Self::Label),
            "key" | "key_id" => Some(Self::Key),
            "vendor" => Some(Self::Vendor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Key => "key",
            Self::Vendor => "vendor",
        }
    }

    /// The column of `audit_records` it groups by, and its name in the answer.
    pub fn column(self) -> (&'static str, &'static str) {
        match self {
            Self::Label => ("label", "label"),
            Self::Key => ("key_id", "key_id"),
            Self::Vendor => ("vendor", "vendor"),
        }
    }
}

// === impl Stream ===

impl Stream {
    /// Numbered records not stored: above `acked_through`, below `next_seq`.
    pub fn missing(&self) -> u64 {
        self.next_seq
            .saturating_sub(1)
            .saturating_sub(self.acked_through)
            .saturating_sub(self.stored_above)
    }

    /// The lowest sequence number not stored, when any is missing.
    pub fn first_missing_seq(&self) -> Option<u64> {
        (self.missing() > 0).then_some(self.acked_through + 1)
    }

    pub fn is_live(&self, live_since_ms: u64) -> bool {
        self.last_seen_ms >= live_since_ms
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
