//! The Audit page: a filterable table of the newest records and a live tail over server-sent
//! events that adds each new matching record on top as the gateways deliver it.

use super::guard::Operator;
use super::page::{render, UiError};
use super::view::AuditLine;
use crate::audit::{AuditFilter, DEFAULT_LIMIT};
use crate::extract::query_pairs;
use crate::state::AppState;
use crate::wire::audit::parse_audit_query;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Response;
use futures_util::stream::Stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often the tail checks whether this process stored records.
const TICK: Duration = Duration::from_millis(200);
/// How often it reads the store regardless (another control plane may have stored some).
const RESCAN: Duration = Duration::from_secs(2);
/// Most records one read of the tail takes.
const TAIL_BATCH: u32 = 200;

/// The filter fields as typed, kept in the form and in the tail's URL.
#[derive(Clone, Debug, Default)]
struct Filters {
    key_id: String,
    label_prefix: String,
    vendor: String,
    decision: String,
    /// The same, as a query string (`key_id=…&vendor=…`), already encoded.
    query: String,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    csrf: String,
    records: Vec<AuditLine>,
    filters: Filters,
    /// The tail resumes after this row id.
    after: i64,
}

#[derive(Template)]
#[template(path = "ui/audit_row.html")]
struct AuditRowFragment {
    r: AuditLine,
}

/// The page's filters from its query: the API's own parser, on the non-empty fields the page
/// offers; `after` is the tail's own.
fn parse(query: Option<&str>) -> Result<(Filters, AuditFilter, Option<i64>), UiError> {
    let mut shown = Filters::default();
    let mut pairs = Vec::new();
    let mut after = None;
    for (name, value) in query_pairs(query) {
        let value = value.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "after" => {
                after = Some(
                    value
                        .parse()
                        .map_err(|_| UiError::BadRequest("after must be a record id".into()))?,
                );
                continue;
            }
            "key_id" => shown.key_id.clone_from(&value),
            "label_prefix" => shown.label_prefix.clone_from(&value),
            "vendor" => shown.vendor.clone_from(&value),
            "decision" => shown.decision.clone_from(&value),
            _ => continue,
        }
        pairs.push((name, value));
    }
    shown.query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let filter = parse_audit_query(pairs)?.filter;
    Ok((shown, filter, after))
}

/// `GET /ui/audit[?key_id=…&label_prefix=…&vendor=…&decision=…]`.
pub async fn page(
    State(state): State<AppState>,
    op: Operator,
    RawQuery(query): RawQuery,
) -> Result<Response, UiError> {
    let (filters, filter, _) = parse(query.as_deref())?;
    // Read the tail's starting point first: a record stored in between shows up twice at
    // worst, never not at all.
    let after = state.store.audit_last_id().await?;
    let records = state.store.audit_records(filter, DEFAULT_LIMIT).await?;
    let page = AuditPage {
        csrf: op.session.csrf,
        records: records.iter().map(AuditLine::from).collect(),
        filters,
        after,
    };
    Ok(render(StatusCode::OK, &page))
}

/// What the tail's stream carries from one step to the next.
struct Tail {
    state: AppState,
    token: String,
    filter: AuditFilter,
    after: i64,
    stored_seen: u64,
    since_read: Duration,
    ready: VecDeque<Event>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

fn row_event(r: &crate::store::StoredRecord) -> Option<Event> {
    let html = AuditRowFragment {
        r: AuditLine::from(r),
    }
    .render()
    .map_err(|e| tracing::error!(error = %e, "rendering an audit row"))
    .ok()?;
    Some(
        Event::default()
            .event("record")
            .id(r.id.to_string())
            .data(html),
    )
}

impl Tail {
    /// The next event: ready ones first, then whatever the store has after `after`, checked
    /// when this process stored records or every [`RESCAN`]. `None` ends the stream: the
    /// control plane is shutting down, or the session ended.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some((Ok(e), self));
            }
            tokio::select! {
                _ = self.shutdown.changed() => return None,
                () = tokio::time::sleep(TICK) => {}
            }
            if *self.shutdown.borrow() {
                return None;
            }
            let now = self.state.clock.now_ms();
            self.state.sessions.get(&self.token, now)?;
            self.since_read += TICK;
            let stored = self
                .state
                .counters
                .audit_records_stored
                .load(Ordering::Relaxed);
            if stored == self.stored_seen && self.since_read < RESCAN {
                continue;
            }
            self.stored_seen = stored;
            self.since_read = Duration::ZERO;
            let rows = match self
                .state
                .store
                .audit_after(self.filter.clone(), self.after, TAIL_BATCH)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    // The browser reconnects with Last-Event-ID and resumes.
                    tracing::warn!(error = %e, "audit tail could not read the store");
                    return None;
                }
            };
            for r in &rows {
                self.after = self.after.max(r.id);
                self.ready.extend(row_event(r));
            }
        }
    }
}

/// `GET /ui/audit/stream[?<the page's filters>&after=<row id>]`: server-sent events, one
/// `record` event per new matching record (its data a table row, its id the row id, so a
/// reconnecting browser resumes with `Last-Event-ID`).
pub async fn stream(
    State(state): State<AppState>,
    op: Operator,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, UiError> {
    let (_, filter, after) = parse(query.as_deref())?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = match resume.or(after) {
        Some(id) => id,
        None => state.store.audit_last_id().await?,
    };
    let tail = Tail {
        stored_seen: state.counters.audit_records_stored.load(Ordering::Relaxed),
        // Read once at the start: records may have arrived since the page was rendered.
        since_read: RESCAN,
        shutdown: state.subscribe_shutdown(),
        state,
        token: op.token,
        filter,
        after,
        ready: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(tail, Tail::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
