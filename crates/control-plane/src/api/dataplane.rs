//! `GET /dataplane/v1/snapshot`: the gateways' long-poll for policy, authenticated with the
//! data-plane token.
//!
//! `200` with the snapshot as soon as its version differs from `after` (a gateway ahead of us,
//! say after the database was restored, gets ours rather than waiting forever); otherwise the
//! request waits up to `wait_ms` for a change and then answers `304` with an empty body.
//!
//! With `delta=1` (data plane v2 gateways) the `200` carries only what changed since `after`:
//! a [`keybrake_core::shared_policy::PolicyUpdate`] with `"base": after`, the keys issued or
//! revoked since, and credentials, rates and prices only if one of them changed. A gateway
//! holding nothing (`after=0`) or a version this database never reached gets the full snapshot.

use crate::error::ApiError;
use crate::extract::query_pairs;
use crate::snapshot;
use crate::state::AppState;
use crate::store::PollStart;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use keybrake_core::config::MAX_WAIT_MS;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `wait_ms` when the gateway does not say.
pub const DEFAULT_WAIT_MS: u64 = 20_000;
use crate::leases::MAX_ID_CHARS as MAX_GATEWAY_ID_CHARS;

/// The poll's query, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Poll {
    gateway: String,
    /// The Envoy process's own id (`instance=`); an older gateway that sends none is its own
    /// instance, named by `gateway`.
    instance: String,
    after: u64,
    /// At most [`MAX_WAIT_MS`].
    wait_ms: u64,
    /// The gateway applies deltas (`delta=1`).
    delta: bool,
}

fn parse_poll(query: Option<&str>) -> Result<Poll, ApiError> {
    let mut gateway = None;
    let mut instance = None;
    let mut after = 0;
    let mut wait_ms = DEFAULT_WAIT_MS;
    let mut delta = false;
    for (name, value) in query_pairs(query) {
        let number = |field: &str| {
            value.parse::<u64>().map_err(|_| {
                ApiError::invalid(field, format!("{field} must be a non-negative integer"))
            })
        };
        match name.as_str() {
            "gateway" => gateway = Some(value.clone()),
            "instance" => instance = Some(value.clone()),
            "after" => after = number("after")?,
            "wait_ms" => wait_ms = number("wait_ms")?.min(MAX_WAIT_MS),
            "delta" => delta = value == "1",
            // Newer gateways may send more; ignoring it keeps old control planes usable.
            _ => {}
        }
    }
    let gateway = gateway.unwrap_or_default();
    if !crate::leases::is_valid_id(&gateway) {
        return Err(ApiError::invalid(
            "gateway",
            format!("gateway must be 1 to {MAX_GATEWAY_ID_CHARS} characters of letters, digits, '-', '_', '.', ':' or '/'"),
        ));
    }
    let instance = instance.unwrap_or_else(|| gateway.clone());
    if !crate::leases::is_valid_id(&instance) {
        return Err(ApiError::invalid(
            "instance",
            format!("instance must be 1 to {MAX_GATEWAY_ID_CHARS} characters of letters, digits, '-', '_', '.', ':' or '/'"),
        ));
    }
    Ok(Poll {
        gateway,
        instance,
        after,
        wait_ms,
        delta,
    })
}

pub async fn snapshot(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let poll = parse_poll(query.as_deref())?;
    // Held until the answer is built: a gateway counts as polling (live) until then, and a
    // dropped connection still ends its poll.
    let now_ms = state.clock.now_ms();
    let start = PollStart {
        instance: poll.instance.clone(),
        gateway: poll.gateway.clone(),
        version: poll.after,
        now_ms,
        until_ms: now_ms.saturating_add(poll.wait_ms),
    };
    let _polling = state
        .gateways
        .poll_started(&state.store, &state.clock, start)
        .await?;
    let mut version = state.subscribe_version();
    let mut shutdown = state.subscribe_shutdown();
    let changed = tokio::select! {
        r = tokio::time::timeout(
            Duration::from_millis(poll.wait_ms),
            version.wait_for(|v| *v != poll.after),
        ) => matches!(r, Ok(Ok(_))),
        _ = shutdown.wait_for(|stop| *stop) => false,
    };
    if !changed {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let delta = if poll.delta {
        snapshot::build_delta(&state, poll.after).await?
    } else {
        None
    };
    let (body, version, kind) = match delta {
        Some(update) => (
            serde_json::to_vec(&update).map_err(ApiError::internal)?,
            update.version,
            "delta",
        ),
        None => {
            let snap = snapshot::build(&state).await?;
            (
                serde_json::to_vec(&snap).map_err(ApiError::internal)?,
                snap.version,
                "full",
            )
        }
    };
    let counter = if kind == "delta" {
        &state.counters.deltas_served
    } else {
        &state.counters.snapshots_served
    };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(gateway = %poll.gateway, instance = %poll.instance, version, kind, bytes = body.len(), "sent policy");
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_queries_parse_with_defaults_and_caps() {
        let p = parse_poll(Some("gateway=gw-1")).unwrap();
        assert_eq!((p.after, p.wait_ms), (0, DEFAULT_WAIT_MS));
        assert_eq!(p.instance, "gw-1", "an old gateway is its own instance");
        let p = parse_poll(Some(
            "gateway=gw-1&instance=0a1b2c&after=7&wait_ms=999999&future=1",
        ))
        .unwrap();
        assert_eq!((p.after, p.wait_ms), (7, MAX_WAIT_MS));
        assert_eq!(
            (p.gateway.as_str(), p.instance.as_str()),
            ("gw-1", "0a1b2c")
        );
        let cases = [
            ("no gateway", "after=1", "gateway"),
            ("empty gateway", "gateway=", "gateway"),
            ("gateway with space", "gateway=a%20b", "gateway"),
            ("negative after", "gateway=g&after=-1", "after"),
            ("word wait", "gateway=g&wait_ms=soon", "wait_ms"),
            (
                "instance with space",
                "gateway=g&instance=a%20b",
                "instance",
            ),
        ];
        for (name, query, field) in cases {
            let err = parse_poll(Some(query)).expect_err(name);
            assert!(
                matches!(&err, ApiError::InvalidRequest { field: Some(f), .. } if f == field),
                "case {name}: {err:?}"
            );
        }
    }
}
