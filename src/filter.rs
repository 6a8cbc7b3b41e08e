//! The HTTP filter: one stream per request. Reads the request's facts, asks the core, applies
//! the answer. The policy index is rebuilt only when the snapshot version changes.

use crate::host;
use keybrake_core::config::FilterConfig;
use keybrake_core::decide::{self, Allowed, Denied, RequestFacts};
use keybrake_core::money::format_usd;
use keybrake_core::snapshot::{
    PolicyIndex, Snapshot, SyncStatus, SHARED_SNAPSHOT_KEY, SHARED_STATUS_KEY,
};
use keybrake_core::DenyReason;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

/// Per-VM state shared by the streams of one worker (a VM is single-threaded).
pub struct FilterRoot {
    config: Rc<FilterConfig>,
    cache: Rc<RefCell<PolicyCache>>,
}

#[derive(Default)]
struct PolicyCache {
    index: Option<PolicyIndex>,
    /// The last version that failed to parse, so it is not retried on every request.
    rejected_version: Option<u64>,
}

pub struct Stream {
    config: Rc<FilterConfig>,
    cache: Rc<RefCell<PolicyCache>>,
}

impl FilterRoot {
    pub fn configure(raw: &[u8]) -> Result<Self, String> {
        let raw = if raw.is_empty() {
            b"{}".as_slice()
        } else {
            raw
        };
        let config: FilterConfig = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        Ok(Self {
            config: Rc::new(config),
            cache: Rc::default(),
        })
    }

    pub fn new_stream(&self) -> Stream {
        Stream {
            config: Rc::clone(&self.config),
            cache: Rc::clone(&self.cache),
        }
    }
}

impl PolicyCache {
    /// Brings the index up to `status.version` when it is behind. Returns whether an index is
    /// loaded afterwards.
    fn refresh(&mut self, status: SyncStatus) -> bool {
        let current = self.index.as_ref().map_or(0, |i| i.version);
        if current >= status.version || self.rejected_version == Some(status.version) {
            return self.index.is_some();
        }
        let parsed = host::shared_data(SHARED_SNAPSHOT_KEY)
            .ok_or_else(|| "no snapshot in shared data".to_owned())
            .and_then(|raw| serde_json::from_slice::<Snapshot>(&raw).map_err(|e| e.to_string()));
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
        self.index.is_some()
    }
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let now_ms = host::now_ms();
        let method = host::request_header(":method").unwrap_or_default();
        let path = host::request_header(":path").unwrap_or_default();
        let authorization = host::request_header("authorization");

        let status = host::shared_data(SHARED_STATUS_KEY).and_then(|b| SyncStatus::decode(&b));
        let mut cache = self.cache.borrow_mut();
        let loaded = match status {
            Some(s)
                if decide::policy_available(status, now_ms, self.config.max_snapshot_age_ms) =>
            {
                cache.refresh(s)
            }
            _ => false,
        };
        let Some(index) = cache.index.as_ref().filter(|_| loaded) else {
            refuse(&Denied {
                reason: DenyReason::PolicyUnavailable,
                vendor: decide::vendor_hint(&path),
                key: None,
            });
            return Action::Pause;
        };

        let facts = RequestFacts {
            method: &method,
            path: &path,
            authorization: authorization.as_deref(),
            now_ms,
        };
        match decide::decide(index, &facts) {
            Ok(allowed) => {
                forward(&allowed);
                Action::Continue
            }
            Err(denied) => {
                refuse(&denied);
                Action::Pause
            }
        }
    }
}

/// Swaps the credential, pins the checked path and method, and records the decision.
fn forward(a: &Allowed<'_>) {
    host::set_request_header("authorization", a.upstream_authorization);
    if let Some(path) = &a.rewrite_path {
        host::set_request_header(":path", path);
    }
    if let Some(method) = &a.rewrite_method {
        host::set_request_header(":method", method);
    }
    host::set_log_field("keybrake_decision", "allow");
    host::set_log_field("keybrake_vendor", a.vendor.as_str());
    host::set_log_field("keybrake_key_id", a.key.key_id.as_str());
    host::set_log_field("keybrake_label", &a.key.label);
    host::set_log_field("keybrake_cap_usd", &format_usd(a.key.daily_cap_micros));
}

/// Answers locally in the vendor's error shape; nothing reaches the vendor.
fn refuse(d: &Denied<'_>) {
    host::set_log_field("keybrake_decision", "deny");
    host::set_log_field("keybrake_deny_reason", d.reason.as_str());
    if let Some(vendor) = d.vendor {
        host::set_log_field("keybrake_vendor", vendor.as_str());
    }
    if let Some(key) = d.key {
        host::set_log_field("keybrake_key_id", key.key_id.as_str());
        host::set_log_field("keybrake_label", &key.label);
        host::set_log_field("keybrake_cap_usd", &format_usd(key.daily_cap_micros));
    }
    let reply = d.reason.response(d.vendor);
    host::send_local_reply(reply.status, &reply.headers, &reply.body);
}
