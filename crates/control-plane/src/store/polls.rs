//! Which snapshot each gateway instance holds: one row per instance, written at the start and
//! end of each of its polls, read by whichever replica waits for a change to propagate.

use super::{to_i64, to_u64, Sqlite, StoreError};
use rusqlite::params;

/// A poll as it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollStart {
    /// The instance id the gateway sent (or its gateway id when it sent none).
    pub instance: String,
    /// The gateway group the instance belongs to, for people.
    pub gateway: String,
    /// The snapshot version the instance holds.
    pub version: u64,
    pub now_ms: u64,
    /// When the poll's wait ends at the latest (it answers sooner on a change).
    pub until_ms: u64,
}

/// An instance's latest poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollRow {
    pub instance: String,
    pub gateway: String,
    /// The snapshot version it said it held.
    pub version: u64,
    /// When its running poll's wait ends; 0 when no poll is running.
    pub polling_until_ms: u64,
    /// When it last started or ended a poll.
    pub last_seen_ms: u64,
}

// Numbered `$n` placeholders (PostgreSQL's); SQLite gets them as `?n`.
pub(crate) const UPSERT: &str = "INSERT INTO gateway_polls \
         (instance, gateway, version, poll_started_ms, polling_until_ms, last_seen_ms) \
     VALUES ($1, $2, $3, $4, $5, $4) \
     ON CONFLICT (instance) DO UPDATE SET gateway = excluded.gateway, \
         version = excluded.version, poll_started_ms = excluded.poll_started_ms, \
         polling_until_ms = excluded.polling_until_ms, last_seen_ms = excluded.last_seen_ms";

pub(crate) const END: &str = "UPDATE gateway_polls SET polling_until_ms = 0, last_seen_ms = $3 \
     WHERE instance = $1 AND poll_started_ms = $2";

pub(crate) const LIST: &str = "SELECT instance, gateway, version, polling_until_ms, last_seen_ms \
     FROM gateway_polls WHERE last_seen_ms >= $1 OR polling_until_ms >= $1 \
     ORDER BY gateway, instance";

// === impl Sqlite ===

impl Sqlite {
    pub async fn poll_started(&self, start: PollStart) -> Result<(), StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&UPSERT.replace('$', "?"))?
                .execute(params![
                    start.instance,
                    start.gateway,
                    to_i64(start.version)?,
                    to_i64(start.now_ms)?,
                    to_i64(start.until_ms)?,
                ])?;
            Ok(())
        })
        .await
    }

    pub async fn poll_ended(
        &self,
        instance: String,
        started_ms: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&END.replace('$', "?"))?
                .execute(params![instance, to_i64(started_ms)?, to_i64(now_ms)?])?;
            Ok(())
        })
        .await
    }

    pub async fn gateway_polls(&self, since_ms: u64) -> Result<Vec<PollRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&LIST.replace('$', "?"))?;
            let mut rows = stmt.query([to_i64(since_ms)?])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let n =
                    |i: usize| -> Result<u64, StoreError> { to_u64(r.get(i)?, "gateway_polls") };
                out.push(PollRow {
                    instance: r.get(0)?,
                    gateway: r.get(1)?,
                    version: n(2)?,
                    polling_until_ms: n(3)?,
                    last_seen_ms: n(4)?,
                });
            }
            Ok(out)
        })
        .await
    }
}
