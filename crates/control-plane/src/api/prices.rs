//! `/prices`: what Twilio and Resend calls cost when the response cannot say. Every change goes
//! out in the next snapshot; whatever is not set is the built-in default.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::prices::PriceOverrides;
use crate::state::AppState;
use crate::store::PriceRow;
use crate::wire::prices::{priced_vendor_from_path, PriceList, PriceView, SetPricesRequest};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use keybrake_core::Vendor;

fn vendor(path: Result<Path<String>, PathRejection>) -> Result<Vendor, ApiError> {
    let Path(name) = path?;
    priced_vendor_from_path(&name).map_err(|e| ApiError::NotFound {
        field: Some(e.field),
        message: e.message,
    })
}

/// The view of a vendor with nothing set.
fn defaults(vendor: Vendor) -> Result<PriceView, ApiError> {
    PriceOverrides::none(vendor)
        .map(|o| PriceView::new(&o, None))
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("{vendor} has no price table")))
}

/// `PUT /prices/{vendor}`: replaces the vendor's set prices with the body's.
pub async fn set(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<SetPricesRequest>,
) -> Result<Json<PriceView>, ApiError> {
    let vendor = vendor(path)?;
    let overrides = req.for_vendor(vendor)?;
    let row = PriceRow {
        overrides,
        updated_at_ms: state.clock.now_ms(),
    };
    let view = PriceView::from(&row);
    let version = state.store.set_prices(row).await?;
    state.publish_and_propagate(version).await;
    tracing::info!(%vendor, version, "set prices");
    Ok(Json(view))
}

/// `GET /prices`: both vendors' effective prices.
pub async fn list(State(state): State<AppState>) -> Result<Json<PriceList>, ApiError> {
    let stored = state.store.prices().await?;
    let view = |vendor: Vendor| match stored.iter().find(|r| r.overrides.vendor() == vendor) {
        Some(row) => Ok(PriceView::from(row)),
        None => defaults(vendor),
    };
    Ok(Json(PriceList {
        twilio: view(Vendor::Twilio)?,
        resend: view(Vendor::Resend)?,
    }))
}

/// `DELETE /prices/{vendor}`: back to the defaults. Idempotent.
pub async fn reset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PriceView>, ApiError> {
    let vendor = vendor(path)?;
    if let Some(version) = state.store.delete_prices(vendor).await? {
        state.publish_and_propagate(version).await;
        tracing::info!(%vendor, version, "reset prices to the defaults");
    }
    Ok(Json(defaults(vendor)?))
}
