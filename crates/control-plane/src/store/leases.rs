//! Lease rows per key, UTC day and gateway instance, and when each instance was last seen.
//!
//! Every step that reads the rows of a key and writes one back runs in one immediate
//! transaction, so two grants for the same key never both see the same room.

use super::keys::{self as key_rows, KeyStatus};
use super::{to_i64, to_u64, Sqlite, StoreError};
use crate::leases::{figures_in_range, Instance, LeaseRow};
use keybrake_core::lease::{size_grant_within, KeyUsage};
use keybrake_core::VaultKeyId;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::{BTreeSet, HashMap};

/// A lease request, validated.
#[derive(Clone, Debug)]
pub struct LeaseAsk {
    pub key_id: VaultKeyId,
    /// Today (the handler refuses any other day).
    pub day: u32,
    pub instance: Instance,
    /// The instance's record as reported.
    pub usage: KeyUsage,
    /// Whether to take `usage` in: false on a re-check after a wait (taken in already).
    pub absorb: bool,
    /// Room wanted beyond `usage`'s lease. At most [`crate::leases::MAX_FIGURE`].
    pub want: u64,
    /// The least room that helps (at most `want`): when the cap cannot cover `want` but covers
    /// this, all that is left is granted ([`keybrake_core::lease::size_grant_within`]).
    pub min: u64,
    pub now_ms: u64,
    /// Instances seen at or after this instant are live.
    pub live_since_ms: u64,
}

/// What a lease step decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    UnknownKey,
    /// The key is revoked or expired.
    Unusable(KeyStatus),
    Granted {
        lease: u64,
        seq: u64,
    },
    /// The cap has no room for `want`: the row as it stands, and the unused lease other live
    /// instances hold (what a reclaim could free).
    NoRoom {
        lease: u64,
        seq: u64,
        others_unused: u64,
    },
}

/// A key's money for one day, in micro-USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaySpend {
    /// Reported spend, plus the unreported lease of every dead instance.
    pub spent: u64,
    /// Lease live instances hold and have not reported spent.
    pub leased: u64,
}

/// The other instances' rows of a key and day, summed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Others {
    /// Sum of `max(granted, spent)`.
    pub committed: u64,
    /// Live instances with a row.
    pub live: u64,
    /// Unused lease of the live ones.
    pub live_unused: u64,
}

/// Records that `instance` was seen at `now_ms` (lease, usage and audit requests all count).
pub(crate) fn touch(conn: &Connection, instance: &Instance, now_ms: u64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO gateway_instances (instance, gateway, last_seen_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (instance) DO UPDATE SET gateway = excluded.gateway, \
             last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)",
        params![instance.id, instance.gateway, to_i64(now_ms)?],
    )?;
    Ok(())
}

fn load(
    conn: &Connection,
    key_id: &str,
    day: u32,
    instance: &str,
) -> Result<Option<LeaseRow>, StoreError> {
    let raw: Option<(i64, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT granted, seq, spent, reserved FROM key_leases \
             WHERE key_id = ?1 AND day = ?2 AND instance = ?3",
        )?
        .query_row(params![key_id, day, instance], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    raw.map(|(granted, seq, spent, reserved)| {
        Ok(LeaseRow {
            granted: to_u64(granted, "key_leases")?,
            seq: to_u64(seq, "key_leases")?,
            spent: to_u64(spent, "key_leases")?,
            reserved: to_u64(reserved, "key_leases")?,
        })
    })
    .transpose()
}

fn save(
    conn: &Connection,
    key_id: &str,
    day: u32,
    instance: &str,
    row: &LeaseRow,
    now_ms: u64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO key_leases (key_id, day, instance, granted, seq, spent, reserved, updated_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (key_id, day, instance) DO UPDATE SET granted = excluded.granted, \
             seq = excluded.seq, spent = excluded.spent, reserved = excluded.reserved, \
             updated_at_ms = excluded.updated_at_ms",
    )?
    .execute(params![
        key_id,
        day,
        instance,
        to_i64(row.granted)?,
        to_i64(row.seq)?,
        to_i64(row.spent)?,
        to_i64(row.reserved)?,
        to_i64(now_ms)?,
    ])?;
    Ok(())
}

fn others(
    conn: &Connection,
    key_id: &str,
    day: u32,
    instance: &str,
    live_since_ms: u64,
) -> Result<Others, StoreError> {
    let (committed, live, live_unused): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(MAX(l.granted, l.spent)), 0), \
                    COALESCE(SUM(i.last_seen_ms >= ?4), 0), \
                    COALESCE(SUM(CASE WHEN i.last_seen_ms >= ?4 \
                        THEN MAX(l.granted - l.spent - l.reserved, 0) ELSE 0 END), 0) \
             FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
             WHERE l.key_id = ?1 AND l.day = ?2 AND l.instance <> ?3",
        )?
        .query_row(
            params![key_id, day, instance, to_i64(live_since_ms)?],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
    Ok(Others {
        committed: to_u64(committed, "key_leases")?,
        live: to_u64(live, "key_leases")?,
        live_unused: to_u64(live_unused, "key_leases")?,
    })
}

fn lease_step(conn: &mut Connection, ask: &LeaseAsk) -> Result<LeaseOutcome, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    touch(&tx, &ask.instance, ask.now_ms)?;
    let outcome = match key_rows::get(&tx, &ask.key_id)? {
        None => LeaseOutcome::UnknownKey,
        Some(key) => match key.status(ask.now_ms) {
            KeyStatus::Active => grant(&tx, ask, key.daily_cap_micros)?,
            unusable => LeaseOutcome::Unusable(unusable),
        },
    };
    tx.commit()?;
    Ok(outcome)
}

/// Takes in the report, then grants what [`size_grant_within`] allows, if anything.
fn grant(conn: &Connection, ask: &LeaseAsk, cap: u64) -> Result<LeaseOutcome, StoreError> {
    let (key_id, instance) = (ask.key_id.as_str(), ask.instance.id.as_str());
    let mut row = load(conn, key_id, ask.day, instance)?.unwrap_or_default();
    let others = others(conn, key_id, ask.day, instance, ask.live_since_ms)?;
    let outcome = decide_grant(&mut row, ask, others, cap);
    save(conn, key_id, ask.day, instance, &row, ask.now_ms)?;
    Ok(outcome)
}

/// The pure part of a grant, shared by both backends: takes `ask`'s report into the
/// instance's `row` and sizes a grant against the other instances' rows. The caller holds
/// the key's rows still (a transaction) from reading `row` and `others` to saving `row`.
pub(crate) fn decide_grant(
    row: &mut LeaseRow,
    ask: &LeaseAsk,
    others: Others,
    cap: u64,
) -> LeaseOutcome {
    if ask.absorb && !row.absorb(&ask.usage) {
        tracing::debug!(
            key_id = ask.key_id.as_str(),
            instance = ask.instance.id.as_str(),
            seq = ask.usage.seq,
            "ignored figures under a sequence never granted"
        );
    }
    let want = row.still_wanted(&ask.usage, ask.want);
    let min = row.still_wanted(&ask.usage, ask.min.min(ask.want));
    // Spend past a lease (settling above the reservation) takes from the cap like a lease: the
    // total is of `max(granted, spent)`, and a grant grows from there, so that it covers `want`.
    let total = others.committed.saturating_add(row.committed());
    match size_grant_within(cap, total, row.committed(), want, min, others.live + 1) {
        Some(lease) => {
            row.granted = lease;
            row.seq += 1;
            LeaseOutcome::Granted {
                lease,
                seq: row.seq,
            }
        }
        None => LeaseOutcome::NoRoom {
            lease: row.granted,
            seq: row.seq,
            others_unused: others.live_unused,
        },
    }
}

fn record_usage(
    conn: &mut Connection,
    instance: &Instance,
    keys: &[KeyUsage],
    ask_release: &BTreeSet<String>,
    today: u32,
    now_ms: u64,
) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    touch(&tx, instance, now_ms)?;
    let mut known: HashMap<String, bool> = HashMap::new();
    let mut is_known = |tx: &Connection, raw: &str| -> Result<bool, StoreError> {
        if let Some(k) = known.get(raw) {
            return Ok(*k);
        }
        let k = match VaultKeyId::parse(raw) {
            Ok(id) => key_rows::get(tx, &id)?.is_some(),
            Err(_) => false,
        };
        known.insert(raw.to_owned(), k);
        Ok(k)
    };
    for usage in keys {
        // Yesterday's final figures still count for yesterday; anything else is skipped, as is
        // a key this control plane does not know.
        let day_ok = usage.day == today || usage.day.checked_add(1) == Some(today);
        if !day_ok || !figures_in_range(usage) || !is_known(&tx, &usage.key_id)? {
            continue;
        }
        let mut row = load(&tx, &usage.key_id, usage.day, &instance.id)?.unwrap_or_default();
        if row.absorb(usage) {
            save(&tx, &usage.key_id, usage.day, &instance.id, &row, now_ms)?;
        }
    }
    let mut release = Vec::new();
    for key_id in ask_release {
        let row = load(&tx, key_id, today, &instance.id)?;
        if row.is_some_and(|r| r.unused() > 0) {
            release.push(key_id.clone());
        }
    }
    tx.commit()?;
    Ok(release)
}

fn day_spend(
    conn: &Connection,
    key: Option<&VaultKeyId>,
    day: u32,
    live_since_ms: u64,
) -> Result<HashMap<VaultKeyId, DaySpend>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.key_id, \
                SUM(CASE WHEN i.last_seen_ms >= ?3 THEN l.spent ELSE MAX(l.granted, l.spent) END), \
                SUM(CASE WHEN i.last_seen_ms >= ?3 THEN MAX(l.granted - l.spent, 0) ELSE 0 END) \
         FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
         WHERE l.day = ?2 AND (?1 IS NULL OR l.key_id = ?1) \
         GROUP BY l.key_id",
    )?;
    let mut rows = stmt.query(params![
        key.map(VaultKeyId::as_str),
        day,
        to_i64(live_since_ms)?
    ])?;
    let mut out = HashMap::new();
    while let Some(r) = rows.next()? {
        let (id, spend) = spend_entry(r.get(0)?, r.get(1)?, r.get(2)?)?;
        out.insert(id, spend);
    }
    Ok(out)
}

/// One row of a spend query (key id, spent, leased), checked; both backends read them so.
pub(crate) fn spend_entry(
    raw: String,
    spent: i64,
    leased: i64,
) -> Result<(VaultKeyId, DaySpend), StoreError> {
    let id = VaultKeyId::parse(&raw).map_err(|e| StoreError::Corrupt {
        table: "key_leases",
        detail: format!("key_id: {e}"),
    })?;
    let spend = DaySpend {
        spent: to_u64(spent, "key_leases")?,
        leased: to_u64(leased, "key_leases")?,
    };
    Ok((id, spend))
}

/// One gateway instance's lease row of a key for a day, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolding {
    pub gateway: String,
    pub instance: String,
    /// Micro-USD granted to the instance.
    pub granted: u64,
    /// Micro-USD the instance reported spent.
    pub spent: u64,
    /// Micro-USD the instance reported reserved for calls in flight.
    pub reserved: u64,
    /// When any data-plane request last carried the instance's id, Unix ms.
    pub last_seen_ms: u64,
}

fn holdings(
    conn: &Connection,
    key: &VaultKeyId,
    day: u32,
) -> Result<Vec<LeaseHolding>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.gateway, l.instance, l.granted, l.spent, l.reserved, i.last_seen_ms \
         FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
         WHERE l.key_id = ?1 AND l.day = ?2 ORDER BY i.last_seen_ms DESC, l.instance",
    )?;
    let mut rows = stmt.query(params![key.as_str(), day])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let n = |i: usize| -> Result<u64, StoreError> { to_u64(r.get(i)?, "key_leases") };
        out.push(LeaseHolding {
            gateway: r.get(0)?,
            instance: r.get(1)?,
            granted: n(2)?,
            spent: n(3)?,
            reserved: n(4)?,
            last_seen_ms: n(5)?,
        });
    }
    Ok(out)
}

// === impl Sqlite ===

impl Sqlite {
    /// One lease decision for one instance, atomically: records that the instance was seen,
    /// takes in its report, and grants if the cap has room.
    pub async fn lease_step(&self, ask: LeaseAsk) -> Result<LeaseOutcome, StoreError> {
        self.with(move |conn| lease_step(conn, &ask)).await
    }

    /// Takes in an instance's usage report (skipping unknown keys and days other than today and
    /// yesterday) and returns the keys of `ask_release` for which the instance holds unused
    /// lease today, sorted.
    pub async fn record_usage(
        &self,
        instance: Instance,
        keys: Vec<KeyUsage>,
        ask_release: BTreeSet<String>,
        today: u32,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.with(move |conn| record_usage(conn, &instance, &keys, &ask_release, today, now_ms))
            .await
    }

    /// Spend and outstanding lease on `day` of `key`, or of every key when `None`. Keys
    /// without rows that day are absent.
    pub async fn day_spend(
        &self,
        key: Option<VaultKeyId>,
        day: u32,
        live_since_ms: u64,
    ) -> Result<HashMap<VaultKeyId, DaySpend>, StoreError> {
        self.read(move |conn| day_spend(conn, key.as_ref(), day, live_since_ms))
            .await
    }

    /// Every instance's lease row of `key` on `day`, most recently seen first.
    pub async fn key_leases(
        &self,
        key: VaultKeyId,
        day: u32,
    ) -> Result<Vec<LeaseHolding>, StoreError> {
        self.read(move |conn| holdings(conn, &key, day)).await
    }

    /// Gateway instances seen at or after `live_since_ms`.
    pub async fn instances_live(&self, live_since_ms: u64) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM gateway_instances WHERE last_seen_ms >= ?1",
                [to_i64(live_since_ms)?],
                |r| r.get(0),
            )?;
            to_u64(n, "gateway_instances")
        })
        .await
    }
}
