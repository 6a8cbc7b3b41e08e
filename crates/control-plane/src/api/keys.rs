//! `/vault/keys`: issue, list, show and revoke vault keys.

use crate::duration;
use crate::error::ApiError;
use crate::extract::{query_pairs, ApiJson};
use crate::ledger;
use crate::state::AppState;
use crate::store::{KeyFilter, KeyRow, KeyStatus};
use crate::wire::keys::{micros_to_usd, IssueKeyRequest, IssueSpec, IssuedKey, KeyList, KeyView};
use crate::wire::FieldError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use keybrake_core::{VaultKey, VaultKeyId};

/// Listing size when `limit` is not given, and the most a listing returns.
const DEFAULT_LIST_LIMIT: u32 = 1000;
const MAX_LIST_LIMIT: u32 = 10_000;

fn key_id(path: Result<Path<String>, PathRejection>) -> Result<VaultKeyId, ApiError> {
    let Path(raw) = path?;
    VaultKeyId::parse(&raw).map_err(|_| {
        ApiError::invalid(
            "key_id",
            format!("{raw:?} is not a key id (kid_ followed by 16 hex digits)"),
        )
    })
}

fn not_found(id: &VaultKeyId) -> ApiError {
    ApiError::NotFound {
        field: Some("key_id".to_owned()),
        message: format!("no vault key {id}"),
    }
}

async fn view(state: &AppState, row: &KeyRow, now_ms: u64) -> Result<KeyView, ApiError> {
    let spend = ledger::spend_today(state, Some(&row.key_id), now_ms).await?;
    let today = spend.get(&row.key_id).copied().unwrap_or_default();
    Ok(KeyView::new(row, now_ms, today))
}

/// `POST /vault/keys`: the one place a vault key is ever shown.
pub async fn issue(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<IssueKeyRequest>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let spec = IssueSpec::try_from(req)?;
    let max = state.limits.max_expires_in;
    if spec.expires_in > max {
        return Err(FieldError::new(
            "expires_in",
            format!(
                "expires_in must be at most {} on this control plane",
                duration::display(max)
            ),
        )
        .into());
    }
    let key = VaultKey::generate().map_err(ApiError::internal)?;
    let now = state.clock.now_ms();
    let lifetime_ms = u64::try_from(spec.expires_in.as_millis()).unwrap_or(u64::MAX);
    let row = KeyRow {
        key_id: key.id().clone(),
        secret_sha256: key.hash().to_hex(),
        vendor: spec.vendor,
        daily_cap_micros: spec.daily_cap_micros,
        allowed_endpoints: spec.allowed_endpoints,
        label: spec.label,
        created_at_ms: now,
        expires_at_ms: now.saturating_add(lifetime_ms),
        revoked_at_ms: None,
    };
    let version = state.store.insert_key(row.clone()).await?;
    state.publish_and_propagate(version).await;
    tracing::info!(key_id = %row.key_id, vendor = %row.vendor, label = %row.label, version, "issued vault key");
    let issued = IssuedKey {
        vault_key: key.expose().to_owned(),
        key_id: row.key_id.to_string(),
        vendor: row.vendor,
        daily_usd_cap: micros_to_usd(row.daily_cap_micros),
        allowed_endpoints: row
            .allowed_endpoints
            .iter()
            .map(ToString::to_string)
            .collect(),
        expires_at: crate::clock::rfc3339(row.expires_at_ms),
        agent_run_label: row.label,
    };
    Ok((StatusCode::CREATED, Json(issued)))
}

fn list_filter(query: Option<&str>) -> Result<KeyFilter, ApiError> {
    let mut filter = KeyFilter {
        limit: DEFAULT_LIST_LIMIT,
        ..KeyFilter::default()
    };
    for (name, value) in query_pairs(query) {
        match name.as_str() {
            "status" => {
                filter.status = Some(KeyStatus::from_name(&value).ok_or_else(|| {
                    ApiError::invalid("status", "status must be active, expired or revoked")
                })?);
            }
            "label" => filter.label = Some(value),
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "limit",
                            format!("limit must be a number from 1 to {MAX_LIST_LIMIT}"),
                        )
                    })?;
            }
            _ => {
                return Err(ApiError::invalid(
                    name.clone(),
                    format!("unknown query parameter {name:?}; use status, label or limit"),
                ))
            }
        }
    }
    Ok(filter)
}

/// `GET /vault/keys[?status=…&label=…&limit=…]`, newest first.
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<KeyList>, ApiError> {
    let filter = list_filter(query.as_deref())?;
    let now = state.clock.now_ms();
    let rows = state.store.list_keys(filter, now).await?;
    let spend = ledger::spend_today(&state, None, now).await?;
    let keys = rows
        .iter()
        .map(|r| KeyView::new(r, now, spend.get(&r.key_id).copied().unwrap_or_default()))
        .collect();
    Ok(Json(KeyList { keys }))
}

/// `GET /vault/keys/{key_id}`.
pub async fn show(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<KeyView>, ApiError> {
    let id = key_id(path)?;
    let row = state
        .store
        .get_key(id.clone())
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view(&state, &row, state.clock.now_ms()).await?))
}

/// `DELETE /vault/keys/{key_id}`: revoke. Revoking twice is not an error.
pub async fn revoke(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<KeyView>, ApiError> {
    let id = key_id(path)?;
    let now = state.clock.now_ms();
    let revoked = state
        .store
        .revoke_key(id.clone(), now)
        .await?
        .ok_or_else(|| not_found(&id))?;
    if let Some(version) = revoked.version {
        state.publish_and_propagate(version).await;
        tracing::info!(key_id = %id, version, "revoked vault key");
    }
    Ok(Json(view(&state, &revoked.row, now).await?))
}
