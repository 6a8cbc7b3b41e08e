//! What the templates show, ready to print: money, times, bars, key rows and audit rows.
//! Templates escape every value; nothing here builds HTML.

use crate::clock::rfc3339;
use crate::store::{DaySpend, KeyRow, StoredRecord};
use keybrake_core::audit::Decision;

/// Width of a full bar, in SVG user units.
pub const BAR_WIDTH: u64 = 120;

/// Micro-USD as dollars: at least two decimals, up to six when they matter ("$0.0083").
pub fn usd(micros: u64) -> String {
    let cents = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    let trimmed = cents.trim_end_matches('0');
    let decimals = trimmed.len() - trimmed.find('.').map_or(trimmed.len(), |d| d + 1);
    if decimals >= 2 {
        format!("${trimmed}")
    } else {
        format!("${}", &cents[..cents.len() - 4])
    }
}

/// `part` of `whole` as a bar width in `0..=full`.
pub fn bar(part: u64, whole: u64, full: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let w = u128::from(part.min(whole)) * u128::from(full) / u128::from(whole);
    u64::try_from(w).unwrap_or(full)
}

/// A UTC time to the second, as `2027-01-15 08:00:00Z`.
pub fn time(ms: u64) -> String {
    rfc3339(ms).replacen('T', " ", 1)
}

/// One row of the keys table (and the head of the key page).
#[derive(Clone, Debug)]
pub struct KeyLine {
    pub id: String,
    pub label: String,
    pub vendor: &'static str,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    pub active: bool,
    pub cap: String,
    pub spent: String,
    pub leased: String,
    pub remaining: String,
    /// Bar widths out of [`BAR_WIDTH`]: spent, then leased after it.
    pub spent_w: u64,
    pub leased_w: u64,
    /// Percent of the cap still free, for the bar's label.
    pub remaining_pct: u64,
    pub expires: String,
    pub created: String,
    pub revoked: String,
    pub last_used: String,
    pub endpoints: Vec<String>,
}

impl KeyLine {
    pub fn new(row: &KeyRow, now_ms: u64, today: DaySpend, last_used_ms: Option<u64>) -> Self {
        let cap = row.daily_cap_micros;
        let remaining = cap.saturating_sub(today.spent).saturating_sub(today.leased);
        let spent_w = bar(today.spent, cap, BAR_WIDTH);
        let status = row.status(now_ms);
        Self {
            id: row.key_id.to_string(),
            label: row.label.clone(),
            vendor: row.vendor.as_str(),
            status: status.as_str(),
            active: status == crate::store::KeyStatus::Active,
            cap: usd(cap),
            spent: usd(today.spent),
            leased: usd(today.leased),
            remaining: usd(remaining),
            spent_w,
            leased_w: bar(today.leased, cap, BAR_WIDTH).min(BAR_WIDTH - spent_w),
            remaining_pct: bar(remaining, cap, 100),
            expires: time(row.expires_at_ms),
            created: time(row.created_at_ms),
            revoked: row.revoked_at_ms.map(time).unwrap_or_default(),
            last_used: last_used_ms.map_or_else(|| "never".to_owned(), time),
            endpoints: row
                .allowed_endpoints
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

/// One audit record as a table row.
#[derive(Clone, Debug)]
pub struct AuditLine {
    pub id: i64,
    pub time: String,
    pub key_id: String,
    pub label: String,
    pub vendor: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `allow`, `deny` or `undecided`.
    pub decision: &'static str,
    pub refused: bool,
    /// The deny reason of a refusal, else empty.
    pub reason: String,
    pub cost: String,
    pub gateway: String,
}

impl From<&StoredRecord> for AuditLine {
    fn from(s: &StoredRecord) -> Self {
        let r = &s.record;
        Self {
            id: s.id,
            time: crate::wire::audit::rfc3339_millis(r.time_ms).replacen('T', " ", 1),
            key_id: r.key_id.clone().unwrap_or_default(),
            label: r.agent_run_label.clone().unwrap_or_default(),
            vendor: r.vendor.map(|v| v.as_str().to_owned()).unwrap_or_default(),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            decision: r.decision.as_str(),
            refused: r.decision == Decision::Deny,
            reason: r
                .deny_reason
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            cost: usd(r.cost_micros),
            gateway: s.gateway.clone(),
        }
    }
}

/// One bar of a horizontal bar chart.
#[derive(Clone, Debug)]
pub struct Bar {
    pub name: String,
    pub value: String,
    /// Out of [`BAR_WIDTH`] times 3 (charts are wider than table bars).
    pub width: u64,
    /// The bar's top, in SVG user units.
    pub y: u64,
}

/// Height of one chart row, in SVG user units.
pub const CHART_ROW: u64 = 22;

/// Bars for `(name, micros)` pairs, scaled to the largest.
pub fn bars(items: &[(String, u64)]) -> Vec<Bar> {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0);
    items
        .iter()
        .zip(0u64..)
        .map(|((name, v), i)| Bar {
            name: name.clone(),
            value: usd(*v),
            width: bar(*v, max, BAR_WIDTH * 3),
            y: i * CHART_ROW,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_keeps_two_decimals_and_the_ones_that_matter() {
        let cases = [
            ("zero", 0, "$0.00"),
            ("whole dollars", 10_000_000, "$10.00"),
            ("cents", 1_230_000, "$1.23"),
            ("a Twilio segment", 8_300, "$0.0083"),
            ("a micro", 1, "$0.000001"),
            ("a dime", 100_000, "$0.10"),
        ];
        for (name, micros, want) in cases {
            assert_eq!(usd(micros), want, "{name}");
        }
    }

    #[test]
    fn bars_scale_within_the_full_width() {
        assert_eq!(bar(0, 0, 120), 0, "no cap, no bar");
        assert_eq!(bar(50, 100, 120), 60);
        assert_eq!(bar(500, 100, 120), 120, "over the whole is full");
        assert_eq!(bar(u64::MAX, u64::MAX, 120), 120, "no overflow");
    }
}
