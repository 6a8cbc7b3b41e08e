//! The control plane's state in SQLite (WAL): vault keys, sealed vendor credentials,
//! conversion rates, price overrides, the snapshot version, the lease rows of the budget ledger,
//! and the audit trail.
//!
//! One connection behind a mutex; every call runs on tokio's blocking pool. Each mutation that
//! gateways must see bumps `snapshot_version` in its own transaction and returns the new value.

mod audit;
mod keys;
mod leases;
mod migrate;
mod prices;
mod rates;
mod vendors;

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use audit::{Ingested, SpendRow, StoredRecord};
pub use keys::{KeyCounts, KeyFilter, KeyRow, KeyStatus, NewKey, Revoked};
pub use leases::{DaySpend, LeaseAsk, LeaseHolding, LeaseOutcome};
pub use prices::PriceRow;
pub use rates::{RateChange, RateRow};
pub use vendors::SealedCredential;

/// Handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database schema is version {found}, newer than this binary knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("the database lock was poisoned by a panic")]
    Poisoned,
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

// === impl Store ===

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate::apply(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Poisoned)?;
            f(&mut guard)
        })
        .await?
    }

    /// The current snapshot version.
    pub async fn snapshot_version(&self) -> Result<u64, StoreError> {
        self.with(|conn| read_version(conn)).await
    }
}

/// Reads `snapshot_version`.
pub(crate) fn read_version(conn: &Connection) -> Result<u64, StoreError> {
    let v: i64 = conn.query_row(
        "SELECT value FROM meta WHERE name = 'snapshot_version'",
        [],
        |r| r.get(0),
    )?;
    to_u64(v, "meta")
}

/// Bumps `snapshot_version` inside the caller's transaction and returns the new value.
pub(crate) fn bump_version(tx: &rusqlite::Transaction<'_>) -> Result<u64, StoreError> {
    let v: i64 = tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE name = 'snapshot_version' RETURNING value",
        [],
        |r| r.get(0),
    )?;
    to_u64(v, "meta")
}

/// Bumps `snapshot_version` for a change to what is not per key (credentials, rates, prices),
/// and records it as `globals_version`, inside the caller's transaction; returns the new value.
pub(crate) fn bump_globals(tx: &rusqlite::Transaction<'_>) -> Result<u64, StoreError> {
    let version = bump_version(tx)?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'globals_version'",
        [to_i64(version)?],
    )?;
    Ok(version)
}

pub(crate) fn to_u64(v: i64, table: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        detail: format!("negative value {v}"),
    })
}

pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt {
        table: "input",
        detail: format!("value {v} does not fit SQLite's INTEGER"),
    })
}

/// What a snapshot is built from, read in one transaction so that the version matches the rows.
#[derive(Debug)]
pub struct SnapshotSource {
    pub version: u64,
    pub keys: Vec<KeyRow>,
    pub credentials: Vec<SealedCredential>,
    pub rates: Vec<RateRow>,
    pub prices: Vec<PriceRow>,
}

/// What a delta is built from: the keys changed after `base`, and the credentials, rates and
/// prices when any of them changed after `base` too.
#[derive(Debug)]
pub struct DeltaSource {
    pub version: u64,
    pub base: u64,
    pub keys: Vec<KeyRow>,
    /// `None` when credentials, rates and prices are as they were at `base`.
    pub globals: Option<(Vec<SealedCredential>, Vec<RateRow>, Vec<PriceRow>)>,
}

impl Store {
    /// The changes since `base`, read consistently; `None` when a delta cannot be built from
    /// `base` (0, or a version this database never reached: the gateway needs everything).
    /// Keys expired for longer than `retain_after_expiry_ms` are left out, as in a snapshot.
    pub async fn delta_source(
        &self,
        base: u64,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<Option<DeltaSource>, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let version = read_version(&tx)?;
            if base == 0 || base > version {
                return Ok(None);
            }
            let globals_version: i64 = tx.query_row(
                "SELECT value FROM meta WHERE name = 'globals_version'",
                [],
                |r| r.get(0),
            )?;
            let globals = if to_u64(globals_version, "meta")? > base {
                Some((vendors::all(&tx)?, rates::all(&tx)?, prices::all(&tx)?))
            } else {
                None
            };
            let source = DeltaSource {
                version,
                base,
                keys: keys::changed_keys(&tx, base, now_ms, retain_after_expiry_ms)?,
                globals,
            };
            tx.commit()?;
            Ok(Some(source))
        })
        .await
    }

    /// Reads the current version with every key not expired for longer than
    /// `retain_after_expiry_ms`, every sealed credential, every rate and every price override, consistently.
    pub async fn snapshot_source(
        &self,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<SnapshotSource, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let source = SnapshotSource {
                version: read_version(&tx)?,
                keys: keys::snapshot_keys(&tx, now_ms, retain_after_expiry_ms)?,
                credentials: vendors::all(&tx)?,
                rates: rates::all(&tx)?,
                prices: prices::all(&tx)?,
            };
            tx.commit()?;
            Ok(source)
        })
        .await
    }
}
