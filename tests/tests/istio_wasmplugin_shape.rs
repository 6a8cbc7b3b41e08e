//! What the Istio `WasmPlugin` variant (`deploy/istio/wasmplugin/`) does, on the real Envoy with
//! the real `.wasm`: the filter as istiod renders a WasmPlugin (blank `vm_id`, no
//! `allow_on_headers_stop_iteration`, `FAIL_CLOSED`) beside the sync service with the same blank
//! `vm_id`. SECURITY.md ("Istio: which variant") and deploy/istio/README.md state both results;
//! if either changes, they must change with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{deny_reason, wait_until, Stack, StackOptions, STRIPE_KEY};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn wasmplugin_shape_shares_the_blank_vm_id_and_refuses_calls_priced_from_the_body() {
    let stack = Stack::start_with(StackOptions {
        istio_wasmplugin_shape: true,
        ..StackOptions::default()
    })
    .await;
    let key = stack
        .issue(json!({
            "vendor": "stripe",
            "daily_usd_cap": 500.0,
            "allowed_endpoints": ["POST /v1/payment_intents", "GET /v1/payment_intents/*"],
            "expires_in": "30m",
            "agent_run_label": "istio-wasmplugin/1",
        }))
        .await;

    // Step 1: a free call passes with the real key: the filter VMs read the snapshot the sync
    // service wrote, through the blank vm_id they share.
    let url = stack.gw_url(0, "/stripe/v1/payment_intents/pi_123");
    let status = wait_until(
        Duration::from_secs(20),
        "a free call to pass the filter",
        || {
            let req = stack.http.get(&url).bearer_auth(&key.vault_key);
            async move {
                let r = req.send().await.ok()?;
                deny_reason(&r).is_none().then(|| r.status().as_u16())
            }
        },
    )
    .await;
    let received = stack.stripe_requests().await;
    assert_eq!(
        received.len(),
        1,
        "EXPECTED the free call at the vendor\nRECEIVED {received:?} (status {status})"
    );
    assert!(
        received[0]
            .to_string()
            .contains(&format!("Bearer {STRIPE_KEY}")),
        "the real key was not swapped in: {}",
        received[0]
    );
    stack.clear_stripe_requests().await;

    // Step 2: a call priced from its body is refused at once: without
    // allow_on_headers_stop_iteration, pausing on the request headers also holds back the body
    // the filter would price, so the WasmPlugin's configuration says so
    // (headers_pause_delivers_body: false) and the agent is told where to send it instead.
    // Nothing reaches the vendor.
    let costed = stack
        .http
        .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
        .bearer_auth(&key.vault_key)
        .form(&[("amount", "1000"), ("currency", "usd")])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("EXPECTED an answer, not a stall");
    assert_eq!(
        (costed.status().as_u16(), deny_reason(&costed).as_deref()),
        (403, Some("cost_not_bounded"))
    );
    let body = costed.text().await.unwrap();
    assert!(body.contains("EnvoyFilter variant"), "{body}");
    let received = stack.stripe_requests().await;
    assert!(
        received.is_empty(),
        "a refused call reached the vendor: {received:?}"
    );
}
