//! Builds the policy snapshot gateways receive, from the database.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::RateRow;
use keybrake_core::{KeyEntry, Snapshot};

/// Keys stay in the snapshot this long past their expiry, so that a gateway refuses them as
/// expired (or revoked) rather than unknown.
pub const RETAIN_AFTER_EXPIRY_MS: u64 = 24 * 3_600_000;

/// The current snapshot: every key not expired for more than a day (hashes only), every
/// configured credential, opened, every conversion rate, and the price table.
pub async fn build(state: &AppState) -> Result<Snapshot, ApiError> {
    let now = state.clock.now_ms();
    let source = state
        .store
        .snapshot_source(now, RETAIN_AFTER_EXPIRY_MS)
        .await?;
    let credentials = source
        .credentials
        .iter()
        .map(|sealed| state.master_key.open(sealed))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let keys = source
        .keys
        .into_iter()
        .map(|k| KeyEntry {
            key_id: k.key_id.to_string(),
            secret_sha256: k.secret_sha256,
            vendor: k.vendor,
            daily_cap_micros: k.daily_cap_micros,
            allowed_endpoints: k.allowed_endpoints,
            expires_at_ms: k.expires_at_ms,
            revoked: k.revoked_at_ms.is_some(),
            label: k.label,
        })
        .collect();
    Ok(Snapshot {
        version: source.version,
        generated_at_ms: now,
        keys,
        credentials,
        rates: source.rates.iter().map(RateRow::entry).collect(),
        prices: crate::prices::effective(source.prices.iter().map(|p| &p.overrides)),
    })
}
