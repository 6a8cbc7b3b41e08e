//! Price overrides, one row per vendor with any set (see `crate::prices`).

use super::sqlite::bump_globals;
use super::{to_i64, to_u64, Sqlite, StoreError};
use crate::prices::PriceOverrides;
use keybrake_core::Vendor;
use rusqlite::{params, Connection};

/// A vendor's stored overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRow {
    /// Its vendor is the row's vendor.
    pub overrides: PriceOverrides,
    pub updated_at_ms: u64,
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<PriceRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT vendor, overrides, updated_at_ms FROM vendor_prices ORDER BY vendor DESC",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let vendor: String = r.get(0)?;
        let json: String = r.get(1)?;
        out.push(decode(&vendor, &json, to_u64(r.get(2)?, "vendor_prices")?)?);
    }
    Ok(out)
}

/// A row from its columns, checked (either backend).
pub(crate) fn decode(vendor: &str, json: &str, updated_at_ms: u64) -> Result<PriceRow, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "vendor_prices",
        detail,
    };
    let overrides: PriceOverrides =
        serde_json::from_str(json).map_err(|e| corrupt(format!("overrides: {e}")))?;
    if overrides.vendor().as_str() != vendor {
        return Err(corrupt(format!(
            "row {vendor:?} holds another vendor's prices"
        )));
    }
    Ok(PriceRow {
        overrides,
        updated_at_ms,
    })
}

/// The overrides column of `row`.
pub(crate) fn encode(row: &PriceRow) -> Result<String, StoreError> {
    serde_json::to_string(&row.overrides).map_err(|e| StoreError::Corrupt {
        table: "vendor_prices",
        detail: format!("cannot encode overrides: {e}"),
    })
}

// === impl Sqlite ===

impl Sqlite {
    /// Stores (or replaces) a vendor's overrides and bumps the snapshot version in the same
    /// transaction; returns the new version.
    pub async fn set_prices(&self, row: PriceRow) -> Result<u64, StoreError> {
        self.with(move |conn| {
            let json = encode(&row)?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO vendor_prices (vendor, overrides, updated_at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (vendor) DO UPDATE SET overrides = excluded.overrides, \
                     updated_at_ms = excluded.updated_at_ms",
                params![
                    row.overrides.vendor().as_str(),
                    json,
                    to_i64(row.updated_at_ms)?
                ],
            )?;
            let version = bump_globals(&tx)?;
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    /// Removes a vendor's overrides (back to the defaults). Bumps the snapshot version only
    /// when there were some, and returns the new version then.
    pub async fn delete_prices(&self, vendor: Vendor) -> Result<Option<u64>, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let removed = tx.execute(
                "DELETE FROM vendor_prices WHERE vendor = ?1",
                [vendor.as_str()],
            )?;
            let version = if removed > 0 {
                Some(bump_globals(&tx)?)
            } else {
                None
            };
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    /// Every stored override row, Twilio before Resend.
    pub async fn prices(&self) -> Result<Vec<PriceRow>, StoreError> {
        self.read(|conn| all(conn)).await
    }
}
