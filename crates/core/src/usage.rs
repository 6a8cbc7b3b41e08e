//! The sync service's usage reporting: which keys to report and when, which idle leases to
//! offer back, and what to do with the control plane's answer.

use crate::lease::{KeyUsage, UsageAnswer, UsageReport};
use crate::ledger::BudgetRecord;
use std::collections::{BTreeSet, HashMap};

/// How often used keys are reported.
pub const REPORT_INTERVAL_MS: u64 = 250;
/// A key with no call for this long offers its unused lease back.
pub const IDLE_AFTER_MS: u64 = 2_000;
/// Most keys in one report.
pub const MAX_KEYS_PER_REPORT: usize = 1_000;

#[derive(Debug, Default)]
pub struct UsageTracker {
    /// Keys whose record changed since they were last reported.
    dirty: BTreeSet<String>,
    /// Last call per key, for idleness. Keys leave once offered back.
    last_activity: HashMap<String, u64>,
    in_flight: Option<Vec<String>>,
    next_report_at_ms: u64,
}

impl UsageTracker {
    /// A worker named `key_id` on the usage queue.
    pub fn touched(&mut self, key_id: String, now_ms: u64) {
        self.last_activity.insert(key_id.clone(), now_ms);
        self.dirty.insert(key_id);
    }

    pub fn report_due(&self, now_ms: u64) -> bool {
        self.in_flight.is_none()
            && now_ms >= self.next_report_at_ms
            && (!self.dirty.is_empty() || !self.idle_keys(now_ms).is_empty())
    }

    fn idle_keys(&self, now_ms: u64) -> Vec<String> {
        self.last_activity
            .iter()
            .filter(|(_, t)| now_ms.saturating_sub(**t) >= IDLE_AFTER_MS)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Builds the next report from the keys' records (`read` gives `None` for a key without
    /// one, which is then skipped).
    pub fn build_report(
        &mut self,
        now_ms: u64,
        gateway: &str,
        instance: &str,
        mut read: impl FnMut(&str) -> Option<BudgetRecord>,
    ) -> UsageReport {
        let mut keys = Vec::new();
        let mut sent = Vec::new();
        let idle: Vec<String> = self.idle_keys(now_ms);
        for key_id in self
            .dirty
            .iter()
            .chain(idle.iter())
            .take(MAX_KEYS_PER_REPORT)
        {
            if sent.contains(key_id) {
                continue;
            }
            if let Some(r) = read(key_id) {
                keys.push(KeyUsage::from_record(key_id, &r));
            }
            sent.push(key_id.clone());
        }
        for k in &sent {
            self.dirty.remove(k);
        }
        for k in &idle {
            self.last_activity.remove(k);
        }
        self.in_flight = Some(sent);
        UsageReport {
            gateway: gateway.to_owned(),
            instance: instance.to_owned(),
            keys,
            idle,
        }
    }

    /// The report was answered; returns the keys to release. A failed report (`None`) puts its
    /// keys back to be reported again.
    pub fn on_answer(&mut self, now_ms: u64, answer: Option<UsageAnswer>) -> Vec<String> {
        let sent = self.in_flight.take().unwrap_or_default();
        match answer {
            Some(a) => {
                self.next_report_at_ms = now_ms + REPORT_INTERVAL_MS;
                // Released keys changed: report them at once.
                for k in &a.release {
                    self.dirty.insert(k.clone());
                }
                if !a.release.is_empty() {
                    self.next_report_at_ms = now_ms;
                }
                a.release
            }
            None => {
                self.dirty.extend(sent);
                self.next_report_at_ms = now_ms + REPORT_INTERVAL_MS * 4;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(spent: u64) -> Option<BudgetRecord> {
        Some(BudgetRecord {
            day: 1,
            lease: 100,
            grant_seq: 1,
            spent,
            reserved: 0,
        })
    }

    #[test]
    fn used_keys_are_reported_once_then_again_only_when_used() {
        let mut t = UsageTracker::default();
        assert!(!t.report_due(0));
        t.touched("a".into(), 0);
        t.touched("a".into(), 1);
        assert!(t.report_due(1));
        let r = t.build_report(1, "gw", "i1", |_| rec(10));
        assert_eq!(r.keys.len(), 1);
        assert!(!t.report_due(1), "one report in flight at a time");
        assert!(t.on_answer(2, Some(UsageAnswer::default())).is_empty());
        assert!(!t.report_due(2 + REPORT_INTERVAL_MS), "nothing new to say");
    }

    #[test]
    fn failed_reports_are_retried_and_releases_reported_at_once() {
        let mut t = UsageTracker::default();
        t.touched("a".into(), 0);
        t.build_report(0, "gw", "i1", |_| rec(10));
        t.on_answer(0, None);
        assert!(
            t.report_due(REPORT_INTERVAL_MS * 4),
            "the key is reported again"
        );
        t.build_report(REPORT_INTERVAL_MS * 4, "gw", "i1", |_| rec(10));
        let release = t.on_answer(
            1_000,
            Some(UsageAnswer {
                release: vec!["a".into()],
            }),
        );
        assert_eq!(release, vec!["a".to_owned()]);
        assert!(t.report_due(1_000), "a release is reported without waiting");
    }

    #[test]
    fn idle_keys_are_offered_back_once() {
        let mut t = UsageTracker::default();
        t.touched("a".into(), 0);
        t.build_report(0, "gw", "i1", |_| rec(1));
        t.on_answer(0, Some(UsageAnswer::default()));
        assert!(t.report_due(IDLE_AFTER_MS));
        let r = t.build_report(IDLE_AFTER_MS, "gw", "i1", |_| rec(1));
        assert_eq!(r.idle, vec!["a".to_owned()]);
        t.on_answer(IDLE_AFTER_MS, Some(UsageAnswer::default()));
        assert!(!t.report_due(IDLE_AFTER_MS * 3), "offered once");
    }
}
