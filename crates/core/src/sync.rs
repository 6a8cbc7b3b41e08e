//! The sync service's state machine: when to long-poll the control plane for a snapshot, and
//! what to write to shared data with each answer. The wasm adapter only performs the calls.

use crate::backoff::Backoff;
use crate::config::{SyncConfig, MAX_WAIT_MS, SNAPSHOT_PATH};
use crate::snapshot::{Snapshot, SyncStatus};
use std::collections::HashSet;

/// Slack added to the long-poll's own wait before the gateway gives up on a call.
pub const CALL_TIMEOUT_SLACK_MS: u64 = 5_000;
/// Longest pause between failed polls (jitter included).
pub const MAX_BACKOFF_MS: u64 = 5_000;

#[derive(Debug, Default)]
pub struct SyncState {
    held_version: u64,
    /// Keys whose budget record this process has created.
    known_keys: HashSet<String>,
    in_flight: bool,
    next_poll_at_ms: u64,
    /// Built at the first failure, from the configuration's `retry_ms`.
    backoff: Option<Backoff>,
}

/// What to do with an answer from the control plane.
#[derive(Debug, PartialEq, Eq)]
pub enum SyncEffect {
    /// Create budget records for `new_keys`, write the answer's body to the snapshot key, then
    /// `status` to the status key: a worker that sees the version finds every record.
    StoreSnapshot {
        status: SyncStatus,
        new_keys: Vec<String>,
    },
    /// Nothing changed: write `status` to the status key (it renews freshness).
    Confirm { status: SyncStatus },
    /// The poll failed; the next one waits. Freshness is not renewed.
    Failed { reason: String },
}

// === impl SyncState ===

impl SyncState {
    pub fn held_version(&self) -> u64 {
        self.held_version
    }

    pub fn poll_due(&self, now_ms: u64) -> bool {
        !self.in_flight && now_ms >= self.next_poll_at_ms
    }

    /// The `:path` of the next long-poll.
    pub fn poll_path(&self, config: &SyncConfig) -> String {
        format!(
            "{SNAPSHOT_PATH}?gateway={}&after={}&wait_ms={}",
            config.gateway_id,
            self.held_version,
            config.poll_wait_ms.min(MAX_WAIT_MS)
        )
    }

    pub fn call_timeout_ms(config: &SyncConfig) -> u64 {
        config.poll_wait_ms.min(MAX_WAIT_MS) + CALL_TIMEOUT_SLACK_MS
    }

    pub fn poll_started(&mut self) {
        self.in_flight = true;
    }

    /// The host refused to dispatch the call (unknown cluster, …).
    pub fn poll_not_started(&mut self, now_ms: u64, config: &SyncConfig) {
        self.in_flight = false;
        self.back_off(now_ms, config);
    }

    /// An answer arrived: `status` is 0 when the call failed without one.
    pub fn on_answer(
        &mut self,
        now_ms: u64,
        config: &SyncConfig,
        status: u32,
        body: &[u8],
    ) -> SyncEffect {
        self.in_flight = false;
        match status {
            200 => match serde_json::from_slice::<Snapshot>(body) {
                Ok(snapshot) => {
                    self.succeeded();
                    self.next_poll_at_ms = now_ms;
                    self.held_version = snapshot.version;
                    let new_keys = snapshot
                        .keys
                        .into_iter()
                        .filter(|k| !k.revoked && !self.known_keys.contains(&k.key_id))
                        .map(|k| k.key_id)
                        .collect::<Vec<_>>();
                    self.known_keys.extend(new_keys.iter().cloned());
                    SyncEffect::StoreSnapshot {
                        status: SyncStatus {
                            version: snapshot.version,
                            confirmed_at_ms: now_ms,
                        },
                        new_keys,
                    }
                }
                Err(e) => {
                    self.back_off(now_ms, config);
                    SyncEffect::Failed {
                        reason: format!("unreadable snapshot: {e}"),
                    }
                }
            },
            304 if self.held_version > 0 => {
                self.succeeded();
                self.next_poll_at_ms = now_ms;
                SyncEffect::Confirm {
                    status: SyncStatus {
                        version: self.held_version,
                        confirmed_at_ms: now_ms,
                    },
                }
            }
            0 => {
                self.back_off(now_ms, config);
                SyncEffect::Failed {
                    reason: "no answer from the control plane".into(),
                }
            }
            other => {
                self.back_off(now_ms, config);
                SyncEffect::Failed {
                    reason: format!("control plane answered {other}"),
                }
            }
        }
    }

    fn back_off(&mut self, now_ms: u64, config: &SyncConfig) {
        let pause = self
            .backoff
            .get_or_insert_with(|| Backoff::new(config.retry_ms, MAX_BACKOFF_MS))
            .failed();
        self.next_poll_at_ms = now_ms.saturating_add(pause);
    }

    fn succeeded(&mut self) {
        if let Some(b) = self.backoff.as_mut() {
            b.succeeded();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_body(version: u64) -> Vec<u8> {
        serde_json::to_vec(&Snapshot {
            version,
            generated_at_ms: 0,
            keys: vec![],
            credentials: vec![],
            rates: vec![],
            prices: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn first_poll_asks_for_everything_and_stores_the_answer() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        assert!(s.poll_due(0));
        assert!(s.poll_path(&cfg).contains("after=0"));
        s.poll_started();
        assert!(!s.poll_due(10), "one poll at a time");
        let eff = s.on_answer(100, &cfg, 200, &snapshot_body(4));
        assert_eq!(
            eff,
            SyncEffect::StoreSnapshot {
                status: SyncStatus {
                    version: 4,
                    confirmed_at_ms: 100
                },
                new_keys: vec![],
            }
        );
        assert!(s.poll_due(100), "the next long-poll starts at once");
        assert!(s.poll_path(&cfg).contains("after=4"));
    }

    #[test]
    fn not_modified_renews_freshness_of_the_held_version() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        s.on_answer(1, &cfg, 200, &snapshot_body(2));
        assert_eq!(
            s.on_answer(500, &cfg, 304, b""),
            SyncEffect::Confirm {
                status: SyncStatus {
                    version: 2,
                    confirmed_at_ms: 500
                }
            }
        );
    }

    #[test]
    fn failures_back_off_and_do_not_renew() {
        let cfg = SyncConfig {
            retry_ms: 100,
            ..SyncConfig::default()
        };
        let mut s = SyncState::default();
        let cases: [(&str, u32, &[u8]); 4] = [
            ("no answer", 0, b""),
            ("server error", 500, b"oops"),
            ("garbage body", 200, b"{not json"),
            ("304 before any snapshot", 304, b""),
        ];
        for (name, status, body) in cases {
            assert!(
                matches!(
                    s.on_answer(1_000, &cfg, status, body),
                    SyncEffect::Failed { .. }
                ),
                "case {name}"
            );
            assert!(!s.poll_due(1_000), "case {name}: waits before retrying");
        }
        assert!(s.poll_due(1_000 + MAX_BACKOFF_MS), "backoff is bounded");
    }
}
