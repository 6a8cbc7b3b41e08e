//! keybrake's Envoy extension: one `.wasm`, two roles chosen by `root_id`.
//!
//! - `keybrake_sync` runs as a bootstrap singleton: it long-polls the control plane and keeps
//!   the policy snapshot in shared data (see [`sync`]).
//! - `keybrake_filter` is the HTTP filter on every worker: it checks each call against that
//!   snapshot, swaps the vault key for the real credential, and records the decision (see
//!   [`filter`]).
//!
//! Both must share one `vm_id`. Every rule lives in `keybrake-core`; this crate only moves facts
//! between Envoy and the core, and never panics.

mod config;
mod filter;
mod host;
mod sync;

use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

/// `root_id` of the sync service.
pub const SYNC_ROOT_ID: &str = "keybrake_sync";
/// `root_id` of the HTTP filter.
pub const FILTER_ROOT_ID: &str = "keybrake_filter";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(Root { context_id, role: Role::Unconfigured })
    });
}}

/// A root context: its id, and its role, decided in `on_configure`.
struct Root {
    context_id: u32,
    role: Role,
}

enum Role {
    Unconfigured,
    Sync(Box<sync::SyncService>),
    Filter(filter::FilterRoot),
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        match &mut self.role {
            Role::Sync(service) => service.on_answer(token, num_headers, body_size),
            Role::Filter(root) => root.on_lease_answer(token, num_headers, body_size),
            Role::Unconfigured => {}
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = host::plugin_configuration();
        match host::property_string("plugin_root_id").as_deref() {
            Some(SYNC_ROOT_ID) => match sync::SyncService::configure(&config) {
                Ok(service) => {
                    // Envoy configures the singleton twice at start: keep a running service.
                    if !matches!(&self.role, Role::Sync(s) if s.same_config(&service)) {
                        self.role = Role::Sync(Box::new(service));
                    }
                    if let Role::Sync(s) = &mut self.role {
                        s.start();
                    }
                    host::start_ticks(sync::TICK);
                    true
                }
                Err(e) => {
                    log::error!("keybrake sync: bad configuration: {e}");
                    false
                }
            },
            Some(FILTER_ROOT_ID) => match filter::FilterRoot::configure(&config, self.context_id) {
                Ok(root) => {
                    self.role = Role::Filter(root);
                    host::start_ticks(filter::FLUSH_TICK);
                    true
                }
                Err(e) => {
                    log::error!("keybrake filter: bad configuration: {e}");
                    false
                }
            },
            other => {
                log::error!(
                    "keybrake: unknown root_id {other:?}; use {SYNC_ROOT_ID:?} for the bootstrap service or {FILTER_ROOT_ID:?} for the HTTP filter"
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        match &mut self.role {
            Role::Sync(service) => service.on_tick(),
            Role::Filter(root) => root.on_tick(),
            Role::Unconfigured => {}
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        if let Role::Sync(service) = &mut self.role {
            service.on_queue_ready(queue_id);
        }
    }

    fn create_http_context(
        &self,
        context_id: u32,
    ) -> Option<Box<dyn proxy_wasm::traits::HttpContext>> {
        match &self.role {
            Role::Filter(root) => Some(Box::new(root.new_stream(context_id))),
            _ => None,
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
