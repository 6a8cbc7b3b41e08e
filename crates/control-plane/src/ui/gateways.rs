//! The Gateways page: each gateway's snapshot version and last poll, and each gateway
//! instance's audit sequence (last seen, records missing, records dropped), as
//! `GET /audit/gaps` reports them.

use super::guard::Operator;
use super::page::{render, UiError};
use super::view::time;
use crate::gateways::is_live;
use crate::state::AppState;
use crate::wire::audit::GapsView;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

struct GatewayLine {
    id: String,
    instance: String,
    version: u64,
    current: bool,
    polling: bool,
    live: bool,
    last_seen: String,
}

struct InstanceLine {
    gateway: String,
    instance: String,
    live: bool,
    last_seen: String,
    numbered: u64,
    stored_through: u64,
    missing: u64,
    /// Dead with records missing: they are lost to the trail.
    gap: bool,
    dropped: u64,
}

#[derive(Template)]
#[template(path = "ui/gateways.html")]
struct GatewaysPage {
    csrf: String,
    version: u64,
    gateways: Vec<GatewayLine>,
    instances: Vec<InstanceLine>,
    gaps: u64,
}

/// `GET /ui/gateways`.
pub async fn page(State(state): State<AppState>, op: Operator) -> Result<Response, UiError> {
    let now = state.clock.now_ms();
    let version = state.version();
    let gateways = state
        .gateways
        .all(&state.store, now)
        .await?
        .into_iter()
        .map(|g| GatewayLine {
            live: is_live(&g, now),
            polling: g.polling_until_ms >= now,
            current: g.version >= version,
            version: g.version,
            last_seen: time(g.last_seen_ms),
            id: g.gateway,
            instance: g.instance,
        })
        .collect();
    let streams = state.store.audit_streams().await?;
    let view = GapsView::new(&streams, state.live_since_ms(now));
    let instances = view
        .instances
        .into_iter()
        .map(|i| InstanceLine {
            gap: !i.live && i.missing > 0,
            last_seen: i.last_seen.replacen('T', " ", 1),
            gateway: i.gateway,
            instance: i.instance,
            live: i.live,
            numbered: i.numbered,
            stored_through: i.stored_through,
            missing: i.missing,
            dropped: i.dropped_total,
        })
        .collect();
    let page = GatewaysPage {
        csrf: op.session.csrf,
        version,
        gateways,
        instances,
        gaps: view.gaps.iter().map(|g| g.missing).sum(),
    };
    Ok(render(StatusCode::OK, &page))
}
