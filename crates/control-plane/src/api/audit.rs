//! The audit trail: `POST /dataplane/v1/audit` (gateways, data-plane token) stores records;
//! `GET /audit`, `GET /audit/gaps` and `GET /spend` (admin) read them.

use crate::audit::{AuditFilter, Cursor, ValidBatch};
use crate::error::ApiError;
use crate::extract::{query_pairs, ApiJson};
use crate::state::AppState;
use crate::wire::audit::{
    parse_audit_query, parse_spend_query, AuditPage, AuditQuery, AuditRecordView, GapsView,
    SpendView, DAY_MS,
};
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::Json;
use keybrake_core::audit::{AuditAck, AuditBatch};
use std::sync::atomic::Ordering;

/// `POST /dataplane/v1/audit`: stores the batch, then acknowledges what is stored. Answered
/// only after the commit, so an acknowledged record survives a crash of the control plane.
///
/// The work runs in its own task, so that a connection lost while the batch is being stored
/// (the gateway gave up waiting) does not cancel it half-way: the batch is still stored, and the
/// instance's counters (and a gap, if it died) are known even if it never asks again. `serve`
/// keeps requests whose client closed its side from being dropped unread.
pub async fn ingest(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<AuditAck>, ApiError> {
    tokio::spawn(store_batch(state, req))
        .await
        .map_err(ApiError::internal)?
}

async fn store_batch(state: AppState, req: Request) -> Result<Json<AuditAck>, ApiError> {
    let ApiJson(batch) = ApiJson::<AuditBatch>::from_request(req, &state).await?;
    let batch = ValidBatch::parse(batch)?;
    let instance = batch.instance.id.clone();
    let entries = batch.entries.len();
    let done = state
        .store
        .ingest_audit(batch, state.clock.now_ms())
        .await?;
    let c = &state.counters;
    c.audit_batches.fetch_add(1, Ordering::Relaxed);
    c.audit_records_stored
        .fetch_add(done.stored, Ordering::Relaxed);
    tracing::debug!(%instance, entries, stored = done.stored, acked_through = done.acked_through, "audit batch");
    Ok(Json(AuditAck {
        acked_through: done.acked_through,
    }))
}

/// `GET /audit`: the newest matching records, newest first, with a cursor to the next page
/// when there is one; with `after_id`, the matching records stored after that row id, oldest
/// stored first. Both answer `next_after_id`, where reading forward resumes (see
/// [`AuditPage`]). Bad parameters: `400` naming the field.
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let AuditQuery { filter, after_id } = parse_audit_query(query_pairs(query.as_deref()))?;
    // Read first: every record up to it is committed (ids commit in order on both backends),
    // so the reads below see all of them.
    let last_id = state.store.audit_last_id().await?;
    let limit = filter.limit;
    if let Some(after_id) = after_id {
        return Ok(Json(forward(&state, filter, after_id, last_id).await?));
    }
    let filter = AuditFilter {
        through_id: Some(last_id),
        ..filter
    };
    let mut rows = state.store.audit_records(filter, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last()).flatten().map(|last| {
        Cursor {
            time_ms: last.record.time_ms,
            id: last.id,
        }
        .encode()
    });
    Ok(Json(AuditPage {
        records: rows.iter().map(AuditRecordView::from).collect(),
        next_cursor,
        next_after_id: Some(last_id),
    }))
}

/// `GET /audit?after_id=…`: up to `limit` matching records stored after `after_id`, oldest
/// first. A short answer holds every matching record through `last_id` (read before), so the
/// reader resumes from there and does not scan the records its filter left out again.
async fn forward(
    state: &AppState,
    filter: AuditFilter,
    after_id: i64,
    last_id: i64,
) -> Result<AuditPage, ApiError> {
    if after_id > last_id {
        // The highest row id never goes back (retention keeps the last row on both backends): an
        // id past the newest is not one this trail handed out (another deployment's, or a
        // database restored from an older backup), and reading on from it would skip every
        // record stored until the trail reached it.
        return Err(ApiError::invalid(
            "after_id",
            format!(
                "after_id {after_id} is past the newest record's row id ({last_id}): use a \
                 next_after_id this control plane answered (GET /audit?limit=1 gives the \
                 current one)"
            ),
        ));
    }
    let limit = filter.limit;
    let rows = state.store.audit_after(filter, after_id, limit).await?;
    let last_row = rows.last().map_or(after_id, |r| r.id);
    let next_after_id = if rows.len() >= limit as usize {
        last_row
    } else {
        last_row.max(last_id).max(after_id)
    };
    Ok(AuditPage {
        records: rows.iter().map(AuditRecordView::from).collect(),
        next_cursor: None,
        next_after_id: Some(next_after_id),
    })
}

/// `GET /audit/gaps`: dead instances with records they numbered and never delivered, and every
/// instance's sequence.
pub async fn gaps(State(state): State<AppState>) -> Result<Json<GapsView>, ApiError> {
    let streams = state.store.audit_streams().await?;
    let live_since = state.live_since_ms(state.clock.now_ms());
    Ok(Json(GapsView::new(&streams, live_since)))
}

/// `GET /spend?by=label|key|vendor[&day=YYYY-MM-DD]`: a UTC day's totals (today by default).
pub async fn spend(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SpendView>, ApiError> {
    let (by, day_ms) = parse_spend_query(query_pairs(query.as_deref()), state.clock.now_ms())?;
    let rows = state.store.audit_spend(by, day_ms, day_ms + DAY_MS).await?;
    Ok(Json(SpendView::new(by, day_ms, &rows)))
}
