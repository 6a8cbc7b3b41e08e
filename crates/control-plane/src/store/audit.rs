//! Audit records and each instance's audit sequence (see `crate::audit`).
//!
//! A batch is stored in one immediate transaction: its records (each `(instance, seq)` once),
//! the instance's counters and its acknowledgement frontier, and its liveness. The answer is
//! built from what that transaction committed.

use super::leases::touch;
use super::{to_i64, to_u64, Sqlite, StoreError};
use crate::audit::{AuditFilter, SpendBy, Stream, ValidBatch};
use keybrake_core::audit::{AuditRecord, Decision};
use keybrake_core::{DenyReason, Vendor};
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};

/// Rows deleted per transaction when pruning, so that gateways' batches are not held up.
pub(crate) const PRUNE_CHUNK: i64 = 5_000;

/// What storing a batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ingested {
    /// Records new to the store (a resent one is not).
    pub stored: u64,
    /// Every record of the instance at or below it is stored.
    pub acked_through: u64,
}

/// A stored record with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Row id; with `time_ms` the record's place in the newest-first order.
    pub id: i64,
    pub gateway: String,
    pub instance: String,
    pub seq: u64,
    pub record: AuditRecord,
}

/// Totals of one group of today's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpendRow {
    /// The label, key id or vendor; `None` for records without one (an unknown key).
    pub group: Option<String>,
    pub cost_micros: u64,
    pub calls: u64,
    pub denied: u64,
}

pub(crate) const RECORD_COLUMNS: &str =
    "id, gateway, instance, seq, time_ms, key_id, label, vendor, method, \
     path, status, decision, deny_reason, cost_micros, cost_source, spend_micros, \
     upstream_latency_ms, vendor_request_id, over_reserved_micros";

fn opt_u64(v: Option<i64>) -> Result<Option<u64>, StoreError> {
    v.map(|v| to_u64(v, "audit_records")).transpose()
}

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "audit_records",
        detail,
    }
}

/// One row of [`RECORD_COLUMNS`], as read by either backend.
pub(crate) struct RawRecord {
    pub id: i64,
    pub gateway: String,
    pub instance: String,
    pub seq: i64,
    pub time_ms: i64,
    pub key_id: Option<String>,
    pub label: Option<String>,
    pub vendor: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub decision: String,
    pub deny_reason: Option<String>,
    pub cost_micros: i64,
    pub cost_source: Option<String>,
    pub spend_micros: Option<i64>,
    pub upstream_latency_ms: Option<i64>,
    pub vendor_request_id: Option<String>,
    pub over_reserved_micros: i64,
}

fn read_record(r: &Row<'_>) -> Result<StoredRecord, StoreError> {
    RawRecord {
        id: r.get(0)?,
        gateway: r.get(1)?,
        instance: r.get(2)?,
        seq: r.get(3)?,
        time_ms: r.get(4)?,
        key_id: r.get(5)?,
        label: r.get(6)?,
        vendor: r.get(7)?,
        method: r.get(8)?,
        path: r.get(9)?,
        status: r.get(10)?,
        decision: r.get(11)?,
        deny_reason: r.get(12)?,
        cost_micros: r.get(13)?,
        cost_source: r.get(14)?,
        spend_micros: r.get(15)?,
        upstream_latency_ms: r.get(16)?,
        vendor_request_id: r.get(17)?,
        over_reserved_micros: r.get(18)?,
    }
    .decode()
}

// === impl RawRecord ===

impl RawRecord {
    pub(crate) fn decode(self) -> Result<StoredRecord, StoreError> {
        let vendor = self
            .vendor
            .map(|v| Vendor::from_name(&v).ok_or_else(|| corrupt(format!("vendor {v:?}"))))
            .transpose()?;
        let decision = match self.decision.as_str() {
            "allow" => Decision::Allow,
            "deny" => Decision::Deny,
            "undecided" => Decision::Undecided,
            other => return Err(corrupt(format!("decision {other:?}"))),
        };
        let deny_reason = self
            .deny_reason
            .map(|d| {
                serde_json::from_value::<DenyReason>(serde_json::Value::String(d.clone()))
                    .map_err(|_| corrupt(format!("deny_reason {d:?}")))
            })
            .transpose()?;
        let status = self.status;
        Ok(StoredRecord {
            id: self.id,
            gateway: self.gateway,
            instance: self.instance,
            seq: to_u64(self.seq, "audit_records")?,
            record: AuditRecord {
                time_ms: to_u64(self.time_ms, "audit_records")?,
                key_id: self.key_id,
                agent_run_label: self.label,
                vendor,
                method: self.method,
                path: self.path,
                status: u16::try_from(status).map_err(|_| corrupt(format!("status {status}")))?,
                decision,
                deny_reason,
                cost_micros: to_u64(self.cost_micros, "audit_records")?,
                cost_source: self.cost_source,
                spend_micros: opt_u64(self.spend_micros)?,
                upstream_latency_ms: opt_u64(self.upstream_latency_ms)?,
                vendor_request_id: self.vendor_request_id,
                over_reserved_micros: to_u64(self.over_reserved_micros, "audit_records")?,
            },
        })
    }
}

fn ingest(conn: &mut Connection, batch: &ValidBatch, now_ms: u64) -> Result<Ingested, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let instance = &batch.instance;
    touch(&tx, instance, now_ms)?;
    let before: Option<(i64, i64, i64)> = tx
        .query_row(
            "SELECT next_seq, dropped_total, acked_through FROM audit_streams WHERE instance = ?1",
            [&instance.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (next_seq, dropped_total, mut acked) = match before {
        Some((n, d, a)) => (
            to_u64(n, "audit_streams")?,
            to_u64(d, "audit_streams")?,
            to_u64(a, "audit_streams")?,
        ),
        None => (1, 0, 0),
    };
    let mut stored = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_records (time_ms, gateway, instance, seq, key_id, label, \
                 vendor, method, path, status, decision, deny_reason, cost_micros, cost_source, \
                 spend_micros, upstream_latency_ms, vendor_request_id, stored_at_ms, \
                 over_reserved_micros) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        for e in &batch.entries {
            let r = &e.record;
            stored += insert.execute(params![
                to_i64(r.time_ms)?,
                instance.gateway,
                instance.id,
                to_i64(e.seq)?,
                r.key_id,
                r.agent_run_label,
                r.vendor.map(Vendor::as_str),
                r.method,
                r.path,
                r.status,
                r.decision.as_str(),
                r.deny_reason.map(DenyReason::as_str),
                to_i64(r.cost_micros)?,
                r.cost_source,
                r.spend_micros.map(to_i64).transpose()?,
                r.upstream_latency_ms.map(to_i64).transpose()?,
                r.vendor_request_id,
                to_i64(now_ms)?,
                to_i64(r.over_reserved_micros)?,
            ])? as u64;
        }
    }
    // Move the frontier over every record now stored right above it.
    {
        let mut above = tx.prepare_cached(
            "SELECT seq FROM audit_records WHERE instance = ?1 AND seq > ?2 ORDER BY seq LIMIT 1000",
        )?;
        loop {
            let start = acked;
            let mut rows = above.query(params![instance.id, to_i64(acked)?])?;
            while let Some(r) = rows.next()? {
                if to_u64(r.get(0)?, "audit_records")? != acked + 1 {
                    break;
                }
                acked += 1;
            }
            if acked - start < 1000 {
                break;
            }
        }
    }
    tx.execute(
        "INSERT INTO audit_streams (instance, gateway, next_seq, dropped_total, acked_through, \
             updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (instance) DO UPDATE SET gateway = excluded.gateway, \
             next_seq = excluded.next_seq, dropped_total = excluded.dropped_total, \
             acked_through = excluded.acked_through, updated_at_ms = excluded.updated_at_ms",
        params![
            instance.id,
            instance.gateway,
            to_i64(next_seq.max(batch.next_seq))?,
            to_i64(dropped_total.max(batch.dropped_total))?,
            to_i64(acked)?,
            to_i64(now_ms)?,
        ],
    )?;
    tx.commit()?;
    Ok(Ingested {
        stored,
        acked_through: acked,
    })
}

/// The SQL condition and parameters of `filter`, cursor and row id bound included, with `?`
/// placeholders in order. `postgres` picks PostgreSQL's spelling of the label prefix match.
pub(crate) fn conditions(
    filter: &AuditFilter,
    postgres: bool,
) -> Result<(String, Vec<Sql>), StoreError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<Sql> = Vec::new();
    let mut text = |clause: &'static str, v: &Option<String>, values: &mut Vec<Sql>| {
        if let Some(v) = v {
            clauses.push(clause);
            values.push(Sql::Text(v.clone()));
        }
    };
    text("key_id = ?", &filter.key_id, &mut values);
    text("label = ?", &filter.label, &mut values);
    text(
        "vendor = ?",
        &filter.vendor.map(|v| v.as_str().to_owned()),
        &mut values,
    );
    text(
        "decision = ?",
        &filter.decision.map(|d| d.as_str().to_owned()),
        &mut values,
    );
    if let (Some(p), true) = (&filter.label_prefix, postgres) {
        clauses.push("starts_with(label, ?)");
        values.push(Sql::Text(p.clone()));
    } else if let Some(p) = &filter.label_prefix {
        // The range lets the label index narrow the scan; substr makes the match exact.
        clauses.push("label >= ? AND substr(label, 1, ?) = ?");
        values.push(Sql::Text(p.clone()));
        values.push(Sql::Integer(
            i64::try_from(p.chars().count()).unwrap_or(i64::MAX),
        ));
        values.push(Sql::Text(p.clone()));
    }
    if let Some(since) = filter.since_ms {
        clauses.push("time_ms >= ?");
        values.push(Sql::Integer(to_i64(since)?));
    }
    if let Some(until) = filter.until_ms {
        clauses.push("time_ms < ?");
        values.push(Sql::Integer(to_i64(until)?));
    }
    if let Some(c) = filter.cursor {
        clauses.push("(time_ms < ? OR (time_ms = ? AND id < ?))");
        let t = to_i64(c.time_ms)?;
        values.extend([Sql::Integer(t), Sql::Integer(t), Sql::Integer(c.id)]);
    }
    if let Some(id) = filter.through_id {
        clauses.push("id <= ?");
        values.push(Sql::Integer(id));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    Ok((sql, values))
}

fn list(
    conn: &Connection,
    filter: &AuditFilter,
    limit: u32,
) -> Result<Vec<StoredRecord>, StoreError> {
    let (cond, mut values) = conditions(filter, false)?;
    values.push(Sql::Integer(i64::from(limit)));
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM audit_records {cond} ORDER BY time_ms DESC, id DESC LIMIT ?"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(read_record(r)?);
    }
    Ok(out)
}

/// Up to `limit` records matching `filter` stored after row `after_id`, oldest first: the
/// console's live tail, which resumes from the last row it showed.
fn after(
    conn: &Connection,
    filter: &AuditFilter,
    after_id: i64,
    limit: u32,
) -> Result<Vec<StoredRecord>, StoreError> {
    let (cond, mut values) = conditions(filter, false)?;
    let cond = if cond.is_empty() {
        "WHERE id > ?".to_owned()
    } else {
        format!("{cond} AND id > ?")
    };
    values.push(Sql::Integer(after_id));
    values.push(Sql::Integer(i64::from(limit)));
    let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_records {cond} ORDER BY id LIMIT ?");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(read_record(r)?);
    }
    Ok(out)
}

/// The time of the newest record of each of `key_ids` that has any.
fn last_calls(
    conn: &Connection,
    key_ids: &[String],
) -> Result<std::collections::HashMap<String, u64>, StoreError> {
    let mut out = std::collections::HashMap::new();
    // One indexed lookup per key (audit_records_by_key), never a scan of the trail.
    let mut stmt =
        conn.prepare_cached("SELECT MAX(time_ms) FROM audit_records WHERE key_id = ?1")?;
    for id in key_ids {
        let last: Option<i64> = stmt.query_row([id], |r| r.get(0))?;
        if let Some(t) = last {
            out.insert(id.clone(), to_u64(t, "audit_records")?);
        }
    }
    Ok(out)
}

fn streams(conn: &Connection) -> Result<Vec<Stream>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.gateway, s.instance, s.next_seq, s.dropped_total, s.acked_through, \
                (SELECT COUNT(*) FROM audit_records r \
                 WHERE r.instance = s.instance AND r.seq > s.acked_through), \
                COALESCE(i.last_seen_ms, s.updated_at_ms) AS seen \
         FROM audit_streams s LEFT JOIN gateway_instances i ON i.instance = s.instance \
         ORDER BY seen DESC, s.instance",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let n = |i: usize| -> Result<u64, StoreError> { to_u64(r.get(i)?, "audit_streams") };
        out.push(Stream {
            gateway: r.get(0)?,
            instance: r.get(1)?,
            next_seq: n(2)?,
            dropped_total: n(3)?,
            acked_through: n(4)?,
            stored_above: n(5)?,
            last_seen_ms: n(6)?,
        });
    }
    Ok(out)
}

fn spend(
    conn: &Connection,
    by: SpendBy,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<SpendRow>, StoreError> {
    let (column, _) = by.column();
    let sql = format!(
        "SELECT {column}, SUM(cost_micros), COUNT(*), SUM(decision = 'deny') FROM audit_records \
         WHERE time_ms >= ?1 AND time_ms < ?2 GROUP BY {column} ORDER BY 2 DESC, 1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![to_i64(from_ms)?, to_i64(to_ms)?])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(SpendRow {
            group: r.get(0)?,
            cost_micros: to_u64(r.get(1)?, "audit_records")?,
            calls: to_u64(r.get(2)?, "audit_records")?,
            denied: to_u64(r.get(3)?, "audit_records")?,
        });
    }
    Ok(out)
}

/// Deletes up to [`PRUNE_CHUNK`] records before `before`; returns how many. Keeps the record
/// stored last whatever its time: SQLite gives a new row the id above the highest stored, so
/// deleting that one would hand its id out again, and a reader going forward by id
/// (`GET /audit?after_id=`) that had read past it would miss the records that reuse it.
fn prune_chunk(conn: &Connection, before: i64) -> Result<u64, StoreError> {
    let n = conn.execute(
        "DELETE FROM audit_records WHERE id IN \
             (SELECT id FROM audit_records WHERE time_ms < ?1 \
                 AND id < (SELECT MAX(id) FROM audit_records) LIMIT ?2)",
        params![before, PRUNE_CHUNK],
    )?;
    Ok(n as u64)
}

// === impl Sqlite ===

impl Sqlite {
    /// Stores a batch: each record once, the instance's counters, its liveness, and how far
    /// its records are stored without a hole, in one transaction.
    pub async fn ingest_audit(
        &self,
        batch: ValidBatch,
        now_ms: u64,
    ) -> Result<Ingested, StoreError> {
        self.with(move |conn| ingest(conn, &batch, now_ms)).await
    }

    /// Up to `limit` records matching `filter`, newest first.
    pub async fn audit_records(
        &self,
        filter: AuditFilter,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.read(move |conn| list(conn, &filter, limit)).await
    }

    /// Up to `limit` records matching `filter` (its cursor aside) stored after row
    /// `after_id`, oldest first. One writer connection, and every ingest a write transaction
    /// from its first statement (`BEGIN IMMEDIATE`): row ids are drawn and committed in order.
    pub async fn audit_after(
        &self,
        filter: AuditFilter,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.read(move |conn| {
            after(
                conn,
                &AuditFilter {
                    cursor: None,
                    ..filter
                },
                after_id,
                limit,
            )
        })
        .await
    }

    /// The highest record row id (0 when the trail is empty): where a live tail starts.
    pub async fn audit_last_id(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            let id: Option<i64> =
                conn.query_row("SELECT MAX(id) FROM audit_records", [], |r| r.get(0))?;
            Ok(id.unwrap_or(0))
        })
        .await
    }

    /// When each of `key_ids` was last seen in a call (Unix ms); keys never seen are absent.
    pub async fn keys_last_used(
        &self,
        key_ids: Vec<String>,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.read(move |conn| last_calls(conn, &key_ids)).await
    }

    /// Every instance's audit sequence, most recently seen first.
    pub async fn audit_streams(&self) -> Result<Vec<Stream>, StoreError> {
        self.read(|conn| streams(conn)).await
    }

    /// Totals of the records in `[from_ms, to_ms)` grouped `by`, most spent first.
    pub async fn audit_spend(
        &self,
        by: SpendBy,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<SpendRow>, StoreError> {
        self.read(move |conn| spend(conn, by, from_ms, to_ms)).await
    }

    /// Deletes every record of a call before `before_ms` but the one stored last (see
    /// `prune_chunk`), a chunk per transaction so that batches from gateways go in between, and
    /// forgets instances silent since then (their audit sequences and their last snapshot
    /// polls). Returns how many records it deleted.
    pub async fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = to_i64(before_ms)?;
        let mut removed = 0;
        loop {
            let n = self.with(move |conn| prune_chunk(conn, before)).await?;
            removed += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM audit_streams WHERE updated_at_ms < ?1",
                [before],
            )?;
            conn.execute(
                "DELETE FROM gateway_polls WHERE last_seen_ms < ?1 AND polling_until_ms < ?1",
                [before],
            )?;
            Ok(())
        })
        .await?;
        Ok(removed)
    }
}
