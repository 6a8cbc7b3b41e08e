//! The gateways that poll for snapshots, remembered in memory: which version each holds, when
//! it was last heard from, and whether it is waiting in a long-poll right now.
//!
//! A gateway polls with `after=<version it holds>` again as soon as it has stored a snapshot,
//! so its next poll is its acknowledgement. [`Gateways::wait_until_held`] uses that to let a
//! mutation answer only once every live gateway enforces it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Most gateways remembered; past this the least recently seen is forgotten.
const MAX_GATEWAYS: usize = 4096;
/// A gateway not in a long-poll counts as live this long after its last poll ended.
pub const LIVE_AFTER_POLL_MS: u64 = 5_000;

/// What the control plane last heard from one gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewaySeen {
    pub last_seen_ms: u64,
    /// The snapshot version the gateway said it held.
    pub version: u64,
    /// Long-polls of this gateway open right now.
    pub polls_in_flight: u32,
}

#[derive(Debug, Default)]
pub struct Gateways {
    seen: Mutex<HashMap<String, GatewaySeen>>,
    changed: Notify,
}

/// Ends a gateway's poll when dropped, so a poll whose connection went away still ends.
pub struct PollGuard<'a> {
    gateways: &'a Gateways,
    id: String,
    clock: crate::Clock,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.gateways.update(&self.id, |g| {
            g.polls_in_flight = g.polls_in_flight.saturating_sub(1);
            g.last_seen_ms = self.clock.now_ms();
        });
    }
}

// === impl GatewaySeen ===

impl GatewaySeen {
    fn is_live(&self, now_ms: u64) -> bool {
        self.polls_in_flight > 0 || now_ms.saturating_sub(self.last_seen_ms) <= LIVE_AFTER_POLL_MS
    }
}

// === impl Gateways ===

impl Gateways {
    fn update(&self, id: &str, f: impl FnOnce(&mut GatewaySeen)) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(g) = seen.get_mut(id) {
            f(g);
        }
        drop(seen);
        self.changed.notify_waiters();
    }

    /// Records the start of a poll by a gateway holding `version`; the guard records its end.
    pub fn poll_started(&self, id: &str, clock: &crate::Clock, version: u64) -> PollGuard<'_> {
        let now_ms = clock.now_ms();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MAX_GATEWAYS && !seen.contains_key(id) {
            let oldest = seen
                .iter()
                .min_by_key(|(_, g)| g.last_seen_ms)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                seen.remove(&oldest);
            }
        }
        let g = seen.entry(id.to_owned()).or_insert(GatewaySeen {
            last_seen_ms: now_ms,
            version,
            polls_in_flight: 0,
        });
        g.last_seen_ms = now_ms;
        g.version = version;
        g.polls_in_flight = g.polls_in_flight.saturating_add(1);
        drop(seen);
        self.changed.notify_waiters();
        PollGuard {
            gateways: self,
            id: id.to_owned(),
            clock: clock.clone(),
        }
    }

    pub fn get(&self, id: &str) -> Option<GatewaySeen> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(id).copied()
    }

    /// Every remembered gateway and what it last said, sorted by id.
    pub fn all(&self) -> Vec<(String, GatewaySeen)> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, GatewaySeen)> =
            seen.iter().map(|(id, g)| (id.clone(), *g)).collect();
        drop(seen);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether `g` counts as live at `now_ms` (polling, or polled within [`LIVE_AFTER_POLL_MS`]).
    pub fn is_live(g: &GatewaySeen, now_ms: u64) -> bool {
        g.is_live(now_ms)
    }

    /// Gateways heard from within `within_ms` of `now_ms`, or polling now.
    pub fn connected(&self, now_ms: u64, within_ms: u64) -> usize {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.values()
            .filter(|g| g.polls_in_flight > 0 || now_ms.saturating_sub(g.last_seen_ms) <= within_ms)
            .count()
    }

    /// Live gateways that do not yet hold `version`, sorted.
    pub fn lagging(&self, version: u64, now_ms: u64) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<String> = seen
            .iter()
            .filter(|(_, g)| g.is_live(now_ms) && g.version < version)
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    /// Waits until every live gateway holds `version` or `timeout` passes; returns the ones
    /// still lagging then (empty on success).
    pub async fn wait_until_held(
        &self,
        version: u64,
        clock: &crate::Clock,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lagging = self.lagging(version, clock.now_ms());
            if lagging.is_empty() {
                return lagging;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.lagging(version, clock.now_ms());
            }
        }
    }
}
