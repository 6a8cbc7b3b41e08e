//! The sync service (bootstrap singleton): long-polls the control plane and publishes each
//! snapshot to shared data, snapshot first and status second.

use crate::host;
use keybrake_core::config::SyncConfig;
use keybrake_core::snapshot::{SHARED_SNAPSHOT_KEY, SHARED_STATUS_KEY};
use keybrake_core::sync::{SyncEffect, SyncState};
use std::time::Duration;

/// How often the service checks whether a poll is due.
pub const TICK: Duration = Duration::from_millis(100);

pub struct SyncService {
    config: SyncConfig,
    token: String,
    state: SyncState,
    in_flight: Option<u32>,
}

impl SyncService {
    pub fn configure(raw: &[u8]) -> Result<Self, String> {
        let raw = if raw.is_empty() {
            b"{}".as_slice()
        } else {
            raw
        };
        let config: SyncConfig = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        config.validate()?;
        let token = std::env::var(&config.token_env).unwrap_or_default();
        if token.is_empty() {
            return Err(format!(
                "the data-plane token is missing: set {} in Envoy's environment and list it in vm_config.environment_variables.host_env_keys",
                config.token_env
            ));
        }
        Ok(Self {
            config,
            token,
            state: SyncState::default(),
            in_flight: None,
        })
    }

    pub fn same_config(&self, other: &Self) -> bool {
        self.config == other.config && self.token == other.token
    }

    pub fn on_tick(&mut self) {
        if self.state.poll_due(host::now_ms()) {
            self.poll();
        }
    }

    fn poll(&mut self) {
        let path = self.state.poll_path(&self.config);
        let auth = format!("Bearer {}", self.token);
        let headers = vec![
            (":method", "GET"),
            (":path", path.as_str()),
            (":authority", self.config.authority.as_str()),
            ("authorization", auth.as_str()),
        ];
        let timeout = Duration::from_millis(SyncState::call_timeout_ms(&self.config));
        match host::dispatch_get(&self.config.cluster, headers, timeout) {
            Ok(token) => {
                self.in_flight = Some(token);
                self.state.poll_started();
            }
            Err(e) => {
                log::warn!(
                    "keybrake sync: cannot call cluster {:?}: {e:?}",
                    self.config.cluster
                );
                self.state.poll_not_started(host::now_ms(), &self.config);
            }
        }
    }

    pub fn on_answer(&mut self, token: u32, num_headers: usize, body_size: usize) {
        if self.in_flight != Some(token) {
            return;
        }
        self.in_flight = None;
        // After a failed call there are no headers, and reading them would trap.
        let status = if num_headers == 0 {
            0
        } else {
            host::call_response_header(":status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let body = if status == 200 {
            host::call_response_body(body_size)
        } else {
            Vec::new()
        };
        let now = host::now_ms();
        match self.state.on_answer(now, &self.config, status, &body) {
            SyncEffect::StoreSnapshot { status } => {
                if host::set_shared_data(SHARED_SNAPSHOT_KEY, &body).is_ok() {
                    let _ = host::set_shared_data(SHARED_STATUS_KEY, &status.encode());
                    log::info!(
                        "keybrake sync: snapshot version {} published",
                        status.version
                    );
                }
            }
            SyncEffect::Confirm { status } => {
                let _ = host::set_shared_data(SHARED_STATUS_KEY, &status.encode());
            }
            SyncEffect::Failed { reason } => {
                log::warn!("keybrake sync: {reason}; retrying");
            }
        }
        // Long-poll again at once when the answer was good; otherwise the tick retries later.
        if self.state.poll_due(now) {
            self.poll();
        }
    }
}
