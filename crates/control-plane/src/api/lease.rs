//! `POST /dataplane/v1/lease` and `POST /dataplane/v1/usage`: the gateways' budget channel,
//! authenticated with the data-plane token (see `keybrake_core::lease` for the protocol).
//!
//! A lease request the cap has no room for, while other live instances hold unused lease of the
//! key, starts a *reclaim*: the key is marked short, every other instance's next usage report
//! is answered with the key in `release`, and the request waits (up to the reclaim wait) for
//! the released lease, re-checking after every usage report. If none comes it answers the
//! instance's lease unchanged, and the gateway refuses the call as over the cap.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::leases::{figures_in_range, Instance, ReclaimEvent, MAX_FIGURE, SHORT_MARK_MS};
use crate::state::AppState;
use crate::store::{KeyStatus, LeaseAsk, LeaseOutcome};
use axum::extract::State;
use axum::Json;
use keybrake_core::lease::{LeaseGrant, LeaseRequest, UsageAnswer, UsageReport};
use keybrake_core::ledger::day_of;
use keybrake_core::VaultKeyId;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

/// `POST /dataplane/v1/lease`.
pub async fn lease(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LeaseRequest>,
) -> Result<Json<LeaseGrant>, ApiError> {
    let instance = Instance::parse(&req.gateway, &req.instance)?;
    let raw_id = req.usage.key_id.clone();
    let key_id = VaultKeyId::parse(&raw_id).map_err(|_| {
        ApiError::invalid(
            "usage.key_id",
            format!("{raw_id:?} is not a key id (kid_ followed by 16 hex digits)"),
        )
    })?;
    let min = req.min_micros.unwrap_or(req.want_micros);
    if !figures_in_range(&req.usage) || req.want_micros > MAX_FIGURE || min > MAX_FIGURE {
        return Err(ApiError::invalid(
            "usage",
            format!("every figure must be at most {MAX_FIGURE}"),
        ));
    }
    let day = day_of(state.clock.now_ms());
    if req.usage.day != day {
        return Err(ApiError::StaleDay {
            asked: req.usage.day,
            today: day,
        });
    }
    let grant = |lease_micros, seq| {
        Json(LeaseGrant {
            key_id: raw_id.clone(),
            day,
            lease_micros,
            seq,
        })
    };
    let counters = &state.counters;
    let deadline = Instant::now() + state.reclaim_wait;
    let mut absorb = true;
    let mut reclaiming = false;
    loop {
        // Armed before the step, so a report landing during it still wakes the wait below.
        let reported = state.reclaims.reported();
        tokio::pin!(reported);
        reported.as_mut().enable();
        let now = state.clock.now_ms();
        let ask = LeaseAsk {
            key_id: key_id.clone(),
            day,
            instance: instance.clone(),
            usage: req.usage.clone(),
            absorb: std::mem::take(&mut absorb),
            want: req.want_micros,
            min,
            now_ms: now,
            live_since_ms: state.live_since_ms(now),
        };
        match state.store.lease_step(ask).await? {
            LeaseOutcome::UnknownKey => {
                return Err(ApiError::NotFound {
                    field: Some("usage.key_id".to_owned()),
                    message: format!("no vault key {key_id}"),
                })
            }
            LeaseOutcome::Unusable(KeyStatus::Revoked) => {
                return Err(ApiError::KeyRevoked(key_id.to_string()))
            }
            LeaseOutcome::Unusable(_) => return Err(ApiError::KeyExpired(key_id.to_string())),
            LeaseOutcome::Granted { lease, seq } => {
                counters.lease_grants.fetch_add(1, Ordering::Relaxed);
                state.reclaims.clear_short(key_id.as_str(), &instance.id);
                if reclaiming {
                    state
                        .announce(ReclaimEvent::Clear {
                            key_id: key_id.to_string(),
                            instance: instance.id.clone(),
                        })
                        .await;
                }
                return Ok(grant(lease, seq));
            }
            LeaseOutcome::NoRoom {
                lease,
                seq,
                others_unused,
            } => {
                if others_unused == 0 || Instant::now() >= deadline {
                    counters.lease_denials.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(key_id = %key_id, instance = %instance.id, "no room in the cap");
                    return Ok(grant(lease, seq));
                }
                if !reclaiming {
                    reclaiming = true;
                    counters.lease_reclaims.fetch_add(1, Ordering::Relaxed);
                    let wait_ms = u64::try_from(state.reclaim_wait.as_millis()).unwrap_or(0);
                    let until = now.saturating_add(SHORT_MARK_MS.max(wait_ms));
                    state
                        .reclaims
                        .mark_short(key_id.as_str(), &instance.id, until);
                    state
                        .announce(ReclaimEvent::Short {
                            key_id: key_id.to_string(),
                            instance: instance.id.clone(),
                            until_ms: until,
                        })
                        .await;
                }
                // At the deadline the loop takes one last look, then answers.
                let _ = tokio::time::timeout_at(deadline, reported).await;
            }
        }
    }
}

/// `POST /dataplane/v1/usage`.
pub async fn usage(
    State(state): State<AppState>,
    ApiJson(report): ApiJson<UsageReport>,
) -> Result<Json<UsageAnswer>, ApiError> {
    let instance = Instance::parse(&report.gateway, &report.instance)?;
    let now = state.clock.now_ms();
    let mut ask_release: BTreeSet<String> = state.reclaims.short_elsewhere(&instance.id, now);
    ask_release.extend(report.idle);
    let release = state
        .store
        .record_usage(instance, report.keys, ask_release, day_of(now), now)
        .await?;
    state.counters.usage_reports.fetch_add(1, Ordering::Relaxed);
    state.reclaims.notify_reported();
    state.announce(ReclaimEvent::Reported).await;
    Ok(Json(UsageAnswer { release }))
}
