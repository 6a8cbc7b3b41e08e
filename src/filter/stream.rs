//! One request through the filter: each proxy-wasm callback feeds its event to the core's
//! [`Flow`] (`keybrake_core::flow`, where every rule of a call lives) and answers what it
//! returns. [`EnvoyHost`] is the flow's [`Host`]: Envoy's host calls plus the worker's VM state.
//!
//! No `RefCell` borrow of the VM state is held across a host call that could re-enter: the host
//! borrows it only inside its VM-side methods.

use super::lease::{self, Waiter};
use super::VmState;
use crate::host::{self, Shared};
use keybrake_core::audit::AuditRecord;
use keybrake_core::currency::Rates;
use keybrake_core::decide::{self, RequestFacts};
use keybrake_core::deny::DenyResponse;
use keybrake_core::flow::{Flow, Host, Level, Limits, Step};
use keybrake_core::ledger::{SetError, SharedData};
use keybrake_core::prices::Prices;
use keybrake_core::snapshot::{PolicyIndex, SyncStatus, SHARED_STATUS_KEY};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

pub struct Stream {
    vm: Rc<RefCell<VmState>>,
    /// Shared with the worker's lease desk while the call waits on a lease round (the desk
    /// holds it weakly).
    flow: Rc<RefCell<Flow>>,
    me: Waiter,
}

/// Envoy and the worker's VM, as the flow of stream `me` sees them.
pub(super) struct EnvoyHost<'a> {
    vm: &'a RefCell<VmState>,
    me: &'a Waiter,
}

impl<'a> EnvoyHost<'a> {
    pub(super) fn new(vm: &'a RefCell<VmState>, me: &'a Waiter) -> Self {
        Self { vm, me }
    }
}

impl Stream {
    pub fn new(vm: Rc<RefCell<VmState>>, context_id: u32) -> Self {
        let limits = vm
            .try_borrow()
            .map(|vm| Limits::from(&vm.config))
            .unwrap_or_else(|_| Limits::from(&keybrake_core::config::FilterConfig::default()));
        let flow = Rc::new(RefCell::new(Flow::new(limits)));
        let me = Waiter {
            context_id,
            flow: Rc::downgrade(&flow),
        };
        Self { vm, flow, me }
    }

    /// Feeds one event to the flow. Never re-entered: a flow is only borrowed elsewhere when
    /// the lease desk wakes it, from another callback.
    fn step(&self, event: impl FnOnce(&mut Flow, &mut EnvoyHost<'_>) -> Step) -> Action {
        let mut host = EnvoyHost::new(&self.vm, &self.me);
        let step = match self.flow.try_borrow_mut() {
            Ok(mut flow) => event(&mut flow, &mut host),
            Err(_) => Step::Continue,
        };
        action(step)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        lease::stream_ended(&self.vm, self.me.context_id);
    }
}

fn action(step: Step) -> Action {
    match step {
        Step::Continue => Action::Continue,
        Step::Pause => Action::Pause,
    }
}

impl Context for Stream {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        lease::on_answer(&self.vm, self.me.context_id, token, num_headers, body_size);
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.retry_pending_settlements();
        }
        let action = self.step(|flow, host| flow.on_request_headers(host, end_of_stream));
        lease::send_due(&self.vm, self.me.context_id);
        action
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let action = self.step(|flow, host| flow.on_request_body(host, body_size, end_of_stream));
        lease::send_due(&self.vm, self.me.context_id);
        action
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let action = self.step(|flow, host| flow.on_request_trailers(host));
        lease::send_due(&self.vm, self.me.context_id);
        action
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.step(|flow, host| flow.on_response_headers(host, end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.step(|flow, host| flow.on_response_body(host, body_size, end_of_stream))
    }

    fn on_log(&mut self) {
        let mut host = EnvoyHost::new(&self.vm, &self.me);
        if let Ok(mut flow) = self.flow.try_borrow_mut() {
            flow.on_log(&mut host);
        }
    }
}

// === impl EnvoyHost ===

impl SharedData for EnvoyHost<'_> {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        Shared.get(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SetError> {
        Shared.set(key, value, cas)
    }
}

impl Host for EnvoyHost<'_> {
    fn now_ms(&mut self) -> u64 {
        host::now_ms()
    }

    fn request_headers(&mut self) -> Vec<(String, Vec<u8>)> {
        host::request_headers()
    }

    fn set_request_header(&mut self, name: &str, value: &str) {
        host::set_request_header(name, value);
    }

    fn remove_request_header(&mut self, name: &str) {
        host::remove_request_header(name);
    }

    fn request_body(&mut self, size: usize) -> Vec<u8> {
        host::request_body(size)
    }

    fn resume_request(&mut self) {
        host::resume_request();
    }

    fn send_local_reply(&mut self, reply: &DenyResponse) {
        host::send_local_reply(reply.status, &reply.headers, &reply.body);
    }

    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        host::response_header(name)
    }

    fn response_headers(&mut self) -> Vec<(String, Vec<u8>)> {
        host::response_headers()
    }

    fn remove_response_header(&mut self, name: &str) {
        host::remove_response_header(name);
    }

    fn response_body(&mut self, size: usize) -> Vec<u8> {
        host::response_body(size)
    }

    fn replace_response_body(&mut self, size: usize, body: &[u8]) -> bool {
        host::replace_response_body(size, body)
    }

    fn reset_response(&mut self) {
        host::reset_response();
    }

    fn response_code(&mut self) -> u16 {
        host::response_code()
    }

    fn set_log_field(&mut self, name: &str, value: &str) {
        host::set_log_field(name, value);
    }

    fn wait_for_lease(&mut self, key_id: &str, shortfall: u64, round: u8) {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            if round == 1 {
                vm.metrics.lease_wait();
            }
            vm.desk.join(key_id, shortfall, self.me.clone());
        }
    }

    fn policy<R>(
        &mut self,
        facts: &RequestFacts<'_>,
        decide: impl FnOnce(&PolicyIndex) -> R,
    ) -> Option<R> {
        let status = host::shared_data(SHARED_STATUS_KEY).and_then(|b| SyncStatus::decode(&b));
        let mut vm = self.vm.try_borrow_mut().ok()?;
        let max_age = vm.config.max_snapshot_age_ms;
        if !decide::policy_available(status, facts.now_ms, max_age) {
            return None;
        }
        let presented = decide::presented_key_ids(facts.authorization);
        vm.policy(status?, &presented).map(decide)
    }

    fn pricing<R>(&mut self, price: impl FnOnce(&Rates, &Prices) -> R) -> Option<R> {
        let vm = self.vm.try_borrow().ok()?;
        vm.index.as_ref().map(|i| price(&i.rates, &i.prices))
    }

    fn touched(&mut self, key_id: &str) {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.touched(key_id);
        }
    }

    fn defer_settlement(&mut self, key_id: &str, reserved: u64, actual: u64) {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.defer_settlement(key_id, reserved, actual);
        }
    }

    fn record(&mut self, record: &AuditRecord) {
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.record(record);
        }
    }

    fn log(&mut self, level: Level, message: &str) {
        match level {
            Level::Warn => log::warn!("{message}"),
            Level::Error => log::error!("{message}"),
        }
    }
}
