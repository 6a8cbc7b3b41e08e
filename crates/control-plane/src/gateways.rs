//! The gateway instances that poll for snapshots: which version each holds, when it was last
//! heard from, and whether it is waiting in a long-poll right now. Kept in the database
//! (`gateway_polls`), so that every control-plane replica sees the instances polling the
//! others.
//!
//! An instance is one Envoy process (its sync service draws a random id at start and sends it
//! as `instance=`); `gateway` only names a group of them for people. A gateway polls with
//! `after=<version it holds>` again as soon as it has stored a snapshot, so its next poll is
//! its acknowledgement. [`Gateways::wait_until_held`] uses that to let a mutation answer only
//! once every live instance enforces it, whichever replica those instances poll.

use crate::store::{PollRow, PollStart, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// An instance not in a long-poll counts as live this long after its last poll ended.
pub const LIVE_AFTER_POLL_MS: u64 = 5_000;
/// Instances silent for longer than this are not listed.
pub const LISTED_WITHIN_MS: u64 = 24 * 3_600_000;
/// How often a waiting change re-reads the instances when the backend tells other
/// processes' polls by notification (PostgreSQL): a lost notification costs at most this.
const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// Wakes waiters when any instance starts or ends a poll, here or (PostgreSQL) on another
/// replica.
#[derive(Debug, Default)]
pub struct Gateways {
    changed: Arc<Notify>,
}

/// Ends an instance's poll when dropped, so a poll whose connection went away still ends.
pub struct PollGuard {
    store: Store,
    changed: Arc<Notify>,
    instance: String,
    started_ms: u64,
    clock: crate::Clock,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let (store, changed) = (self.store.clone(), Arc::clone(&self.changed));
        let (instance, started_ms) = (std::mem::take(&mut self.instance), self.started_ms);
        let now_ms = self.clock.now_ms();
        // Drop cannot wait; the end of a poll only shortens how long the instance counts as
        // polling, so a write that fails (database away) is logged and not retried.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.poll_ended(instance, started_ms, now_ms).await {
                    tracing::debug!(error = %e, "could not record the end of a poll");
                }
                changed.notify_waiters();
            });
        }
    }
}

/// Whether `row` counts as live at `now_ms`: polling, or polled within [`LIVE_AFTER_POLL_MS`].
pub fn is_live(row: &PollRow, now_ms: u64) -> bool {
    row.polling_until_ms >= now_ms || now_ms.saturating_sub(row.last_seen_ms) <= LIVE_AFTER_POLL_MS
}

// === impl Gateways ===

impl Gateways {
    /// Wakes everything waiting on a change of the instances.
    pub fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// Records the start of a poll; the guard records its end.
    pub async fn poll_started(
        &self,
        store: &Store,
        clock: &crate::Clock,
        start: PollStart,
    ) -> Result<PollGuard, StoreError> {
        let (instance, started_ms) = (start.instance.clone(), start.now_ms);
        store.poll_started(start).await?;
        self.notify();
        Ok(PollGuard {
            store: store.clone(),
            changed: Arc::clone(&self.changed),
            instance,
            started_ms,
            clock: clock.clone(),
        })
    }

    /// Every instance seen within [`LISTED_WITHIN_MS`], by gateway then instance.
    pub async fn all(&self, store: &Store, now_ms: u64) -> Result<Vec<PollRow>, StoreError> {
        store
            .gateway_polls(now_ms.saturating_sub(LISTED_WITHIN_MS))
            .await
    }

    /// The instance's latest poll, if it polled within [`LISTED_WITHIN_MS`].
    pub async fn get(
        &self,
        store: &Store,
        now_ms: u64,
        instance: &str,
    ) -> Result<Option<PollRow>, StoreError> {
        Ok(self
            .all(store, now_ms)
            .await?
            .into_iter()
            .find(|r| r.instance == instance))
    }

    /// Gateway groups with an instance heard from within `within_ms` of `now_ms`, or polling.
    pub async fn connected(
        &self,
        store: &Store,
        now_ms: u64,
        within_ms: u64,
    ) -> Result<usize, StoreError> {
        let rows = store
            .gateway_polls(now_ms.saturating_sub(within_ms))
            .await?;
        let groups: BTreeSet<&str> = rows
            .iter()
            .filter(|r| {
                r.polling_until_ms >= now_ms || now_ms.saturating_sub(r.last_seen_ms) <= within_ms
            })
            .map(|r| r.gateway.as_str())
            .collect();
        Ok(groups.len())
    }

    /// Live instances that do not yet hold `version`, as `gateway/instance`, sorted.
    pub async fn lagging(
        &self,
        store: &Store,
        version: u64,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = store
            .gateway_polls(now_ms.saturating_sub(LIVE_AFTER_POLL_MS))
            .await?;
        Ok(rows
            .iter()
            .filter(|r| is_live(r, now_ms) && r.version < version)
            .map(|r| format!("{}/{}", r.gateway, r.instance))
            .collect())
    }

    /// Waits until every live instance holds `version` or `timeout` passes; returns the ones
    /// still lagging then (empty on success). A database error ends the wait: the change is
    /// committed, and an instance that has not got it refuses everything once its snapshot
    /// ages.
    pub async fn wait_until_held(
        &self,
        store: &Store,
        version: u64,
        clock: &crate::Clock,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let recheck = store.kind() == "postgres";
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lagging = match self.lagging(store, version, clock.now_ms()).await {
                Ok(lagging) => lagging,
                Err(e) => return vec![format!("(unknown: {e})")],
            };
            if lagging.is_empty() {
                return lagging;
            }
            let wake = if recheck {
                deadline.min(tokio::time::Instant::now() + RECHECK_EVERY)
            } else {
                deadline
            };
            let _ = tokio::time::timeout_at(wake, notified).await;
            if tokio::time::Instant::now() >= deadline {
                return self
                    .lagging(store, version, clock.now_ms())
                    .await
                    .unwrap_or(lagging);
            }
        }
    }
}
