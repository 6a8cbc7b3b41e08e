//! Spend per key per UTC day, read from the lease rows the gateways report into.
//!
//! A key's spend today is what its instances reported spent, plus the whole unreported lease
//! of every instance that is no longer live (it may have spent all of it before it vanished).
//! The window is the UTC day: rows are keyed by day, so nothing resets at midnight.

use crate::state::AppState;
use crate::store::{DaySpend, StoreError};
use keybrake_core::ledger::day_of;
use keybrake_core::VaultKeyId;
use std::collections::HashMap;

const DAY_MS: u64 = 86_400_000;

/// Unix milliseconds of the 00:00 UTC that starts the day holding `now_ms`; caps reset there.
pub fn utc_day_start_ms(now_ms: u64) -> u64 {
    now_ms - now_ms % DAY_MS
}

/// Spend and live lease today of `key`, or of every key with any when `None`, in micro-USD.
/// Keys without any are absent.
pub async fn spend_today(
    state: &AppState,
    key: Option<&VaultKeyId>,
    now_ms: u64,
) -> Result<HashMap<VaultKeyId, DaySpend>, StoreError> {
    state
        .store
        .day_spend(key.cloned(), day_of(now_ms), state.live_since_ms(now_ms))
        .await
}
