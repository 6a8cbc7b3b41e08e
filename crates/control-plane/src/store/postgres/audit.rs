//! The audit trail on PostgreSQL.
//!
//! A batch locks its instance's `audit_streams` row first, so that two replicas given the same
//! instance's batches (a retry after a timeout) move its frontier one after the other; each
//! record goes in once per `(instance, seq)`. Its records then go in with one statement under
//! [`AUDIT_ORDER_LOCK`], held until commit, so that row ids become visible in ascending order
//! and a reader going forward by id ([`Postgres::audit_after`]) never skips one.

use super::keys::Args;
use super::leases::touch;
use super::{Postgres, AUDIT_ORDER_LOCK};
use crate::audit::{AuditFilter, SpendBy, Stream, ValidBatch};
use crate::store::audit::{conditions, RawRecord, PRUNE_CHUNK, RECORD_COLUMNS};
use crate::store::{to_i64, to_u64, Ingested, SpendRow, StoreError, StoredRecord};
use deadpool_postgres::GenericClient;
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

/// Stores a batch's records in one statement, each unless its `(instance, seq)` is stored
/// already: `$1` gateway, `$2` instance, `$3` stored_at_ms, then one array per column, in
/// [`Columns`]' order.
const INSERT: &str = "INSERT INTO audit_records (gateway, instance, stored_at_ms, time_ms, seq, \
         key_id, label, vendor, method, path, status, decision, deny_reason, cost_micros, \
         cost_source, spend_micros, upstream_latency_ms, vendor_request_id, over_reserved_micros) \
     SELECT $1::text, $2::text, $3::bigint, r.* FROM UNNEST($4::bigint[], $5::bigint[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], \
         $13::text[], $14::bigint[], $15::text[], $16::bigint[], $17::bigint[], $18::text[], \
         $19::bigint[]) AS r \
     ON CONFLICT (instance, seq) DO NOTHING";

/// A batch's records column by column: the arrays [`INSERT`] unnests, one element per entry.
struct Columns<'a> {
    time_ms: Vec<i64>,
    seq: Vec<i64>,
    key_id: Vec<Option<&'a str>>,
    label: Vec<Option<&'a str>>,
    vendor: Vec<Option<&'static str>>,
    method: Vec<&'a str>,
    path: Vec<&'a str>,
    status: Vec<i64>,
    decision: Vec<&'static str>,
    deny_reason: Vec<Option<&'static str>>,
    cost_micros: Vec<i64>,
    cost_source: Vec<Option<&'a str>>,
    spend_micros: Vec<Option<i64>>,
    upstream_latency_ms: Vec<Option<i64>>,
    vendor_request_id: Vec<Option<&'a str>>,
    over_reserved_micros: Vec<i64>,
}

impl<'a> Columns<'a> {
    /// Errors when a figure is above `i64::MAX` (validation keeps them below).
    fn of(batch: &'a ValidBatch) -> Result<Self, StoreError> {
        let n = batch.entries.len();
        let mut c = Columns {
            time_ms: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            key_id: Vec::with_capacity(n),
            label: Vec::with_capacity(n),
            vendor: Vec::with_capacity(n),
            method: Vec::with_capacity(n),
            path: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            decision: Vec::with_capacity(n),
            deny_reason: Vec::with_capacity(n),
            cost_micros: Vec::with_capacity(n),
            cost_source: Vec::with_capacity(n),
            spend_micros: Vec::with_capacity(n),
            upstream_latency_ms: Vec::with_capacity(n),
            vendor_request_id: Vec::with_capacity(n),
            over_reserved_micros: Vec::with_capacity(n),
        };
        for e in &batch.entries {
            let r = &e.record;
            c.time_ms.push(to_i64(r.time_ms)?);
            c.seq.push(to_i64(e.seq)?);
            c.key_id.push(r.key_id.as_deref());
            c.label.push(r.agent_run_label.as_deref());
            c.vendor.push(r.vendor.map(Vendor::as_str));
            c.method.push(&r.method);
            c.path.push(&r.path);
            c.status.push(i64::from(r.status));
            c.decision.push(r.decision.as_str());
            c.deny_reason.push(r.deny_reason.map(DenyReason::as_str));
            c.cost_micros.push(to_i64(r.cost_micros)?);
            c.cost_source.push(r.cost_source.as_deref());
            c.spend_micros.push(r.spend_micros.map(to_i64).transpose()?);
            c.upstream_latency_ms
                .push(r.upstream_latency_ms.map(to_i64).transpose()?);
            c.vendor_request_id.push(r.vendor_request_id.as_deref());
            c.over_reserved_micros.push(to_i64(r.over_reserved_micros)?);
        }
        Ok(c)
    }
}

/// `acked` moved over every sequence number right above it that `instance` has stored or that
/// `batch_seqs` is about to store: how far its records are stored without a hole once the batch
/// is in. Called under the instance's `audit_streams` row lock, so no other batch of the
/// instance stores records in between.
async fn frontier(
    tx: &impl GenericClient,
    instance: &str,
    mut acked: u64,
    batch_seqs: &[i64],
) -> Result<u64, StoreError> {
    let above = tx
        .prepare_cached(
            "SELECT seq FROM audit_records WHERE instance = $1 AND seq > $2 \
             UNION SELECT s FROM UNNEST($3::bigint[]) AS s WHERE s > $2 \
             ORDER BY 1 LIMIT 1000",
        )
        .await?;
    loop {
        let start = acked;
        let rows = tx
            .query(&above, &[&instance, &to_i64(acked)?, &batch_seqs])
            .await?;
        for r in &rows {
            if to_u64(r.try_get(0)?, "audit_records")? != acked + 1 {
                break;
            }
            acked += 1;
        }
        if acked - start < 1000 {
            return Ok(acked);
        }
    }
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
        let open = tx
            .prepare_cached(
                "INSERT INTO audit_streams (instance, gateway, next_seq, dropped_total, \
                     acked_through, updated_at_ms) VALUES ($1, $2, 1, 0, 0, $3) \
                 ON CONFLICT (instance) DO NOTHING",
            )
            .await?;
        tx.execute(&open, &[&instance.id, &instance.gateway, &to_i64(now_ms)?])
            .await?;
        let lock_stream = tx
            .prepare_cached(
                "SELECT next_seq, dropped_total, acked_through FROM audit_streams \
                 WHERE instance = $1 FOR UPDATE",
            )
            .await?;
        let before = tx.query_one(&lock_stream, &[&instance.id]).await?;
        let next_seq = to_u64(before.try_get(0)?, "audit_streams")?;
        let dropped_total = to_u64(before.try_get(1)?, "audit_streams")?;
        let acked = to_u64(before.try_get(2)?, "audit_streams")?;
        let columns = Columns::of(&batch)?;
        // Everything else first, so that the ordered section below is two statements.
        let acked = frontier(&tx, &instance.id, acked, &columns.seq).await?;
        let update = tx
            .prepare_cached(
                "UPDATE audit_streams SET gateway = $2, next_seq = $3, dropped_total = $4, \
                     acked_through = $5, updated_at_ms = $6 WHERE instance = $1",
            )
            .await?;
        tx.execute(
            &update,
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
        let lock = tx
            .prepare_cached("SELECT pg_advisory_xact_lock($1)")
            .await?;
        let insert = tx.prepare_cached(INSERT).await?;
        // Row ids come from an identity (a sequence with CACHE 1: drawn one at a time, across
        // sessions, in the order of the calls) when the INSERT runs, not when the transaction
        // commits. A reader going forward by id (the console's live tail) resumes after the
        // highest id it has shown, so a batch that drew lower ids but committed after one that
        // drew higher ids would never be shown to it. The lock puts drawing and committing in
        // the same order: a batch draws its ids only once the batch before it has released the
        // lock, and PostgreSQL releases a transaction's locks only after it has recorded the
        // commit and taken the transaction out of the running ones, so that every snapshot
        // taken from then on sees its rows (CommitTransaction in xact.c: RecordTransactionCommit,
        // then ProcArrayEndTransaction, "before releasing locks"). So once a statement sees id
        // N, every transaction that drew an id below N has committed (its rows are seen by the
        // same statement) or never will. Held from here to the COMMIT: one INSERT, however many
        // records, and the commit; the rest of the batch's work is done above, and a batch
        // waiting for its instance's row does not hold it.
        tx.execute(&lock, &[&AUDIT_ORDER_LOCK]).await?;
        let stored = tx
            .execute(
                &insert,
                &[
                    &instance.gateway,
                    &instance.id,
                    &to_i64(now_ms)?,
                    &columns.time_ms,
                    &columns.seq,
                    &columns.key_id,
                    &columns.label,
                    &columns.vendor,
                    &columns.method,
                    &columns.path,
                    &columns.status,
                    &columns.decision,
                    &columns.deny_reason,
                    &columns.cost_micros,
                    &columns.cost_source,
                    &columns.spend_micros,
                    &columns.upstream_latency_ms,
                    &columns.vendor_request_id,
                    &columns.over_reserved_micros,
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

    /// Deletes every record of a call before `before_ms` but the one stored last (as on
    /// SQLite), a chunk per statement, and forgets instances silent since then. Keeping the
    /// last one keeps the highest row id readers see from going back: `GET /audit` hands out
    /// `next_after_id` from it and refuses an `after_id` above it. Returns how many records it
    /// deleted.
    pub async fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = to_i64(before_ms)?;
        let client = self.client().await?;
        let mut removed = 0;
        loop {
            let n = client
                .execute(
                    "DELETE FROM audit_records WHERE id IN \
                         (SELECT id FROM audit_records WHERE time_ms < $1 \
                             AND id < (SELECT MAX(id) FROM audit_records) LIMIT $2)",
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
