//! Audit retention: records older than `KEYBRAKE_AUDIT_RETENTION_DAYS` are deleted at start and
//! every hour by a background task that ends with the server.

use crate::state::AppState;
use crate::store::StoreError;
use std::time::Duration;

/// How often the retention task prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
const DAY_MS: u64 = 86_400_000;

/// Deletes the audit records older than the retention window at the state's clock; returns how
/// many. Keeps everything when retention is 0.
pub async fn prune_once(state: &AppState) -> Result<u64, StoreError> {
    let days = u64::from(state.audit_retention_days);
    if days == 0 {
        return Ok(0);
    }
    let cutoff = state
        .clock
        .now_ms()
        .saturating_sub(days.saturating_mul(DAY_MS));
    let removed = state.store.prune_audit(cutoff).await?;
    if removed > 0 {
        tracing::info!(removed, days, "pruned audit records past retention");
    }
    Ok(removed)
}

/// Prunes now and every [`PRUNE_EVERY`] until the server begins shutting down.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = state.subscribe_shutdown();
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = prune_once(&state).await {
                        tracing::warn!(error = %e, "audit retention failed; will retry");
                    }
                }
                // The guard wait_for returns is not Send: dropped inside, before the branch runs.
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
            }
        }
    })
}
