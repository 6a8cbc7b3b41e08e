//! The HTTP filter. Per worker VM: the policy index (the keys requests presented, each read
//! from its shared-data slot only when the policy version moved), how to reach the control
//! plane, the lease desk (one lease request in flight per key: [`lease`]), settlements waiting
//! to be retried, and the records waiting to go to the sync service (batched: every enqueue
//! wakes Envoy's main thread). Per request: a [`stream::Stream`].

mod lease;
mod metrics;
mod stream;

use crate::host::{self, Shared};
use keybrake_core::audit::{AuditRecord, AUDIT_QUEUE};
use keybrake_core::config::{DataplaneInfo, FilterConfig, SHARED_DATAPLANE_KEY, USAGE_QUEUE};
use keybrake_core::handoff::{Handoff, AUDIT_MAX_BYTES, AUDIT_MAX_RECORDS};
use keybrake_core::key::VaultKeyId;
use keybrake_core::lease_desk::LeaseDesk;
use keybrake_core::ledger;
use keybrake_core::snapshot::{PolicyIndex, SyncStatus};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

pub use stream::Stream;

/// How often a worker hands its waiting records to the sync service (sooner when a message
/// fills up).
pub const FLUSH_TICK: Duration = Duration::from_millis(50);

pub struct FilterRoot {
    vm: Rc<RefCell<VmState>>,
    /// The root context's id: lease rounds made due by a stream that ended are sent from the
    /// root's tick, and answered here.
    context_id: u32,
}

/// What the streams of one worker share (a VM is single-threaded).
pub struct VmState {
    pub config: FilterConfig,
    /// `None` until the first request.
    index: Option<PolicyIndex>,
    /// The last status version whose policy could not be read, so it is logged once.
    rejected_version: Option<u64>,
    dataplane: Option<DataplaneInfo>,
    vm_id: String,
    queue: Option<u32>,
    audit_queue: Option<u32>,
    metrics: metrics::Metrics,
    /// Keys whose record changed, not yet named to the sync service.
    touched_out: Handoff,
    /// Audit records (JSON) not yet handed to the sync service.
    audit_out: Handoff,
    /// Settlements that met contention, retried on later requests: key id → `(reserved,
    /// actual)` summed over its calls (settling is additive), so it holds at most one entry per
    /// key however long the contention lasts.
    pending_settlements: BTreeMap<String, (u64, u64)>,
    /// Lease rounds: one request in flight per key, and the calls waiting on each.
    desk: LeaseDesk<lease::Waiter>,
}

impl FilterRoot {
    pub fn configure(raw: &[u8], context_id: u32) -> Result<Self, String> {
        let config: FilterConfig = crate::config::parse(raw)?;
        let vm_id = host::property_string("plugin_vm_id").unwrap_or_default();
        Ok(Self {
            vm: Rc::new(RefCell::new(VmState {
                config,
                index: None,
                rejected_version: None,
                dataplane: None,
                vm_id,
                queue: None,
                audit_queue: None,
                metrics: metrics::Metrics::define(),
                touched_out: Handoff::default(),
                audit_out: Handoff::new(AUDIT_MAX_RECORDS, AUDIT_MAX_BYTES),
                pending_settlements: BTreeMap::new(),
                desk: LeaseDesk::default(),
            })),
            context_id,
        })
    }

    pub fn new_stream(&self, context_id: u32) -> Stream {
        Stream::new(Rc::clone(&self.vm), context_id)
    }

    /// Hands whatever waits to the sync service, and sends lease rounds left due.
    pub fn on_tick(&self) {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.flush_touched();
            vm.flush_audit();
            vm.metrics.flush();
        }
        lease::send_due(&self.vm, self.context_id);
    }

    /// The answer to a lease request the root sent.
    pub fn on_lease_answer(&self, token: u32, num_headers: usize, body_size: usize) {
        lease::on_answer(&self.vm, self.context_id, token, num_headers, body_size);
    }
}

impl VmState {
    /// Brings the index up to `status` for the keys a request presents; `None` when the
    /// policy cannot be read from shared data (the call is refused `policy_unavailable`).
    fn policy(&mut self, status: SyncStatus, keys: &[VaultKeyId]) -> Option<&PolicyIndex> {
        let index = self.index.get_or_insert_with(PolicyIndex::default);
        let mut result = index.refresh(&Shared, status, keys.first());
        for id in keys.iter().skip(1) {
            if result.is_ok() {
                result = index.refresh(&Shared, status, Some(id));
            }
        }
        match result {
            Ok(()) => self.index.as_ref(),
            Err(e) => {
                if self.rejected_version != Some(status.version) {
                    log::error!(
                        "keybrake: policy version {} unreadable: {e}",
                        status.version
                    );
                    self.rejected_version = Some(status.version);
                }
                None
            }
        }
    }

    /// How to reach the control plane, read once from what the sync service published.
    fn dataplane(&mut self) -> Option<&DataplaneInfo> {
        if self.dataplane.is_none() {
            self.dataplane = host::shared_data(SHARED_DATAPLANE_KEY)
                .and_then(|b| serde_json::from_slice(&b).ok());
        }
        self.dataplane.as_ref()
    }

    /// Names a key whose record changed, so the sync service reports it (once per message).
    fn touched(&mut self, key_id: &str) {
        if self.touched_out.contains(key_id.as_bytes()) {
            return;
        }
        if matches!(self.touched_out.push(key_id.as_bytes()), Ok(true)) {
            self.flush_touched();
        }
    }

    fn flush_touched(&mut self) {
        let Some((message, _)) = self.touched_out.take() else {
            return;
        };
        if self.queue.is_none() {
            self.queue = host::resolve_queue(&self.vm_id, USAGE_QUEUE);
        }
        if let Some(q) = self.queue {
            if !host::enqueue(q, &message) {
                self.queue = None;
            }
        }
    }

    /// Queues a call's audit record for the sync service; a record that cannot go is counted.
    fn audit(&mut self, record: &[u8]) {
        match self.audit_out.push(record) {
            Ok(true) => self.flush_audit(),
            Ok(false) => {}
            Err(e) => {
                self.metrics.audit_dropped(1);
                log::warn!("keybrake: {e}; the call is in the access log");
            }
        }
    }

    fn flush_audit(&mut self) {
        let Some((message, records)) = self.audit_out.take() else {
            return;
        };
        if self.audit_queue.is_none() {
            self.audit_queue = host::resolve_queue(&self.vm_id, AUDIT_QUEUE);
        }
        let sent = self.audit_queue.is_some_and(|q| host::enqueue(q, &message));
        if !sent {
            self.audit_queue = None;
            self.metrics
                .audit_dropped(u64::try_from(records).unwrap_or(u64::MAX));
            log::warn!(
                "keybrake: {records} audit records could not be queued; they are in the access log"
            );
        }
    }

    /// A settlement that met contention, retried on a later request.
    fn defer_settlement(&mut self, key_id: &str, reserved: u64, actual: u64) {
        let entry = self
            .pending_settlements
            .entry(key_id.to_owned())
            .or_insert((0, 0));
        entry.0 = entry.0.saturating_add(reserved);
        entry.1 = entry.1.saturating_add(actual);
    }

    /// A call's end: its counters, and its audit record queued for the sync service.
    fn record(&mut self, record: &AuditRecord) {
        self.metrics
            .call(record.vendor, record.decision, record.cost_micros);
        self.metrics.over_reserved(record.over_reserved_micros);
        match serde_json::to_vec(record) {
            Ok(bytes) => self.audit(&bytes),
            Err(e) => log::error!("keybrake: cannot encode an audit record: {e}"),
        }
    }

    /// Settles, keeping the settlement for a later retry if shared data stays contended.
    fn settle(&mut self, key_id: &str, reserved: u64, actual: u64) -> Option<ledger::BudgetRecord> {
        let record = match ledger::settle(&Shared, key_id, reserved, actual) {
            Ok(r) => Some(r),
            Err(ledger::LedgerError::Contended) => {
                self.defer_settlement(key_id, reserved, actual);
                None
            }
            Err(e) => {
                log::error!("keybrake: cannot settle a call of {key_id}: {e}; its reservation stays charged");
                None
            }
        };
        self.touched(key_id);
        record
    }

    fn retry_pending_settlements(&mut self) {
        if self.pending_settlements.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_settlements);
        for (key_id, (reserved, actual)) in pending {
            self.settle(&key_id, reserved, actual);
        }
    }
}
