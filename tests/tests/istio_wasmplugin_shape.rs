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
async fn wasmplugin_shape_shares_the_blank_vm_id_and_prices_calls_from_the_held_body() {
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

    // Step 2: a call priced from its body is priced and reserved. Without
    // allow_on_headers_stop_iteration, pausing on the request headers would also hold back the
    // body the filter prices, so under a WasmPlugin (headers_pause_delivers_body: false) the
    // headers go on with the real key and the filter holds the body instead.
    let pay = |cents: &'static str| {
        stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .form(&[("amount", cents), ("currency", "usd")])
            .timeout(Duration::from_secs(5))
            .send()
    };
    let ok = pay("1000").await.expect("EXPECTED an answer, not a stall");
    assert_eq!((ok.status().as_u16(), deny_reason(&ok)), (200, None));
    let received = stack.stripe_requests().await;
    assert_eq!(received.len(), 1, "{received:?}");
    let sent = received[0].to_string();
    assert!(
        sent.contains("amount=1000"),
        "the body reached the vendor whole: {sent}"
    );
    assert!(sent.contains(&format!("Bearer {STRIPE_KEY}")), "{sent}");
    stack.clear_stripe_requests().await;

    // Step 3: a call over the cap is refused before its body goes on: the vendor had its
    // headers, never a whole request, and nothing was charged.
    let over = pay("60000").await.expect("EXPECTED an answer, not a stall");
    assert_eq!(
        (over.status().as_u16(), deny_reason(&over).as_deref()),
        (403, Some("spend_cap_exceeded"))
    );
    let received = stack.stripe_requests().await;
    assert!(
        received.is_empty(),
        "a refused call reached the vendor: {received:?}"
    );
    let spend = wait_until(
        Duration::from_secs(10),
        "the $10 call in the ledger",
        || async {
            let v = stack.key_info(&key.key_id).await["spend_today_usd"].as_f64()?;
            (v == 10.0).then_some(v)
        },
    )
    .await;
    assert_eq!(spend, 10.0);
}
