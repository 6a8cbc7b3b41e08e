//! Thin wrappers over proxy-wasm host calls that never panic: every failure becomes `None` or a
//! logged no-op. The SDK's trait helpers `unwrap()` internally, so the filter uses these instead.

use keybrake_core::ledger::{SetError, SharedData};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};
use std::time::{Duration, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn plugin_configuration() -> Vec<u8> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn property_string(name: &str) -> Option<String> {
    let bytes = hostcalls::get_property(vec![name]).ok().flatten()?;
    String::from_utf8(bytes).ok()
}

/// The status the client received (`response.code`), 0 when there was none.
pub fn response_code() -> u16 {
    hostcalls::get_property(vec!["response", "code"])
        .ok()
        .flatten()
        .and_then(|b| {
            b.get(..8)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_le_bytes)
        })
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0)
}

pub fn start_ticks(period: Duration) {
    if let Err(e) = hostcalls::set_tick_period(period) {
        log::error!("keybrake: cannot start the tick timer: {e:?}");
    }
}

// === request and response ===

/// Every request header, pseudo-headers included, as Envoy holds them (repeats as separate
/// entries). Call only in the request-headers callback: the SDK panics on any other status.
/// Header names are never non-UTF-8 here (the SDK would panic on one): Envoy's codecs refuse
/// such a request with a 400 before any filter runs (proved in tests/tests/hostile_headers_bodies.rs).
pub fn request_headers() -> Vec<(String, Vec<u8>)> {
    hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default()
}

/// Removes every value of a request header. Envoy answers Ok whether or not it was present.
pub fn remove_request_header(name: &str) {
    if let Err(e) = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name) {
        log::warn!("keybrake: cannot remove request header {name}: {e:?}");
    }
}

pub fn set_request_header(name: &str, value: &str) {
    if let Err(e) = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)) {
        log::warn!("keybrake: cannot set request header {name}: {e:?}");
    }
}

pub fn request_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn response_header(name: &str) -> Option<Vec<u8>> {
    hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, name)
        .ok()
        .flatten()
}

/// Every response header, `:status` included (call in the response-headers callback). Names are
/// never non-UTF-8 here (the SDK would panic on one): Envoy's codecs refuse a response whose
/// header names are not RFC 9110 tokens before any filter sees it.
pub fn response_headers() -> Vec<(String, Vec<u8>)> {
    hostcalls::get_map_bytes(MapType::HttpResponseHeaders).unwrap_or_default()
}

pub fn response_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Removes every value of a response header (call in the response-headers callback).
pub fn remove_response_header(name: &str) {
    if let Err(e) = hostcalls::remove_map_value(MapType::HttpResponseHeaders, name) {
        log::warn!("keybrake: cannot remove response header {name}: {e:?}");
    }
}

/// Replaces the whole buffered response body (`size` bytes as Envoy reported it) with `body`.
/// Returns false when Envoy refused; the caller must then fail closed.
pub fn replace_response_body(size: usize, body: &[u8]) -> bool {
    match hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, body) {
        Ok(()) => true,
        Err(e) => {
            log::error!("keybrake: cannot replace a response body: {e:?}");
            false
        }
    }
}

/// Ends the stream toward the client without the rest of the response.
pub fn reset_response() {
    if let Err(e) = hostcalls::reset_http_response() {
        log::error!("keybrake: cannot reset the response: {e:?}");
    }
}

pub fn resume_request() {
    if let Err(e) = hostcalls::resume_http_request() {
        log::error!("keybrake: cannot resume the request: {e:?}");
    }
}

pub fn send_local_reply(status: u32, headers: &[(&str, String)], body: &str) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    if let Err(e) = hostcalls::send_http_response(status, headers, Some(body.as_bytes())) {
        log::error!("keybrake: cannot send the local reply: {e:?}");
    }
}

/// Sets a filter-state value that the access log prints with `%FILTER_STATE(wasm.NAME:PLAIN)%`.
pub fn set_log_field(name: &str, value: &str) {
    if let Err(e) = hostcalls::set_property(vec![name], Some(value.as_bytes())) {
        log::debug!("keybrake: cannot set {name}: {e:?}");
    }
}

// === callouts ===

/// A call to the control plane. `body` makes it a POST with a JSON body.
pub fn dispatch(
    cluster: &str,
    authority: &str,
    path: &str,
    token: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<u32, Status> {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        (":method", if body.is_some() { "POST" } else { "GET" }),
        (":path", path),
        (":authority", authority),
        ("authorization", auth.as_str()),
    ];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    hostcalls::dispatch_http_call(cluster, headers, body, vec![], timeout)
}

/// The status of a callout's answer, 0 when unreadable. Call only when the answer has headers
/// (`num_headers > 0`): after a failed callout reading them traps. Read as bytes: the SDK's
/// string getter panics on a non-UTF-8 value.
pub fn answered_call_status() -> u32 {
    hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .and_then(|s| std::str::from_utf8(&s).ok().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// The status and body of a callout's answer; status 0 when the call failed without one
/// (reading headers then would trap).
pub fn call_answer(num_headers: usize, body_size: usize) -> (u32, Vec<u8>) {
    if num_headers == 0 {
        return (0, Vec::new());
    }
    (answered_call_status(), call_body(body_size))
}

/// The body of a callout's answer.
pub fn call_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The status of a callout's answer; 0 when the call failed without one.
pub fn call_status(num_headers: usize) -> u32 {
    if num_headers == 0 {
        return 0;
    }
    answered_call_status()
}

/// A callout's answer body read piece by piece from Envoy's buffer, so a large answer (a full
/// snapshot of 100,000 keys is ~31 MB) never sits whole in the VM's memory, which never shrinks.
pub struct CallBody {
    offset: usize,
    size: usize,
}

impl CallBody {
    pub fn new(size: usize) -> Self {
        Self { offset: 0, size }
    }
}

impl std::io::Read for CallBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(self.size.saturating_sub(self.offset));
        if want == 0 {
            return Ok(0);
        }
        let chunk = hostcalls::get_buffer(BufferType::HttpCallResponseBody, self.offset, want)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?
            .unwrap_or_default();
        let n = chunk.len().min(want);
        buf[..n].copy_from_slice(&chunk[..n]);
        self.offset += n;
        Ok(n)
    }
}

// === shared data and queues ===

pub fn shared_data(key: &str) -> Option<Vec<u8>> {
    hostcalls::get_shared_data(key)
        .ok()
        .and_then(|(value, _cas)| value)
}

/// An unconditional write, for keys only the sync service writes (snapshot, status).
pub fn set_shared_data(key: &str, value: &[u8]) -> Result<(), Status> {
    hostcalls::set_shared_data(key, Some(value), None)
}

/// Envoy's shared data as the core's ledger sees it.
pub struct Shared;

impl SharedData for Shared {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(v), Some(cas))) => Some((v, cas)),
            _ => None,
        }
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SetError> {
        let cas = if cas == 0 { None } else { Some(cas) };
        hostcalls::set_shared_data(key, Some(value), cas).map_err(|e| match e {
            Status::CasMismatch => SetError::CasMismatch,
            _ => SetError::Failed,
        })
    }
}

pub fn register_queue(name: &str) -> Option<u32> {
    hostcalls::register_shared_queue(name)
        .map_err(|e| log::error!("keybrake: cannot register queue {name}: {e:?}"))
        .ok()
}

pub fn resolve_queue(vm_id: &str, name: &str) -> Option<u32> {
    hostcalls::resolve_shared_queue(vm_id, name).ok().flatten()
}

pub fn enqueue(queue: u32, value: &[u8]) -> bool {
    hostcalls::enqueue_shared_queue(queue, Some(value)).is_ok()
}

pub fn dequeue(queue: u32) -> Option<Vec<u8>> {
    hostcalls::dequeue_shared_queue(queue).ok().flatten()
}
