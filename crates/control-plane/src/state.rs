//! Everything a request handler can reach: the store, the secrets, the limits, the clock, the
//! watch channel that wakes snapshot long-polls on every change, and the lease reclaims.

use crate::clock::Clock;
use crate::crypto::{CryptoError, MasterKey};
use crate::gateways::Gateways;
use crate::leases::{ReclaimEvent, Reclaims, DEFAULT_INSTANCE_TTL, DEFAULT_RECLAIM_WAIT};
use crate::secrets::{self, Secret, SecretError};
use crate::store::{ChangeSink, Database, Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Default `KEYBRAKE_MAX_EXPIRES_IN`.
pub const DEFAULT_MAX_EXPIRES_IN: Duration = Duration::from_secs(30 * 86_400);
/// Default `KEYBRAKE_PROPAGATION_WAIT_MS`.
pub const DEFAULT_PROPAGATION_WAIT: Duration = Duration::from_millis(2_000);
/// Default `KEYBRAKE_MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Least body a usage report may have: a gateway sends up to
/// `keybrake_core::usage::MAX_KEYS_PER_REPORT` records (about 150 bytes each) and its idle keys.
pub const MIN_USAGE_BODY_BYTES: usize = 1024 * 1024;
/// Least body an audit batch may have: 1,000 records at their largest (a 4,096-character path
/// and every other string at its bound) fit, and a gateway's default batch of 500 many times.
pub const MIN_AUDIT_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How the control plane is configured, before anything is opened.
#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// `KEYBRAKE_DATABASE_URL`: `postgres://…` selects PostgreSQL; `None`, SQLite in
    /// `data_dir`.
    pub database_url: Option<String>,
    /// `KEYBRAKE_ADMIN_KEY`; `None`: read or generate `admin.key`.
    pub admin_key: Option<String>,
    /// `KEYBRAKE_DATAPLANE_TOKEN`; `None`: read or generate `dataplane.token`.
    pub dataplane_token: Option<String>,
    /// `KEYBRAKE_MASTER_KEY`; `None`: read or generate `master.key`.
    pub master_key: Option<String>,
    pub limits: Limits,
    /// How long a mutation waits for every live gateway to hold it before answering.
    /// Zero: answer at once.
    pub propagation_wait: Duration,
    /// A gateway instance not heard from for this long is dead: its unreported lease counts
    /// as spent.
    pub instance_ttl: Duration,
    /// How long a lease request the cap has no room for waits for other instances to release
    /// unused lease. Zero: answer at once.
    pub reclaim_wait: Duration,
    /// Days audit records are kept (by the time of the call). Zero: forever.
    pub audit_retention_days: u32,
    /// The operator console's sessions (see [`crate::ui`]).
    pub ui: crate::ui::UiSettings,
}

/// Request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest `expires_in` accepted.
    pub max_expires_in: Duration,
    /// Largest request body accepted (usage reports: see [`Limits::body_limit`]).
    pub max_body_bytes: usize,
}

/// Cheap-to-clone handle to the running control plane.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub data_dir: PathBuf,
    pub store: Store,
    pub master_key: MasterKey,
    pub admin_key: Secret,
    pub dataplane_token: Secret,
    pub limits: Limits,
    pub propagation_wait: Duration,
    pub instance_ttl: Duration,
    pub reclaim_wait: Duration,
    pub audit_retention_days: u32,
    pub clock: Clock,
    pub gateways: Arc<Gateways>,
    pub reclaims: Arc<Reclaims>,
    pub counters: Counters,
    pub ui: crate::ui::UiSettings,
    /// The operator console's signed-in sessions, in memory: a restart signs everyone out.
    pub sessions: crate::ui::Sessions,
    changes: Arc<Changes>,
    shutdown: watch::Sender<bool>,
}

/// Where committed versions and poll changes are announced, here or by another replica.
struct Changes {
    reclaims: Arc<Reclaims>,
    version: watch::Sender<u64>,
    polls: Arc<Gateways>,
}

impl ChangeSink for Changes {
    fn version(&self, version: u64) {
        self.version.send_if_modified(|current| {
            let newer = version > *current;
            if newer {
                *current = version;
            }
            newer
        });
    }

    fn polls_changed(&self) {
        self.polls.notify();
    }

    fn reclaim(&self, event: &ReclaimEvent) {
        self.reclaims.apply(event);
    }
}

/// Counters kept in memory for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub admin_auth_failures: AtomicU64,
    pub dataplane_auth_failures: AtomicU64,
    /// Full snapshots sent to gateways.
    pub snapshots_served: AtomicU64,
    /// Deltas (changes since a gateway's version) sent to gateways.
    pub deltas_served: AtomicU64,
    pub propagation_timeouts: AtomicU64,
    pub lease_grants: AtomicU64,
    pub lease_denials: AtomicU64,
    pub lease_reclaims: AtomicU64,
    pub usage_reports: AtomicU64,
    pub audit_batches: AtomicU64,
    pub audit_records_stored: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("KEYBRAKE_MASTER_KEY or master.key: {0}")]
    MasterKey(#[from] CryptoError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(
        "the stored credential for {0} does not open with this master key; \
         set KEYBRAKE_MASTER_KEY to the key that sealed it"
    )]
    MasterKeyMismatch(keybrake_core::Vendor),
}

// === impl Settings ===

impl Settings {
    /// Defaults for everything but the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            admin_key: None,
            dataplane_token: None,
            master_key: None,
            limits: Limits::default(),
            propagation_wait: DEFAULT_PROPAGATION_WAIT,
            instance_ttl: DEFAULT_INSTANCE_TTL,
            reclaim_wait: DEFAULT_RECLAIM_WAIT,
            audit_retention_days: crate::audit::DEFAULT_RETENTION_DAYS,
            ui: crate::ui::UiSettings::default(),
        }
    }
}

impl Limits {
    /// Largest body accepted on `path`: usage reports get at least [`MIN_USAGE_BODY_BYTES`] and
    /// audit batches [`MIN_AUDIT_BODY_BYTES`], so that the largest a gateway builds is never
    /// refused (and resent forever).
    pub fn body_limit(&self, path: &str) -> usize {
        match path {
            keybrake_core::lease::USAGE_PATH => self.max_body_bytes.max(MIN_USAGE_BODY_BYTES),
            keybrake_core::audit::AUDIT_PATH => self.max_body_bytes.max(MIN_AUDIT_BODY_BYTES),
            _ => self.max_body_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_expires_in: DEFAULT_MAX_EXPIRES_IN,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

// === impl AppState ===

impl AppState {
    /// Creates the data directory, resolves the secrets, opens the database and checks that
    /// the master key opens every stored credential.
    pub async fn open(settings: Settings, clock: Clock) -> Result<Self, StartError> {
        let dir = settings.data_dir;
        secrets::ensure_data_dir(&dir)?;
        let admin_key = secrets::load_or_generate(
            "the admin key",
            settings.admin_key,
            &dir,
            secrets::ADMIN_KEY_FILE,
            || secrets::random_token(secrets::ADMIN_KEY_PREFIX),
        )?;
        let dataplane_token = secrets::load_or_generate(
            "the data-plane token",
            settings.dataplane_token,
            &dir,
            secrets::DATAPLANE_TOKEN_FILE,
            || secrets::random_token(secrets::DATAPLANE_TOKEN_PREFIX),
        )?;
        let master = secrets::load_or_generate(
            "the master key",
            settings.master_key,
            &dir,
            secrets::MASTER_KEY_FILE,
            || {
                Ok(MasterKey::generate()
                    .map_err(|_| SecretError::Random)?
                    .to_hex())
            },
        )?;
        let master_key = MasterKey::parse(master.expose())?;
        let database = match settings.database_url {
            Some(url) => Database::Postgres(url),
            None => {
                let path = dir.join(secrets::DATABASE_FILE);
                secrets::ensure_private_file(&path)?;
                Database::Sqlite(path)
            }
        };
        let store = Store::open(&database).await?;
        for sealed in store.credentials().await? {
            master_key
                .open(&sealed)
                .map_err(|_| StartError::MasterKeyMismatch(sealed.vendor))?;
        }
        let version = store.snapshot_version().await?;
        let gateways = Arc::new(Gateways::default());
        let reclaims = Arc::new(Reclaims::default());
        let changes = Arc::new(Changes {
            reclaims: Arc::clone(&reclaims),
            version: watch::Sender::new(version),
            polls: Arc::clone(&gateways),
        });
        store.watch_changes(Arc::clone(&changes) as Arc<dyn ChangeSink>);
        Ok(Self(Arc::new(Inner {
            data_dir: dir,
            store,
            master_key,
            admin_key,
            dataplane_token,
            limits: settings.limits,
            propagation_wait: settings.propagation_wait,
            instance_ttl: settings.instance_ttl,
            reclaim_wait: settings.reclaim_wait,
            audit_retention_days: settings.audit_retention_days,
            clock,
            gateways,
            reclaims,
            counters: Counters::default(),
            ui: settings.ui,
            sessions: crate::ui::Sessions::default(),
            changes,
            shutdown: watch::Sender::new(false),
        })))
    }

    /// Announces a committed snapshot version; wakes every waiting long-poll. Versions only grow.
    pub fn publish(&self, version: u64) {
        self.changes.version(version);
    }

    /// Publishes `version`, then waits (up to `propagation_wait`) until every live gateway
    /// instance holds it, whichever replica it polls, so that an answered revocation is an enforced one. A gateway that does not
    /// confirm in time is logged, not an error: it refuses everything once its snapshot ages.
    pub async fn publish_and_propagate(&self, version: u64) {
        self.publish(version);
        if self.propagation_wait.is_zero() {
            return;
        }
        let lagging = self
            .gateways
            .wait_until_held(&self.store, version, &self.clock, self.propagation_wait)
            .await;
        if !lagging.is_empty() {
            self.counters
                .propagation_timeouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(
                version,
                gateways = ?lagging,
                "gateways did not confirm the new snapshot in time"
            );
        }
    }

    /// Tells the other replicas (PostgreSQL) about a reclaim mark or a report; best effort:
    /// a lost event costs a reclaim, never money.
    pub async fn announce(&self, event: ReclaimEvent) {
        if let Err(e) = self.store.announce(event).await {
            tracing::debug!(error = %e, "could not tell the other replicas about a reclaim");
        }
    }

    /// Instances seen at or after this instant are live.
    pub fn live_since_ms(&self, now_ms: u64) -> u64 {
        let ttl = u64::try_from(self.instance_ttl.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_sub(ttl)
    }

    /// The newest published snapshot version.
    pub fn version(&self) -> u64 {
        *self.changes.version.borrow()
    }

    pub fn subscribe_version(&self) -> watch::Receiver<u64> {
        self.changes.version.subscribe()
    }

    /// Tells long-polls to answer now, so that a graceful shutdown does not wait for them.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn subscribe_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
