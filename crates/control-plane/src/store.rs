//! The control plane's state behind one trait, [`Backend`], with two implementations:
//! [`Sqlite`] (the embedded default, one file in the data directory) and [`Postgres`]
//! (`KEYBRAKE_DATABASE_URL=postgres://…`, shared by any number of control-plane replicas).
//!
//! What is stored: vault keys, sealed vendor credentials, conversion rates, price overrides, the
//! snapshot version, the lease rows of the budget ledger, the audit trail, and which snapshot
//! each gateway instance holds. Each mutation that gateways must see bumps `snapshot_version` in
//! its own transaction and returns the new value. Each backend has its own migrations in
//! `migrations/sqlite/` and `migrations/postgres/`.

mod audit;
mod keys;
mod leases;
mod migrate;
mod polls;
pub mod postgres;
mod prices;
mod rates;
mod sqlite;
mod vendors;

use crate::audit::{AuditFilter, SpendBy, Stream, ValidBatch};
use crate::leases::Instance;
use futures_util::future::BoxFuture;
use keybrake_core::lease::KeyUsage;
use keybrake_core::{VaultKeyId, Vendor};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

pub use audit::{Ingested, SpendRow, StoredRecord};
pub use keys::{KeyCounts, KeyFilter, KeyRow, KeyStatus, NewKey, Revoked};
pub use leases::{DaySpend, LeaseAsk, LeaseHolding, LeaseOutcome};
pub use polls::{PollRow, PollStart};
pub use postgres::Postgres;
pub use prices::PriceRow;
pub use rates::{RateChange, RateRow};
pub use sqlite::Sqlite;
pub use vendors::SealedCredential;

/// Where the state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (WAL), for one control-plane process.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://user@host:port/db`), for one or many.
    Postgres(String),
}

/// Handle to the database, whichever backend. Cheap to clone; derefs to [`Backend`].
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

/// Told by a backend about changes other processes made (PostgreSQL's LISTEN/NOTIFY).
pub trait ChangeSink: Send + Sync {
    /// A snapshot version committed somewhere.
    fn version(&self, version: u64);
    /// A gateway instance started or ended a snapshot poll somewhere.
    fn polls_changed(&self);
    /// A replica marked or cleared a reclaim, or took in a usage report.
    fn reclaim(&self, event: &crate::leases::ReclaimEvent);
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres connection pool: {0}")]
    Pool(String),
    #[error("the database schema is version {found}, newer than this binary knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("the database lock was poisoned by a panic")]
    Poisoned,
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// Whether the database could not be reached: no connection from the pool, a connection
    /// lost, or a server shutting down, starting or full (SQLSTATE 57P01, 57P02, 57P03, 53300).
    /// The same request may succeed on another replica, or on this one a little later; the API
    /// answers it `503` (`unavailable`), which gateways retry, and not `500`.
    pub fn is_unavailable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            StoreError::Pool(_) => true,
            StoreError::Postgres(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        [
                            SqlState::ADMIN_SHUTDOWN,
                            SqlState::CRASH_SHUTDOWN,
                            SqlState::CANNOT_CONNECT_NOW,
                            SqlState::TOO_MANY_CONNECTIONS,
                        ]
                        .contains(c)
                    })
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }
}

/// A result of the store, boxed so that [`Backend`] can be a trait object.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Every read and write the control plane makes. Figures are micro-USD and times Unix ms
/// unless a name says otherwise; `day` is days since the Unix epoch (UTC).
pub trait Backend: Send + Sync {
    /// The current snapshot version.
    fn snapshot_version(&self) -> StoreFuture<'_, u64>;
    /// The version with every key not expired for longer than `retain_after_expiry_ms`, every
    /// sealed credential, rate and price override, read consistently.
    fn snapshot_source(
        &self,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> StoreFuture<'_, SnapshotSource>;

    /// The changes since `base`, read consistently; `None` when a delta cannot be built from
    /// `base` (0, or a version this database never reached: the gateway needs everything).
    /// Keys expired for longer than `retain_after_expiry_ms` are left out, as in a snapshot.
    fn delta_source(
        &self,
        base: u64,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> StoreFuture<'_, Option<DeltaSource>>;

    /// Inserts a new key and returns the new snapshot version.
    fn insert_key(&self, key: NewKey) -> StoreFuture<'_, u64>;
    fn get_key(&self, key_id: VaultKeyId) -> StoreFuture<'_, Option<KeyRow>>;
    /// Keys matching `filter`, newest first.
    fn list_keys(&self, filter: KeyFilter, now_ms: u64) -> StoreFuture<'_, Vec<KeyRow>>;
    /// Revokes a key (idempotent). `None` when the key is unknown.
    fn revoke_key(&self, key_id: VaultKeyId, now_ms: u64) -> StoreFuture<'_, Option<Revoked>>;
    fn key_counts(&self, now_ms: u64) -> StoreFuture<'_, KeyCounts>;

    /// One lease decision for one instance, atomically with respect to every other lease step
    /// and usage report of the key, on any replica: records that the instance was seen, takes
    /// in its report, and grants if the cap has room.
    fn lease_step(&self, ask: LeaseAsk) -> StoreFuture<'_, LeaseOutcome>;
    /// Takes in an instance's usage report (skipping unknown keys and days other than today
    /// and yesterday) and returns the keys of `ask_release` for which the instance holds
    /// unused lease today, sorted.
    fn record_usage(
        &self,
        instance: Instance,
        keys: Vec<KeyUsage>,
        ask_release: BTreeSet<String>,
        today: u32,
        now_ms: u64,
    ) -> StoreFuture<'_, Vec<String>>;
    /// Spend and outstanding lease on `day` of `key`, or of every key when `None`. Keys
    /// without rows that day are absent.
    fn day_spend(
        &self,
        key: Option<VaultKeyId>,
        day: u32,
        live_since_ms: u64,
    ) -> StoreFuture<'_, HashMap<VaultKeyId, DaySpend>>;
    /// Every instance's lease row of `key` on `day`, most recently seen first.
    fn key_leases(&self, key: VaultKeyId, day: u32) -> StoreFuture<'_, Vec<LeaseHolding>>;
    /// Gateway instances seen at or after `live_since_ms`.
    fn instances_live(&self, live_since_ms: u64) -> StoreFuture<'_, u64>;

    /// Stores a vendor's overrides; returns the new snapshot version.
    fn set_prices(&self, row: PriceRow) -> StoreFuture<'_, u64>;
    /// Removes a vendor's overrides; the new version when there were some.
    fn delete_prices(&self, vendor: Vendor) -> StoreFuture<'_, Option<u64>>;
    /// Every stored override row, Twilio before Resend.
    fn prices(&self) -> StoreFuture<'_, Vec<PriceRow>>;
    /// Stores (or replaces) a rate and bumps the snapshot version in the same transaction.
    fn set_rate(&self, row: RateRow) -> StoreFuture<'_, RateChange>;
    /// Removes a rate; `None` when there was none.
    fn delete_rate(&self, currency: String) -> StoreFuture<'_, Option<RateChange>>;
    /// Every stored rate, by currency.
    fn rates(&self) -> StoreFuture<'_, Vec<RateRow>>;
    /// Stores (or replaces) a sealed credential and returns the new snapshot version.
    fn set_credential(&self, sealed: SealedCredential) -> StoreFuture<'_, u64>;
    /// Every stored credential, still sealed, by vendor.
    fn credentials(&self) -> StoreFuture<'_, Vec<SealedCredential>>;

    /// Stores a batch: each record once per `(instance, seq)` (across replicas too), the
    /// instance's counters, its liveness, and how far its records are stored without a hole.
    fn ingest_audit(&self, batch: ValidBatch, now_ms: u64) -> StoreFuture<'_, Ingested>;
    /// Up to `limit` records matching `filter`, newest first.
    fn audit_records(&self, filter: AuditFilter, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>>;
    /// Up to `limit` records matching `filter` (its cursor aside) stored after row `after_id`,
    /// oldest first. Row ids become visible in ascending order on both backends (SQLite has one
    /// writer; PostgreSQL orders its inserts with `postgres::AUDIT_ORDER_LOCK`), so reading on
    /// from the highest id returned never skips a record stored later.
    fn audit_after(
        &self,
        filter: AuditFilter,
        after_id: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredRecord>>;
    /// The highest record row id (0 when the trail is empty): where a live tail starts.
    fn audit_last_id(&self) -> StoreFuture<'_, i64>;
    /// When each of `key_ids` was last seen in a call; keys never seen are absent.
    fn keys_last_used(&self, key_ids: Vec<String>) -> StoreFuture<'_, HashMap<String, u64>>;
    /// Every instance's audit sequence, most recently seen first.
    fn audit_streams(&self) -> StoreFuture<'_, Vec<Stream>>;
    /// Totals of the records in `[from_ms, to_ms)` grouped `by`, most spent first.
    fn audit_spend(&self, by: SpendBy, from_ms: u64, to_ms: u64) -> StoreFuture<'_, Vec<SpendRow>>;
    /// Deletes every record of a call before `before_ms` (in chunks; on SQLite all but the
    /// record stored last, so that row ids never go back) and forgets instances silent since
    /// then (audit sequences, snapshot polls). Returns how many records it deleted.
    fn prune_audit(&self, before_ms: u64) -> StoreFuture<'_, u64>;

    /// Records that a gateway instance started a snapshot poll holding `start.version`, and
    /// tells every replica (see [`ChangeSink::polls_changed`]).
    fn poll_started(&self, start: PollStart) -> StoreFuture<'_, ()>;
    /// Records the end of the instance's poll that started at `started_ms` (a later poll of
    /// the same instance, on any replica, is left alone).
    fn poll_ended(&self, instance: String, started_ms: u64, now_ms: u64) -> StoreFuture<'_, ()>;
    /// Every instance that polled at or after `since_ms`, by gateway then instance.
    fn gateway_polls(&self, since_ms: u64) -> StoreFuture<'_, Vec<PollRow>>;

    /// Tells every other replica about `event` (PostgreSQL's NOTIFY); nothing on SQLite.
    fn announce(&self, event: crate::leases::ReclaimEvent) -> StoreFuture<'_, ()>;

    /// One trivial query (`SELECT 1`): whether the database answers at all (`/healthz`).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// `sqlite` or `postgres`, for logs.
    fn kind(&self) -> &'static str;

    /// Starts telling `sink` about changes made by other processes, when the backend can
    /// (PostgreSQL: LISTEN/NOTIFY). SQLite has one process and nothing to do.
    fn watch_changes(&self, sink: Arc<dyn ChangeSink>);
}

// === impl Store ===

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn open(db: &Database) -> Result<Self, StoreError> {
        Ok(match db {
            Database::Sqlite(path) => Self(Arc::new(Sqlite::open(path)?)),
            Database::Postgres(url) => Self(Arc::new(Postgres::open(url).await?)),
        })
    }

    /// Which backend this is, for logs: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
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
        detail: format!("value {v} does not fit a 64-bit INTEGER"),
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
