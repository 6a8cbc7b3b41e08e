//! The flow of one call through the filter, as a state machine over a [`Host`].
//!
//! Each proxy-wasm callback of the filter feeds one event into a [`Flow`] (`on_request_headers`,
//! `on_request_body`, …) and returns the [`Step`] it answers; every host call the flow needs
//! (a header read, a shared-data CAS, a local reply, an access-log field) is a method of
//! [`Host`], so the whole flow runs on the host in tests with scripted answers.
//!
//! A free call is decided and forwarded in the request-headers event. A costed call waits for
//! its body (which ends with the last DATA frame, or with the request trailers over HTTP/2), is
//! priced, and reserves its worst case in the local lease before anything is forwarded; when
//! the lease lacks room, the call joins its key's lease round in the worker (one request to the
//! control plane in flight per key, [`crate::lease_desk`]) and waits for its answer. The response
//! settles the reservation; a call that never completes stays charged.
//!
//! The client's credential never waits in the request: a costed call's `Authorization` is
//! removed before the flow first pauses, and set to the vendor's only when the call is allowed,
//! so a call Envoy sent on undecided would reach the vendor with no credential (and is recorded
//! as `undecided`). A refusal also takes out anything secret-shaped that Envoy's access log
//! could print (the path, any header).
//!
//! Host work per call is budgeted (`flow_tests.rs` holds the counts): the request headers are
//! read once, as one map (every guarantee needs every header: a vault key in any header, a
//! method override, a client's `x-envoy-*`); a response body is read only when the response
//! headers do not settle the call, and parsed once; the access-log fields are set once, at the
//! end.

use crate::audit::AuditRecord;
use crate::config::{AccessLogFields, FilterConfig};
use crate::cost::{self, Estimate};
use crate::currency::Rates;
use crate::decide::{self, RequestFacts};
use crate::deny::{DenyReason, DenyResponse};
use crate::ledger::{self, day_of, Reservation, SharedData};
use crate::prices::Prices;
use crate::redact;
use crate::snapshot::PolicyIndex;
use crate::vendor::Vendor;

mod charge;
mod lease;
pub mod log;

use charge::Charge;
use log::{CallLog, KeyNames};

/// Lease requests one call may make before it is refused (a fixed count, no wait between:
/// each answer is applied before the next reservation is tried).
pub const MAX_LEASE_ATTEMPTS: u8 = 4;

/// What a callback answers Envoy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Continue,
    Pause,
}

/// How loud a message from the flow is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Warn,
    Error,
}

/// What the flow needs from Envoy and from the worker's VM. Each method is one host call
/// unless it says otherwise; [`SharedData`] `get`/`set` are one each.
pub trait Host: SharedData {
    /// Unix milliseconds.
    fn now_ms(&mut self) -> u64;
    /// Every request header, pseudo-headers included, names lower-case, repeats as separate
    /// entries. Only in the request-headers event.
    fn request_headers(&mut self) -> Vec<(String, Vec<u8>)>;
    fn set_request_header(&mut self, name: &str, value: &str);
    fn remove_request_header(&mut self, name: &str);
    /// The first `size` bytes of the buffered request body.
    fn request_body(&mut self, size: usize) -> Vec<u8>;
    /// Lets a paused request go on.
    fn resume_request(&mut self);
    fn send_local_reply(&mut self, reply: &DenyResponse);
    fn response_header(&mut self, name: &str) -> Option<Vec<u8>>;
    /// Every response header, `:status` included (one host call; only in the
    /// response-headers event).
    fn response_headers(&mut self) -> Vec<(String, Vec<u8>)>;
    fn remove_response_header(&mut self, name: &str);
    /// The current response body chunk (or the whole buffered body, when paused).
    fn response_body(&mut self, size: usize) -> Vec<u8>;
    /// Replaces the buffered response body; false when Envoy refused.
    fn replace_response_body(&mut self, size: usize, body: &[u8]) -> bool;
    /// Ends the stream toward the client without the rest of the response.
    fn reset_response(&mut self);
    /// The status the client received (`response.code`), 0 when none.
    fn response_code(&mut self) -> u16;
    /// One access-log field (`set_property`).
    fn set_log_field(&mut self, name: &str, value: &str);
    // === the worker's VM (no host call unless it says so) ===

    /// The policy for this request, handed to `decide`; `None` when the gateway has no policy
    /// it may decide with (none yet, or not confirmed recently: fail closed). One shared-data
    /// read of the sync status today.
    fn policy<R>(
        &mut self,
        facts: &RequestFacts<'_>,
        decide: impl FnOnce(&PolicyIndex) -> R,
    ) -> Option<R>;
    /// The operator's rates and prices, when a policy is loaded.
    fn pricing<R>(&mut self, price: impl FnOnce(&Rates, &Prices) -> R) -> Option<R>;
    /// The call waits for `key_id`'s lease round in this worker, short of `shortfall`
    /// micro-USD: the worker sends one lease request per key at a time and hands its
    /// [`crate::lease_desk::Resolution`] to every waiting call ([`Flow::on_lease_resolved`]).
    /// `round` counts the rounds this call waited on, from 1.
    fn wait_for_lease(&mut self, key_id: &str, shortfall: u64, round: u8);
    /// A key's budget record changed: the sync service reports it (batched).
    fn touched(&mut self, key_id: &str);
    /// A settlement that met contention, to retry on a later call.
    fn defer_settlement(&mut self, key_id: &str, reserved: u64, actual: u64);
    /// Hands the call's audit record on (metrics, the audit queue: batched).
    fn record(&mut self, record: &AuditRecord);
    fn log(&mut self, level: Level, message: &str);
}

/// The filter configuration the flow reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_request_body_bytes: usize,
    /// False under Istio's WasmPlugin, which cannot hold a request for its body: costed calls
    /// that have a body are then refused up front.
    pub headers_pause_delivers_body: bool,
    /// How the call's access-log fields are written.
    pub access_log_fields: AccessLogFields,
}

impl From<&FilterConfig> for Limits {
    fn from(c: &FilterConfig) -> Self {
        Self {
            max_request_body_bytes: c.max_request_body_bytes,
            headers_pause_delivers_body: c.headers_pause_delivers_body,
            access_log_fields: c.access_log_fields,
        }
    }
}

/// One call.
#[derive(Debug)]
pub struct Flow {
    limits: Limits,
    phase: Phase,
    log: CallLog,
    /// A costed call's headers went on (with the vendor's credential) before its body was
    /// priced, because pausing on the headers would hold the body back too (Istio's
    /// `WasmPlugin`: `headers_pause_delivers_body: false`). The body is held instead; a refusal
    /// then resets the upstream stream before the body completes, so the vendor never receives
    /// a whole request. Request headers can no longer be changed.
    headers_forwarded: bool,
}

#[derive(Debug)]
enum Phase {
    /// Nothing (left) to do: a free call forwarded, a refusal sent, a charge settled.
    Idle,
    /// A costed call waiting for its body; `buffered` is the size Envoy reported last.
    AwaitBody(Box<Costed>, usize),
    /// A costed call waiting on its key's lease round ([`crate::lease_desk`]).
    AwaitLease(Box<Costed>),
    Charging(Box<Charge>),
    /// A forwarded call whose answer carries the vendor's credential in these fields
    /// ([`crate::answer::credential_fields`]); the answer is buffered and they are taken out.
    Withhold {
        fields: &'static [&'static str],
        encoding: Option<Vec<u8>>,
    },
}

/// What forwarding changes in the request.
#[derive(Debug)]
struct Forward {
    authorization: String,
    path: Option<String>,
    method: Option<String>,
    /// Client-sent headers that are the gateway's own (`x-keybrake-*`, `x-envoy-*`).
    strip: Vec<String>,
}

/// A costed call not yet forwarded.
#[derive(Debug)]
struct Costed {
    forward: Forward,
    key_id: String,
    vendor: Vendor,
    method: String,
    path: Vec<String>,
    day: u32,
    estimate: Estimate,
    lease_attempts: u8,
    /// Said with a `spend_cap_exceeded` refusal when the reservation is a worst case the
    /// request could have narrowed ([`cost::cap_advice`]).
    cap_advice: Option<&'static str>,
    content_type: Option<Vec<u8>>,
    content_encoding: Option<Vec<u8>>,
    /// Headers to overwrite before a later refusal is answered (they hold something
    /// secret-shaped), from the one read of the header map.
    scrub: Vec<(String, String)>,
}

/// A call the policy allows, owned (the policy may change while the call waits).
struct Admitted {
    vendor: Vendor,
    key: KeyNames,
    forward_authorization: String,
    rewrite_path: Option<String>,
    rewrite_method: Option<String>,
    vendor_path: String,
    method: String,
}

/// A call the policy refuses, owned.
struct Refused {
    reason: DenyReason,
    vendor: Option<Vendor>,
    key: Option<KeyNames>,
    vendor_path: Option<String>,
    advice: Option<&'static str>,
}

/// The micro-USD to reserve for an estimate: its bound, whether read from the request or
/// estimated (a free call reserves nothing and is never reserved for).
pub fn reservation(estimate: Estimate) -> u64 {
    match estimate {
        Estimate::Reserve(amount) | Estimate::Approximate(amount) => amount,
        Estimate::Free => 0,
    }
}

fn names(key: &crate::snapshot::IndexedKey) -> KeyNames {
    KeyNames {
        key_id: key.key_id.as_str().to_owned(),
        label: key.label.clone(),
        daily_cap_micros: key.daily_cap_micros,
    }
}

/// The first value of header `name` in the map.
fn first<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Where the response-headers event reads headers from.
enum ResponseHeaders {
    /// The whole map, read once.
    Map(Vec<(String, Vec<u8>)>),
    /// One host call per header.
    Single,
}

impl ResponseHeaders {
    fn get<H: Host>(&self, host: &mut H, name: &str) -> Option<Vec<u8>> {
        match self {
            ResponseHeaders::Map(map) => first(map, name).map(<[u8]>::to_vec),
            ResponseHeaders::Single => host.response_header(name),
        }
    }
}

impl Forward {
    /// Swaps the credential, drops the gateway's own headers, and pins the checked path and
    /// method.
    fn apply<H: Host>(&self, host: &mut H) {
        host.set_request_header("authorization", &self.authorization);
        for name in &self.strip {
            host.remove_request_header(name);
        }
        if let Some(path) = &self.path {
            host.set_request_header(":path", path);
        }
        if let Some(method) = &self.method {
            host.set_request_header(":method", method);
        }
    }
}

impl Flow {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Phase::Idle,
            log: CallLog::default(),
            headers_forwarded: false,
        }
    }

    /// Answers locally in the vendor's error shape; nothing reaches the vendor. The vault key
    /// and every secret-shaped header value (`scrub`) are taken out of the request first, so no
    /// access-log format prints them.
    fn refuse<H: Host>(
        &mut self,
        host: &mut H,
        reason: DenyReason,
        vendor: Option<Vendor>,
        advice: Option<&str>,
        scrub: &[(String, String)],
    ) -> Step {
        self.phase = Phase::Idle;
        self.log.denied(reason);
        if !self.headers_forwarded {
            host.remove_request_header("authorization");
            for (name, value) in scrub {
                host.set_request_header(name, value);
            }
        }
        let reply = reason.response_with(vendor, advice);
        self.log.status = u16::try_from(reply.status).ok();
        host.send_local_reply(&reply);
        Step::Pause
    }

    /// The request headers: decides the call, forwards a free one, and holds a costed one for
    /// its body.
    pub fn on_request_headers<H: Host>(&mut self, host: &mut H, end_of_stream: bool) -> Step {
        let now_ms = host.now_ms();
        let headers = host.request_headers();
        let method = first(&headers, ":method").unwrap_or_default();
        let path = first(&headers, ":path").unwrap_or_default();
        let authorization = first(&headers, "authorization");
        // Envoy sets it when it rewrites a prefix; a client's own would stand in the access log
        // of a refused call.
        if first(&headers, "x-envoy-original-path").is_some() {
            host.remove_request_header("x-envoy-original-path");
        }
        self.log.time_ms = now_ms;
        self.log.method =
            String::from_utf8_lossy(&method[..method.len().min(16)]).to_ascii_uppercase();
        let facts = RequestFacts {
            method,
            path,
            authorization,
            now_ms,
        };
        let decided = host.policy(&facts, |index| {
            decide::decide(index, &facts)
                .map(|a| Admitted {
                    vendor: a.vendor,
                    key: names(a.key),
                    forward_authorization: a.upstream_authorization.to_owned(),
                    rewrite_path: a.rewrite_path,
                    rewrite_method: a.rewrite_method,
                    vendor_path: a.vendor_path,
                    method: a.method,
                })
                .map_err(|d| Refused {
                    reason: d.reason,
                    vendor: d.vendor,
                    key: d.key.map(names),
                    vendor_path: d.vendor_path,
                    advice: d.advice,
                })
        });
        let scrub_all = |headers: &[(String, Vec<u8>)]| redact::headers_to_redact(headers);
        let admitted = match decided {
            None => {
                let scrub = scrub_all(&headers);
                // What was asked of which vendor goes in the record; the key does not: with no
                // policy nothing verified it.
                let vendor = match decide::vendor_and_path(path) {
                    Some((vendor, vendor_path)) => {
                        self.log.path = redact::redacted_or_same(&vendor_path);
                        Some(vendor)
                    }
                    None => decide::vendor_hint(path),
                };
                self.log.key(vendor, None);
                return self.refuse(host, DenyReason::PolicyUnavailable, vendor, None, &scrub);
            }
            Some(Err(d)) => {
                self.log.key(d.vendor, d.key);
                self.log.path = redact::redacted_or_same(d.vendor_path.as_deref().unwrap_or(""));
                // An agent told "not allowed" should see what it asked for (path redacted).
                let advice = match (d.reason, d.advice) {
                    (DenyReason::EndpointNotAllowed, None) => Some(format!(
                        "the call was {} {}.",
                        self.log.method, self.log.path
                    )),
                    (_, advice) => advice.map(str::to_owned),
                };
                let scrub = scrub_all(&headers);
                return self.refuse(host, d.reason, d.vendor, advice.as_deref(), &scrub);
            }
            Some(Ok(a)) => a,
        };
        let vendor = admitted.vendor;
        let key_id = admitted.key.key_id.clone();
        self.log.key(Some(vendor), Some(admitted.key));
        self.log.path = redact::redacted_or_same(&admitted.vendor_path);
        // The vault key leaves only in `Authorization`, which is about to be replaced.
        let screened = match decide::screen_headers(vendor, &headers) {
            Ok(s) => s,
            Err(reason) => {
                let scrub = scrub_all(&headers);
                return self.refuse(host, reason, Some(vendor), None, &scrub);
            }
        };
        let forward = Forward {
            authorization: admitted.forward_authorization,
            path: admitted.rewrite_path,
            method: admitted.rewrite_method,
            strip: screened.strip,
        };
        let segments: Vec<String> = admitted
            .vendor_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !cost::is_costed(vendor, &admitted.method, &segments) {
            forward.apply(host);
            let withhold = crate::answer::credential_fields(vendor, &admitted.method, &segments);
            if let Some(fields) = withhold {
                // The answer is read here, so it must come uncompressed.
                host.remove_request_header("accept-encoding");
                self.phase = Phase::Withhold {
                    fields,
                    encoding: None,
                };
            }
            self.log.allowed(now_ms);
            let spent = ledger::read(host, &key_id).ok().map(|r| r.spent);
            self.log.cost(0, cost::CostSource::Request, spent);
            return Step::Continue;
        }
        let scrub = scrub_all(&headers);
        let costed = Box::new(Costed {
            forward,
            key_id,
            vendor,
            method: admitted.method,
            path: segments,
            day: day_of(now_ms),
            estimate: Estimate::Free,
            lease_attempts: 0,
            cap_advice: None,
            content_type: first(&headers, "content-type").map(<[u8]>::to_vec),
            content_encoding: first(&headers, "content-encoding").map(<[u8]>::to_vec),
            scrub,
        });
        if end_of_stream {
            host.remove_request_header("authorization");
            return self.price(host, costed, &[]);
        }
        if !self.limits.headers_pause_delivers_body {
            // Pausing here would hold the body back too: send the headers on with the vendor's
            // credential and hold the body instead (see `headers_forwarded`).
            costed.forward.apply(host);
            self.headers_forwarded = true;
            self.phase = Phase::AwaitBody(costed, 0);
            return Step::Continue;
        }
        // From here the call may pause; the vault key must not wait in the request.
        host.remove_request_header("authorization");
        self.phase = Phase::AwaitBody(costed, 0);
        Step::Pause
    }

    /// A chunk of the request body. Envoy keeps it while the flow pauses (`body_size` is the
    /// whole buffered size) until the last DATA frame; then the call is priced. Over HTTP/2
    /// the body may end with the trailers instead: see [`Self::on_request_trailers`].
    pub fn on_request_body<H: Host>(
        &mut self,
        host: &mut H,
        body_size: usize,
        end_of_stream: bool,
    ) -> Step {
        let Phase::AwaitBody(costed, _) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return Step::Continue;
        };
        if body_size > self.limits.max_request_body_bytes {
            return self.refuse(
                host,
                DenyReason::BadRequest,
                Some(costed.vendor),
                None,
                &costed.scrub,
            );
        }
        if !end_of_stream {
            self.phase = Phase::AwaitBody(costed, body_size);
            return Step::Pause;
        }
        let body = host.request_body(body_size);
        self.price(host, costed, &body)
    }

    /// A request that ends with trailers (HTTP/2, or HTTP/1.1 chunked where Envoy keeps them):
    /// the body is complete now, so a costed call is priced here, exactly as at the last DATA
    /// frame. The trailers themselves are forwarded as sent; no vendor reads money from them.
    pub fn on_request_trailers<H: Host>(&mut self, host: &mut H) -> Step {
        let Phase::AwaitBody(costed, buffered) = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return Step::Continue;
        };
        let body = host.request_body(buffered);
        if body.len() != buffered {
            host.log(
                Level::Warn,
                &format!(
                    "keybrake: a request body of {buffered} bytes read back as {} at its trailers; refused",
                    body.len()
                ),
            );
            return self.refuse(
                host,
                DenyReason::BadRequest,
                Some(costed.vendor),
                None,
                &costed.scrub,
            );
        }
        self.price(host, costed, &body)
    }

    /// Prices a costed call from its body and reserves the worst case.
    fn price<H: Host>(&mut self, host: &mut H, mut costed: Box<Costed>, raw_body: &[u8]) -> Step {
        let body = match cost::request_body(
            costed.vendor,
            &costed.path,
            costed.content_type.as_deref(),
            costed.content_encoding.as_deref(),
            raw_body,
            self.limits.max_request_body_bytes,
        ) {
            Ok(body) => body,
            Err(e) => {
                return self.refuse(
                    host,
                    e.deny_reason(),
                    Some(costed.vendor),
                    e.advice().as_deref(),
                    &costed.scrub,
                )
            }
        };
        // What this gateway counted for the intent or charge a follow-up moves money of.
        let counted =
            cost::counted::follow_up_object(costed.vendor, &costed.path, body).and_then(|id| {
                host.get(&cost::counted::key(&id))
                    .and_then(|(b, _)| cost::counted::decode_slot(&id, &b))
            });
        let known = cost::Known {
            key_id: &costed.key_id,
            counted: counted.as_ref(),
        };
        let (vendor, method, path) = (costed.vendor, &costed.method, &costed.path);
        let estimate = host.pricing(|rates, prices| {
            cost::estimate(vendor, method, path, body, rates, prices, known)
        });
        match estimate {
            None => self.refuse(
                host,
                DenyReason::PolicyUnavailable,
                Some(costed.vendor),
                None,
                &costed.scrub,
            ),
            Some(Err(e)) => self.refuse(
                host,
                e.deny_reason(),
                Some(costed.vendor),
                e.advice().as_deref(),
                &costed.scrub,
            ),
            Some(Ok(Estimate::Free)) => {
                if !self.headers_forwarded {
                    costed.forward.apply(host);
                }
                let now = host.now_ms();
                self.log.allowed(now);
                self.log.cost(0, cost::CostSource::Request, None);
                Step::Continue
            }
            Some(Ok(estimate)) => {
                costed.estimate = estimate;
                costed.cap_advice = cost::cap_advice(vendor, method, path, body);
                self.reserve(host, costed)
            }
        }
    }

    /// Reserves the call's worst case in the local lease; a call the lease cannot hold waits
    /// for a lease round (at most [`MAX_LEASE_ATTEMPTS`]).
    fn reserve<H: Host>(&mut self, host: &mut H, costed: Box<Costed>) -> Step {
        self.reserve_or(host, costed, None)
    }

    /// [`Self::reserve`], refusing with `when_short` (when given) instead of waiting.
    fn reserve_or<H: Host>(
        &mut self,
        host: &mut H,
        mut costed: Box<Costed>,
        when_short: Option<DenyReason>,
    ) -> Step {
        let amount = reservation(costed.estimate);
        match ledger::reserve(host, &costed.key_id, costed.day, amount) {
            Ok(Reservation::Reserved { amount, .. }) => {
                host.touched(&costed.key_id);
                if !self.headers_forwarded {
                    costed.forward.apply(host);
                }
                let now = host.now_ms();
                self.log.allowed(now);
                self.phase = Phase::Charging(Box::new(Charge::new(
                    costed.key_id,
                    costed.vendor,
                    costed.path,
                    amount,
                    matches!(costed.estimate, Estimate::Reserve(_)),
                )));
                Step::Continue
            }
            Ok(Reservation::Short { shortfall }) => match when_short {
                Some(reason) => self.refuse_costed(host, reason, &costed),
                None if costed.lease_attempts < MAX_LEASE_ATTEMPTS => {
                    costed.lease_attempts += 1;
                    self.wait_for_lease(host, costed, shortfall)
                }
                None => self.refuse_costed(host, DenyReason::SpendCapExceeded, &costed),
            },
            Err(e) => {
                host.log(
                    Level::Warn,
                    &format!("keybrake: cannot reserve for {}: {e}", costed.key_id),
                );
                self.refuse(
                    host,
                    DenyReason::PolicyUnavailable,
                    Some(costed.vendor),
                    None,
                    &costed.scrub,
                )
            }
        }
    }

    /// The response headers: times the call, names the vendor's id for it, and settles a
    /// costed call whose status alone says what it cost.
    pub fn on_response_headers<H: Host>(&mut self, host: &mut H, end_of_stream: bool) -> Step {
        if matches!(self.phase, Phase::AwaitBody(..) | Phase::AwaitLease(..)) {
            // Envoy sent the request on while the flow still held it: never by design, but if
            // it happens the vendor saw no credential, and the record must say so.
            self.phase = Phase::Idle;
            self.log.undecided();
            let message = if self.headers_forwarded {
                // The vendor answered the headers before the body it would act on arrived.
                "keybrake: the vendor answered a call before its body was priced and sent"
            } else {
                "keybrake: a call was forwarded before it was decided (it carried no credential)"
            };
            host.log(Level::Error, message);
        }
        // A charge reads up to four headers: one read of the map (~2.5 µs in Envoy) costs less
        // than four single reads (1.6–2 µs each); a free call reads its two singly.
        let answer = if matches!(self.phase, Phase::Charging(_)) {
            ResponseHeaders::Map(host.response_headers())
        } else {
            ResponseHeaders::Single
        };
        if let Some(at) = self.log.forwarded_at_ms {
            self.log.upstream_latency_ms = Some(host.now_ms().saturating_sub(at));
            self.log.vendor_request_id = self
                .log
                .vendor
                .and_then(Vendor::request_id_header)
                .and_then(|name| answer.get(host, name))
                .and_then(|v| cost::printable_id(&v));
            self.log.status = answer
                .get(host, ":status")
                .and_then(|s| std::str::from_utf8(&s).ok().and_then(|s| s.parse().ok()));
        }
        if let Phase::Withhold { encoding, .. } = &mut self.phase {
            if end_of_stream {
                self.phase = Phase::Idle;
            } else {
                // The body is about to change length.
                host.remove_response_header("content-length");
                *encoding = host.response_header("content-encoding");
                host.remove_response_header("content-encoding");
            }
            return Step::Continue;
        }
        if let Phase::Charging(charge) = &mut self.phase {
            let status = u32::from(self.log.status.unwrap_or(0));
            charge.answered(host, &answer, status);
            if end_of_stream || !charge.reads_body() {
                self.finish(host);
            }
        }
        Step::Continue
    }

    /// A chunk of the response body: read only by a charge that needs it, or by an answer
    /// whose credential fields are withheld.
    pub fn on_response_body<H: Host>(
        &mut self,
        host: &mut H,
        body_size: usize,
        end_of_stream: bool,
    ) -> Step {
        if let Phase::Withhold { fields, encoding } = &self.phase {
            if !end_of_stream {
                return Step::Pause;
            }
            let body = host.response_body(body_size);
            let out = crate::answer::withhold_credentials(&body, encoding.as_deref(), fields);
            if !host.replace_response_body(body_size, &out) {
                // Envoy would pass the credential on: end the stream instead.
                host.reset_response();
            }
            self.phase = Phase::Idle;
            return Step::Continue;
        }
        if let Phase::Charging(charge) = &mut self.phase {
            charge.chunk(host, body_size);
            if end_of_stream {
                self.finish(host);
            }
        }
        Step::Continue
    }

    /// The end of the stream, however it ended: a call still holding a reservation (reset,
    /// timeout, the client gone) settles at it; then the access-log fields are set, all at
    /// once, and the audit record is handed on.
    pub fn on_log<H: Host>(&mut self, host: &mut H) {
        if let Phase::Charging(charge) = &mut self.phase {
            charge.status = 0;
            self.finish(host);
        }
        self.phase = Phase::Idle;
        self.log.write_fields(host, self.limits.access_log_fields);
        let status = match self.log.status {
            Some(s) => s,
            None => host.response_code(),
        };
        let record = self.log.record(status);
        host.record(&record);
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
