//! The Keys page (table, filters, issue form), a key's own page, and one-click revoke.
//!
//! Issuing and revoking go through the API's handlers (`crate::api::keys`), so the console
//! validates exactly as the API does and answers a revocation once the gateways hold it.

use super::guard::{Operator, PostForm};
use super::page::{render, UiError};
use super::view::{self, AuditLine, KeyLine, BAR_WIDTH};
use crate::api::keys as api;
use crate::audit::AuditFilter;
use crate::extract::{query_pairs, ApiJson};
use crate::ledger;
use crate::state::AppState;
use crate::store::{KeyFilter, KeyRow, KeyStatus};
use crate::wire::keys::{IssueKeyRequest, IssuedKey};
use crate::wire::RawField;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use keybrake_core::ledger::day_of;
use keybrake_core::{VaultKeyId, Vendor};
use serde_json::Value;

/// Most keys the table shows.
const TABLE_LIMIT: u32 = 500;
/// Calls shown on a key's page.
const RECENT_CALLS: u32 = 50;

/// The filters of the keys table, as typed (kept in the form).
#[derive(Clone, Debug, Default)]
struct Filters {
    label_prefix: String,
    vendor: String,
    status: String,
}

/// The issue form, as typed (kept when the API refuses it, so nothing is lost).
#[derive(Clone, Debug)]
struct IssueForm {
    vendor: String,
    cap: String,
    endpoints: String,
    expires_in: String,
    label: String,
}

impl Default for IssueForm {
    fn default() -> Self {
        Self {
            vendor: "stripe".into(),
            cap: String::new(),
            endpoints: String::new(),
            expires_in: "30m".into(),
            label: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/keys.html")]
struct KeysPage {
    csrf: String,
    keys: Vec<KeyLine>,
    filters: Filters,
    form: IssueForm,
    error: String,
    bar_width: u64,
}

#[derive(Template)]
#[template(path = "ui/key_row.html")]
struct KeyRowFragment {
    csrf: String,
    k: KeyLine,
    bar_width: u64,
}

#[derive(Template)]
#[template(path = "ui/issued.html")]
struct IssuedPage {
    csrf: String,
    issued: IssuedKey,
}

/// One instance's lease of the key today.
struct LeaseLine {
    gateway: String,
    instance: String,
    granted: String,
    spent: String,
    reserved: String,
    last_seen: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "ui/key.html")]
struct KeyPage {
    csrf: String,
    k: KeyLine,
    leases: Vec<LeaseLine>,
    calls: Vec<AuditLine>,
    bar_width: u64,
}

fn filters(query: Option<&str>) -> Result<(Filters, KeyFilter), UiError> {
    let mut shown = Filters::default();
    let mut filter = KeyFilter {
        limit: TABLE_LIMIT,
        ..KeyFilter::default()
    };
    for (name, value) in query_pairs(query) {
        let value = value.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "label_prefix" => {
                filter.label_prefix = Some(value.clone());
                shown.label_prefix = value;
            }
            "vendor" => {
                filter.vendor = Some(Vendor::from_name(&value).ok_or_else(|| {
                    UiError::BadRequest("vendor must be stripe, twilio or resend".into())
                })?);
                shown.vendor = value;
            }
            "status" => {
                filter.status = Some(KeyStatus::from_name(&value).ok_or_else(|| {
                    UiError::BadRequest("status must be active, expired or revoked".into())
                })?);
                shown.status = value;
            }
            _ => {}
        }
    }
    Ok((shown, filter))
}

/// Table rows for `rows`, with today's spend and each key's last call.
async fn lines(state: &AppState, rows: &[KeyRow], now_ms: u64) -> Result<Vec<KeyLine>, UiError> {
    let spend = ledger::spend_today(state, None, now_ms).await?;
    let ids = rows.iter().map(|r| r.key_id.to_string()).collect();
    let last = state.store.keys_last_used(ids).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let today = spend.get(&r.key_id).copied().unwrap_or_default();
            let last_used = last.get(r.key_id.as_str()).copied();
            KeyLine::new(r, now_ms, today, last_used)
        })
        .collect())
}

async fn keys_page(
    state: &AppState,
    op: &Operator,
    query: Option<&str>,
    form: IssueForm,
    error: String,
) -> Result<KeysPage, UiError> {
    let (shown, filter) = filters(query)?;
    let now = state.clock.now_ms();
    let rows = state.store.list_keys(filter, now).await?;
    Ok(KeysPage {
        csrf: op.session.csrf.clone(),
        keys: lines(state, &rows, now).await?,
        filters: shown,
        form,
        error,
        bar_width: BAR_WIDTH,
    })
}

/// `GET /ui/keys[?label_prefix=…&vendor=…&status=…]`.
pub async fn list(
    State(state): State<AppState>,
    op: Operator,
    RawQuery(query): RawQuery,
) -> Result<Response, UiError> {
    let page = keys_page(
        &state,
        &op,
        query.as_deref(),
        IssueForm::default(),
        String::new(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

fn raw(v: Value) -> Result<RawField, UiError> {
    serde_json::value::to_raw_value(&v)
        .map(Some)
        .map_err(UiError::internal)
}

/// The form as the API's request: numbers where the text is one, so the API's own checks
/// (and messages) apply to everything else.
fn request(form: &IssueForm) -> Result<IssueKeyRequest, UiError> {
    let cap = form.cap.trim();
    let cap = match cap.parse::<f64>() {
        Ok(n) => serde_json::Number::from_f64(n).map_or(Value::String(cap.into()), Value::Number),
        Err(_) if cap.is_empty() => Value::Null,
        Err(_) => Value::String(cap.into()),
    };
    let expires = form.expires_in.trim();
    let expires = match expires.parse::<u64>() {
        Ok(secs) => Value::from(secs),
        Err(_) => Value::String(expires.into()),
    };
    let endpoints: Vec<Value> = form
        .endpoints
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Value::String(l.into()))
        .collect();
    Ok(IssueKeyRequest {
        vendor: raw(Value::String(form.vendor.trim().into()))?,
        daily_usd_cap: if cap.is_null() { None } else { raw(cap)? },
        allowed_endpoints: raw(Value::Array(endpoints))?,
        expires_in: raw(expires)?,
        agent_run_label: raw(Value::String(form.label.trim().into()))?,
    })
}

/// `POST /ui/keys`: issues through the API and shows the vault key, this once. A refused form
/// comes back filled in, with the API's message.
pub async fn issue(State(state): State<AppState>, post: PostForm) -> Result<Response, UiError> {
    let field = |name: &str| post.fields.get(name).cloned().unwrap_or_default();
    let form = IssueForm {
        vendor: field("vendor"),
        cap: field("daily_usd_cap"),
        endpoints: field("allowed_endpoints"),
        expires_in: field("expires_in"),
        label: field("agent_run_label"),
    };
    let csrf = post.operator.session.csrf.clone();
    match api::issue(State(state.clone()), ApiJson(request(&form)?)).await {
        Ok((_, axum::Json(issued))) => {
            Ok(render(StatusCode::CREATED, &IssuedPage { csrf, issued }))
        }
        Err(e) => {
            let e = UiError::from(e);
            if let UiError::Internal(_) = e {
                return Err(e);
            }
            let status = e.status();
            let page = keys_page(&state, &post.operator, None, form, e.to_string()).await?;
            Ok(render(status, &page))
        }
    }
}

fn parse_id(raw: &str) -> Result<VaultKeyId, UiError> {
    VaultKeyId::parse(raw).map_err(|_| UiError::NotFound(format!("no vault key {raw:?}")))
}

/// `POST /ui/keys/{key_id}/revoke`: answers once every live gateway holds the revocation
/// (the API's revoke). htmx gets the key's new table row; a plain form post goes back to where
/// it came from.
pub async fn revoke(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    post: PostForm,
) -> Result<Response, UiError> {
    let id = parse_id(&key_id)?;
    let _revoked = api::revoke(State(state.clone()), Ok(Path(id.to_string()))).await?;
    tracing::info!(key_id = %id, "revoked from the console");
    if headers.get("hx-request").is_none() {
        let back = if post.fields.get("from").is_some_and(|f| f == "key") {
            format!("/ui/keys/{id}")
        } else {
            "/ui/keys".to_owned()
        };
        return Ok(Redirect::to(&back).into_response());
    }
    let row = state
        .store
        .get_key(id.clone())
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no vault key {id}")))?;
    let now = state.clock.now_ms();
    let k = lines(&state, std::slice::from_ref(&row), now)
        .await?
        .pop()
        .ok_or_else(|| UiError::NotFound(format!("no vault key {id}")))?;
    let fragment = KeyRowFragment {
        csrf: post.operator.session.csrf,
        k,
        bar_width: BAR_WIDTH,
    };
    Ok(render(StatusCode::OK, &fragment))
}

/// `GET /ui/keys/{key_id}`: spend today against the cap, each gateway instance's lease, and
/// the key's recent calls.
pub async fn detail(
    State(state): State<AppState>,
    op: Operator,
    Path(key_id): Path<String>,
) -> Result<Response, UiError> {
    let id = parse_id(&key_id)?;
    let row = state
        .store
        .get_key(id.clone())
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no vault key {id}")))?;
    let now = state.clock.now_ms();
    let k = lines(&state, std::slice::from_ref(&row), now)
        .await?
        .pop()
        .ok_or_else(|| UiError::NotFound(format!("no vault key {id}")))?;
    let live_since = state.live_since_ms(now);
    let leases = state
        .store
        .key_leases(id.clone(), day_of(now))
        .await?
        .into_iter()
        .map(|l| LeaseLine {
            live: l.last_seen_ms >= live_since,
            gateway: l.gateway,
            instance: l.instance,
            granted: view::usd(l.granted),
            spent: view::usd(l.spent),
            reserved: view::usd(l.reserved),
            last_seen: view::time(l.last_seen_ms),
        })
        .collect();
    let filter = AuditFilter {
        key_id: Some(id.to_string()),
        ..AuditFilter::everything()
    };
    let calls = state
        .store
        .audit_records(filter, RECENT_CALLS)
        .await?
        .iter()
        .map(AuditLine::from)
        .collect();
    let page = KeyPage {
        csrf: op.session.csrf,
        k,
        leases,
        calls,
        bar_width: BAR_WIDTH,
    };
    Ok(render(StatusCode::OK, &page))
}
