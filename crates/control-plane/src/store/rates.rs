//! Operator-set conversion rates, one row per currency. USD is built in and never stored.

use super::sqlite::bump_globals;
use super::{to_i64, to_u64, Sqlite, StoreError};
use keybrake_core::currency::RateEntry;
use rusqlite::{params, Connection, OptionalExtension};

/// A stored rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRow {
    /// Lower-case ISO 4217 code. Never `usd`.
    pub currency: String,
    /// Greater than zero.
    pub usd_nanos_per_unit: u64,
    pub updated_at_ms: u64,
}

/// The outcome of a change: the row and the new snapshot version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateChange {
    pub row: RateRow,
    pub version: u64,
}

// === impl RateRow ===

impl RateRow {
    pub fn entry(&self) -> RateEntry {
        RateEntry {
            currency: self.currency.clone(),
            usd_nanos_per_unit: self.usd_nanos_per_unit,
        }
    }
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<RateRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT currency, usd_nanos_per_unit, updated_at_ms FROM conversion_rates ORDER BY currency",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(RateRow {
            currency: r.get(0)?,
            usd_nanos_per_unit: to_u64(r.get(1)?, "conversion_rates")?,
            updated_at_ms: to_u64(r.get(2)?, "conversion_rates")?,
        });
    }
    Ok(out)
}

fn get(conn: &Connection, currency: &str) -> Result<Option<RateRow>, StoreError> {
    let raw: Option<(i64, i64)> = conn
        .query_row(
            "SELECT usd_nanos_per_unit, updated_at_ms FROM conversion_rates WHERE currency = ?1",
            [currency],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    raw.map(|(nanos, at)| {
        Ok(RateRow {
            currency: currency.to_owned(),
            usd_nanos_per_unit: to_u64(nanos, "conversion_rates")?,
            updated_at_ms: to_u64(at, "conversion_rates")?,
        })
    })
    .transpose()
}

// === impl Sqlite ===

impl Sqlite {
    /// Stores (or replaces) a rate and bumps the snapshot version in the same transaction.
    pub async fn set_rate(&self, row: RateRow) -> Result<RateChange, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO conversion_rates (currency, usd_nanos_per_unit, updated_at_ms) \
                 VALUES (?1, ?2, ?3) \
                 ON CONFLICT (currency) DO UPDATE SET \
                     usd_nanos_per_unit = excluded.usd_nanos_per_unit, \
                     updated_at_ms = excluded.updated_at_ms",
                params![
                    row.currency,
                    to_i64(row.usd_nanos_per_unit)?,
                    to_i64(row.updated_at_ms)?
                ],
            )?;
            let version = bump_globals(&tx)?;
            tx.commit()?;
            Ok(RateChange { row, version })
        })
        .await
    }

    /// Removes a rate; `None` when there was none. Bumps the snapshot version when it removes.
    pub async fn delete_rate(&self, currency: String) -> Result<Option<RateChange>, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let Some(row) = get(&tx, &currency)? else {
                return Ok(None);
            };
            tx.execute(
                "DELETE FROM conversion_rates WHERE currency = ?1",
                [&currency],
            )?;
            let version = bump_globals(&tx)?;
            tx.commit()?;
            Ok(Some(RateChange { row, version }))
        })
        .await
    }

    /// Every stored rate, by currency.
    pub async fn rates(&self) -> Result<Vec<RateRow>, StoreError> {
        self.read(|conn| all(conn)).await
    }
}
