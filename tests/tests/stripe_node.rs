//! stripe-node through the gateway: its host, port and protocol point at Envoy, and Stripe's own
//! `/v1/` paths route to Stripe unprefixed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{paths, wait_refused, Stack, STRIPE_KEY};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn stripe_node_works_through_the_gateway_and_reads_refusals() {
    paths::require(&[paths::Needed::Node]);
    let stack = Stack::start().await;
    let issue = || {
        json!({"vendor": "stripe", "daily_usd_cap": 500, "allowed_endpoints": ["POST /v1/payment_intents"],
               "expires_in": "30m", "agent_run_label": "sdk/node"})
    };
    let key = stack.issue(issue()).await;
    let revoked = stack.issue(issue()).await;
    let (s, _) = stack
        .admin_request(
            reqwest::Method::DELETE,
            &format!("/vault/keys/{}", revoked.key_id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    wait_refused(
        Duration::from_secs(5),
        "the revocation at the gateway",
        "key_revoked",
        || {
            stack
                .http
                .post(stack.gw_url(0, "/v1/payment_intents"))
                .bearer_auth(&revoked.vault_key)
        },
    )
    .await;
    stack.clear_stripe_requests().await;

    let out = std::process::Command::new("node")
        .arg(paths::workspace_root().join("tests/node/stripe_node.js"))
        .env("GATEWAY_PORT", stack.gateways[0].port.to_string())
        .env("VAULT_KEY", &key.vault_key)
        .env("REVOKED_KEY", &revoked.vault_key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stripe_node.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        seen["created"],
        json!({"object": "payment_intent", "amount": 1000})
    );
    for (case, kind, status, code) in [
        (
            "not_allowed",
            "StripePermissionError",
            403,
            "endpoint_not_allowed",
        ),
        ("revoked", "StripeAuthenticationError", 401, "key_revoked"),
    ] {
        let r = &seen[case];
        assert_eq!(r["type"], kind, "{case}: {r}");
        assert_eq!(r["status"], status, "{case}: {r}");
        assert_eq!(r["code"], code, "{case}: {r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("keybrake:")),
            "{case}: {r}"
        );
    }
    let received = stack.stripe_requests().await;
    assert_eq!(
        received.len(),
        1,
        "only the payment reached Stripe: {received:?}"
    );
    assert_eq!(received[0]["path"], "/v1/payment_intents");
    let text = received[0].to_string();
    assert!(text.contains(&format!("Bearer {STRIPE_KEY}")) && !text.contains(&key.vault_key));
}
