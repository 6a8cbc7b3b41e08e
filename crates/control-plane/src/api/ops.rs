//! Unauthenticated operational endpoints: `/healthz`, `/metrics`, and the JSON fallbacks.

use crate::error::{ApiError, LogThrottle};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A gateway counts as connected when it polled within this window (a long-poll lasts at most
/// `keybrake_core::config::MAX_WAIT_MS`).
const CONNECTED_WITHIN_MS: u64 = 2 * keybrake_core::config::MAX_WAIT_MS;

/// How long `/healthz` waits for the database's answer before it reports it unreachable
/// (Envoy's health check of the control-plane cluster times out after 1 s).
const HEALTH_DB_TIMEOUT: Duration = Duration::from_millis(800);
/// At most one log line per this many milliseconds while the database stays unreachable
/// (every gateway asks every second).
const HEALTH_LOG_EVERY_MS: u64 = 10_000;

/// `200 {"status":"ok","database":"ok"}` when the database answers a trivial query within
/// [`HEALTH_DB_TIMEOUT`]; else `503 {"status":"unavailable","database":"unreachable"}`, so
/// gateways' health checks send their lease requests and polls to a replica that can answer
/// them. The cause goes to the log, never into the answer.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    static THROTTLE: LogThrottle = LogThrottle::new(HEALTH_LOG_EVERY_MS);
    let failure = match tokio::time::timeout(HEALTH_DB_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} ms",
            HEALTH_DB_TIMEOUT.as_millis()
        )),
    };
    match failure {
        None => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Some(cause) => {
            if THROTTLE.admit(state.clock.now_ms()).is_some() {
                tracing::warn!(
                    database = state.store.kind(),
                    %cause,
                    "health check: the database is unreachable; answering 503"
                );
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound {
        field: None,
        message: "no such endpoint".to_owned(),
    }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Prometheus text exposition format, version 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now_ms();
    let counts = state.store.key_counts(now).await?;
    let c = &state.counters;
    let mut out = String::new();
    metric(
        &mut out,
        "keybrake_keys_issued_total",
        "counter",
        "Vault keys issued.",
        counts.issued,
    );
    metric(
        &mut out,
        "keybrake_keys_active",
        "gauge",
        "Vault keys neither expired nor revoked.",
        counts.active,
    );
    metric(
        &mut out,
        "keybrake_keys_revoked",
        "gauge",
        "Vault keys revoked.",
        counts.revoked,
    );
    metric(
        &mut out,
        "keybrake_snapshot_version",
        "gauge",
        "Current policy snapshot version.",
        state.version(),
    );
    metric(
        &mut out,
        "keybrake_admin_auth_failures_total",
        "counter",
        "Admin API requests refused for a missing or wrong admin key.",
        c.admin_auth_failures.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "keybrake_dataplane_auth_failures_total",
        "counter",
        "Gateway requests refused for a missing or wrong data-plane token.",
        c.dataplane_auth_failures.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "keybrake_snapshots_served_total",
        "counter",
        "Full policy snapshots sent to gateways.",
        c.snapshots_served.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "keybrake_deltas_served_total",
        "counter",
        "Policy deltas (the changes since a gateway's version) sent to gateways.",
        c.deltas_served.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "keybrake_propagation_timeouts_total",
        "counter",
        "Changes that some live gateway did not confirm within the propagation wait.",
        c.propagation_timeouts.load(Ordering::Relaxed),
    );
    let lease_counters = [
        (
            "keybrake_lease_grants_total",
            "Lease requests answered with a larger lease.",
            &c.lease_grants,
        ),
        (
            "keybrake_lease_denials_total",
            "Lease requests the daily cap had no room for (answered with the lease unchanged).",
            &c.lease_denials,
        ),
        (
            "keybrake_lease_reclaims_total",
            "Lease requests that asked other gateway instances to release unused lease.",
            &c.lease_reclaims,
        ),
        (
            "keybrake_usage_reports_total",
            "Usage reports received from gateway instances.",
            &c.usage_reports,
        ),
    ];
    for (name, help, counter) in lease_counters {
        metric(
            &mut out,
            name,
            "counter",
            help,
            counter.load(Ordering::Relaxed),
        );
    }
    let live = state.store.instances_live(state.live_since_ms(now)).await?;
    metric(
        &mut out,
        "keybrake_instances_live",
        "gauge",
        "Gateway instances (Envoy processes) heard from within the instance TTL.",
        live,
    );
    let connected = state
        .gateways
        .connected(&state.store, now, CONNECTED_WITHIN_MS)
        .await?;
    metric(
        &mut out,
        "keybrake_gateways_connected",
        "gauge",
        "Gateways that polled for a snapshot recently.",
        u64::try_from(connected).unwrap_or(u64::MAX),
    );
    let streams = state.store.audit_streams().await?;
    let live_since = state.live_since_ms(now);
    let gap_records: u64 = streams
        .iter()
        .filter(|s| !s.is_live(live_since))
        .map(|s| s.missing())
        .sum();
    let dropped: u64 = streams.iter().map(|s| s.dropped_total).sum();
    let audit = [
        (
            "keybrake_audit_records_stored_total",
            "counter",
            "Audit records stored (a resent record is not counted again).",
            c.audit_records_stored.load(Ordering::Relaxed),
        ),
        (
            "keybrake_audit_batches_total",
            "counter",
            "Audit batches received from gateway instances.",
            c.audit_batches.load(Ordering::Relaxed),
        ),
        (
            "keybrake_audit_gap_records",
            "gauge",
            "Audit records numbered by gateway instances that are now dead and never delivered.",
            gap_records,
        ),
        (
            "keybrake_audit_dropped_records",
            "gauge",
            "Audit records gateway instances reported dropping because their buffer was full.",
            dropped,
        ),
    ];
    for (name, kind, help, value) in audit {
        metric(&mut out, name, kind, help, value);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
