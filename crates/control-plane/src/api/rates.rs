//! `/rates`: the operator's conversion rates. Every change goes out in the next snapshot, so
//! gateways convert non-USD amounts with it; a currency without a rate is refused there.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::store::RateRow;
use crate::wire::rates::{currency_from_path, RateList, RateView, SetRateRequest};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;

fn currency(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(raw) = path?;
    Ok(currency_from_path(&raw)?)
}

/// `PUT /rates/{currency}` with `{"usd_per_unit": 0.0067}`.
pub async fn set(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<SetRateRequest>,
) -> Result<Json<RateView>, ApiError> {
    let currency = currency(path)?;
    let usd_nanos_per_unit = req.nanos_per_unit()?;
    let change = state
        .store
        .set_rate(RateRow {
            currency,
            usd_nanos_per_unit,
            updated_at_ms: state.clock.now_ms(),
        })
        .await?;
    state.publish_and_propagate(change.version).await;
    tracing::info!(currency = %change.row.currency, usd_nanos_per_unit, version = change.version, "set conversion rate");
    Ok(Json(RateView::from(&change.row)))
}

/// `GET /rates`: USD first (built in), then every stored rate by currency.
pub async fn list(State(state): State<AppState>) -> Result<Json<RateList>, ApiError> {
    let stored = state.store.rates().await?;
    let rates = std::iter::once(RateView::usd())
        .chain(stored.iter().map(RateView::from))
        .collect();
    Ok(Json(RateList { rates }))
}

/// `DELETE /rates/{currency}`: amounts in that currency are refused from the next snapshot on.
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RateView>, ApiError> {
    let currency = currency(path)?;
    let change = state
        .store
        .delete_rate(currency.clone())
        .await?
        .ok_or_else(|| ApiError::NotFound {
            field: Some("currency".to_owned()),
            message: format!("no rate is set for {currency}"),
        })?;
    state.publish_and_propagate(change.version).await;
    tracing::info!(%currency, version = change.version, "deleted conversion rate");
    Ok(Json(RateView::from(&change.row)))
}
