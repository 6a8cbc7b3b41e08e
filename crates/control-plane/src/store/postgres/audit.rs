//! The audit trail on PostgreSQL.
//!
//! A batch locks its instance's `audit_streams` row first, so that two replicas given the same
//! instance's batches (a retry after a timeout) move its frontier one after the other; each
//! record goes in once per `(instance, seq)`.

use super::keys::Args;
use super::leases::touch;
use super::Postgres;
use crate::audit::{AuditFilter, SpendBy, Stream, ValidBatch};
use crate::store::audit::{conditions, RawRecord, PRUNE_CHUNK, RECORD_COLUMNS};
use crate::store::{to_i64, to_u64, Ingested, SpendRow, StoreError, StoredRecord};
use keybrake_core::{DenyReason, Vendor};
use rusqlite::types::Value as Sql;
use std::collections::HashMap;

fn record(r: &tokio_postgres::Row) -> Result<StoredRecord, StoreError> {
    RawRecord {
        id: r.try_get(0)?,
        gateway: r.try_get(1)?,
        instance: r.try_get(2)?,
        seq: r.try_get(3)?,
        time_ms: r.try_get(4)?,
        key_id: r.try_get(5)?,
        label: r.try_get(6)?,
        vendor: r.try_get(7)?,
        method: r.try_get(8)?,
        path: r.try_get(9)?,
        status: r.try_get(10)?,
        decision: r.try_get(11)?,
        deny_reason: r.try_get(12)?,
        cost_micros: r.try_get(13)?,
        cost_source: r.try_get(14)?,
        spend_micros: r.try_get(15)?,
        upstream_latency_ms: r.try_get(16)?,
        vendor_request_id: r.try_get(17)?,
        over_reserved_micros: r.try_get(18)?,
    }
    .decode()
}

/// `filter`'s condition with PostgreSQL's numbered placeholders, its values in `args`.
fn where_clause(filter: &AuditFilter, args: &mut Args) -> Result<String, StoreError> {
    let (cond, values) = conditions(filter, true)?;
    let mut values = values.into_iter();
    let mut out = String::with_capacity(cond.len() + 16);
    for c in cond.chars() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let placeholder = match values.next() {
            Some(Sql::Integer(i)) => args.push(i),
            Some(Sql::Text(t)) => args.push(t),
            other => {
                return Err(StoreError::Corrupt {
                    table: "input",
                    detail: format!("unexpected filter value {other:?}"),
                })
            }
        };
        out.push_str(&placeholder);
    }
    Ok(out)
}

// === impl Postgres ===

impl Postgres {
    pub async fn ingest_audit(
        &self,
        batch: ValidBatch,
        now_ms: u64,
    ) -> Result<Ingested, StoreError> {
        let instance = &batch.instance;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        touch(&tx, instance, now_ms).await?;
        tx.execute(
            "INSERT INTO audit_streams (instance, gateway, next_seq, dropped_total, \
                 acked_through, updated_at_ms) VALUES ($1, $2, 1, 0, 0, $3) \
             ON CONFLICT (instance) DO NOTHING",
            &[&instance.id, &instance.gateway, &to_i64(now_ms)?],
        )
        .await?;
        let before = tx
            .query_one(
                "SELECT next_seq, dropped_total, acked_through FROM audit_streams \
                 WHERE instance = $1 FOR UPDATE",
                &[&instance.id],
            )
            .await?;
        let next_seq = to_u64(before.try_get(0)?, "audit_streams")?;
        let dropped_total = to_u64(before.try_get(1)?, "audit_streams")?;
        let mut acked = to_u64(before.try_get(2)?, "audit_streams")?;
        let insert = tx
            .prepare(
                "INSERT INTO audit_records (time_ms, gateway, instance, seq, key_id, label, \
                     vendor, method, path, status, decision, deny_reason, cost_micros, \
                     cost_source, spend_micros, upstream_latency_ms, vendor_request_id, \
                     stored_at_ms, over_reserved_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                     $17, $18, $19) \
                 ON CONFLICT (instance, seq) DO NOTHING",
            )
            .await?;
        let mut stored = 0;
        for e in &batch.entries {
            let r = &e.record;
            stored += tx
                .execute(
                    &insert,
                    &[
                        &to_i64(r.time_ms)?,
                        &instance.gateway,
                        &instance.id,
                        &to_i64(e.seq)?,
                        &r.key_id,
                        &r.agent_run_label,
                        &r.vendor.map(Vendor::as_str),
                        &r.method,
                        &r.path,
                        &i64::from(r.status),
                        &r.decision.as_str(),
                        &r.deny_reason.map(DenyReason::as_str),
                        &to_i64(r.cost_micros)?,
                        &r.cost_source,
                        &r.spend_micros.map(to_i64).transpose()?,
                        &r.upstream_latency_ms.map(to_i64).transpose()?,
                        &r.vendor_request_id,
                        &to_i64(now_ms)?,
                        &to_i64(r.over_reserved_micros)?,
                    ],
                )
                .await?;
        }
        // Move the frontier over every record now stored right above it.
        loop {
            let start = acked;
            let rows = tx
                .query(
                    "SELECT seq FROM audit_records WHERE instance = $1 AND seq > $2 \
                     ORDER BY seq LIMIT 1000",
                    &[&instance.id, &to_i64(acked)?],
                )
                .await?;
            for r in &rows {
                if to_u64(r.try_get(0)?, "audit_records")? != acked + 1 {
                    break;
                }
                acked += 1;
            }
            if acked - start < 1000 {
                break;
            }
        }
        tx.execute(
            "UPDATE audit_streams SET gateway = $2, next_seq = $3, dropped_total = $4, \
                 acked_through = $5, updated_at_ms = $6 WHERE instance = $1",
            &[
                &instance.id,
                &instance.gateway,
                &to_i64(next_seq.max(batch.next_seq))?,
                &to_i64(dropped_total.max(batch.dropped_total))?,
                &to_i64(acked)?,
                &to_i64(now_ms)?,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Ingested {
            stored,
            acked_through: acked,
        })
    }

    pub async fn audit_records(
        &self,
        filter: AuditFilter,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut args = Args::default();
        let cond = where_clause(&filter, &mut args)?;
        let limit = args.push(i64::from(limit));
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records {cond} \
             ORDER BY time_ms DESC, id DESC LIMIT {limit}"
        );
        let client = self.client().await?;
        client
            .query(&sql, &args.refs())
            .await?
            .iter()
            .map(record)
            .collect()
    }

    pub async fn audit_after(
        &self,
        filter: AuditFilter,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let filter = AuditFilter {
            cursor: None,
            ..filter
        };
        let mut args = Args::default();
        let cond = where_clause(&filter, &mut args)?;
        let after = args.push(after_id);
        let cond = if cond.is_empty() {
            format!("WHERE id > {after}")
        } else {
            format!("{cond} AND id > {after}")
        };
        let limit = args.push(i64::from(limit));
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM audit_records {cond} ORDER BY id LIMIT {limit}");
        let client = self.client().await?;
        client
            .query(&sql, &args.refs())
            .await?
            .iter()
            .map(record)
            .collect()
    }

    pub async fn audit_last_id(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let id: Option<i64> = client
            .query_one("SELECT MAX(id) FROM audit_records", &[])
            .await?
            .try_get(0)?;
        Ok(id.unwrap_or(0))
    }

    pub async fn keys_last_used(
        &self,
        key_ids: Vec<String>,
    ) -> Result<HashMap<String, u64>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare("SELECT MAX(time_ms) FROM audit_records WHERE key_id = $1")
            .await?;
        let mut out = HashMap::new();
        for id in key_ids {
            let last: Option<i64> = client.query_one(&stmt, &[&id]).await?.try_get(0)?;
            if let Some(t) = last {
                out.insert(id, to_u64(t, "audit_records")?);
            }
        }
        Ok(out)
    }

    pub async fn audit_streams(&self) -> Result<Vec<Stream>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT s.gateway, s.instance, s.next_seq, s.dropped_total, s.acked_through, \
                        (SELECT COUNT(*) FROM audit_records r \
                         WHERE r.instance = s.instance AND r.seq > s.acked_through), \
                        COALESCE(i.last_seen_ms, s.updated_at_ms) AS seen \
                 FROM audit_streams s LEFT JOIN gateway_instances i ON i.instance = s.instance \
                 ORDER BY seen DESC, s.instance",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| -> Result<u64, StoreError> {
                    to_u64(r.try_get(i)?, "audit_streams")
                };
                Ok(Stream {
                    gateway: r.try_get(0)?,
                    instance: r.try_get(1)?,
                    next_seq: n(2)?,
                    dropped_total: n(3)?,
                    acked_through: n(4)?,
                    stored_above: n(5)?,
                    last_seen_ms: n(6)?,
                })
            })
            .collect()
    }

    pub async fn audit_spend(
        &self,
        by: SpendBy,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let (column, _) = by.column();
        let sql = format!(
            "SELECT {column}, SUM(cost_micros)::BIGINT, COUNT(*), \
                    COUNT(*) FILTER (WHERE decision = 'deny') FROM audit_records \
             WHERE time_ms >= $1 AND time_ms < $2 GROUP BY {column} ORDER BY 2 DESC, 1"
        );
        let client = self.client().await?;
        let rows = client
            .query(&sql, &[&to_i64(from_ms)?, &to_i64(to_ms)?])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SpendRow {
                    group: r.try_get(0)?,
                    cost_micros: to_u64(r.try_get(1)?, "audit_records")?,
                    calls: to_u64(r.try_get(2)?, "audit_records")?,
                    denied: to_u64(r.try_get(3)?, "audit_records")?,
                })
            })
            .collect()
    }

    pub async fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = to_i64(before_ms)?;
        let client = self.client().await?;
        let mut removed = 0;
        loop {
            let n = client
                .execute(
                    "DELETE FROM audit_records WHERE id IN \
                         (SELECT id FROM audit_records WHERE time_ms < $1 LIMIT $2)",
                    &[&before, &PRUNE_CHUNK],
                )
                .await?;
            removed += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
        client
            .execute(
                "DELETE FROM audit_streams WHERE updated_at_ms < $1",
                &[&before],
            )
            .await?;
        client
            .execute(
                "DELETE FROM gateway_polls WHERE last_seen_ms < $1 AND polling_until_ms < $1",
                &[&before],
            )
            .await?;
        Ok(removed)
    }
}
