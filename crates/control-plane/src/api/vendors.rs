//! `/vendors`: set a vendor's real credential, list which vendors have one. Credentials go in
//! and never come out.

use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::wire::vendors::{vendor_from_path, CredentialsRequest, VendorList, VendorStatus};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use keybrake_core::Vendor;

/// `PUT /vendors/{vendor}/credentials`.
pub async fn set(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<CredentialsRequest>,
) -> Result<Json<VendorStatus>, ApiError> {
    let Path(name) = path?;
    let vendor = vendor_from_path(&name).map_err(|e| ApiError::NotFound {
        field: Some(e.field),
        message: e.message,
    })?;
    let credential = req.for_vendor(vendor)?;
    let now = state.clock.now_ms();
    let sealed = state
        .master_key
        .seal(&credential, now)
        .map_err(ApiError::internal)?;
    let version = state.store.set_credential(sealed).await?;
    state.publish_and_propagate(version).await;
    tracing::info!(%vendor, version, "set vendor credential");
    Ok(Json(VendorStatus {
        vendor,
        configured: true,
        updated_at: Some(rfc3339(now)),
    }))
}

/// `GET /vendors`: every vendor, configured or not.
pub async fn list(State(state): State<AppState>) -> Result<Json<VendorList>, ApiError> {
    let stored = state.store.credentials().await?;
    let vendors = Vendor::ALL
        .into_iter()
        .map(|vendor| {
            let updated = stored
                .iter()
                .find(|s| s.vendor == vendor)
                .map(|s| s.updated_at_ms);
            VendorStatus {
                vendor,
                configured: updated.is_some(),
                updated_at: updated.map(rfc3339),
            }
        })
        .collect();
    Ok(Json(VendorList { vendors }))
}
