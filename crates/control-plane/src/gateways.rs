//! The gateways that poll for snapshots, remembered in memory: which version each holds and
//! when it was last heard from.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Most gateways remembered; past this the least recently seen is forgotten.
const MAX_GATEWAYS: usize = 4096;

/// What the control plane last heard from one gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewaySeen {
    pub last_seen_ms: u64,
    /// The snapshot version the gateway said it held.
    pub version: u64,
}

#[derive(Debug, Default)]
pub struct Gateways {
    seen: Mutex<HashMap<String, GatewaySeen>>,
}

// === impl Gateways ===

impl Gateways {
    pub fn record(&self, id: &str, now_ms: u64, version: u64) {
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
        seen.insert(
            id.to_owned(),
            GatewaySeen {
                last_seen_ms: now_ms,
                version,
            },
        );
    }

    pub fn get(&self, id: &str) -> Option<GatewaySeen> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(id).copied()
    }

    /// Gateways heard from within `within_ms` of `now_ms`.
    pub fn connected(&self, now_ms: u64, within_ms: u64) -> usize {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.values()
            .filter(|g| now_ms.saturating_sub(g.last_seen_ms) <= within_ms)
            .count()
    }
}
