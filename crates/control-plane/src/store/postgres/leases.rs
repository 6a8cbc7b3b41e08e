//! Lease rows and gateway instances on PostgreSQL.
//!
//! A lease step or usage report locks the key's `vault_keys` row first (keys in order, after
//! the instance's own row), so that no two grants of a key, on any replicas, see the same room.

use super::{keys, Postgres};
use crate::leases::{figures_in_range, Instance, LeaseRow};
use crate::store::leases::{decide_grant, spend_entry, Others};
use crate::store::{
    to_i64, to_u64, DaySpend, KeyStatus, LeaseAsk, LeaseHolding, LeaseOutcome, StoreError,
};
use deadpool_postgres::GenericClient;
use keybrake_core::lease::KeyUsage;
use keybrake_core::VaultKeyId;
use std::collections::{BTreeSet, HashMap};

/// Records that `instance` was seen at `now_ms`.
pub(super) async fn touch(
    c: &impl GenericClient,
    instance: &Instance,
    now_ms: u64,
) -> Result<(), StoreError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO gateway_instances (instance, gateway, last_seen_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (instance) DO UPDATE SET gateway = excluded.gateway, \
             last_seen_ms = GREATEST(gateway_instances.last_seen_ms, excluded.last_seen_ms)",
        )
        .await?;
    c.execute(&stmt, &[&instance.id, &instance.gateway, &to_i64(now_ms)?])
        .await?;
    Ok(())
}

async fn load(
    c: &impl GenericClient,
    key_id: &str,
    day: u32,
    instance: &str,
) -> Result<Option<LeaseRow>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT granted, seq, spent, reserved FROM key_leases \
             WHERE key_id = $1 AND day = $2 AND instance = $3",
        )
        .await?;
    let row = c
        .query_opt(&stmt, &[&key_id, &i64::from(day), &instance])
        .await?;
    row.map(|r| {
        let n = |i: usize| -> Result<u64, StoreError> { to_u64(r.try_get(i)?, "key_leases") };
        Ok(LeaseRow {
            granted: n(0)?,
            seq: n(1)?,
            spent: n(2)?,
            reserved: n(3)?,
        })
    })
    .transpose()
}

async fn save(
    c: &impl GenericClient,
    key_id: &str,
    day: u32,
    instance: &str,
    row: &LeaseRow,
    now_ms: u64,
) -> Result<(), StoreError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO key_leases (key_id, day, instance, granted, seq, spent, reserved, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (key_id, day, instance) DO UPDATE SET granted = excluded.granted, \
             seq = excluded.seq, spent = excluded.spent, reserved = excluded.reserved, \
             updated_at_ms = excluded.updated_at_ms",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &key_id,
            &i64::from(day),
            &instance,
            &to_i64(row.granted)?,
            &to_i64(row.seq)?,
            &to_i64(row.spent)?,
            &to_i64(row.reserved)?,
            &to_i64(now_ms)?,
        ],
    )
    .await?;
    Ok(())
}

async fn others(
    c: &impl GenericClient,
    key_id: &str,
    day: u32,
    instance: &str,
    live_since_ms: u64,
) -> Result<Others, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT COALESCE(SUM(GREATEST(l.granted, l.spent)), 0)::BIGINT, \
                    COUNT(*) FILTER (WHERE i.last_seen_ms >= $4), \
                    COALESCE(SUM(CASE WHEN i.last_seen_ms >= $4 \
                        THEN GREATEST(l.granted - l.spent - l.reserved, 0) ELSE 0 END), 0)::BIGINT \
             FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
             WHERE l.key_id = $1 AND l.day = $2 AND l.instance <> $3",
        )
        .await?;
    let r = c
        .query_one(
            &stmt,
            &[&key_id, &i64::from(day), &instance, &to_i64(live_since_ms)?],
        )
        .await?;
    let n = |i: usize| -> Result<u64, StoreError> { to_u64(r.try_get(i)?, "key_leases") };
    Ok(Others {
        committed: n(0)?,
        live: n(1)?,
        live_unused: n(2)?,
    })
}

// === impl Postgres ===

impl Postgres {
    pub async fn lease_step(&self, ask: LeaseAsk) -> Result<LeaseOutcome, StoreError> {
        if !ask.absorb {
            // A re-check after a wait (every report wakes every waiting request, on every
            // replica): when a read without locks already finds no room, that is the answer
            // (refusing never overspends), and the key's lock stays free for grants.
            if let Some(outcome) = self.no_room_unlocked(&ask).await? {
                return Ok(outcome);
            }
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        touch(&tx, &ask.instance, ask.now_ms).await?;
        let outcome = match keys::get(&tx, ask.key_id.as_str(), true).await? {
            None => LeaseOutcome::UnknownKey,
            Some(key) => match key.status(ask.now_ms) {
                KeyStatus::Active => {
                    let (key_id, instance) = (ask.key_id.as_str(), ask.instance.id.as_str());
                    let mut row = load(&tx, key_id, ask.day, instance)
                        .await?
                        .unwrap_or_default();
                    let others = others(&tx, key_id, ask.day, instance, ask.live_since_ms).await?;
                    let outcome = decide_grant(&mut row, &ask, others, key.daily_cap_micros);
                    save(&tx, key_id, ask.day, instance, &row, ask.now_ms).await?;
                    outcome
                }
                unusable => LeaseOutcome::Unusable(unusable),
            },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// `Some(NoRoom)` when the rows as committed leave no room for `ask` (which takes no
    /// report in); `None` when a grant may be possible or the key is not plainly active.
    async fn no_room_unlocked(&self, ask: &LeaseAsk) -> Result<Option<LeaseOutcome>, StoreError> {
        let client = self.client().await?;
        let Some(key) = keys::get(&client, ask.key_id.as_str(), false).await? else {
            return Ok(None);
        };
        if key.status(ask.now_ms) != KeyStatus::Active {
            return Ok(None);
        }
        let (key_id, instance) = (ask.key_id.as_str(), ask.instance.id.as_str());
        let mut row = load(&client, key_id, ask.day, instance)
            .await?
            .unwrap_or_default();
        let others = others(&client, key_id, ask.day, instance, ask.live_since_ms).await?;
        let outcome = decide_grant(&mut row, ask, others, key.daily_cap_micros);
        Ok(matches!(outcome, LeaseOutcome::NoRoom { .. }).then_some(outcome))
    }

    pub async fn record_usage(
        &self,
        instance: Instance,
        keys: Vec<KeyUsage>,
        ask_release: BTreeSet<String>,
        today: u32,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        touch(&tx, &instance, now_ms).await?;
        // Lock every reported key, in order, before touching any of their rows.
        let mut wanted: Vec<&str> = keys
            .iter()
            .filter(|u| {
                let day_ok = u.day == today || u.day.checked_add(1) == Some(today);
                day_ok && figures_in_range(u) && VaultKeyId::parse(&u.key_id).is_ok()
            })
            .map(|u| u.key_id.as_str())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let locked: BTreeSet<String> = tx
            .query(
                "SELECT key_id FROM vault_keys WHERE key_id = ANY($1) ORDER BY key_id FOR UPDATE",
                &[&wanted],
            )
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<_, _>>()?;
        for usage in &keys {
            let day_ok = usage.day == today || usage.day.checked_add(1) == Some(today);
            if !day_ok || !figures_in_range(usage) || !locked.contains(&usage.key_id) {
                continue;
            }
            let mut row = load(&tx, &usage.key_id, usage.day, &instance.id)
                .await?
                .unwrap_or_default();
            if row.absorb(usage) {
                save(&tx, &usage.key_id, usage.day, &instance.id, &row, now_ms).await?;
            }
        }
        let mut release = Vec::new();
        for key_id in &ask_release {
            let row = load(&tx, key_id, today, &instance.id).await?;
            if row.is_some_and(|r| r.unused() > 0) {
                release.push(key_id.clone());
            }
        }
        tx.commit().await?;
        Ok(release)
    }

    pub async fn day_spend(
        &self,
        key: Option<VaultKeyId>,
        day: u32,
        live_since_ms: u64,
    ) -> Result<HashMap<VaultKeyId, DaySpend>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT l.key_id, \
                    SUM(CASE WHEN i.last_seen_ms >= $3 THEN l.spent \
                        ELSE GREATEST(l.granted, l.spent) END)::BIGINT, \
                    SUM(CASE WHEN i.last_seen_ms >= $3 \
                        THEN GREATEST(l.granted - l.spent, 0) ELSE 0 END)::BIGINT \
                 FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
                 WHERE l.day = $2 AND ($1::TEXT IS NULL OR l.key_id = $1) \
                 GROUP BY l.key_id",
                &[
                    &key.as_ref().map(VaultKeyId::as_str),
                    &i64::from(day),
                    &to_i64(live_since_ms)?,
                ],
            )
            .await?;
        let mut out = HashMap::new();
        for r in &rows {
            let (id, spend) = spend_entry(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?;
            out.insert(id, spend);
        }
        Ok(out)
    }

    pub async fn key_leases(
        &self,
        key: VaultKeyId,
        day: u32,
    ) -> Result<Vec<LeaseHolding>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT i.gateway, l.instance, l.granted, l.spent, l.reserved, i.last_seen_ms \
                 FROM key_leases l JOIN gateway_instances i ON i.instance = l.instance \
                 WHERE l.key_id = $1 AND l.day = $2 ORDER BY i.last_seen_ms DESC, l.instance",
                &[&key.as_str(), &i64::from(day)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let n =
                    |i: usize| -> Result<u64, StoreError> { to_u64(r.try_get(i)?, "key_leases") };
                Ok(LeaseHolding {
                    gateway: r.try_get(0)?,
                    instance: r.try_get(1)?,
                    granted: n(2)?,
                    spent: n(3)?,
                    reserved: n(4)?,
                    last_seen_ms: n(5)?,
                })
            })
            .collect()
    }

    pub async fn instances_live(&self, live_since_ms: u64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM gateway_instances WHERE last_seen_ms >= $1",
                &[&to_i64(live_since_ms)?],
            )
            .await?
            .try_get(0)?;
        to_u64(n, "gateway_instances")
    }
}
