//! The PostgreSQL backend: any number of control-plane replicas on one database, with no
//! coordination besides it.
//!
//! - Every mutation gateways must see bumps `meta.snapshot_version` (its row lock orders them)
//!   and sends `NOTIFY keybrake_snapshot, '<version>'` in the same transaction; each replica
//!   LISTENs on a connection of its own and wakes its long-polls (see [`Postgres::watch_changes`]).
//! - A lease step or usage report first locks the key's `vault_keys` row (`FOR UPDATE`, keys in
//!   order), so that the sum of a key's leases stays at or below its cap across replicas.
//! - An audit batch locks its instance's `audit_streams` row; records go in with
//!   `ON CONFLICT (instance, seq) DO NOTHING`, so each is stored once whichever replica got it,
//!   in one statement under [`AUDIT_ORDER_LOCK`] held until commit, so that row ids commit in
//!   ascending order (a reader going forward by id never skips one).
//!
//! tokio-postgres with deadpool-postgres (see the README's "Operating at scale" for why).

mod audit;
mod keys;
mod leases;
mod policy;

use super::{
    polls, to_i64, to_u64, ChangeSink, DeltaSource, PollRow, PollStart, SnapshotSource, StoreError,
};
use crate::leases::ReclaimEvent;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};

/// Connections each replica keeps open at most.
const POOL_SIZE: usize = 16;
/// Channel of committed snapshot versions (payload: the version in decimal).
pub const SNAPSHOT_CHANNEL: &str = "keybrake_snapshot";
/// Channel of gateway poll starts and ends (no payload).
pub const POLLS_CHANNEL: &str = "keybrake_polls";
/// Channel of reclaim marks and usage reports (payload: [`ReclaimEvent::encode`]).
pub const RECLAIMS_CHANNEL: &str = "keybrake_reclaims";
/// Longest pause between attempts to re-establish the LISTEN connection.
const MAX_LISTEN_BACKOFF: Duration = Duration::from_secs(5);

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/postgres/0001_init.sql")];
/// Serializes migrations of replicas starting together (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x6b62_6d69_6772;
/// The `pg_advisory_xact_lock` key every transaction takes right before it inserts into
/// `audit_records`, held until it commits ("kbaudt" in ASCII): row ids are then drawn and
/// committed in the same order, so a reader going forward by id never skips a record
/// committed late (see `ingest_audit`). Anything else that inserts audit records into a
/// keybrake database must take it the same way.
pub const AUDIT_ORDER_LOCK: i64 = 0x6b62_6175_6474;

/// Handle to a PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct Postgres {
    url: Arc<str>,
    pool: Pool,
}

type Client = deadpool_postgres::Object;

// === impl Postgres ===

impl Postgres {
    /// Connects (the pool opens connections as needed) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = Self {
            url: Arc::from(url),
            pool,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// `SELECT 1` on a pooled connection (a new one when the server came back since).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    pub(crate) async fn client(&self) -> Result<Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Pool(other.to_string()),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        // Without this, every start after the first logs PostgreSQL's NOTICE that the table
        // already exists.
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning; \
             CREATE TABLE IF NOT EXISTS keybrake_schema (version BIGINT NOT NULL)",
        )
        .await?;
        let found: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM keybrake_schema", &[])
            .await?
            .try_get(0)?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if found > known {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            tx.batch_execute(sql).await?;
            tracing::info!(version = i + 1, "applying database migration (postgres)");
        }
        tx.execute("DELETE FROM keybrake_schema", &[]).await?;
        tx.execute(
            "INSERT INTO keybrake_schema (version) VALUES ($1)",
            &[&known],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The current snapshot version.
    pub async fn snapshot_version(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        read_version(&client).await
    }

    /// See [`super::Backend::snapshot_source`]: one repeatable-read transaction.
    pub async fn snapshot_source(
        &self,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<SnapshotSource, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let source = SnapshotSource {
            version: read_version(&tx).await?,
            keys: keys::snapshot_keys(&tx, now_ms, retain_after_expiry_ms).await?,
            credentials: policy::credentials(&tx).await?,
            rates: policy::rates(&tx).await?,
            prices: policy::prices(&tx).await?,
        };
        tx.commit().await?;
        Ok(source)
    }

    /// See [`super::Backend::delta_source`]: one repeatable-read transaction.
    pub async fn delta_source(
        &self,
        base: u64,
        now_ms: u64,
        retain_after_expiry_ms: u64,
    ) -> Result<Option<DeltaSource>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let version = read_version(&tx).await?;
        if base == 0 || base > version {
            return Ok(None);
        }
        let globals_version: i64 = tx
            .query_one("SELECT value FROM meta WHERE name = 'globals_version'", &[])
            .await?
            .try_get(0)?;
        let globals = if to_u64(globals_version, "meta")? > base {
            Some((
                policy::credentials(&tx).await?,
                policy::rates(&tx).await?,
                policy::prices(&tx).await?,
            ))
        } else {
            None
        };
        let keys = keys::changed_keys(&tx, base, now_ms, retain_after_expiry_ms).await?;
        tx.commit().await?;
        Ok(Some(DeltaSource {
            version,
            base,
            keys,
            globals,
        }))
    }

    pub async fn poll_started(&self, start: PollStart) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                polls::UPSERT,
                &[
                    &start.instance,
                    &start.gateway,
                    &to_i64(start.version)?,
                    &to_i64(start.now_ms)?,
                    &to_i64(start.until_ms)?,
                ],
            )
            .await?;
        client
            .execute("SELECT pg_notify($1, '')", &[&POLLS_CHANNEL])
            .await?;
        Ok(())
    }

    pub async fn poll_ended(
        &self,
        instance: String,
        started_ms: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                polls::END,
                &[&instance, &to_i64(started_ms)?, &to_i64(now_ms)?],
            )
            .await?;
        client
            .execute("SELECT pg_notify($1, '')", &[&POLLS_CHANNEL])
            .await?;
        Ok(())
    }

    pub async fn gateway_polls(&self, since_ms: u64) -> Result<Vec<PollRow>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(polls::LIST, &[&to_i64(since_ms)?]).await?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| -> Result<u64, StoreError> {
                    to_u64(r.try_get(i)?, "gateway_polls")
                };
                Ok(PollRow {
                    instance: r.try_get(0)?,
                    gateway: r.try_get(1)?,
                    version: n(2)?,
                    polling_until_ms: n(3)?,
                    last_seen_ms: n(4)?,
                })
            })
            .collect()
    }

    pub async fn announce(&self, event: ReclaimEvent) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&RECLAIMS_CHANNEL, &event.encode()],
            )
            .await?;
        Ok(())
    }

    /// Spawns the task that LISTENs for other replicas' changes and tells `sink`; it
    /// reconnects (with backoff) when the connection drops, and on every (re)connect reads the
    /// version so that a notification missed meanwhile is not lost.
    pub fn watch_changes(&self, sink: Arc<dyn ChangeSink>) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                match store.listen(&*sink).await {
                    Ok(()) => backoff = Duration::from_millis(50),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the LISTEN connection to PostgreSQL; reconnecting");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
            }
        });
    }

    async fn listen(&self, sink: &dyn ChangeSink) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let (client, mut connection) = tokio_postgres::connect(&self.url, NoTls).await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n).is_err() {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        client
            .batch_execute(&format!(
                "LISTEN {SNAPSHOT_CHANNEL}; LISTEN {POLLS_CHANNEL}; LISTEN {RECLAIMS_CHANNEL}"
            ))
            .await?;
        let v: i64 = client
            .query_one(
                "SELECT value FROM meta WHERE name = 'snapshot_version'",
                &[],
            )
            .await?
            .try_get(0)?;
        sink.version(to_u64(v, "meta")?);
        sink.polls_changed();
        while let Some(n) = rx.recv().await {
            if n.channel() == SNAPSHOT_CHANNEL {
                match n.payload().parse::<u64>() {
                    Ok(v) => sink.version(v),
                    Err(_) => tracing::warn!(payload = n.payload(), "odd snapshot notification"),
                }
            } else if n.channel() == RECLAIMS_CHANNEL {
                if let Some(event) = ReclaimEvent::decode(n.payload()) {
                    sink.reclaim(&event);
                }
            } else {
                sink.polls_changed();
            }
        }
        drop(client);
        driver.await??;
        Ok(())
    }
}

super::sqlite::forward_backend!(Postgres, "postgres");

/// Reads `snapshot_version`.
async fn read_version(client: &impl deadpool_postgres::GenericClient) -> Result<u64, StoreError> {
    let v: i64 = client
        .query_one(
            "SELECT value FROM meta WHERE name = 'snapshot_version'",
            &[],
        )
        .await?
        .try_get(0)?;
    to_u64(v, "meta")
}

/// Bumps `snapshot_version` inside the caller's transaction, queues the notification every
/// replica receives when it commits, and returns the new value.
pub(crate) async fn bump_version(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, StoreError> {
    // One statement: the bump and the notification it queues.
    let v: i64 = tx
        .query_one(
            "WITH bumped AS (UPDATE meta SET value = value + 1 \
                 WHERE name = 'snapshot_version' RETURNING value) \
             SELECT value, pg_notify($1, value::TEXT) FROM bumped",
            &[&SNAPSHOT_CHANNEL],
        )
        .await?
        .try_get(0)?;
    to_u64(v, "meta")
}

/// Bumps `snapshot_version` for a change to credentials, rates or prices and records it as
/// `globals_version` (deltas carry those only when it is newer than their base).
pub(crate) async fn bump_globals(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, StoreError> {
    let version = bump_version(tx).await?;
    tx.execute(
        "UPDATE meta SET value = $1 WHERE name = 'globals_version'",
        &[&to_i64(version)?],
    )
    .await?;
    Ok(version)
}
