//! The sync service (bootstrap singleton): long-polls the control plane for policy (a full
//! snapshot first, then deltas), publishes it into shared data key slot by key slot, creates
//! the budget records of new keys, sweeps out keys long expired, and reports usage back.

use crate::host::{self, Shared};
use keybrake_core::audit::{AuditAck, AUDIT_PATH, AUDIT_QUEUE};
use keybrake_core::config::{DataplaneInfo, SyncConfig, SHARED_DATAPLANE_KEY, USAGE_QUEUE};
use keybrake_core::handoff;
use keybrake_core::key::random_hex;
use keybrake_core::lease::{LeaseGrant, LeaseRequest, UsageAnswer, LEASE_PATH, USAGE_PATH};
use keybrake_core::ledger;
use keybrake_core::outbox::Outbox;
use keybrake_core::shared_policy::{Publisher, RETAIN_AFTER_EXPIRY_MS};
use keybrake_core::snapshot::SHARED_STATUS_KEY;
use keybrake_core::sync::{SyncEffect, SyncState};
use keybrake_core::usage::UsageTracker;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::time::Duration;

/// How often the service checks whether a poll or a report is due.
pub const TICK: Duration = Duration::from_millis(50);
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes read from Envoy's buffer at a time when parsing a policy update.
const READ_CHUNK: usize = 64 * 1024;
/// Lease top-ups in flight at once; more wait for the next report.
const MAX_TOP_UPS_IN_FLIGHT: usize = 8;
/// Occupied key slots the sweep of long-expired keys looks at per tick (about 320 a second).
const SWEEP_SLOTS_PER_TICK: usize = 16;

pub struct SyncService {
    config: SyncConfig,
    info: DataplaneInfo,
    state: SyncState,
    publisher: Publisher,
    usage: UsageTracker,
    poll_in_flight: Option<u32>,
    report_in_flight: Option<u32>,
    /// Lease top-ups in flight: call token → key id.
    top_ups_in_flight: Vec<(u32, String)>,
    queue: Option<u32>,
    audit_queue: Option<u32>,
    outbox: Outbox,
    audit_in_flight: Option<u32>,
    /// Counters `keybrake.audit.dropped` and gauge `keybrake.audit.buffered`.
    audit_metrics: Option<(u32, u32)>,
}

impl SyncService {
    pub fn configure(raw: &[u8]) -> Result<Self, String> {
        let config: SyncConfig = crate::config::parse(raw)?;
        config.validate().map_err(|e| e.to_string())?;
        let token = std::env::var(&config.token_env).unwrap_or_default();
        if token.is_empty() {
            return Err(format!(
                "the data-plane token is missing: set {} in Envoy's environment and list it in vm_config.environment_variables.host_env_keys",
                config.token_env
            ));
        }
        let instance = random_hex(8).map_err(|e| e.to_string())?;
        let info = DataplaneInfo {
            cluster: config.cluster.clone(),
            authority: config.authority.clone(),
            token,
            gateway: config.gateway_id.clone(),
            instance,
        };
        let outbox = Outbox::new(config.audit_buffer_records, config.audit_batch_records);
        Ok(Self {
            outbox,
            audit_queue: None,
            audit_in_flight: None,
            audit_metrics: None,
            config,
            info,
            state: SyncState::default(),
            publisher: Publisher::default(),
            usage: UsageTracker::default(),
            poll_in_flight: None,
            report_in_flight: None,
            top_ups_in_flight: Vec::new(),
            queue: None,
        })
    }

    pub fn same_config(&self, other: &Self) -> bool {
        self.config == other.config && self.info.token == other.info.token
    }

    /// Publishes what workers need to reach the control plane, and opens the usage queue.
    pub fn start(&mut self) {
        if self.queue.is_none() {
            self.queue = host::register_queue(USAGE_QUEUE);
        }
        if self.audit_queue.is_none() {
            self.audit_queue = host::register_queue(AUDIT_QUEUE);
        }
        if self.audit_metrics.is_none() {
            let dropped = hostcalls::define_metric(MetricType::Counter, "keybrake.audit.dropped");
            let buffered = hostcalls::define_metric(MetricType::Gauge, "keybrake.audit.buffered");
            self.audit_metrics = dropped.ok().zip(buffered.ok());
        }
        match serde_json::to_vec(&self.info) {
            Ok(bytes) => {
                if let Err(e) = host::set_shared_data(SHARED_DATAPLANE_KEY, &bytes) {
                    log::error!("keybrake sync: cannot publish the data-plane settings: {e:?}");
                }
            }
            Err(e) => log::error!("keybrake sync: {e}"),
        }
        log::info!(
            "keybrake sync: gateway {} instance {}",
            self.info.gateway,
            self.info.instance
        );
    }

    pub fn on_tick(&mut self) {
        let now = host::now_ms();
        if self.state.poll_due(now) {
            self.poll();
        }
        self.drain_queue(now);
        if self.usage.report_due(now) {
            self.report(now);
        }
        self.drain_audit();
        if self.outbox.send_due(now) {
            self.ship_audit(now);
        }
        self.publisher
            .sweep(&Shared, now, RETAIN_AFTER_EXPIRY_MS, SWEEP_SLOTS_PER_TICK);
    }

    /// Workers name keys whose record changed; the queue is drained on ticks and on wake-ups.
    pub fn on_queue_ready(&mut self, queue: u32) {
        if Some(queue) == self.queue {
            self.drain_queue(host::now_ms());
        } else if Some(queue) == self.audit_queue {
            self.drain_audit();
            let now = host::now_ms();
            if self.outbox.send_due(now) {
                self.ship_audit(now);
            }
        }
    }

    /// Numbers the workers' audit records into the outbox; what it cannot keep is counted.
    fn drain_audit(&mut self) {
        let Some(queue) = self.audit_queue else {
            return;
        };
        let mut dropped = 0;
        while let Some(message) = host::dequeue(queue) {
            for record in handoff::split(&message) {
                if !self.outbox.push(record.to_vec()) {
                    dropped += 1;
                }
            }
        }
        if let Some((dropped_id, buffered_id)) = self.audit_metrics {
            if dropped > 0 {
                let _ = hostcalls::increment_metric(dropped_id, dropped);
                log::warn!("keybrake sync: audit buffer full, {dropped} records dropped (they are in the access log)");
            }
            let _ = hostcalls::record_metric(
                buffered_id,
                u64::try_from(self.outbox.len()).unwrap_or(u64::MAX),
            );
        }
    }

    fn ship_audit(&mut self, now: u64) {
        let body = self
            .outbox
            .build_batch(now, &self.info.gateway, &self.info.instance);
        let timeout = Duration::from_millis(self.config.audit_timeout_ms);
        match host::dispatch(
            &self.config.cluster,
            &self.config.authority,
            AUDIT_PATH,
            &self.info.token,
            Some(&body),
            timeout,
        ) {
            Ok(token) => self.audit_in_flight = Some(token),
            Err(e) => {
                log::warn!("keybrake sync: cannot send audit records: {e:?}");
                self.outbox.on_answer(now, self.config.retry_ms, None);
            }
        }
    }

    fn drain_queue(&mut self, now: u64) {
        let Some(queue) = self.queue else { return };
        while let Some(message) = host::dequeue(queue) {
            for key_id in handoff::split(&message) {
                if let Ok(key_id) = std::str::from_utf8(key_id) {
                    self.usage.touched(key_id.to_owned(), now);
                }
            }
        }
    }

    fn poll(&mut self) {
        let path = self.state.poll_path(&self.config, &self.info.instance);
        let timeout = Duration::from_millis(SyncState::call_timeout_ms(&self.config));
        match host::dispatch(
            &self.config.cluster,
            &self.config.authority,
            &path,
            &self.info.token,
            None,
            timeout,
        ) {
            Ok(token) => {
                self.poll_in_flight = Some(token);
                self.state.poll_started();
            }
            Err(e) => {
                if self.state.poll_not_started(host::now_ms(), &self.config) {
                    log::warn!(
                        "keybrake sync: cannot call cluster {:?}: {e:?} (no healthy endpoint yet?); retrying every {} ms",
                        self.config.cluster,
                        keybrake_core::sync::NOT_SENT_RETRY_MS.min(self.config.retry_ms)
                    );
                }
            }
        }
    }

    fn report(&mut self, now: u64) {
        let report = self
            .usage
            .build_report(now, &self.info.gateway, &self.info.instance, |k| {
                ledger::read(&Shared, k).ok()
            });
        let sent = serde_json::to_vec(&report)
            .map_err(|e| e.to_string())
            .and_then(|body| {
                host::dispatch(
                    &self.config.cluster,
                    &self.config.authority,
                    USAGE_PATH,
                    &self.info.token,
                    Some(&body),
                    REPORT_TIMEOUT,
                )
                .map_err(|e| format!("{e:?}"))
            });
        match sent {
            Ok(token) => self.report_in_flight = Some(token),
            Err(e) => {
                log::warn!("keybrake sync: cannot send the usage report: {e}");
                self.usage.on_answer(now, None);
            }
        }
    }

    pub fn on_answer(&mut self, token: u32, num_headers: usize, body_size: usize) {
        if self.poll_in_flight == Some(token) {
            self.poll_in_flight = None;
            self.on_snapshot_answer(num_headers, body_size);
        } else if self.report_in_flight == Some(token) {
            self.report_in_flight = None;
            self.on_report_answer(num_headers, body_size);
        } else if let Some(i) = self.top_ups_in_flight.iter().position(|(t, _)| *t == token) {
            let (_, key_id) = self.top_ups_in_flight.swap_remove(i);
            self.on_top_up_answer(&key_id, num_headers, body_size);
        } else if self.audit_in_flight == Some(token) {
            self.audit_in_flight = None;
            let (status, body) = host::call_answer(num_headers, body_size);
            let ack = (status == 200)
                .then(|| serde_json::from_slice::<AuditAck>(&body).ok())
                .flatten();
            if ack.is_none() {
                log::warn!(
                    "keybrake sync: audit batch not acknowledged (status {status}); will resend"
                );
            }
            let now = host::now_ms();
            self.outbox.on_answer(now, self.config.retry_ms, ack);
            if self.outbox.send_due(now) && !self.outbox.is_empty() {
                self.ship_audit(now);
            }
        }
    }

    fn on_snapshot_answer(&mut self, num_headers: usize, body_size: usize) {
        let status = host::call_status(num_headers);
        let now = host::now_ms();
        match self.state.on_answer(now, &self.config, status) {
            SyncEffect::Publish { held_version } => {
                // Budget records and slots as the body is read, then the status: a worker
                // that sees the version finds every key of it and its record.
                let body =
                    std::io::BufReader::with_capacity(READ_CHUNK, host::CallBody::new(body_size));
                match self.publisher.apply_json(
                    &Shared,
                    body,
                    held_version,
                    now,
                    RETAIN_AFTER_EXPIRY_MS,
                ) {
                    Ok(applied) => {
                        let status = self.state.published(now, &applied);
                        let _ = host::set_shared_data(SHARED_STATUS_KEY, &status.encode());
                        log::info!(
                            "keybrake sync: policy version {} published ({}, {} keys{})",
                            status.version,
                            if applied.base.is_some() {
                                "delta"
                            } else {
                                "full"
                            },
                            applied.keys,
                            if applied.globals {
                                ", credentials, rates and prices"
                            } else {
                                ""
                            }
                        );
                    }
                    Err(e) => {
                        log::error!("keybrake sync: cannot publish the policy ({body_size} bytes): {e}; asking for all of it");
                        self.state.publish_failed(now, &self.config);
                    }
                }
            }
            SyncEffect::Confirm { status } => {
                let _ = host::set_shared_data(SHARED_STATUS_KEY, &status.encode());
            }
            SyncEffect::Failed { reason } => {
                log::warn!("keybrake sync: {reason}; retrying");
            }
        }
        // Long-poll again at once when the answer was good; otherwise the tick retries later.
        if self.state.poll_due(now) {
            self.poll();
        }
    }

    fn on_report_answer(&mut self, num_headers: usize, body_size: usize) {
        let (status, body) = host::call_answer(num_headers, body_size);
        let now = host::now_ms();
        let answer = (status == 200)
            .then(|| serde_json::from_slice::<UsageAnswer>(&body).ok())
            .flatten();
        if answer.is_none() {
            log::warn!("keybrake sync: usage report not accepted (status {status}); will resend");
        }
        let accepted = answer.is_some();
        for key_id in self.usage.on_answer(now, answer) {
            if let Err(e) = ledger::release(&Shared, &key_id, 0) {
                log::warn!("keybrake sync: cannot release the lease of {key_id}: {e}");
            }
        }
        if accepted {
            self.top_up();
        }
    }

    /// Asks for more lease for busy keys below their low-water mark, so that their calls find
    /// room in the local lease instead of waiting on the control plane.
    fn top_up(&mut self) {
        let wants = self.usage.top_ups(|k| ledger::read(&Shared, k).ok());
        for (usage, want) in wants {
            if self.top_ups_in_flight.len() >= MAX_TOP_UPS_IN_FLIGHT {
                break;
            }
            if self
                .top_ups_in_flight
                .iter()
                .any(|(_, k)| *k == usage.key_id)
            {
                continue;
            }
            let key_id = usage.key_id.clone();
            let request = LeaseRequest {
                gateway: self.info.gateway.clone(),
                instance: self.info.instance.clone(),
                usage,
                want_micros: want,
                min_micros: None,
            };
            let sent = serde_json::to_vec(&request)
                .map_err(|e| e.to_string())
                .and_then(|body| {
                    host::dispatch(
                        &self.config.cluster,
                        &self.config.authority,
                        LEASE_PATH,
                        &self.info.token,
                        Some(&body),
                        REPORT_TIMEOUT,
                    )
                    .map_err(|e| format!("{e:?}"))
                });
            match sent {
                Ok(token) => self.top_ups_in_flight.push((token, key_id)),
                Err(e) => {
                    log::warn!("keybrake sync: cannot top up the lease of {key_id}: {e}");
                    break;
                }
            }
        }
    }

    fn on_top_up_answer(&mut self, key_id: &str, num_headers: usize, body_size: usize) {
        let (status, body) = host::call_answer(num_headers, body_size);
        let grant = (status == 200)
            .then(|| serde_json::from_slice::<LeaseGrant>(&body).ok())
            .flatten()
            .filter(|g| g.key_id == key_id);
        let Some(grant) = grant else {
            // The next report's check asks again (reports back off when the control plane is away).
            log::debug!("keybrake sync: top-up of {key_id} not granted (status {status})");
            return;
        };
        if let Err(e) =
            ledger::apply_grant(&Shared, key_id, grant.day, grant.lease_micros, grant.seq)
        {
            log::warn!("keybrake sync: cannot apply the top-up of {key_id}: {e}");
        }
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
