//! The sync service's state machine: when to long-poll the control plane for policy, and what
//! to write to shared data with each answer (full snapshots and deltas, published through
//! [`crate::shared_policy::Publisher`]). The wasm adapter only performs the calls.

use crate::backoff::Backoff;
use crate::config::{SyncConfig, MAX_WAIT_MS, SNAPSHOT_PATH};
use crate::shared_policy::PolicyUpdate;
use crate::snapshot::SyncStatus;

/// Slack added to the long-poll's own wait before the gateway gives up on a call.
pub const CALL_TIMEOUT_SLACK_MS: u64 = 5_000;
/// Longest pause between failed polls (jitter included).
pub const MAX_BACKOFF_MS: u64 = 5_000;

#[derive(Debug, Default)]
pub struct SyncState {
    held_version: u64,
    /// The version of the credentials, rates and prices in shared data.
    globals_version: u64,
    in_flight: bool,
    next_poll_at_ms: u64,
    /// Built at the first failure, from the configuration's `retry_ms`.
    backoff: Option<Backoff>,
}

/// What to do with an answer from the control plane.
#[derive(Debug, PartialEq)]
pub enum SyncEffect {
    /// Publish `update` ([`crate::shared_policy::Publisher::apply`]), then write `status` to
    /// the status key: a worker that sees the version finds every slot and record. If it
    /// cannot be published, call [`SyncState::publish_failed`].
    Publish {
        status: SyncStatus,
        update: Box<PolicyUpdate>,
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

    /// The `:path` of the next long-poll; `delta=1` asks for the changes since `after`.
    pub fn poll_path(&self, config: &SyncConfig) -> String {
        format!(
            "{SNAPSHOT_PATH}?gateway={}&after={}&wait_ms={}&delta=1",
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
            200 => match serde_json::from_slice::<PolicyUpdate>(body) {
                Ok(update) if update.base.is_some_and(|b| b != self.held_version) => {
                    // A delta for a version this gateway does not hold: start over.
                    let reason = format!(
                        "a delta from version {} while holding {}; asking for everything",
                        update.base.unwrap_or_default(),
                        self.held_version
                    );
                    self.publish_failed(now_ms, config);
                    SyncEffect::Failed { reason }
                }
                Ok(update) => {
                    self.succeeded();
                    self.next_poll_at_ms = now_ms;
                    self.held_version = update.version;
                    if update.credentials.is_some() {
                        self.globals_version = update.version;
                    }
                    SyncEffect::Publish {
                        status: SyncStatus {
                            version: update.version,
                            confirmed_at_ms: now_ms,
                            globals_version: self.globals_version,
                        },
                        update: Box::new(update),
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
                        globals_version: self.globals_version,
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

    /// The update could not be written to shared data: ask for everything, after a pause.
    pub fn publish_failed(&mut self, now_ms: u64, config: &SyncConfig) {
        self.held_version = 0;
        self.globals_version = 0;
        self.back_off(now_ms, config);
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
    use crate::snapshot::Snapshot;

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

    fn delta_body(base: u64, version: u64, globals: bool) -> Vec<u8> {
        serde_json::to_vec(&PolicyUpdate {
            version,
            generated_at_ms: 0,
            base: Some(base),
            keys: vec![],
            credentials: globals.then(Vec::new),
            rates: None,
            prices: None,
        })
        .unwrap()
    }

    fn published(eff: SyncEffect) -> (SyncStatus, Option<u64>) {
        match eff {
            SyncEffect::Publish { status, update } => (status, update.base),
            other => panic!("expected a publish, got {other:?}"),
        }
    }

    #[test]
    fn first_poll_asks_for_everything_and_stores_the_answer() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        assert!(s.poll_due(0));
        let path = s.poll_path(&cfg);
        assert!(
            path.contains("after=0") && path.contains("delta=1"),
            "{path}"
        );
        s.poll_started();
        assert!(!s.poll_due(10), "one poll at a time");
        let (status, base) = published(s.on_answer(100, &cfg, 200, &snapshot_body(4)));
        assert_eq!(
            status,
            SyncStatus {
                version: 4,
                confirmed_at_ms: 100,
                globals_version: 4,
            }
        );
        assert_eq!(base, None, "a full snapshot");
        assert!(s.poll_due(100), "the next long-poll starts at once");
        assert!(s.poll_path(&cfg).contains("after=4"));
    }

    #[test]
    fn deltas_apply_on_the_version_held_and_keep_the_globals_version_unless_they_carry_globals() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        published(s.on_answer(1, &cfg, 200, &snapshot_body(4)));
        let (status, base) = published(s.on_answer(2, &cfg, 200, &delta_body(4, 6, false)));
        assert_eq!(
            (status.version, status.globals_version, base),
            (6, 4, Some(4))
        );
        let (status, _) = published(s.on_answer(3, &cfg, 200, &delta_body(6, 7, true)));
        assert_eq!((status.version, status.globals_version), (7, 7));
        assert!(s.poll_path(&cfg).contains("after=7"));
    }

    #[test]
    fn a_delta_from_another_version_or_a_failed_publish_asks_for_everything() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        published(s.on_answer(1, &cfg, 200, &snapshot_body(4)));
        assert!(matches!(
            s.on_answer(2, &cfg, 200, &delta_body(3, 6, false)),
            SyncEffect::Failed { .. }
        ));
        assert!(s.poll_path(&cfg).contains("after=0"));
        published(s.on_answer(10_000, &cfg, 200, &snapshot_body(6)));
        s.publish_failed(10_001, &cfg);
        assert!(s.poll_path(&cfg).contains("after=0"));
        assert!(!s.poll_due(10_001), "after a pause");
    }

    #[test]
    fn not_modified_renews_freshness_of_the_held_version() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        published(s.on_answer(1, &cfg, 200, &snapshot_body(2)));
        assert_eq!(
            s.on_answer(500, &cfg, 304, b""),
            SyncEffect::Confirm {
                status: SyncStatus {
                    version: 2,
                    confirmed_at_ms: 500,
                    globals_version: 2,
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
