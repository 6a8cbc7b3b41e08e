//! The HTTP filter. Per worker VM: the policy index (rebuilt only when the snapshot version
//! changes), how to reach the control plane, and settlements waiting to be retried. Per request:
//! a [`stream::Stream`].

mod fields;
mod metrics;
mod stream;

use crate::host::{self, Shared};
use keybrake_core::audit::AUDIT_QUEUE;
use keybrake_core::config::{DataplaneInfo, FilterConfig, SHARED_DATAPLANE_KEY, USAGE_QUEUE};
use keybrake_core::ledger;
use keybrake_core::snapshot::{PolicyIndex, Snapshot, SyncStatus, SHARED_SNAPSHOT_KEY};
use std::cell::RefCell;
use std::rc::Rc;

pub use stream::Stream;

pub struct FilterRoot {
    vm: Rc<RefCell<VmState>>,
}

/// What the streams of one worker share (a VM is single-threaded).
pub struct VmState {
    pub config: FilterConfig,
    index: Option<PolicyIndex>,
    /// The last version that failed to parse, so it is not retried on every request.
    rejected_version: Option<u64>,
    dataplane: Option<DataplaneInfo>,
    vm_id: String,
    queue: Option<u32>,
    audit_queue: Option<u32>,
    metrics: metrics::Metrics,
    /// Settlements that met contention: `(key_id, reserved, actual)`, retried on later requests.
    pending_settlements: Vec<(String, u64, u64)>,
}

impl FilterRoot {
    pub fn configure(raw: &[u8]) -> Result<Self, String> {
        let raw = if raw.is_empty() {
            b"{}".as_slice()
        } else {
            raw
        };
        let config: FilterConfig = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
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
                pending_settlements: Vec::new(),
            })),
        })
    }

    pub fn new_stream(&self) -> Stream {
        Stream::new(Rc::clone(&self.vm))
    }
}

impl VmState {
    /// Brings the index up to `status.version` when it is behind; returns it if one is loaded.
    fn policy(&mut self, status: SyncStatus) -> Option<&PolicyIndex> {
        let current = self.index.as_ref().map_or(0, |i| i.version);
        if current < status.version && self.rejected_version != Some(status.version) {
            let parsed = host::shared_data(SHARED_SNAPSHOT_KEY)
                .ok_or_else(|| "no snapshot in shared data".to_owned())
                .and_then(|raw| {
                    serde_json::from_slice::<Snapshot>(&raw).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(snapshot) => {
                    let index = PolicyIndex::build(snapshot);
                    if index.skipped > 0 {
                        log::warn!(
                            "keybrake: {} invalid key entries skipped in snapshot {}",
                            index.skipped,
                            index.version
                        );
                    }
                    self.index = Some(index);
                }
                Err(e) => {
                    log::error!(
                        "keybrake: snapshot {} unreadable, keeping the previous one: {e}",
                        status.version
                    );
                    self.rejected_version = Some(status.version);
                }
            }
        }
        self.index.as_ref()
    }

    /// How to reach the control plane, read once from what the sync service published.
    fn dataplane(&mut self) -> Option<&DataplaneInfo> {
        if self.dataplane.is_none() {
            self.dataplane = host::shared_data(SHARED_DATAPLANE_KEY)
                .and_then(|b| serde_json::from_slice(&b).ok());
        }
        self.dataplane.as_ref()
    }

    /// Names a key whose record changed, so the sync service reports it.
    fn touched(&mut self, key_id: &str) {
        if self.queue.is_none() {
            self.queue = host::resolve_queue(&self.vm_id, USAGE_QUEUE);
        }
        if let Some(q) = self.queue {
            if !host::enqueue(q, key_id.as_bytes()) {
                self.queue = None;
            }
        }
    }

    /// Hands a call's audit record to the sync service; a record the queue refuses is counted.
    fn audit(&mut self, record: &[u8]) {
        if self.audit_queue.is_none() {
            self.audit_queue = host::resolve_queue(&self.vm_id, AUDIT_QUEUE);
        }
        let sent = self.audit_queue.is_some_and(|q| host::enqueue(q, record));
        if !sent {
            self.audit_queue = None;
            self.metrics.audit_dropped();
            log::warn!("keybrake: an audit record could not be queued; it is in the access log");
        }
    }

    /// Settles, keeping the settlement for a later retry if shared data stays contended.
    fn settle(&mut self, key_id: &str, reserved: u64, actual: u64) -> Option<ledger::BudgetRecord> {
        let record = match ledger::settle(&Shared, key_id, reserved, actual) {
            Ok(r) => Some(r),
            Err(ledger::LedgerError::Contended) => {
                self.pending_settlements
                    .push((key_id.to_owned(), reserved, actual));
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
        for (key_id, reserved, actual) in pending {
            self.settle(&key_id, reserved, actual);
        }
    }
}
