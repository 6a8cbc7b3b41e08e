//! The SQLite backend: one file in WAL mode, one writer connection and a few readers.
//!
//! Writes go through the one writer (SQLite allows one at a time anyway; immediate
//! transactions make each read-modify-write step atomic). Reads use their own connections, so
//! `GET /audit`, snapshot builds and the console never queue behind the lease steps that
//! paused requests wait on. Every call runs on tokio's blocking pool.

use super::{
    keys, migrate, prices, rates, to_u64, vendors, ChangeSink, DeltaSource, SnapshotSource,
    StoreError,
};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

/// Reader connections open at most.
const READERS: usize = 4;

/// Handle to a SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct Sqlite {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    /// Idle reader connections; opened on first need, up to [`READERS`].
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_permits: Arc<Semaphore>,
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

// === impl Sqlite ===

impl Sqlite {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        configure(&conn)?;
        migrate::apply(&mut conn)?;
        Ok(Self {
            path: path.to_owned(),
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            reader_permits: Arc::new(Semaphore::new(READERS)),
        })
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Poisoned)?;
            f(&mut guard)
        })
        .await?
    }

    /// Runs `f` with a read-only connection of its own on the blocking pool. `f` must not
    /// write (the connection refuses).
    /// `SELECT 1` on a reader connection.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = Arc::clone(&self.reader_permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Poisoned)?;
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let idle = readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    configure(&conn)?;
                    conn
                }
            };
            let out = f(&mut conn);
            readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
            out
        })
        .await?
    }

    /// See [`super::Backend::delta_source`].
    pub async fn delta_source(
        &self,
        base: u64,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<Option<DeltaSource>, StoreError> {
        self.read(move |conn| {
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

    /// The current snapshot version.
    pub async fn snapshot_version(&self) -> Result<u64, StoreError> {
        self.read(|conn| read_version(conn)).await
    }

    /// See [`Backend::snapshot_source`].
    pub async fn snapshot_source(
        &self,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<SnapshotSource, StoreError> {
        self.read(move |conn| {
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
        [super::to_i64(version)?],
    )?;
    Ok(version)
}

/// Implements [`Backend`] by calling the backend's inherent `async fn`s of the same names.
macro_rules! forward_backend {
    ($ty:ty, $kind:literal) => {
        impl $crate::store::Backend for $ty {
            fn snapshot_version(&self) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::snapshot_version(self))
            }
            fn snapshot_source(
                &self,
                now_ms: u64,
                retain: u64,
            ) -> $crate::store::StoreFuture<'_, $crate::store::SnapshotSource> {
                Box::pin(<$ty>::snapshot_source(self, now_ms, retain))
            }
            fn delta_source(
                &self,
                base: u64,
                now_ms: u64,
                retain: u64,
            ) -> $crate::store::StoreFuture<'_, Option<$crate::store::DeltaSource>> {
                Box::pin(<$ty>::delta_source(self, base, now_ms, retain))
            }
            fn insert_key(
                &self,
                key: $crate::store::keys::NewKey,
            ) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::insert_key(self, key))
            }
            fn get_key(
                &self,
                key_id: keybrake_core::VaultKeyId,
            ) -> $crate::store::StoreFuture<'_, Option<$crate::store::keys::KeyRow>> {
                Box::pin(<$ty>::get_key(self, key_id))
            }
            fn list_keys(
                &self,
                filter: $crate::store::keys::KeyFilter,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::keys::KeyRow>> {
                Box::pin(<$ty>::list_keys(self, filter, now_ms))
            }
            fn revoke_key(
                &self,
                key_id: keybrake_core::VaultKeyId,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, Option<$crate::store::keys::Revoked>> {
                Box::pin(<$ty>::revoke_key(self, key_id, now_ms))
            }
            fn key_counts(
                &self,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, $crate::store::keys::KeyCounts> {
                Box::pin(<$ty>::key_counts(self, now_ms))
            }
            fn lease_step(
                &self,
                ask: $crate::store::leases::LeaseAsk,
            ) -> $crate::store::StoreFuture<'_, $crate::store::leases::LeaseOutcome> {
                Box::pin(<$ty>::lease_step(self, ask))
            }
            fn record_usage(
                &self,
                instance: crate::leases::Instance,
                keys: Vec<keybrake_core::lease::KeyUsage>,
                ask_release: std::collections::BTreeSet<String>,
                today: u32,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, Vec<String>> {
                Box::pin(<$ty>::record_usage(
                    self,
                    instance,
                    keys,
                    ask_release,
                    today,
                    now_ms,
                ))
            }
            fn day_spend(
                &self,
                key: Option<keybrake_core::VaultKeyId>,
                day: u32,
                live_since_ms: u64,
            ) -> $crate::store::StoreFuture<
                '_,
                std::collections::HashMap<
                    keybrake_core::VaultKeyId,
                    $crate::store::leases::DaySpend,
                >,
            > {
                Box::pin(<$ty>::day_spend(self, key, day, live_since_ms))
            }
            fn key_leases(
                &self,
                key: keybrake_core::VaultKeyId,
                day: u32,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::leases::LeaseHolding>> {
                Box::pin(<$ty>::key_leases(self, key, day))
            }
            fn instances_live(&self, live_since_ms: u64) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::instances_live(self, live_since_ms))
            }
            fn set_prices(
                &self,
                row: $crate::store::prices::PriceRow,
            ) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::set_prices(self, row))
            }
            fn delete_prices(
                &self,
                vendor: keybrake_core::Vendor,
            ) -> $crate::store::StoreFuture<'_, Option<u64>> {
                Box::pin(<$ty>::delete_prices(self, vendor))
            }
            fn prices(
                &self,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::prices::PriceRow>> {
                Box::pin(<$ty>::prices(self))
            }
            fn set_rate(
                &self,
                row: $crate::store::rates::RateRow,
            ) -> $crate::store::StoreFuture<'_, $crate::store::rates::RateChange> {
                Box::pin(<$ty>::set_rate(self, row))
            }
            fn delete_rate(
                &self,
                currency: String,
            ) -> $crate::store::StoreFuture<'_, Option<$crate::store::rates::RateChange>> {
                Box::pin(<$ty>::delete_rate(self, currency))
            }
            fn rates(&self) -> $crate::store::StoreFuture<'_, Vec<$crate::store::rates::RateRow>> {
                Box::pin(<$ty>::rates(self))
            }
            fn set_credential(
                &self,
                sealed: $crate::store::vendors::SealedCredential,
            ) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::set_credential(self, sealed))
            }
            fn credentials(
                &self,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::vendors::SealedCredential>> {
                Box::pin(<$ty>::credentials(self))
            }
            fn ingest_audit(
                &self,
                batch: crate::audit::ValidBatch,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, $crate::store::audit::Ingested> {
                Box::pin(<$ty>::ingest_audit(self, batch, now_ms))
            }
            fn audit_records(
                &self,
                filter: crate::audit::AuditFilter,
                limit: u32,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::audit::StoredRecord>> {
                Box::pin(<$ty>::audit_records(self, filter, limit))
            }
            fn audit_after(
                &self,
                filter: crate::audit::AuditFilter,
                after_id: i64,
                limit: u32,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::audit::StoredRecord>> {
                Box::pin(<$ty>::audit_after(self, filter, after_id, limit))
            }
            fn audit_last_id(&self) -> $crate::store::StoreFuture<'_, i64> {
                Box::pin(<$ty>::audit_last_id(self))
            }
            fn keys_last_used(
                &self,
                key_ids: Vec<String>,
            ) -> $crate::store::StoreFuture<'_, std::collections::HashMap<String, u64>> {
                Box::pin(<$ty>::keys_last_used(self, key_ids))
            }
            fn audit_streams(&self) -> $crate::store::StoreFuture<'_, Vec<crate::audit::Stream>> {
                Box::pin(<$ty>::audit_streams(self))
            }
            fn audit_spend(
                &self,
                by: crate::audit::SpendBy,
                from_ms: u64,
                to_ms: u64,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::audit::SpendRow>> {
                Box::pin(<$ty>::audit_spend(self, by, from_ms, to_ms))
            }
            fn prune_audit(&self, before_ms: u64) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin(<$ty>::prune_audit(self, before_ms))
            }
            fn poll_started(
                &self,
                start: $crate::store::polls::PollStart,
            ) -> $crate::store::StoreFuture<'_, ()> {
                Box::pin(<$ty>::poll_started(self, start))
            }
            fn poll_ended(
                &self,
                instance: String,
                started_ms: u64,
                now_ms: u64,
            ) -> $crate::store::StoreFuture<'_, ()> {
                Box::pin(<$ty>::poll_ended(self, instance, started_ms, now_ms))
            }
            fn gateway_polls(
                &self,
                since_ms: u64,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::store::polls::PollRow>> {
                Box::pin(<$ty>::gateway_polls(self, since_ms))
            }
            fn announce(
                &self,
                event: $crate::leases::ReclaimEvent,
            ) -> $crate::store::StoreFuture<'_, ()> {
                Box::pin(<$ty>::announce(self, event))
            }
            fn ping(&self) -> $crate::store::StoreFuture<'_, ()> {
                Box::pin(<$ty>::ping(self))
            }
            fn kind(&self) -> &'static str {
                $kind
            }
            fn watch_changes(&self, sink: std::sync::Arc<dyn $crate::store::ChangeSink>) {
                <$ty>::watch_changes(self, sink)
            }
        }
    };
}
pub(crate) use forward_backend;

forward_backend!(Sqlite, "sqlite");

impl Sqlite {
    /// One process: every change is published where it is made.
    fn watch_changes(&self, _sink: Arc<dyn ChangeSink>) {}

    /// One process: nobody else to tell.
    async fn announce(&self, _event: crate::leases::ReclaimEvent) -> Result<(), StoreError> {
        Ok(())
    }
}
