//! One request through the filter.
//!
//! A free call is decided and forwarded in the request-headers callback. A costed call waits
//! for its body (which ends with the last DATA frame, or with the request trailers over
//! HTTP/2), is priced, and reserves its worst case in the local lease before anything is
//! forwarded; when the lease lacks room, the worker asks the control plane for more and waits.
//! The response settles the reservation; a call that never completes stays charged.
//!
//! The client's credential never waits in the request: a costed call's `Authorization` is
//! removed before the filter first pauses, and set to the vendor's only when the call is
//! allowed, so a call Envoy sent on undecided would reach the vendor with no credential (and
//! is recorded as `undecided`). A refusal also takes out anything secret-shaped that Envoy's
//! access log could print (the path, any header).
//!
//! No `RefCell` borrow of the VM state is held across a host call that could re-enter.

use super::fields::CallLog;
use super::VmState;
use crate::host::{self, Shared};
use keybrake_core::config::HOLD_ADVICE;
use keybrake_core::cost::{self, Estimate, MAX_RESPONSE_BODY};
use keybrake_core::decide::{self, Allowed, RequestFacts, Screened};
use keybrake_core::lease::{no_room_after_grant, KeyUsage, LeaseGrant, LeaseRequest, LEASE_PATH};
use keybrake_core::ledger::{self, day_of, Reservation};
use keybrake_core::snapshot::{SyncStatus, SHARED_STATUS_KEY};
use keybrake_core::{answer, redact};
use keybrake_core::{DenyReason, Vendor};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

mod settle;

use settle::{printable_id, Charge};

/// Lease requests one call may make before it is refused.
const MAX_LEASE_ATTEMPTS: u8 = 4;

pub struct Stream {
    vm: Rc<RefCell<VmState>>,
    phase: Phase,
    log: CallLog,
    /// Request headers to overwrite before a refusal is answered (and logged), because they
    /// hold something secret-shaped. `None` until the header map was read; a refusal in the
    /// request-headers callback reads it then.
    scrub: Option<Vec<(String, String)>>,
}

enum Phase {
    /// Nothing (left) to do: a free call forwarded, a refusal sent, a charge settled.
    Idle,
    /// A costed call waiting for its body; `buffered` is the size Envoy reported last.
    AwaitBody(Box<Costed>, usize),
    AwaitLease(Box<Costed>, u32),
    Charging(Box<Charge>),
    /// A forwarded call whose answer carries the vendor's credential in these fields
    /// ([`answer::credential_fields`]); the answer is buffered and they are taken out.
    Withhold {
        fields: &'static [&'static str],
        encoding: Option<Vec<u8>>,
    },
}

/// What forwarding changes in the request.
struct Forward {
    authorization: String,
    path: Option<String>,
    method: Option<String>,
    /// Client-sent headers that are the gateway's own (`x-keybrake-*`).
    strip: Vec<String>,
}

/// A costed call not yet forwarded.
struct Costed {
    forward: Forward,
    key_id: String,
    vendor: Vendor,
    method: String,
    path: Vec<String>,
    day: u32,
    estimate: Estimate,
    lease_attempts: u8,
}

impl Forward {
    fn of(a: &Allowed<'_>, screened: Screened) -> Self {
        Self {
            authorization: a.upstream_authorization.to_owned(),
            path: a.rewrite_path.clone(),
            method: a.rewrite_method.clone(),
            strip: screened.strip,
        }
    }

    /// Swaps the credential, drops the gateway's own headers, and pins the checked path and
    /// method.
    fn apply(&self) {
        host::set_request_header("authorization", &self.authorization);
        for name in &self.strip {
            host::remove_request_header(name);
        }
        if let Some(path) = &self.path {
            host::set_request_header(":path", path);
        }
        if let Some(method) = &self.method {
            host::set_request_header(":method", method);
        }
    }
}

impl Stream {
    /// Answers locally in the vendor's error shape; nothing reaches the vendor. The vault key
    /// and any secret-shaped header value are taken out of the request first, so no access-log
    /// format prints them.
    fn refuse(&mut self, reason: DenyReason, vendor: Option<Vendor>) -> Action {
        self.refuse_with(reason, vendor, None)
    }

    /// A refusal whose message also says what to do instead.
    fn refuse_with(
        &mut self,
        reason: DenyReason,
        vendor: Option<Vendor>,
        advice: Option<&str>,
    ) -> Action {
        self.log.denied(reason);
        host::remove_request_header("authorization");
        let scrub = self
            .scrub
            .take()
            .unwrap_or_else(|| redact::headers_to_redact(&host::request_headers()));
        for (name, value) in &scrub {
            host::set_request_header(name, value);
        }
        let reply = reason.response_with(vendor, advice);
        host::send_local_reply(reply.status, &reply.headers, &reply.body);
        Action::Pause
    }

    pub fn new(vm: Rc<RefCell<VmState>>) -> Self {
        Self {
            vm,
            phase: Phase::Idle,
            log: CallLog::default(),
            scrub: None,
        }
    }

    fn decide_headers(&mut self, end_of_stream: bool) -> Action {
        let now_ms = host::now_ms();
        // Envoy sets it when it rewrites a prefix; a client's own would stand in the access log
        // of a refused call.
        host::remove_request_header("x-envoy-original-path");
        let method = host::request_header(":method").unwrap_or_default();
        let path = host::request_header(":path").unwrap_or_default();
        let authorization = host::request_header("authorization");
        let status = host::shared_data(SHARED_STATUS_KEY).and_then(|b| SyncStatus::decode(&b));
        self.log.time_ms = now_ms;
        self.log.method =
            String::from_utf8_lossy(&method[..method.len().min(16)]).to_ascii_uppercase();

        let Ok(mut vm) = self.vm.try_borrow_mut() else {
            return self.refuse(DenyReason::PolicyUnavailable, decide::vendor_hint(&path));
        };
        vm.retry_pending_settlements();
        let max_age = vm.config.max_snapshot_age_ms;
        let can_hold_for_body = vm.config.headers_pause_delivers_body;
        let presented = decide::presented_key_ids(authorization.as_deref());
        let index = match status {
            Some(s) if decide::policy_available(status, now_ms, max_age) => {
                vm.policy(s, &presented)
            }
            _ => None,
        };
        let Some(index) = index else {
            drop(vm);
            return self.refuse(DenyReason::PolicyUnavailable, decide::vendor_hint(&path));
        };
        let facts = RequestFacts {
            method: &method,
            path: &path,
            authorization: authorization.as_deref(),
            now_ms,
        };
        let allowed = match decide::decide(index, &facts) {
            Ok(a) => a,
            Err(d) => {
                self.log.key(d.vendor, d.key);
                self.log.path = redact::redacted_or_same(d.vendor_path.as_deref().unwrap_or(""));
                let (reason, vendor) = (d.reason, d.vendor);
                // An agent told "not allowed" should see what it asked for (path redacted).
                let advice = match (reason, d.advice) {
                    (DenyReason::EndpointNotAllowed, None) => Some(format!(
                        "the call was {} {}.",
                        self.log.method, self.log.path
                    )),
                    (_, advice) => advice.map(str::to_owned),
                };
                drop(vm);
                return self.refuse_with(reason, vendor, advice.as_deref());
            }
        };
        self.log.key(Some(allowed.vendor), Some(allowed.key));
        self.log.path = redact::redacted_or_same(&allowed.vendor_path);
        // The vault key leaves only in `Authorization`, which is about to be replaced.
        let headers = host::request_headers();
        self.scrub = Some(redact::headers_to_redact(&headers));
        let screened = match decide::screen_headers(allowed.vendor, &headers) {
            Ok(s) => s,
            Err(reason) => {
                let vendor = allowed.vendor;
                drop(vm);
                return self.refuse(reason, Some(vendor));
            }
        };
        let segments: Vec<String> = allowed
            .vendor_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let key_id = allowed.key.key_id.as_str().to_owned();
        if !cost::is_costed(allowed.vendor, &allowed.method, &segments) {
            let forward = Forward::of(&allowed, screened);
            let withhold = answer::credential_fields(allowed.vendor, &allowed.method, &segments);
            drop(vm);
            forward.apply();
            if let Some(fields) = withhold {
                // The answer is read here, so it must come uncompressed.
                host::remove_request_header("accept-encoding");
                self.phase = Phase::Withhold {
                    fields,
                    encoding: None,
                };
            }
            self.log.allowed();
            let spent = ledger::read(&Shared, &key_id).ok().map(|r| r.spent);
            self.log.cost(0, cost::CostSource::Request, spent);
            return Action::Continue;
        }
        if !end_of_stream && !can_hold_for_body {
            let vendor = allowed.vendor;
            drop(vm);
            return self.refuse_with(DenyReason::CostNotBounded, Some(vendor), Some(HOLD_ADVICE));
        }
        let costed = Box::new(Costed {
            forward: Forward::of(&allowed, screened),
            key_id,
            vendor: allowed.vendor,
            method: allowed.method.clone(),
            path: segments,
            day: day_of(now_ms),
            estimate: Estimate::Free,
            lease_attempts: 0,
        });
        drop(vm);
        // From here the call may pause; the vault key must not wait in the request.
        host::remove_request_header("authorization");
        if end_of_stream {
            return self.price(costed, &[]);
        }
        self.phase = Phase::AwaitBody(costed, 0);
        Action::Pause
    }

    /// Prices a costed call from its body and reserves the worst case.
    fn price(&mut self, mut costed: Box<Costed>, raw_body: &[u8]) -> Action {
        let encoding = host::request_header("content-encoding");
        let content_type = host::request_header("content-type");
        let Ok(max_body) = self
            .vm
            .try_borrow()
            .map(|vm| vm.config.max_request_body_bytes)
        else {
            return self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor));
        };
        let body = match cost::request_body(
            costed.vendor,
            &costed.path,
            content_type.as_deref(),
            encoding.as_deref(),
            raw_body,
            max_body,
        ) {
            Ok(body) => body,
            Err(e) => return self.refuse_with(e.deny_reason(), Some(costed.vendor), e.advice()),
        };
        // What this gateway counted for the intent or charge a follow-up moves money of.
        let counted =
            cost::counted::follow_up_object(costed.vendor, &costed.path, body).and_then(|id| {
                host::shared_data(&cost::counted::key(&id))
                    .and_then(|b| cost::counted::decode_slot(&id, &b))
            });
        let known = cost::Known {
            key_id: &costed.key_id,
            counted: counted.as_ref(),
        };
        let estimate = match self.vm.try_borrow() {
            Ok(vm) => vm.index.as_ref().map(|index| {
                cost::estimate(
                    costed.vendor,
                    &costed.method,
                    &costed.path,
                    body,
                    &index.rates,
                    &index.prices,
                    known,
                )
            }),
            Err(_) => None,
        };
        let Some(estimate) = estimate else {
            return self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor));
        };
        match estimate {
            Err(e) => self.refuse_with(e.deny_reason(), Some(costed.vendor), e.advice()),
            Ok(Estimate::Free) => {
                costed.forward.apply();
                self.log.allowed();
                self.log.cost(0, cost::CostSource::Request, None);
                Action::Continue
            }
            Ok(estimate) => {
                costed.estimate = estimate;
                self.reserve(costed)
            }
        }
    }

    fn reserve(&mut self, mut costed: Box<Costed>) -> Action {
        let amount = match costed.estimate {
            Estimate::Reserve(amount) | Estimate::Approximate(amount) => amount,
            Estimate::Free => 0,
        };
        let result = ledger::reserve(&Shared, &costed.key_id, costed.day, amount);
        match result {
            Ok(Reservation::Reserved { amount, .. }) => {
                if let Ok(mut vm) = self.vm.try_borrow_mut() {
                    vm.touched(&costed.key_id);
                }
                costed.forward.apply();
                self.log.allowed();
                self.phase = Phase::Charging(Box::new(Charge {
                    key_id: costed.key_id,
                    vendor: costed.vendor,
                    path: costed.path,
                    reserved: amount,
                    from_request: matches!(costed.estimate, Estimate::Reserve(_)),
                    status: 0,
                    replayed: false,
                    encoding: None,
                    body: Vec::new(),
                    overflow: false,
                }));
                Action::Continue
            }
            Ok(Reservation::Short { shortfall }) if costed.lease_attempts < MAX_LEASE_ATTEMPTS => {
                costed.lease_attempts += 1;
                self.ask_for_lease(costed, shortfall)
            }
            Ok(Reservation::Short { .. }) => {
                self.refuse(DenyReason::SpendCapExceeded, Some(costed.vendor))
            }
            Err(e) => {
                log::warn!("keybrake: cannot reserve for {}: {e}", costed.key_id);
                self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor))
            }
        }
    }

    fn ask_for_lease(&mut self, costed: Box<Costed>, want: u64) -> Action {
        let (info, timeout) = {
            let Ok(mut vm) = self.vm.try_borrow_mut() else {
                return self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor));
            };
            let timeout = Duration::from_millis(vm.config.lease_timeout_ms);
            (vm.dataplane().cloned(), timeout)
        };
        let Some(info) = info else {
            log::warn!(
                "keybrake: the sync service has not published how to reach the control plane"
            );
            return self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor));
        };
        let record = ledger::read(&Shared, &costed.key_id).unwrap_or_default();
        let usage = KeyUsage::for_day(&costed.key_id, &record, costed.day);
        let request = LeaseRequest {
            gateway: info.gateway.clone(),
            instance: info.instance.clone(),
            usage,
            want_micros: want,
        };
        let sent = serde_json::to_vec(&request)
            .map_err(|e| format!("{e}"))
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
            });
        match sent {
            Ok(token) => {
                if let Ok(vm) = self.vm.try_borrow() {
                    vm.metrics.lease_wait();
                }
                self.phase = Phase::AwaitLease(costed, token);
                Action::Pause
            }
            Err(e) => {
                log::warn!("keybrake: cannot ask the control plane for a lease: {e}");
                self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor))
            }
        }
    }

    fn on_lease_answer(&mut self, costed: Box<Costed>, num_headers: usize, body_size: usize) {
        let (status, body) = host::call_answer(num_headers, body_size);
        let grant = (status == 200)
            .then(|| serde_json::from_slice::<LeaseGrant>(&body).ok())
            .flatten();
        let Some(grant) = grant else {
            log::warn!(
                "keybrake: lease request for {} failed (status {status})",
                costed.key_id
            );
            self.refuse(DenyReason::PolicyUnavailable, Some(costed.vendor));
            return;
        };
        let before = ledger::read(&Shared, &costed.key_id)
            .map(|r| r.lease)
            .unwrap_or(0);
        let after = ledger::apply_grant(
            &Shared,
            &costed.key_id,
            grant.day,
            grant.lease_micros,
            grant.seq,
        )
        .map_err(|e| {
            log::warn!(
                "keybrake: cannot apply a lease grant for {}: {e}",
                costed.key_id
            )
        })
        .ok();
        if let Ok(mut vm) = self.vm.try_borrow_mut() {
            vm.touched(&costed.key_id);
        }
        if no_room_after_grant(
            &grant,
            costed.day,
            before,
            after.as_ref(),
            costed.estimate.min_room(),
        ) {
            self.refuse(DenyReason::SpendCapExceeded, Some(costed.vendor));
            return;
        }
        if let Action::Continue = self.reserve(costed) {
            host::resume_request();
        }
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
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::AwaitLease(costed, t) if t == token => {
                self.on_lease_answer(costed, num_headers, body_size)
            }
            other => self.phase = other,
        }
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.decide_headers(end_of_stream)
    }

    /// Buffers a costed call's body (Envoy keeps it while the filter pauses; `body_size` is
    /// the whole buffered size) until its last DATA frame, then prices it. Over HTTP/2 the body
    /// may end with the trailers instead: see [`Self::on_http_request_trailers`].
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Phase::AwaitBody(costed, _) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return Action::Continue;
        };
        let max = self
            .vm
            .try_borrow()
            .map_or(0, |vm| vm.config.max_request_body_bytes);
        if body_size > max {
            return self.refuse(DenyReason::BadRequest, Some(costed.vendor));
        }
        if !end_of_stream {
            self.phase = Phase::AwaitBody(costed, body_size);
            return Action::Pause;
        }
        let body = host::request_body(body_size);
        self.price(costed, &body)
    }

    /// A request that ends with trailers (HTTP/2, or HTTP/1.1 chunked where Envoy keeps them):
    /// the body is complete now, so a costed call is priced here, exactly as at the last DATA
    /// frame. The trailers themselves are forwarded as sent; no vendor reads money from them.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let Phase::AwaitBody(costed, buffered) = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return Action::Continue;
        };
        let body = host::request_body(buffered);
        if body.len() != buffered {
            log::warn!(
                "keybrake: a request body of {buffered} bytes read back as {} at its trailers; refused",
                body.len()
            );
            return self.refuse(DenyReason::BadRequest, Some(costed.vendor));
        }
        self.price(costed, &body)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if matches!(self.phase, Phase::AwaitBody(..) | Phase::AwaitLease(..)) {
            // Envoy sent the request on while the filter still held it: never by design, but
            // if it happens the vendor saw no credential, and the record must say so.
            self.phase = Phase::Idle;
            self.log.undecided();
            log::error!(
                "keybrake: a call was forwarded before it was decided (it carried no credential)"
            );
        }
        if let Some(at) = self.log.forwarded_at_ms {
            self.log.upstream_latency_ms = Some(host::now_ms().saturating_sub(at));
            self.log.vendor_request_id = host::response_header("request-id")
                .or_else(|| host::response_header("twilio-request-id"))
                .and_then(|v| printable_id(&v));
        }
        if let Phase::Withhold { encoding, .. } = &mut self.phase {
            if end_of_stream {
                self.phase = Phase::Idle;
            } else {
                // The body is about to change length.
                host::remove_response_header("content-length");
                *encoding = host::response_header("content-encoding");
                host::remove_response_header("content-encoding");
            }
            return Action::Continue;
        }
        if let Phase::Charging(charge) = &mut self.phase {
            charge.status = host::response_header(":status")
                .and_then(|s| std::str::from_utf8(&s).ok().and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            charge.replayed = host::response_header("idempotent-replayed")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
            charge.encoding = host::response_header("content-encoding");
            if end_of_stream {
                self.finish();
            }
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if let Phase::Withhold { fields, encoding } = &self.phase {
            if !end_of_stream {
                return Action::Pause;
            }
            let body = host::response_body(body_size);
            let out = answer::withhold_credentials(&body, encoding.as_deref(), fields);
            if !host::replace_response_body(body_size, &out) {
                // Envoy would pass the credential on: end the stream instead.
                host::reset_response();
            }
            self.phase = Phase::Idle;
            return Action::Continue;
        }
        if let Phase::Charging(charge) = &mut self.phase {
            if !charge.overflow {
                let chunk = host::response_body(body_size);
                if charge.body.len() + chunk.len() > MAX_RESPONSE_BODY {
                    charge.overflow = true;
                    charge.body = Vec::new();
                } else {
                    charge.body.extend_from_slice(&chunk);
                }
            }
            if end_of_stream {
                self.finish();
            }
        }
        Action::Continue
    }

    /// Settles a call that ended without a complete response (reset, timeout, client gone) at
    /// its reservation, then hands the call's audit record to the sync service.
    fn on_log(&mut self) {
        if let Phase::Charging(charge) = &mut self.phase {
            charge.status = 0;
            self.finish();
        }
        let record = self.log.record(host::response_code());
        let Ok(mut vm) = self.vm.try_borrow_mut() else {
            return;
        };
        vm.metrics
            .call(record.vendor, record.decision, record.cost_micros);
        vm.metrics.over_reserved(record.over_reserved_micros);
        match serde_json::to_vec(&record) {
            Ok(bytes) => vm.audit(&bytes),
            Err(e) => log::error!("keybrake: cannot encode an audit record: {e}"),
        }
    }
}
