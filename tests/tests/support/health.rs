//! After hostile traffic: the filter never panicked and every worker still answers.

#![allow(dead_code)]

use keybrake_e2e::{deny_reason, Stack};

/// Fails if any Envoy log shows a wasm panic or VM failure, then checks that the gateway still
/// decides calls (enough of them to land on every worker).
pub async fn assert_filter_healthy(stack: &Stack, vault_key: &str) {
    let logs = stack.all_logs();
    let bad: Vec<&str> = logs
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("panicked")
                || l.contains("wasm_fail_stream")
                || (l.contains("wasm") && (l.contains("[error]") || l.contains("[critical]")))
                || l.contains("failed to create wasm")
        })
        .collect();
    assert!(bad.is_empty(), "the filter failed:\n{}", bad.join("\n"));
    for i in 0..stack.gateways.len() {
        for _ in 0..16 {
            let r = stack
                .http
                .get(stack.gw_url(i, "/stripe/v1/customers/cus_health"))
                .bearer_auth("not-a-vault-key")
                .send()
                .await
                .unwrap();
            assert_eq!(
                deny_reason(&r).as_deref(),
                Some("unknown_key"),
                "gateway {i} stopped deciding calls after the hostile ones"
            );
        }
    }
    let _ = vault_key;
}
