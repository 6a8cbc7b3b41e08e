//! The sync service's usage reporting: which keys to report and when, which idle leases to
//! offer back, what to do with the control plane's answer, and which busy keys to top up
//! ahead of need so their calls never wait on the control plane.

use crate::backoff::Backoff;
use crate::lease::{KeyUsage, UsageAnswer, UsageReport};
use crate::ledger::BudgetRecord;
use std::collections::{BTreeSet, HashMap};

/// How often active keys are reported.
pub const REPORT_INTERVAL_MS: u64 = 250;
/// A key with no call for this long offers its unused lease back.
pub const IDLE_AFTER_MS: u64 = 2_000;
/// Most keys in one report.
pub const MAX_KEYS_PER_REPORT: usize = 1_000;
/// A report goes out at least this often, so the control plane knows the instance is alive.
pub const HEARTBEAT_MS: u64 = 5_000;
/// A busy key's lease is topped up when its room would last fewer than this many report
/// intervals at the rate the key used money over the last one (the low-water mark).
pub const LOW_WATER_INTERVALS: u64 = 4;
/// A top-up asks for at least this many report intervals of that use; the control plane adds
/// its headroom (a quarter of what is still free). A larger ask would be refused outright once
/// it exceeds what the cap has left ([`crate::lease::size_grant`] grants "at least `want`" or
/// nothing), which is when a busy key needs its top-ups most.
pub const TOP_UP_INTERVALS: u64 = 1;

/// Longest pause after failed reports (jitter included); the first is 1–2 report intervals.
pub const MAX_BACKOFF_MS: u64 = 5_000;

#[derive(Debug, Default)]
pub struct UsageTracker {
    /// Keys whose record changed since they were last reported.
    dirty: BTreeSet<String>,
    /// Last call per key, for idleness. Keys leave once offered back. While a key is here its
    /// record goes into every report, so the control plane can ask for its unused lease when
    /// another gateway is short.
    last_activity: HashMap<String, u64>,
    in_flight: Option<Vec<String>>,
    next_report_at_ms: u64,
    /// `None` until the first report: that one announces the instance.
    last_report_at_ms: Option<u64>,
    /// Built at the first failed report.
    backoff: Option<Backoff>,
    /// Per active key: the day and the money spent or reserved at the last top-up check.
    used: HashMap<String, (u32, u64)>,
}

impl UsageTracker {
    /// A worker named `key_id` on the usage queue.
    pub fn touched(&mut self, key_id: String, now_ms: u64) {
        self.last_activity.insert(key_id.clone(), now_ms);
        self.dirty.insert(key_id);
    }

    pub fn report_due(&self, now_ms: u64) -> bool {
        let heartbeat = self
            .last_report_at_ms
            .is_none_or(|at| now_ms >= at.saturating_add(HEARTBEAT_MS));
        self.in_flight.is_none()
            && now_ms >= self.next_report_at_ms
            && (!self.dirty.is_empty() || !self.last_activity.is_empty() || heartbeat)
    }

    fn idle_keys(&self, now_ms: u64) -> Vec<String> {
        self.last_activity
            .iter()
            .filter(|(_, t)| now_ms.saturating_sub(**t) >= IDLE_AFTER_MS)
            .map(|(k, _)| k.clone())
            .take(MAX_KEYS_PER_REPORT)
            .collect()
    }

    /// Builds the next report from the keys' records (`read` gives `None` for a key without
    /// one, which is then skipped): changed keys, active keys, and idle keys offered back.
    pub fn build_report(
        &mut self,
        now_ms: u64,
        gateway: &str,
        instance: &str,
        mut read: impl FnMut(&str) -> Option<BudgetRecord>,
    ) -> UsageReport {
        let idle = self.idle_keys(now_ms);
        let mut sent: BTreeSet<String> = BTreeSet::new();
        let candidates = self
            .dirty
            .iter()
            .chain(idle.iter())
            .chain(self.last_activity.keys());
        for key_id in candidates {
            if sent.len() >= MAX_KEYS_PER_REPORT {
                break;
            }
            sent.insert(key_id.clone());
        }
        let keys = sent
            .iter()
            .filter_map(|k| read(k).map(|r| KeyUsage::from_record(k, &r)))
            .collect();
        for k in &sent {
            self.dirty.remove(k);
        }
        for k in &idle {
            self.last_activity.remove(k);
            self.used.remove(k);
        }
        self.last_report_at_ms = Some(now_ms);
        self.in_flight = Some(sent.into_iter().collect());
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
                if let Some(b) = self.backoff.as_mut() {
                    b.succeeded();
                }
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
                let pause = self
                    .backoff
                    .get_or_insert_with(|| Backoff::new(REPORT_INTERVAL_MS, MAX_BACKOFF_MS))
                    .failed();
                self.next_report_at_ms = now_ms.saturating_add(pause);
                Vec::new()
            }
        }
    }

    /// Busy keys whose lease is below the low-water mark, with how much more each should ask
    /// for (micro-USD): [`TOP_UP_INTERVALS`] of what it used since the last check when its room
    /// would last fewer than [`LOW_WATER_INTERVALS`]. Called once per answered report, so it
    /// backs off with the reports. Remembers one figure per active key.
    pub fn top_ups(
        &mut self,
        mut read: impl FnMut(&str) -> Option<BudgetRecord>,
    ) -> Vec<(KeyUsage, u64)> {
        let mut out = Vec::new();
        for key_id in self.last_activity.keys().take(MAX_KEYS_PER_REPORT) {
            let Some(r) = read(key_id) else { continue };
            let used_now = r.spent.saturating_add(r.reserved);
            let before = self.used.insert(key_id.clone(), (r.day, used_now));
            // A first look, or a new day, has no rate yet.
            let Some((_, used_before)) = before.filter(|(day, _)| *day == r.day) else {
                continue;
            };
            let rate = used_now.saturating_sub(used_before);
            if rate > 0 && r.room() < rate.saturating_mul(LOW_WATER_INTERVALS) {
                let want = rate.saturating_mul(TOP_UP_INTERVALS);
                out.push((KeyUsage::from_record(key_id, &r), want));
            }
        }
        out
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

    fn announced() -> UsageTracker {
        let mut t = UsageTracker::default();
        assert!(t.report_due(0), "the first report announces the instance");
        let r = t.build_report(0, "gw", "i1", |_| rec(0));
        assert!(r.keys.is_empty());
        t.on_answer(0, Some(UsageAnswer::default()));
        t
    }

    #[test]
    fn active_keys_are_reported_every_interval_until_idle() {
        let mut t = announced();
        assert!(!t.report_due(1), "nothing to say yet");
        t.touched("a".into(), 1);
        t.touched("a".into(), 2);
        assert!(t.report_due(REPORT_INTERVAL_MS));
        let r = t.build_report(REPORT_INTERVAL_MS, "gw", "i1", |_| rec(10));
        assert_eq!(r.keys.len(), 1);
        assert!(
            !t.report_due(REPORT_INTERVAL_MS),
            "one report in flight at a time"
        );
        assert!(t
            .on_answer(REPORT_INTERVAL_MS, Some(UsageAnswer::default()))
            .is_empty());
        // Still active: reported again, so the control plane can ask for its lease.
        assert!(t.report_due(2 * REPORT_INTERVAL_MS));
        let r = t.build_report(2 * REPORT_INTERVAL_MS, "gw", "i1", |_| rec(10));
        assert_eq!(r.keys.len(), 1);
        assert!(r.idle.is_empty());
    }

    #[test]
    fn a_quiet_instance_still_sends_a_heartbeat() {
        let t = announced();
        assert!(!t.report_due(HEARTBEAT_MS - 1));
        assert!(t.report_due(HEARTBEAT_MS));
    }

    #[test]
    fn failed_reports_are_retried_and_releases_reported_at_once() {
        let mut t = announced();
        t.touched("a".into(), 0);
        t.build_report(REPORT_INTERVAL_MS, "gw", "i1", |_| rec(10));
        t.on_answer(REPORT_INTERVAL_MS, None);
        assert!(
            !t.report_due(REPORT_INTERVAL_MS * 2 - 1),
            "a failed report backs off at least one interval"
        );
        assert!(
            t.report_due(REPORT_INTERVAL_MS * 3),
            "the key is reported again within two intervals"
        );
        t.build_report(REPORT_INTERVAL_MS * 5, "gw", "i1", |_| rec(10));
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
    fn a_busy_key_is_topped_up_before_its_room_runs_out_and_an_idle_one_is_not() {
        let mut t = announced();
        t.touched("busy".into(), 0);
        t.touched("slow".into(), 0);
        let rec = |spent: u64, lease: u64| BudgetRecord {
            day: 1,
            lease,
            grant_seq: 1,
            spent,
            reserved: 0,
        };
        let first = |k: &str| {
            Some(if k == "busy" {
                rec(100, 1_000)
            } else {
                rec(10, 1_000)
            })
        };
        assert!(t.top_ups(first).is_empty(), "no rate at the first look");
        // busy used 300 in one interval and has 600 left: less than 4 intervals of room.
        // slow used 10 and has 980 left.
        let second = |k: &str| {
            Some(if k == "busy" {
                rec(400, 1_000)
            } else {
                rec(20, 1_000)
            })
        };
        let ups = t.top_ups(second);
        assert_eq!(ups.len(), 1, "{ups:?}");
        assert_eq!(ups[0].0.key_id, "busy");
        assert_eq!(ups[0].1, 300 * TOP_UP_INTERVALS);
        assert_eq!(ups[0].0.spent_micros, 400);
        // No use since: nothing to top up.
        assert!(t.top_ups(second).is_empty());
    }

    #[test]
    fn idle_keys_are_offered_back_once() {
        let mut t = announced();
        t.touched("a".into(), 0);
        t.build_report(REPORT_INTERVAL_MS, "gw", "i1", |_| rec(1));
        t.on_answer(REPORT_INTERVAL_MS, Some(UsageAnswer::default()));
        assert!(t.report_due(IDLE_AFTER_MS));
        let r = t.build_report(IDLE_AFTER_MS, "gw", "i1", |_| rec(1));
        assert_eq!(r.idle, vec!["a".to_owned()]);
        t.on_answer(IDLE_AFTER_MS, Some(UsageAnswer::default()));
        assert!(
            !t.report_due(IDLE_AFTER_MS + REPORT_INTERVAL_MS),
            "offered once, then quiet"
        );
    }
}
