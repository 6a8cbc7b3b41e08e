//! The lease protocol between a gateway and the control plane, and the control plane's rule
//! for sizing a grant. One schema for both sides.
//!
//! - `POST /dataplane/v1/lease` ([`LeaseRequest`] → [`LeaseGrant`]): a worker whose local lease
//!   lacks room asks for more, reporting the key's record as it stands.
//! - `POST /dataplane/v1/usage` ([`UsageReport`] → [`UsageAnswer`]): the sync service reports
//!   the records of keys used since its last report; the answer names keys whose unused lease
//!   it should give back (idle keys, and keys another gateway is short on).
//!
//! Both are authenticated with the data-plane token. A gateway process is an *instance*: a
//! restarted Envoy is a new instance, and what an instance was granted and never reported
//! back counts as spent.

use crate::ledger::BudgetRecord;
use serde::{Deserialize, Serialize};

pub const LEASE_PATH: &str = "/dataplane/v1/lease";
pub const USAGE_PATH: &str = "/dataplane/v1/usage";

/// A key's record in one gateway instance, as reported to the control plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUsage {
    pub key_id: String,
    /// UTC day (days since the Unix epoch) the figures count.
    pub day: u32,
    pub lease_micros: u64,
    /// Sequence of the last grant the instance applied.
    pub seq: u64,
    pub spent_micros: u64,
    pub reserved_micros: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    pub gateway: String,
    pub instance: String,
    pub usage: KeyUsage,
    /// How much more room the instance needs now: the calls waiting on the key in the asking
    /// worker, summed.
    pub want_micros: u64,
    /// The least growth that lets one of those calls go. When the cap cannot cover
    /// `want_micros` but covers this, the control plane grants all that is left. Absent: the
    /// same as `want_micros` (gateways before single-flight lease requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_micros: Option<u64>,
}

/// The instance's lease for the key and day after the request: apply it with
/// [`crate::ledger::apply_grant`]. When the cap has no room left, `lease_micros` is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseGrant {
    pub key_id: String,
    pub day: u32,
    pub lease_micros: u64,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    pub gateway: String,
    pub instance: String,
    pub keys: Vec<KeyUsage>,
    /// Keys with unused lease and no call for a while, which the instance could give back.
    #[serde(default)]
    pub idle: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageAnswer {
    /// Keys whose unused lease the instance should release now, then report.
    #[serde(default)]
    pub release: Vec<String>,
}

impl KeyUsage {
    /// The record's figures for `day`: a record still counting an earlier day has spent and
    /// been granted nothing today yet, and only its calls in flight carry over.
    pub fn for_day(key_id: &str, r: &BudgetRecord, day: u32) -> Self {
        if r.day >= day {
            return Self::from_record(key_id, r);
        }
        Self {
            key_id: key_id.to_owned(),
            day,
            lease_micros: 0,
            seq: 0,
            spent_micros: 0,
            reserved_micros: r.reserved,
        }
    }

    pub fn from_record(key_id: &str, r: &BudgetRecord) -> Self {
        Self {
            key_id: key_id.to_owned(),
            day: r.day,
            lease_micros: r.lease,
            seq: r.grant_seq,
            spent_micros: r.spent,
            reserved_micros: r.reserved,
        }
    }
}

/// The control plane's rule for a grant. `granted_total` is what all instances hold for the
/// key and day (dead instances included: their leases count as spent), `this_lease` is what the
/// asking instance holds. Returns the asking instance's new lease, or `None` when the cap
/// cannot cover `want` now.
///
/// The grant is `want` plus headroom: a quarter of what would still be free, shared among the
/// live instances, so a busy key rarely waits on the control plane while the endgame stays
/// exact (headroom shrinks as the cap fills, and idle leases are reclaimed).
pub fn size_grant(
    cap: u64,
    granted_total: u64,
    this_lease: u64,
    want: u64,
    live_instances: u64,
) -> Option<u64> {
    size_grant_within(cap, granted_total, this_lease, want, want, live_instances)
}

/// [`size_grant`] for a request that can use less than it wants: when the cap cannot cover
/// `want` but covers `min` (taken as at least 1 micro-USD and at most `want`), the asking
/// instance's lease grows by all that is left, with no headroom. A worker asks this way for the calls waiting on one key: each of
/// them needs `min` or more, so whatever is left lets some of them go, and the rest are refused
/// at the cap (after a reclaim) instead of waiting for one more round per call.
pub fn size_grant_within(
    cap: u64,
    granted_total: u64,
    this_lease: u64,
    want: u64,
    min: u64,
    live_instances: u64,
) -> Option<u64> {
    let available = cap.saturating_sub(granted_total);
    if want <= available {
        let headroom = (available - want) / 4 / live_instances.max(1);
        return Some(this_lease.saturating_add(want).saturating_add(headroom));
    }
    (min.max(1).min(want) <= available).then(|| this_lease.saturating_add(available))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_for_a_new_day_starts_from_zero() {
        let r = BudgetRecord {
            day: 9,
            lease: 500,
            grant_seq: 4,
            spent: 300,
            reserved: 20,
        };
        assert_eq!(
            KeyUsage::for_day("k", &r, 9),
            KeyUsage::from_record("k", &r)
        );
        let next = KeyUsage::for_day("k", &r, 10);
        assert_eq!(
            (
                next.day,
                next.lease_micros,
                next.seq,
                next.spent_micros,
                next.reserved_micros
            ),
            (10, 0, 0, 0, 20)
        );
    }

    #[test]
    fn grant_sizing_table() {
        let cases = [
            (
                "first grant on a fresh key",
                500,
                0,
                0,
                10,
                1,
                Some(10 + 122),
            ),
            (
                "two instances share headroom",
                500,
                0,
                0,
                10,
                2,
                Some(10 + 61),
            ),
            ("exactly what is left", 500, 490, 100, 10, 1, Some(110)),
            ("more than is left", 500, 495, 100, 10, 1, None),
            (
                "zero want still grows by headroom",
                400,
                0,
                0,
                0,
                1,
                Some(100),
            ),
            (
                "granted beyond cap (a lowered cap)",
                100,
                300,
                300,
                1,
                1,
                None,
            ),
        ];
        for (name, cap, granted, this, want, live, expect) in cases {
            assert_eq!(
                size_grant(cap, granted, this, want, live),
                expect,
                "case {name}"
            );
        }
    }

    #[test]
    fn a_request_that_can_use_less_gets_what_is_left() {
        let cases = [
            (
                "want fits: as size_grant",
                500,
                0,
                0,
                30,
                10,
                Some(30 + 117),
            ),
            (
                "want does not fit, min does",
                500,
                480,
                100,
                30,
                10,
                Some(120),
            ),
            ("min exactly what is left", 500, 490, 100, 30, 10, Some(110)),
            ("not even min fits", 500, 495, 100, 30, 10, None),
            ("min above want counts as want", 500, 480, 0, 30, 50, None),
            ("min 0 counts as 1 micro-USD", 500, 500, 70, 30, 0, None),
        ];
        for (name, cap, granted, this, want, min, expect) in cases {
            assert_eq!(
                size_grant_within(cap, granted, this, want, min, 1),
                expect,
                "case {name}"
            );
        }
    }

    #[test]
    fn grants_never_exceed_the_cap_in_total() {
        // Instances take turns asking for random amounts; the sum of leases stays within the cap.
        let cap = 1_000_000u64;
        let mut leases = [0u64; 3];
        let mut seed = 7u64;
        for _ in 0..10_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (seed >> 33) as usize % 3;
            let want = (seed >> 40) % 5_000;
            let min = (seed >> 20) % 5_000;
            let total: u64 = leases.iter().sum();
            if let Some(new) = size_grant_within(cap, total, leases[i], want, min, 3) {
                leases[i] = new;
            }
            assert!(leases.iter().sum::<u64>() <= cap);
        }
    }
}
