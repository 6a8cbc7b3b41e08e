//! Thin wrappers over proxy-wasm host calls that never panic: every failure becomes `None` or a
//! logged no-op. The SDK's trait helpers `unwrap()` internally, so the filter uses these instead.

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

pub fn start_ticks(period: Duration) {
    if let Err(e) = hostcalls::set_tick_period(period) {
        log::error!("keybrake: cannot start the tick timer: {e:?}");
    }
}

pub fn request_header(name: &str) -> Option<Vec<u8>> {
    hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
}

pub fn set_request_header(name: &str, value: &str) {
    if let Err(e) = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)) {
        log::warn!("keybrake: cannot set request header {name}: {e:?}");
    }
}

pub fn call_response_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpCallResponseHeaders, name)
        .ok()
        .flatten()
}

pub fn call_response_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn shared_data(key: &str) -> Option<Vec<u8>> {
    hostcalls::get_shared_data(key)
        .ok()
        .and_then(|(value, _cas)| value)
}

/// An unconditional write. Only the sync service writes the snapshot and status keys, so no
/// compare-and-swap is needed there (budget counters will always use CAS).
pub fn set_shared_data(key: &str, value: &[u8]) -> Result<(), Status> {
    hostcalls::set_shared_data(key, Some(value), None)
}

/// Sets a filter-state value that the access log prints with `%FILTER_STATE(wasm.NAME:PLAIN)%`.
pub fn set_log_field(name: &str, value: &str) {
    if let Err(e) = hostcalls::set_property(vec![name], Some(value.as_bytes())) {
        log::debug!("keybrake: cannot set {name}: {e:?}");
    }
}

pub fn send_local_reply(status: u32, headers: &[(&str, String)], body: &str) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    if let Err(e) = hostcalls::send_http_response(status, headers, Some(body.as_bytes())) {
        log::error!("keybrake: cannot send the local reply: {e:?}");
    }
}

pub fn dispatch_get(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    timeout: Duration,
) -> Result<u32, Status> {
    hostcalls::dispatch_http_call(cluster, headers, None, vec![], timeout)
}
