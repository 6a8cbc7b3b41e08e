//! The control plane's half of exact spend caps: what it keeps per key, day and gateway
//! instance, how a report from an instance updates that, and the in-memory bookkeeping of
//! reclaims (which instance is short on which key, and a wake-up for every usage report).
//!
//! For each key and UTC day the control plane keeps `Σ max(granted, spent) ≤ cap` over every
//! instance, dead ones included. Each instance spends only inside its lease, so the cap holds
//! exactly across any number of gateways.

use crate::wire::FieldError;
use keybrake_core::lease::KeyUsage;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Default `KEYBRAKE_INSTANCE_TTL_MS`.
pub const DEFAULT_INSTANCE_TTL: Duration = Duration::from_millis(30_000);
/// Default `KEYBRAKE_RECLAIM_WAIT_MS`.
pub const DEFAULT_RECLAIM_WAIT: Duration = Duration::from_millis(2_000);
/// How long a key stays marked short after an instance found no room for it: other instances
/// are told to release their unused lease of it in this window.
pub const SHORT_MARK_MS: u64 = 2_000;
/// Largest figure (micro-USD or sequence) accepted from a gateway: far above any cap (at most
/// 1e15 micro-USD), far below where sums over instances could overflow SQLite's INTEGER.
pub const MAX_FIGURE: u64 = 1 << 53;
/// Longest gateway or instance id, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// One gateway process, as named in a data-plane request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The gateway's configured id. 1 to 128 characters of `[A-Za-z0-9-_.:/]`.
    pub gateway: String,
    /// The random id the instance's sync service drew at start. Same alphabet.
    pub id: String,
}

/// One instance's lease on one key for one UTC day, in micro-USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseRow {
    /// The instance's lease total; lowered only by an acknowledged release.
    pub granted: u64,
    /// Sequence of the last grant; grows with every grant.
    pub seq: u64,
    /// Settled spend as last reported; never goes down.
    pub spent: u64,
    /// In flight as last reported.
    pub reserved: u64,
}

/// Keys that instances found short of room, and the wake-up that usage reports send to lease
/// requests waiting for a reclaim.
#[derive(Debug, Default)]
pub struct Reclaims {
    /// key id → instance → Unix ms until which it counts as short.
    short: Mutex<HashMap<String, HashMap<String, u64>>>,
    reported: Notify,
}

/// True for ids of 1 to 128 characters of letters, digits, `-`, `_`, `.`, `:` or `/`.
pub fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
}

/// True when every figure of `usage` is at most [`MAX_FIGURE`].
pub fn figures_in_range(u: &KeyUsage) -> bool {
    [u.lease_micros, u.seq, u.spent_micros, u.reserved_micros]
        .iter()
        .all(|v| *v <= MAX_FIGURE)
}

// === impl Instance ===

impl Instance {
    pub fn parse(gateway: &str, instance: &str) -> Result<Self, FieldError> {
        let rule = format!(
            "must be 1 to {MAX_ID_CHARS} characters of letters, digits, '-', '_', '.', ':' or '/'"
        );
        if !is_valid_id(gateway) {
            return Err(FieldError::new("gateway", format!("gateway {rule}")));
        }
        if !is_valid_id(instance) {
            return Err(FieldError::new("instance", format!("instance {rule}")));
        }
        Ok(Self {
            gateway: gateway.to_owned(),
            id: instance.to_owned(),
        })
    }
}

// === impl LeaseRow ===

impl LeaseRow {
    /// Takes in what the instance reports: spend only grows; reservations are as reported; a
    /// lower lease under the current grant sequence is a release the instance made, while a
    /// report under an older sequence predates a grant and lowers nothing. A report never
    /// raises `granted`.
    ///
    /// A report under a sequence this row never granted is about some other record (the
    /// gateway's record of the day before, sent as today's in the first lease request after
    /// midnight, or state this control plane lost): it is ignored, and `false` returned.
    pub fn absorb(&mut self, usage: &KeyUsage) -> bool {
        if usage.seq > self.seq {
            return false;
        }
        self.spent = self.spent.max(usage.spent_micros);
        self.reserved = usage.reserved_micros;
        if usage.seq == self.seq && usage.lease_micros < self.granted {
            self.granted = usage.lease_micros;
        }
        true
    }

    /// How much of `want` is still wanted. `want` counts from the lease the instance reported;
    /// grants it had not applied when it asked (concurrent requests of its other workers)
    /// already cover part of it. Without this, a request sized against an older lease is
    /// refused for lack of room that it does not need, and that room stays unused.
    /// Figures under a sequence this row never granted count for nothing.
    pub fn still_wanted(&self, usage: &KeyUsage, want: u64) -> u64 {
        if usage.seq > self.seq {
            return want;
        }
        want.saturating_sub(self.granted.saturating_sub(usage.lease_micros))
    }

    /// What this row takes from the cap: the lease, or the spend when settling went past it.
    pub fn committed(&self) -> u64 {
        self.granted.max(self.spent)
    }

    /// Lease neither spent nor reserved, as last reported.
    pub fn unused(&self) -> u64 {
        self.granted
            .saturating_sub(self.spent)
            .saturating_sub(self.reserved)
    }
}

/// A change to the reclaim marks, or a usage report taken in, as one replica tells the others
/// (PostgreSQL's NOTIFY): an instance short of a key is asked to release by whichever replica
/// the holders report to, and a lease request waiting for a reclaim on one replica wakes on a
/// report taken in by another. Lost events cost a reclaim, never money.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReclaimEvent {
    Short {
        key_id: String,
        instance: String,
        until_ms: u64,
    },
    Clear {
        key_id: String,
        instance: String,
    },
    Reported,
}

// === impl ReclaimEvent ===

impl ReclaimEvent {
    /// `short <key> <instance> <until_ms>`, `clear <key> <instance>` or `reported` (ids never
    /// hold a space: see [`is_valid_id`]).
    pub fn encode(&self) -> String {
        match self {
            Self::Short {
                key_id,
                instance,
                until_ms,
            } => format!("short {key_id} {instance} {until_ms}"),
            Self::Clear { key_id, instance } => format!("clear {key_id} {instance}"),
            Self::Reported => "reported".to_owned(),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(' ').collect();
        match parts.as_slice() {
            ["short", key, instance, until] => Some(Self::Short {
                key_id: (*key).to_owned(),
                instance: (*instance).to_owned(),
                until_ms: until.parse().ok()?,
            }),
            ["clear", key, instance] => Some(Self::Clear {
                key_id: (*key).to_owned(),
                instance: (*instance).to_owned(),
            }),
            ["reported"] => Some(Self::Reported),
            _ => None,
        }
    }
}

// === impl Reclaims ===

impl Reclaims {
    fn short(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, u64>>> {
        self.short.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `key_id` short for `instance` until `until_ms`.
    pub fn mark_short(&self, key_id: &str, instance: &str, until_ms: u64) {
        self.short()
            .entry(key_id.to_owned())
            .or_default()
            .insert(instance.to_owned(), until_ms);
    }

    /// `instance` got its grant: it is no longer short of `key_id`.
    pub fn clear_short(&self, key_id: &str, instance: &str) {
        let mut short = self.short();
        if let Some(by) = short.get_mut(key_id) {
            by.remove(instance);
            if by.is_empty() {
                short.remove(key_id);
            }
        }
    }

    /// Keys some instance other than `instance` is short of at `now_ms`. Forgets expired marks.
    pub fn short_elsewhere(&self, instance: &str, now_ms: u64) -> BTreeSet<String> {
        let mut short = self.short();
        short.retain(|_, by| {
            by.retain(|_, until| *until >= now_ms);
            !by.is_empty()
        });
        short
            .iter()
            .filter(|(_, by)| by.keys().any(|i| i != instance))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Applies what another replica announced (see [`ReclaimEvent`]).
    pub fn apply(&self, event: &ReclaimEvent) {
        match event {
            ReclaimEvent::Short {
                key_id,
                instance,
                until_ms,
            } => self.mark_short(key_id, instance, *until_ms),
            ReclaimEvent::Clear { key_id, instance } => self.clear_short(key_id, instance),
            ReclaimEvent::Reported => self.notify_reported(),
        }
    }

    /// Wakes every lease request waiting for a reclaim.
    pub fn notify_reported(&self) {
        self.reported.notify_waiters();
    }

    /// Completes at the next [`Reclaims::notify_reported`]; `enable` it before checking.
    pub fn reported(&self) -> tokio::sync::futures::Notified<'_> {
        self.reported.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaim_events_round_trip_and_odd_payloads_are_dropped() {
        let events = [
            ReclaimEvent::Short {
                key_id: "kid_0123456789abcdef".into(),
                instance: "0a1b2c3d".into(),
                until_ms: 1_800_000_000_000,
            },
            ReclaimEvent::Clear {
                key_id: "kid_0123456789abcdef".into(),
                instance: "gw/1".into(),
            },
            ReclaimEvent::Reported,
        ];
        for e in events {
            assert_eq!(ReclaimEvent::decode(&e.encode()), Some(e));
        }
        for odd in ["", "short a b", "short a b soon", "clear a", "reported now"] {
            assert_eq!(ReclaimEvent::decode(odd), None, "{odd:?}");
        }
    }

    fn usage(lease: u64, seq: u64, spent: u64, reserved: u64) -> KeyUsage {
        KeyUsage {
            key_id: "kid_0123456789abcdef".into(),
            day: 1,
            lease_micros: lease,
            seq,
            spent_micros: spent,
            reserved_micros: reserved,
        }
    }

    #[test]
    fn absorb_table() {
        let row = LeaseRow {
            granted: 100,
            seq: 3,
            spent: 40,
            reserved: 10,
        };
        let cases = [
            (
                "spend grows, reserved follows",
                usage(100, 3, 50, 5),
                LeaseRow {
                    spent: 50,
                    reserved: 5,
                    ..row
                },
            ),
            (
                "spend never goes down",
                usage(100, 3, 30, 0),
                LeaseRow { reserved: 0, ..row },
            ),
            (
                "release under the current grant is acknowledged",
                usage(60, 3, 50, 10),
                LeaseRow {
                    granted: 60,
                    spent: 50,
                    ..row
                },
            ),
            (
                "release under an older grant is not",
                usage(60, 2, 50, 10),
                LeaseRow { spent: 50, ..row },
            ),
            (
                "a report never raises the lease",
                usage(500, 3, 40, 10),
                row,
            ),
            (
                "a sequence never granted: another day's record",
                usage(0, 4, 90, 0),
                row,
            ),
        ];
        for (name, u, want) in cases {
            let mut r = row;
            assert_eq!(r.absorb(&u), u.seq <= row.seq, "case {name}");
            assert_eq!(r, want, "case {name}");
        }
    }

    #[test]
    fn still_wanted_table() {
        let row = LeaseRow {
            granted: 100,
            seq: 3,
            spent: 40,
            reserved: 10,
        };
        let cases = [
            (
                "asked against the current lease",
                usage(100, 3, 40, 10),
                30,
                30,
            ),
            ("a newer grant covers part", usage(80, 2, 40, 10), 30, 10),
            ("a newer grant covers all", usage(60, 2, 40, 10), 30, 0),
            ("another day's record", usage(500, 4, 90, 0), 30, 30),
            ("a report above the lease", usage(150, 3, 40, 10), 30, 30),
        ];
        for (name, u, want, still) in cases {
            assert_eq!(row.still_wanted(&u, want), still, "case {name}");
        }
    }

    #[test]
    fn committed_and_unused() {
        let r = LeaseRow {
            granted: 100,
            seq: 1,
            spent: 130,
            reserved: 0,
        };
        assert_eq!((r.committed(), r.unused()), (130, 0));
        let r = LeaseRow {
            granted: 100,
            seq: 1,
            spent: 30,
            reserved: 20,
        };
        assert_eq!((r.committed(), r.unused()), (100, 50));
    }

    #[test]
    fn ids_and_short_marks() {
        assert!(Instance::parse("gw-1", "i-7f3a").is_ok());
        assert_eq!(Instance::parse("", "i").unwrap_err().field, "gateway");
        assert_eq!(Instance::parse("g", "a b").unwrap_err().field, "instance");
        assert!(!is_valid_id(&"x".repeat(129)));

        let r = Reclaims::default();
        r.mark_short("k1", "a", 100);
        assert!(r.short_elsewhere("a", 50).is_empty(), "not to itself");
        assert_eq!(r.short_elsewhere("b", 50), BTreeSet::from(["k1".into()]));
        assert!(r.short_elsewhere("b", 101).is_empty(), "expired");
        r.mark_short("k2", "a", 100);
        r.clear_short("k2", "a");
        assert!(r.short_elsewhere("b", 50).is_empty());
    }
}
