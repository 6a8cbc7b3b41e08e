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
    /// How much more room the instance needs now, at least.
    pub want_micros: u64,
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

/// Whether a call must be refused `spend_cap_exceeded` after its lease request was answered:
/// the control plane grew nothing for `day` (the cap has no room), and the local lease, as it
/// stands after the grant, cannot hold the `needed` micro-USD either.
pub fn no_room_after_grant(
    grant: &LeaseGrant,
    day: u32,
    lease_before: u64,
    after: Option<&BudgetRecord>,
    needed: u64,
) -> bool {
    let grew = grant.day != day || grant.lease_micros > lease_before;
    !grew && after.is_none_or(|r| r.room() < needed)
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
    let available = cap.saturating_sub(granted_total);
    if want > available {
        return None;
    }
    let headroom = (available - want) / 4 / live_instances.max(1);
    Some(this_lease.saturating_add(want).saturating_add(headroom))
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
    fn refusal_after_a_grant_table() {
        let grant = |lease| LeaseGrant {
            key_id: "k".into(),
            day: 9,
            lease_micros: lease,
            seq: 1,
        };
        let rec = |lease, spent| BudgetRecord {
            day: 9,
            lease,
            grant_seq: 1,
            spent,
            reserved: 0,
        };
        let cases = [
            (
                "lease grew",
                grant(200),
                9,
                100,
                Some(rec(200, 100)),
                50,
                false,
            ),
            (
                "nothing grew and no room",
                grant(100),
                9,
                100,
                Some(rec(100, 100)),
                10,
                true,
            ),
            (
                "nothing grew but another worker's grant left room",
                grant(100),
                9,
                100,
                Some(rec(300, 100)),
                10,
                false,
            ),
            (
                "nothing grew and no record",
                grant(100),
                9,
                100,
                None,
                10,
                true,
            ),
            (
                "a grant for another day is not a refusal",
                grant(100),
                10,
                100,
                Some(rec(100, 100)),
                10,
                false,
            ),
        ];
        for (name, g, day, before, after, needed, want) in cases {
            assert_eq!(
                no_room_after_grant(&g, day, before, after.as_ref(), needed),
                want,
                "case {name}"
            );
        }
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
            let total: u64 = leases.iter().sum();
            if let Some(new) = size_grant(cap, total, leases[i], want, 3) {
                leases[i] = new;
            }
            assert!(leases.iter().sum::<u64>() <= cap);
        }
    }
}
