//! `/audit`, `/audit/gaps` and `/spend` as the API takes and shows them: query parameters into
//! validated filters, stored records into their JSON view.

use super::FieldError;
use crate::audit::{AuditFilter, Cursor, SpendBy, Stream, MAX_LABEL_CHARS, MAX_LIMIT};
use crate::store::{SpendRow, StoredRecord};
use crate::wire::keys::micros_to_usd;
use keybrake_core::audit::Decision;
use keybrake_core::{DenyReason, VaultKeyId, Vendor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

pub const DAY_MS: u64 = 86_400_000;

/// One record as `GET /audit` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecordView {
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    pub key_id: Option<String>,
    pub agent_run_label: Option<String>,
    pub vendor: Option<Vendor>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub decision: Decision,
    pub deny_reason: Option<DenyReason>,
    pub cost_usd: f64,
    pub cost_source: Option<String>,
    pub spend_usd: Option<f64>,
    pub upstream_latency_ms: Option<u64>,
    pub vendor_request_id: Option<String>,
    /// USD the vendor reported above what keybrake reserved for the call. Always 0 unless a
    /// pricing rule failed to bound a call.
    pub over_reserved_usd: f64,
    pub gateway_id: String,
    pub instance: String,
    pub seq: u64,
}

/// `GET /audit`'s answer. Without `after_id`: the newest matching records, newest first, and
/// `next_cursor` to the page of older ones. With `after_id`: the matching records stored after
/// that row id, oldest stored first, and `next_cursor` always `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecordView>,
    pub next_cursor: Option<String>,
    /// The row id to read on from (`GET /audit?after_id=<this>`): every record stored after
    /// this answer has a larger id, and every matching one up to it is in this answer or was in
    /// an earlier one of the same reading. Never lower than the `after_id` asked with. Always
    /// present in answers; `None` only when an older control plane left it out.
    #[serde(default)]
    pub next_after_id: Option<i64>,
}

/// `GET /audit`'s query, validated: which records, and which way to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// Which records (its `limit` caps either way of reading).
    pub filter: AuditFilter,
    /// Read forward: the records stored after this row id, oldest stored first (a
    /// `next_after_id` this API answered; 0 reads from the start). Never with a cursor.
    pub after_id: Option<i64>,
}

/// A dead instance with records it numbered and never delivered: they are lost to the trail
/// (and in that gateway's Envoy access log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapView {
    pub gateway: String,
    pub instance: String,
    pub missing: u64,
    pub first_missing_seq: u64,
    pub last_seen: String,
    pub dropped_total: u64,
}

/// One instance's audit sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    pub gateway: String,
    pub instance: String,
    /// Heard from within the instance TTL: its missing records may still arrive.
    pub live: bool,
    pub last_seen: String,
    /// Records the instance numbered.
    pub numbered: u64,
    /// Every record up to this sequence number is stored.
    pub stored_through: u64,
    /// Numbered and not stored: on the way while live, lost once dead.
    pub missing: u64,
    /// Records the instance could not keep (its buffer was full); never numbered.
    pub dropped_total: u64,
}

/// `GET /audit/gaps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapsView {
    pub gaps: Vec<GapView>,
    /// Every live instance, and every dead one with missing or dropped records.
    pub instances: Vec<InstanceView>,
}

/// One group's totals in `GET /spend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendRowView {
    /// `{"label": …}`, `{"key_id": …}` or `{"vendor": …}`.
    #[serde(flatten)]
    pub group: BTreeMap<String, Option<String>>,
    pub cost_usd: f64,
    pub calls: u64,
    pub denied: u64,
}

/// `GET /spend`: a UTC day's totals from the audit trail, most spent first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendView {
    pub by: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub rows: Vec<SpendRowView>,
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339_millis(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `YYYY-MM-DD` of the UTC day holding `ms`.
pub fn day_string(ms: u64) -> String {
    let mut s = rfc3339_millis(ms);
    s.truncate(10);
    s
}

fn system_ms(t: std::time::SystemTime) -> Option<u64> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(d.as_millis()).ok()
}

/// Unix ms of a `YYYY-MM-DD` UTC midnight.
pub fn parse_day(field: &str, s: &str) -> Result<u64, FieldError> {
    let bad = || FieldError::new(field, format!("{field} must be a date, YYYY-MM-DD"));
    if s.len() != 10 {
        return Err(bad());
    }
    humantime::parse_rfc3339(&format!("{s}T00:00:00Z"))
        .ok()
        .and_then(system_ms)
        .ok_or_else(bad)
}

/// An instant given as Unix milliseconds, an RFC 3339 timestamp (any offset), or a date.
pub fn parse_time(field: &str, s: &str) -> Result<u64, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!(
                "{field} must be RFC 3339 (2027-01-15T08:00:00Z), a date (2027-01-15) or Unix milliseconds"
            ),
        )
    };
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    if s.len() == 10 {
        return parse_day(field, s).map_err(|_| bad());
    }
    // humantime reads UTC only; an offset other than zero is applied here.
    let (base, offset_ms) = split_offset(s).unwrap_or((s, 0));
    let utc = humantime::parse_rfc3339_weak(base.trim_end_matches('Z'))
        .ok()
        .and_then(system_ms)
        .ok_or_else(bad)?;
    let ms = i64::try_from(utc).map_err(|_| bad())? - offset_ms;
    u64::try_from(ms).map_err(|_| bad())
}

/// `("2027-01-15T09:00:00", 3_600_000)` from `"2027-01-15T09:00:00+01:00"`.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    let at = s.len().checked_sub(6).filter(|at| *at >= 19)?;
    let (base, tail) = (s.get(..at)?, s.get(at..)?);
    let sign = match tail.get(..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let (h, m) = tail.get(1..)?.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    Some((base, sign * (h * 60 + m) * 60_000))
}

fn text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(value)
}

/// `GET /audit`'s query, validated. Each bad parameter is a [`FieldError`] naming it.
pub fn parse_audit_query(pairs: Vec<(String, String)>) -> Result<AuditQuery, FieldError> {
    let mut f = AuditFilter::everything();
    let mut after_id = None;
    for (name, value) in pairs {
        match name.as_str() {
            "key_id" => {
                let id = VaultKeyId::parse(&value).map_err(|_| {
                    FieldError::new(
                        "key_id",
                        format!("{value:?} is not a key id (kid_ followed by 16 hex digits)"),
                    )
                })?;
                f.key_id = Some(id.to_string());
            }
            "label" => f.label = Some(text("label", value, MAX_LABEL_CHARS)?),
            "label_prefix" => {
                f.label_prefix = Some(text("label_prefix", value, MAX_LABEL_CHARS)?);
            }
            "vendor" => {
                f.vendor = Some(Vendor::from_name(&value).ok_or_else(|| {
                    FieldError::new("vendor", "vendor must be stripe, twilio or resend")
                })?);
            }
            "decision" => {
                f.decision = Some(match value.as_str() {
                    "allow" => Decision::Allow,
                    "deny" => Decision::Deny,
                    "undecided" => Decision::Undecided,
                    _ => {
                        return Err(FieldError::new(
                            "decision",
                            "decision must be allow, deny or undecided",
                        ))
                    }
                });
            }
            "since" => f.since_ms = Some(parse_time("since", &value)?),
            "until" => f.until_ms = Some(parse_time("until", &value)?),
            "limit" => {
                f.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        FieldError::new(
                            "limit",
                            format!("limit must be a number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "cursor" => {
                f.cursor = Some(Cursor::decode(&value).ok_or_else(|| {
                    FieldError::new("cursor", "cursor must be a next_cursor this API returned")
                })?);
            }
            "after_id" => {
                after_id = Some(value.parse().ok().filter(|id| *id >= 0).ok_or_else(|| {
                    FieldError::new(
                        "after_id",
                        "after_id must be a row id this API returned as next_after_id \
                         (a whole number, 0 for the start of the trail)",
                    )
                })?);
            }
            _ => {
                return Err(FieldError::new(
                    name.clone(),
                    format!(
                        "unknown query parameter {name:?}; use key_id, label, label_prefix, \
                         vendor, decision, since, until, limit, cursor or after_id"
                    ),
                ))
            }
        }
    }
    if f.label.is_some() && f.label_prefix.is_some() {
        return Err(FieldError::new(
            "label_prefix",
            "give label (exact) or label_prefix, not both",
        ));
    }
    if let (Some(since), Some(until)) = (f.since_ms, f.until_ms) {
        if until <= since {
            return Err(FieldError::new("until", "until must be after since"));
        }
    }
    if f.cursor.is_some() && after_id.is_some() {
        return Err(FieldError::new(
            "after_id",
            "give cursor (older records, newest first) or after_id (records stored since, \
             oldest first), not both",
        ));
    }
    Ok(AuditQuery {
        filter: f,
        after_id,
    })
}

/// `GET /spend`'s query, validated: what to group by, and the day's start (Unix ms).
pub fn parse_spend_query(
    pairs: Vec<(String, String)>,
    now_ms: u64,
) -> Result<(SpendBy, u64), FieldError> {
    let mut by = SpendBy::Label;
    let mut day = now_ms - now_ms % DAY_MS;
    for (name, value) in pairs {
        match name.as_str() {
            "by" => {
                by = SpendBy::from_name(&value)
                    .ok_or_else(|| FieldError::new("by", "by must be label, key or vendor"))?;
            }
            "day" => day = parse_day("day", &value)?,
            _ => {
                return Err(FieldError::new(
                    name.clone(),
                    format!("unknown query parameter {name:?}; use by or day"),
                ))
            }
        }
    }
    Ok((by, day))
}

// === impl AuditRecordView ===

impl From<&StoredRecord> for AuditRecordView {
    fn from(s: &StoredRecord) -> Self {
        let r = &s.record;
        Self {
            time: rfc3339_millis(r.time_ms),
            key_id: r.key_id.clone(),
            agent_run_label: r.agent_run_label.clone(),
            vendor: r.vendor,
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            decision: r.decision,
            deny_reason: r.deny_reason,
            cost_usd: micros_to_usd(r.cost_micros),
            cost_source: r.cost_source.clone(),
            spend_usd: r.spend_micros.map(micros_to_usd),
            upstream_latency_ms: r.upstream_latency_ms,
            vendor_request_id: r.vendor_request_id.clone(),
            over_reserved_usd: micros_to_usd(r.over_reserved_micros),
            gateway_id: s.gateway.clone(),
            instance: s.instance.clone(),
            seq: s.seq,
        }
    }
}

// === impl GapsView ===

impl GapsView {
    pub fn new(streams: &[Stream], live_since_ms: u64) -> Self {
        let mut gaps = Vec::new();
        let mut instances = Vec::new();
        for s in streams {
            let live = s.is_live(live_since_ms);
            let missing = s.missing();
            if let (false, Some(first)) = (live, s.first_missing_seq()) {
                gaps.push(GapView {
                    gateway: s.gateway.clone(),
                    instance: s.instance.clone(),
                    missing,
                    first_missing_seq: first,
                    last_seen: rfc3339_millis(s.last_seen_ms),
                    dropped_total: s.dropped_total,
                });
            }
            if live || missing > 0 || s.dropped_total > 0 {
                instances.push(InstanceView {
                    gateway: s.gateway.clone(),
                    instance: s.instance.clone(),
                    live,
                    last_seen: rfc3339_millis(s.last_seen_ms),
                    numbered: s.next_seq.saturating_sub(1),
                    stored_through: s.acked_through,
                    missing,
                    dropped_total: s.dropped_total,
                });
            }
        }
        Self { gaps, instances }
    }
}

// === impl SpendView ===

impl SpendView {
    pub fn new(by: SpendBy, day_ms: u64, rows: &[SpendRow]) -> Self {
        let (_, name) = by.column();
        Self {
            by: by.as_str().to_owned(),
            day: day_string(day_ms),
            rows: rows
                .iter()
                .map(|r| SpendRowView {
                    group: BTreeMap::from([(name.to_owned(), r.group.clone())]),
                    cost_usd: micros_to_usd(r.cost_micros),
                    calls: r.calls,
                    denied: r.denied,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
