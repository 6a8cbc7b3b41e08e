//! Spend per key per UTC day, read from the ledger.
//!
//! The seam for the spend-cap work: until usage reports land in the ledger, nothing has been
//! spent. Callers already go through here, so filling it in changes no handler.

use crate::store::{Store, StoreError};
use keybrake_core::VaultKeyId;
use std::collections::HashMap;

const DAY_MS: u64 = 86_400_000;

/// Unix milliseconds of the 00:00 UTC that starts the day holding `now_ms`; caps reset there.
pub fn utc_day_start_ms(now_ms: u64) -> u64 {
    now_ms - now_ms % DAY_MS
}

/// Committed spend of each key since [`utc_day_start_ms`], in micro-USD. Keys without spend
/// are absent.
pub async fn spend_today_micros(
    _store: &Store,
    _keys: &[VaultKeyId],
    _now_ms: u64,
) -> Result<HashMap<VaultKeyId, u64>, StoreError> {
    Ok(HashMap::new())
}
