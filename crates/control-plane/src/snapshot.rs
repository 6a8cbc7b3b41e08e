//! Builds the policy snapshot gateways receive, from the database.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{KeyRow, RateRow};
use keybrake_core::shared_policy::PolicyUpdate;
use keybrake_core::{KeyEntry, Snapshot};

/// Keys stay in the snapshot this long past their expiry, so that a gateway refuses them as
/// expired (or revoked) rather than unknown; gateways drop them from shared data after it too.
pub use keybrake_core::shared_policy::RETAIN_AFTER_EXPIRY_MS;

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
    let keys = source.keys.into_iter().map(entry).collect();
    Ok(Snapshot {
        version: source.version,
        generated_at_ms: now,
        keys,
        credentials,
        rates: source.rates.iter().map(RateRow::entry).collect(),
        prices: crate::prices::effective(source.prices.iter().map(|p| &p.overrides)),
    })
}

/// What changed since version `base`: the keys issued or revoked since, and the credentials,
/// rates and prices when one of them changed. `None` when no delta can be built from `base`
/// (the gateway then gets [`build`]).
pub async fn build_delta(state: &AppState, base: u64) -> Result<Option<PolicyUpdate>, ApiError> {
    let now = state.clock.now_ms();
    let Some(source) = state
        .store
        .delta_source(base, now, RETAIN_AFTER_EXPIRY_MS)
        .await?
    else {
        return Ok(None);
    };
    let (credentials, rates, prices) = match source.globals {
        Some((credentials, rates, prices)) => {
            let credentials = credentials
                .iter()
                .map(|sealed| state.master_key.open(sealed))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::internal)?;
            (
                Some(credentials),
                Some(rates.iter().map(RateRow::entry).collect()),
                Some(crate::prices::effective(
                    prices.iter().map(|p| &p.overrides),
                )),
            )
        }
        None => (None, None, None),
    };
    Ok(Some(PolicyUpdate {
        version: source.version,
        generated_at_ms: now,
        base: Some(source.base),
        keys: source.keys.into_iter().map(entry).collect(),
        credentials,
        rates,
        prices,
    }))
}

/// A stored key as gateways see it: its hash, never the key.
fn entry(k: KeyRow) -> KeyEntry {
    KeyEntry {
        key_id: k.key_id.to_string(),
        secret_sha256: k.secret_sha256,
        vendor: k.vendor,
        daily_cap_micros: k.daily_cap_micros,
        allowed_endpoints: k.allowed_endpoints,
        expires_at_ms: k.expires_at_ms,
        revoked: k.revoked_at_ms.is_some(),
        label: k.label,
    }
}
