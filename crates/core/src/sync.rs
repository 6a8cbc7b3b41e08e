//! The sync service's state machine: when to long-poll the control plane for policy, and what
//! to write to shared data with each answer (full snapshots and deltas, published through
//! [`crate::shared_policy::Publisher`]). The wasm adapter only performs the calls.

use crate::backoff::Backoff;
use crate::config::{SyncConfig, MAX_WAIT_MS, SNAPSHOT_PATH};
use crate::shared_policy::Applied;
use crate::snapshot::SyncStatus;

/// Slack added to the long-poll's own wait before the gateway gives up on a call.
pub const CALL_TIMEOUT_SLACK_MS: u64 = 5_000;
/// Longest pause between failed polls (jitter included).
pub const MAX_BACKOFF_MS: u64 = 5_000;
/// Pause after the host refused to send a poll (at most the configuration's `retry_ms`).
/// Nothing left the gateway, so nothing is backed off: Envoy refuses, for example, while the
/// control-plane cluster has no endpoint it may route to.
pub const NOT_SENT_RETRY_MS: u64 = 100;

#[derive(Debug, Default)]
pub struct SyncState {
    held_version: u64,
    /// The version of the credentials, rates and prices in shared data.
    globals_version: u64,
    in_flight: bool,
    next_poll_at_ms: u64,
    /// Built at the first failure, from the configuration's `retry_ms`.
    backoff: Option<Backoff>,
    /// The last poll failed: the next one asks the control plane to answer at once
    /// (`wait_ms=0`) instead of holding the request for `poll_wait_ms`. After an outage long
    /// enough for the policy to go stale, workers refuse every call until a poll confirms it;
    /// a long-poll held open for 20 s would keep refusing them that long after the control
    /// plane came back.
    answer_at_once: bool,
    /// Polls the host refused to send, in a row.
    not_sent: u32,
}

/// What to do with an answer from the control plane.
#[derive(Debug, PartialEq)]
pub enum SyncEffect {
    /// The body is a policy update for `held_version`: publish it
    /// ([`crate::shared_policy::Publisher::apply_json`]), then call [`SyncState::published`]
    /// and write the status it returns; or [`SyncState::publish_failed`] if that failed.
    Publish { held_version: u64 },
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
    /// `instance` is this Envoy process's own id (the control plane tracks propagation per
    /// instance; `gateway` only names the group).
    /// `wait_ms` is 0 right after a failed poll (see `answer_at_once`).
    pub fn poll_path(&self, config: &SyncConfig, instance: &str) -> String {
        format!(
            "{SNAPSHOT_PATH}?gateway={}&instance={instance}&after={}&wait_ms={}&delta=1",
            config.gateway_id,
            self.held_version,
            if self.answer_at_once {
                0
            } else {
                config.poll_wait_ms.min(MAX_WAIT_MS)
            }
        )
    }

    pub fn call_timeout_ms(config: &SyncConfig) -> u64 {
        config.poll_wait_ms.min(MAX_WAIT_MS) + CALL_TIMEOUT_SLACK_MS
    }

    pub fn poll_started(&mut self) {
        self.in_flight = true;
    }

    /// The host refused to dispatch the call (no healthy control-plane endpoint yet, an
    /// unknown cluster, …): tried again after [`NOT_SENT_RETRY_MS`]. Returns true for the first
    /// refusal in a row (the one worth a log line).
    pub fn poll_not_started(&mut self, now_ms: u64, config: &SyncConfig) -> bool {
        self.in_flight = false;
        self.not_sent = self.not_sent.saturating_add(1);
        self.next_poll_at_ms = now_ms.saturating_add(NOT_SENT_RETRY_MS.min(config.retry_ms));
        self.not_sent == 1
    }

    /// An answer arrived: `status` is 0 when the call failed without one.
    pub fn on_answer(&mut self, now_ms: u64, config: &SyncConfig, status: u32) -> SyncEffect {
        self.in_flight = false;
        self.not_sent = 0;
        match status {
            200 => SyncEffect::Publish {
                held_version: self.held_version,
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

    /// The update was written to shared data: the status to write now, which tells workers.
    pub fn published(&mut self, now_ms: u64, applied: &Applied) -> SyncStatus {
        self.succeeded();
        self.next_poll_at_ms = now_ms;
        self.held_version = applied.version;
        if applied.globals {
            self.globals_version = applied.version;
        }
        SyncStatus {
            version: self.held_version,
            confirmed_at_ms: now_ms,
            globals_version: self.globals_version,
        }
    }

    /// The update could not be read or written to shared data: ask for everything, after a
    /// pause.
    pub fn publish_failed(&mut self, now_ms: u64, config: &SyncConfig) {
        self.held_version = 0;
        self.globals_version = 0;
        self.back_off(now_ms, config);
    }

    fn back_off(&mut self, now_ms: u64, config: &SyncConfig) {
        self.answer_at_once = true;
        let pause = self
            .backoff
            .get_or_insert_with(|| Backoff::new(config.retry_ms, MAX_BACKOFF_MS))
            .failed();
        self.next_poll_at_ms = now_ms.saturating_add(pause);
    }

    fn succeeded(&mut self) {
        self.answer_at_once = false;
        if let Some(b) = self.backoff.as_mut() {
            b.succeeded();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::MemoryHost;
    use crate::shared_policy::{PolicyUpdate, Publisher};
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

    /// Runs an answer through the state and a publisher, as the sync service does.
    fn answer(s: &mut SyncState, now: u64, status: u32, body: &[u8]) -> Result<SyncStatus, String> {
        let cfg = SyncConfig::default();
        match s.on_answer(now, &cfg, status) {
            SyncEffect::Publish { held_version } => {
                let host = MemoryHost::default();
                match Publisher::default().apply_json(&host, body, held_version, now, 0) {
                    Ok(applied) => Ok(s.published(now, &applied)),
                    Err(e) => {
                        s.publish_failed(now, &cfg);
                        Err(e.to_string())
                    }
                }
            }
            SyncEffect::Confirm { status } => Ok(status),
            SyncEffect::Failed { reason } => Err(reason),
        }
    }

    #[test]
    fn first_poll_asks_for_everything_and_stores_the_answer() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        assert!(s.poll_due(0));
        let path = s.poll_path(&cfg, "0a1b");
        assert!(
            path.contains("instance=0a1b&after=0") && path.contains("delta=1"),
            "{path}"
        );
        s.poll_started();
        assert!(!s.poll_due(10), "one poll at a time");
        let status = answer(&mut s, 100, 200, &snapshot_body(4)).unwrap();
        assert_eq!(
            status,
            SyncStatus {
                version: 4,
                confirmed_at_ms: 100,
                globals_version: 4,
            }
        );
        assert!(s.poll_due(100), "the next long-poll starts at once");
        assert!(s.poll_path(&cfg, "0a1b").contains("after=4"));
    }

    #[test]
    fn deltas_apply_on_the_version_held_and_keep_the_globals_version_unless_they_carry_globals() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        answer(&mut s, 1, 200, &snapshot_body(4)).unwrap();
        let status = answer(&mut s, 2, 200, &delta_body(4, 6, false)).unwrap();
        assert_eq!((status.version, status.globals_version), (6, 4));
        let status = answer(&mut s, 3, 200, &delta_body(6, 7, true)).unwrap();
        assert_eq!((status.version, status.globals_version), (7, 7));
        assert!(s.poll_path(&cfg, "0a1b").contains("after=7"));
    }

    #[test]
    fn a_delta_from_another_version_or_an_unreadable_update_asks_for_everything() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        answer(&mut s, 1, 200, &snapshot_body(4)).unwrap();
        let err = answer(&mut s, 2, 200, &delta_body(3, 6, false)).unwrap_err();
        assert!(err.contains("from version 3 while holding 4"), "{err}");
        assert!(s.poll_path(&cfg, "0a1b").contains("after=0"));
        assert!(!s.poll_due(2), "after a pause");
        answer(&mut s, 10_000, 200, &snapshot_body(6)).unwrap();
        for bad in [
            &b"{not json"[..],
            b"[]",
            br#"{"version":7}"#,
            br#"{"version":7,"keys":[]}"#,
        ] {
            answer(&mut s, 20_000, 200, &snapshot_body(6)).unwrap();
            assert!(answer(&mut s, 20_001, 200, bad).is_err(), "{bad:?}");
            assert!(s.poll_path(&cfg, "0a1b").contains("after=0"), "{bad:?}");
        }
    }

    #[test]
    fn not_modified_renews_freshness_of_the_held_version() {
        let mut s = SyncState::default();
        answer(&mut s, 1, 200, &snapshot_body(2)).unwrap();
        assert_eq!(
            answer(&mut s, 500, 304, b""),
            Ok(SyncStatus {
                version: 2,
                confirmed_at_ms: 500,
                globals_version: 2,
            })
        );
    }

    #[test]
    fn failures_back_off_and_do_not_renew() {
        let cfg = SyncConfig {
            retry_ms: 100,
            ..SyncConfig::default()
        };
        let mut s = SyncState::default();
        let cases: [(&str, u32); 3] = [
            ("no answer", 0),
            ("server error", 500),
            ("304 before any snapshot", 304),
        ];
        for (name, status) in cases {
            assert!(
                matches!(s.on_answer(1_000, &cfg, status), SyncEffect::Failed { .. }),
                "case {name}"
            );
            assert!(!s.poll_due(1_000), "case {name}: waits before retrying");
        }
        assert!(s.poll_due(1_000 + MAX_BACKOFF_MS), "backoff is bounded");
    }

    #[test]
    fn a_poll_the_host_refused_to_send_is_tried_again_soon_and_logged_once() {
        let cfg = SyncConfig::default();
        let mut s = SyncState::default();
        s.poll_started();
        assert!(
            s.poll_not_started(1_000, &cfg),
            "the first refusal is logged"
        );
        assert!(!s.poll_due(1_000 + NOT_SENT_RETRY_MS - 1));
        assert!(
            s.poll_due(1_000 + NOT_SENT_RETRY_MS),
            "no backoff: nothing was sent"
        );
        for n in 1..20 {
            let now = 1_000 + n * NOT_SENT_RETRY_MS;
            assert!(!s.poll_not_started(now, &cfg), "refusals in a row are not");
            assert!(s.poll_due(now + NOT_SENT_RETRY_MS));
        }
        // Once a poll goes out and is answered, the next refusal is worth a line again.
        s.poll_started();
        s.on_answer(9_000, &cfg, 500);
        assert!(s.poll_not_started(20_000, &cfg));
    }

    /// After an outage the policy may be stale and every call refused: the first poll after a
    /// failure must be answered at once, not held for `poll_wait_ms`, and long-polls resume
    /// once one succeeds.
    #[test]
    fn the_poll_after_a_failure_asks_for_an_answer_at_once() {
        let cfg = SyncConfig::default();
        let wait = |s: &SyncState| {
            let path = s.poll_path(&cfg, "i");
            let w = path.split("wait_ms=").nth(1).unwrap();
            w.split('&').next().unwrap().parse::<u64>().unwrap()
        };
        let mut s = SyncState::default();
        answer(&mut s, 100, 200, &snapshot_body(4)).unwrap();
        assert_eq!(wait(&s), cfg.poll_wait_ms, "a long-poll while all is well");
        for status in [0, 500, 503] {
            s.on_answer(1_000, &cfg, status);
            assert_eq!(wait(&s), 0, "after {status}: answer at once");
        }
        answer(&mut s, 9_000, 304, b"").unwrap();
        assert_eq!(
            wait(&s),
            cfg.poll_wait_ms,
            "long-polls again once confirmed"
        );
        s.publish_failed(10_000, &cfg);
        assert_eq!(wait(&s), 0, "an unreadable update too");
        answer(&mut s, 20_000, 200, &snapshot_body(5)).unwrap();
        assert_eq!(wait(&s), cfg.poll_wait_ms);
    }
}
