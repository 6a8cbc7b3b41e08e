//! The worker's lease desk on Envoy ([`keybrake_core::lease_desk`]): one lease request in
//! flight per key, whose answer wakes every call that waited on it.
//!
//! A call short of lease joins its key's round from its own callback. A due round is sent at
//! the end of that callback (or of a lease answer's, or of the root's tick) from the context
//! the callback runs in: the proxy-wasm SDK routes a callout's answer to the context that was
//! active when it was sent, and Envoy cancels a callout when its context ends. A stream that
//! ends with a round in flight therefore makes that round due again ([`stream_ended`]), and the
//! next callback of the worker (at the latest its root's 50 ms tick) sends it from there.
//!
//! Waking a waiting call runs its flow under its own context (`proxy_set_effective_context`),
//! so the headers it sets, its local reply and its resume act on its stream; the callback's own
//! context is restored after.

use super::stream::EnvoyHost;
use super::VmState;
use crate::host::{self, Shared};
use keybrake_core::flow::Flow;
use keybrake_core::lease::LEASE_PATH;
use keybrake_core::lease_desk::{self, Resolution};
use keybrake_core::ledger::day_of;
use proxy_wasm::hostcalls;
use std::cell::RefCell;
use std::rc::Weak;
use std::time::Duration;

/// A call waiting on a lease round: its stream's context and flow (gone when the stream
/// ended).
#[derive(Clone, Debug)]
pub struct Waiter {
    pub context_id: u32,
    pub flow: Weak<RefCell<Flow>>,
}

impl VmState {
    /// Sends every due round from context `owner`; returns the waiters of rounds that could not
    /// be sent.
    fn send_due(&mut self, owner: u32) -> Vec<Vec<Waiter>> {
        let now = host::now_ms();
        let due = self.desk.due(now);
        let day = day_of(now);
        let timeout = Duration::from_millis(self.config.lease_timeout_ms);
        let info = self.dataplane().cloned();
        let mut failed = Vec::new();
        for d in due {
            let sent = match &info {
                None => Err(
                    "the sync service has not published how to reach the control plane".to_owned(),
                ),
                Some(info) => {
                    let request = lease_desk::request(&Shared, info, &d, day);
                    serde_json::to_vec(&request)
                        .map_err(|e| e.to_string())
                        .and_then(|body| {
                            host::dispatch(
                                &info.cluster,
                                &info.authority,
                                LEASE_PATH,
                                &info.token,
                                Some(&body),
                                timeout,
                            )
                            .map_err(|e| format!("{e:?}"))
                        })
                }
            };
            match sent {
                Ok(token) => {
                    self.metrics.lease_request();
                    self.desk.sent(&d.key_id, token, owner, day, now);
                }
                Err(e) => {
                    log::warn!("keybrake: cannot ask the control plane for a lease: {e}");
                    failed.push(self.desk.not_sent(&d.key_id));
                }
            }
        }
        failed
    }
}

/// At the end of a callback running in context `owner`: sends the rounds that are due, and
/// refuses the calls of any that cannot be sent (`policy_unavailable`).
pub fn send_due(vm: &RefCell<VmState>, owner: u32) {
    let failed = match vm.try_borrow_mut() {
        Ok(mut vm) if vm.desk.has_due() => vm.send_due(owner),
        _ => return,
    };
    for waiters in failed {
        wake(vm, waiters, Resolution::Failed, owner);
    }
}

/// The answer to callout `token`, in a callback of context `owner`: applied once to the key's
/// budget record, then every call of the round is woken with how it ended; the next rounds go
/// out from here.
pub fn on_answer(
    vm_cell: &RefCell<VmState>,
    owner: u32,
    token: u32,
    num_headers: usize,
    body_size: usize,
) {
    let Some(round) = vm_cell
        .try_borrow_mut()
        .ok()
        .and_then(|mut vm| vm.desk.answered(token))
    else {
        return;
    };
    // Reading a failed callout's headers would trap in Envoy: `call_status` never asks then.
    let status = host::call_status(num_headers);
    let body = (status == 200).then(|| host::call_body(body_size));
    let now = host::now_ms();
    let concluded = match vm_cell.try_borrow_mut() {
        Ok(mut vm) => {
            let budget = vm.config.lease_timeout_ms;
            let concluded = vm
                .desk
                .conclude(&Shared, round, status, body.as_deref(), now, budget);
            if let Some(c) = &concluded {
                vm.touched(&c.key_id);
            }
            concluded
        }
        // Never so (no borrow is held across callbacks); if it were, fail the calls closed.
        Err(_) => {
            wake(vm_cell, round.into_waiters(), Resolution::Failed, owner);
            return;
        }
    };
    // `None`: the round is sent again after a pause, from whichever callback of this worker
    // comes first then (at the latest the root's 50 ms tick).
    let Some(c) = concluded else {
        return;
    };
    if let Some(message) = c.message {
        log::warn!("{message}");
    }
    wake(vm_cell, c.waiters, c.resolution, owner);
    send_due(vm_cell, owner);
}

/// Runs each waiting call's flow on `resolution` under its own context, then restores
/// `owner`'s.
fn wake(vm: &RefCell<VmState>, waiters: Vec<Waiter>, resolution: Resolution, owner: u32) {
    if waiters.is_empty() {
        return;
    }
    for waiter in waiters {
        let Some(flow) = waiter.flow.upgrade() else {
            continue;
        };
        let Ok(mut flow) = flow.try_borrow_mut() else {
            continue;
        };
        if hostcalls::set_effective_context(waiter.context_id).is_err() {
            // Its stream is gone from Envoy.
            continue;
        }
        let mut host = EnvoyHost::new(vm, &waiter);
        flow.on_lease_resolved(&mut host, resolution);
    }
    if let Err(e) = hostcalls::set_effective_context(owner) {
        log::error!("keybrake: cannot return to context {owner}: {e:?}");
    }
}

/// Stream `context_id` ended: it waits on nothing any more, and the rounds it sent are due
/// again (Envoy cancelled their callouts with it).
pub fn stream_ended(vm: &RefCell<VmState>, context_id: u32) {
    if let Ok(mut vm) = vm.try_borrow_mut() {
        if vm.desk.is_empty() {
            return;
        }
        vm.desk.owner_gone(context_id);
        vm.desk.leave(|w| w.context_id == context_id);
    }
}
