//! `make bench`'s reference filter, the "costed skeleton" that issue 12 sets keybrake's CPU
//! targets against: the proxy-wasm host work a costed call needs and nothing else. No policy,
//! no pricing, no budget, no audit trail; it must not be deployed.
//!
//! Per call, as the issue describes it:
//! - request headers: reads `:method`, `:path` and `authorization` one at a time, then one
//!   shared-data entry (the policy);
//! - `GET /v1/balance` (the bench's refused call): a local `403`;
//! - a request with a body: pauses until the whole body is there, reads it, makes one
//!   compare-and-swap on a shared-data entry (the reservation), sets `authorization`;
//! - response headers: reads `:status` and `request-id`;
//! - a `POST`'s response: reads the whole body, one more compare-and-swap (the settlement);
//! - at the end of the stream: eight `set_property` calls (the access-log entries, named as
//!   keybrake names them, so the bench's access log prints them).
//!
//! The bench runs it beside plain Envoy and keybrake in the same rounds (bench/src/main.rs,
//! `KEYBRAKE_BENCH_SKELETON`), so the targets are read against it in the same time window.

use keybrake_core::flow::log;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

/// The access-log entries a costed call of keybrake sets (README, "The access log"), here with a
/// fixed value.
const FIELDS: [&str; 8] = [
    log::FIELD_KEY_ID,
    log::FIELD_LABEL,
    log::FIELD_VENDOR,
    log::FIELD_DECISION,
    log::FIELD_COST,
    log::FIELD_COST_SOURCE,
    log::FIELD_SPEND,
    log::FIELD_CAP,
];

/// The shared-data entry the compare-and-swaps update: a few bytes, as a budget record is.
const BUDGET: &str = "keybrake_skeleton_budget";
const POLICY: &str = "keybrake_skeleton_policy";

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Call { post: false }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Call {
    post: bool,
}

impl Call {
    /// Reads the entry and writes it back one byte longer (at most 32), if unchanged since.
    fn compare_and_swap(&self) {
        let (value, cas) = self.get_shared_data(BUDGET);
        let mut value = value.unwrap_or_default();
        if value.len() >= 32 {
            value.clear();
        }
        value.push(b'1');
        // A lost race changes nothing here; keybrake retries, the skeleton does not.
        let _ = self.set_shared_data(BUDGET, Some(&value), cas);
    }
}

impl Context for Call {}

impl HttpContext for Call {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        let method = self.get_http_request_header(":method");
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let _key = self.get_http_request_header("authorization");
        if path.ends_with("/v1/balance") {
            self.send_http_response(403, vec![], Some(b"{\"error\":\"endpoint_not_allowed\"}"));
            return Action::Pause;
        }
        let _policy = self.get_shared_data(POLICY);
        self.post = method.as_deref() == Some("POST");
        if end_of_stream {
            self.set_http_request_header("authorization", Some("Bearer sk_test_skeleton"));
            return Action::Continue;
        }
        Action::Pause
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let _body = self.get_http_request_body(0, size);
        self.compare_and_swap();
        self.set_http_request_header("authorization", Some("Bearer sk_test_skeleton"));
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let _status = self.get_http_response_header(":status");
        let _request_id = self.get_http_response_header("request-id");
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !self.post {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let _body = self.get_http_response_body(0, size);
        self.compare_and_swap();
        Action::Continue
    }

    fn on_log(&mut self) {
        for name in FIELDS {
            self.set_property(vec![name], Some(b"skeleton"));
        }
    }
}
