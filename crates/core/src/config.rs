//! Plugin configuration of the filter and of the sync service (the JSON in Envoy's
//! `configuration`), and the gateway-facing sync protocol both sides speak.

use serde::{Deserialize, Serialize};

/// Path of the control plane's snapshot long-poll.
pub const SNAPSHOT_PATH: &str = "/dataplane/v1/snapshot";
/// Query parameters: `gateway` (id), `after` (the version held, 0 for none), `wait_ms`.
/// Answers `200` with a [`crate::Snapshot`] newer than `after`, or `304` when nothing changed
/// within `wait_ms`. Authenticated with `Authorization: Bearer <data-plane token>`.
pub const MAX_WAIT_MS: u64 = 60_000;

/// Shared-data key where the sync service publishes [`DataplaneInfo`] for the workers.
pub const SHARED_DATAPLANE_KEY: &str = "keybrake/dataplane";
/// Shared queue (registered by the sync service) on which workers name keys whose budget
/// record changed, so the sync service reports them.
pub const USAGE_QUEUE: &str = "keybrake/usage";

/// How workers reach the control plane for lease refills, published by the sync service so the
/// token and instance id live in one place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneInfo {
    pub cluster: String,
    pub authority: String,
    pub token: String,
    pub gateway: String,
    /// Random per Envoy process: a restarted gateway is a new instance.
    pub instance: String,
}

/// The HTTP filter's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Refuse every call (`policy_unavailable`) when the control plane has not confirmed the
    /// snapshot for this long. Must exceed the sync service's `poll_wait_ms`.
    pub max_snapshot_age_ms: u64,
    /// Costed requests with a larger body are refused (`bad_request`).
    pub max_request_body_bytes: usize,
    /// How long a worker waits for the control plane to grow its lease.
    pub lease_timeout_ms: u64,
    /// Whether Envoy hands the filter a request's body while the filter holds its headers:
    /// true when the filter's `PluginConfig` sets `allow_on_headers_stop_iteration: true` (the
    /// shipped Envoy configs and the Istio `EnvoyFilter` variant do). Istio's `WasmPlugin` cannot
    /// set it; there this must be `false`: a call priced from its body then sends its headers
    /// on (with the vendor's credential) and the filter holds the body instead, pricing and
    /// reserving before the body goes on; a refusal resets the upstream stream before the body
    /// completes, so the vendor never receives a whole request. (Pausing on the headers there
    /// would hold the body back from the filter too, until the client timed out.)
    pub headers_pause_delivers_body: bool,
    /// How a call's access-log fields reach Envoy's access log ([`AccessLogFields`]).
    pub access_log_fields: AccessLogFields,
}

/// How the filter hands a call's access-log fields to Envoy (filter config
/// `"access_log_fields"`). The eight entries cost Envoy 10–20 µs of CPU on an allowed call on
/// the bench machine, most of it the first entry (`bench/RESULTS.md`, section 6): measured
/// against `Each` in the same rounds, `Record` saved 6–20 µs a costed call and `None` 16–21.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLogFields {
    /// One entry per field, `wasm.keybrake_vendor` … `wasm.keybrake_spend_usd`, each printed
    /// with `%FILTER_STATE(wasm.keybrake_NAME:PLAIN)%` (up to eight per call).
    #[default]
    Each,
    /// One entry, `wasm.keybrake`, holding the same fields as one JSON object without the
    /// `keybrake_` prefix (`{"vendor":"stripe","key_id":"…","decision":"allow",…}`), printed
    /// with `%FILTER_STATE(wasm.keybrake:PLAIN)%`.
    Record,
    /// No access-log fields; the audit trail still gets every call.
    None,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            max_snapshot_age_ms: 60_000,
            max_request_body_bytes: crate::cost::MAX_REQUEST_BODY,
            lease_timeout_ms: 3_000,
            headers_pause_delivers_body: true,
            access_log_fields: AccessLogFields::Each,
        }
    }
}

/// The sync service's configuration (the bootstrap singleton).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Envoy cluster of the control plane.
    pub cluster: String,
    /// `:authority` sent to the control plane.
    pub authority: String,
    /// Names this gateway to the control plane. Must not be empty.
    pub gateway_id: String,
    /// How long the control plane may hold a long-poll open.
    pub poll_wait_ms: u64,
    /// Pause after a failed poll before the next one.
    pub retry_ms: u64,
    /// Environment variable holding the data-plane token (exposed to the VM through
    /// `vm_config.environment_variables.host_env_keys`).
    pub token_env: String,
    /// Audit records kept while the control plane is away; beyond this they are counted as
    /// dropped (they remain in Envoy's access log).
    pub audit_buffer_records: usize,
    /// Audit records per batch.
    pub audit_batch_records: usize,
    /// How long one audit batch may take before it is sent again.
    pub audit_timeout_ms: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            cluster: "keybrake_control_plane".into(),
            authority: "keybrake-control-plane".into(),
            gateway_id: "gateway".into(),
            poll_wait_ms: 20_000,
            retry_ms: 500,
            token_env: "KEYBRAKE_DATAPLANE_TOKEN".into(),
            audit_buffer_records: crate::outbox::DEFAULT_CAPACITY,
            audit_batch_records: crate::outbox::DEFAULT_BATCH,
            audit_timeout_ms: 5_000,
        }
    }
}

/// A configuration value serde accepted but keybrake cannot run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ConfigError {
    /// The offending field, as the JSON names it.
    pub field: &'static str,
    /// What is wrong with it, for the operator.
    pub problem: &'static str,
}

impl SyncConfig {
    /// Checks the invariants serde cannot: a gateway id safe to put in a URL, names that are
    /// not empty, a long-poll that waits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let id_ok = !self.gateway_id.is_empty()
            && self.gateway_id.len() <= 64
            && self
                .gateway_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(ConfigError {
                field: "gateway_id",
                problem: "must be 1-64 letters, digits, '-', '_' or '.'",
            });
        }
        for (field, value) in [
            ("cluster", &self.cluster),
            ("authority", &self.authority),
            ("token_env", &self.token_env),
        ] {
            if value.is_empty() {
                return Err(ConfigError {
                    field,
                    problem: "must not be empty",
                });
            }
        }
        if self.poll_wait_ms == 0 {
            return Err(ConfigError {
                field: "poll_wait_ms",
                problem: "must be greater than zero",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
