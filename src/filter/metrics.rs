//! Filter counters, visible on Envoy's `/stats/prometheus` as `keybrake_…` (and on `/stats` as
//! `wasmcustom.keybrake.…`: Envoy 1.40's Prometheus names leave its custom-stat namespace out).
//! Stats are process-wide: every worker VM defines the same names and gets the same counters.
//!
//! A call's counts are added up in the worker's VM and handed to Envoy on the worker's tick
//! (every 50 ms): each `increment_metric` is a host call, and a call would otherwise make one
//! or two of them.

use keybrake_core::audit::Decision;
use keybrake_core::Vendor;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

#[derive(Debug, Default)]
pub struct Metrics {
    /// `[vendor index][allow, deny]`; vendor index 3 is "no vendor".
    requests: [[Option<u32>; 2]; 4],
    cost: [Option<u32>; 3],
    audit_dropped: Option<u32>,
    /// Calls Envoy sent on before the filter decided them; must stay 0.
    undecided: Option<u32>,
    over_reserved: Option<u32>,
    lease_waits: Option<u32>,
    lease_requests: Option<u32>,
    /// Counts not yet handed to Envoy, by counter id.
    pending: Vec<(u32, u64)>,
}

fn vendor_index(v: Option<Vendor>) -> usize {
    match v {
        Some(Vendor::Stripe) => 0,
        Some(Vendor::Twilio) => 1,
        Some(Vendor::Resend) => 2,
        None => 3,
    }
}

fn define(name: &str) -> Option<u32> {
    hostcalls::define_metric(MetricType::Counter, name).ok()
}

fn add(id: Option<u32>, n: u64) {
    if let (Some(id), Ok(n)) = (id, i64::try_from(n)) {
        if n > 0 {
            let _ = hostcalls::increment_metric(id, n);
        }
    }
}

impl Metrics {
    pub fn define() -> Self {
        let mut m = Metrics::default();
        let vendors = ["stripe", "twilio", "resend", "none"];
        for (i, vendor) in vendors.iter().enumerate() {
            for (j, decision) in ["allow", "deny"].iter().enumerate() {
                m.requests[i][j] = define(&format!("keybrake.requests.{vendor}.{decision}"));
            }
            if i < 3 {
                m.cost[i] = define(&format!("keybrake.cost_micros.{vendor}"));
            }
        }
        m.audit_dropped = define("keybrake.audit.dropped_at_worker");
        m.undecided = define("keybrake.requests_undecided");
        // Micro-USD vendors reported above what was reserved: 0 unless a pricing rule is wrong.
        m.over_reserved = define("keybrake.over_reserved_micros");
        // Calls that paused for a lease request: after a key's first calls, 0 while the sync
        // service tops its lease up ahead of need.
        m.lease_waits = define("keybrake.lease_waits");
        // Lease requests this worker sent: one per key at a time, however many calls wait.
        m.lease_requests = define("keybrake.lease_requests");
        m
    }

    pub fn lease_wait(&self) {
        add(self.lease_waits, 1);
    }

    pub fn lease_request(&self) {
        add(self.lease_requests, 1);
    }

    pub fn over_reserved(&mut self, micros: u64) {
        self.later(self.over_reserved, micros);
    }

    pub fn call(&mut self, vendor: Option<Vendor>, decision: Decision, cost_micros: u64) {
        let i = vendor_index(vendor);
        let j = match decision {
            Decision::Allow => 0,
            Decision::Deny => 1,
            Decision::Undecided => {
                self.later(self.undecided, 1);
                1
            }
        };
        self.later(self.requests[i][j], 1);
        if let Some(id) = self.cost.get(i).copied().flatten() {
            self.later(Some(id), cost_micros);
        }
    }

    /// Counts `n` on counter `id` at the next [`Self::flush`].
    fn later(&mut self, id: Option<u32>, n: u64) {
        let Some(id) = id.filter(|_| n > 0) else {
            return;
        };
        match self.pending.iter_mut().find(|(i, _)| *i == id) {
            Some((_, sum)) => *sum = sum.saturating_add(n),
            None => self.pending.push((id, n)),
        }
    }

    /// Hands the counts added up since the last flush to Envoy (on the worker's tick).
    pub fn flush(&mut self) {
        for (id, n) in std::mem::take(&mut self.pending) {
            add(Some(id), n);
        }
    }

    pub fn audit_dropped(&self, records: u64) {
        add(self.audit_dropped, records);
    }
}
