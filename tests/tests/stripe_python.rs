//! stripe-python, pointed at the gateway with only its base URL and key changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{paths, Stack};
use serde_json::{json, Value};

#[tokio::test]
async fn stripe_python_works_through_the_gateway_and_reads_refusals() {
    stripe_python_through_the_gateway(false).await;
}

/// The same calls with stripe-python on httpx speaking cleartext HTTP/2 (prior knowledge).
#[tokio::test]
async fn stripe_python_over_http2_works_through_the_gateway_and_reads_refusals() {
    stripe_python_through_the_gateway(true).await;
}

async fn stripe_python_through_the_gateway(http2: bool) {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let issue = |allow: Vec<&str>| {
        json!({"vendor": "stripe", "daily_usd_cap": 500, "allowed_endpoints": allow,
               "expires_in": "30m", "agent_run_label": "sdk/python"})
    };
    let key = stack
        .issue(issue(vec![
            "POST /v1/payment_intents",
            "GET /v1/payment_intents/*",
        ]))
        .await;
    let revoked = stack.issue(issue(vec!["POST /v1/payment_intents"])).await;
    let (s, _) = stack
        .admin_request(
            reqwest::Method::DELETE,
            &format!("/vault/keys/{}", revoked.key_id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    // The revocation must have reached the gateway before the script runs.
    keybrake_e2e::wait_until(
        std::time::Duration::from_secs(5),
        "revocation at the gateway",
        || {
            let req = stack
                .http
                .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
                .bearer_auth(&revoked.vault_key);
            async move {
                (keybrake_e2e::deny_reason(&req.send().await.ok()?).as_deref()
                    == Some("key_revoked"))
                .then_some(())
            }
        },
    )
    .await;
    stack.clear_stripe_requests().await;

    let out = std::process::Command::new(paths::python())
        .arg(paths::workspace_root().join("tests/python/stripe_foundation.py"))
        .env("GATEWAY", stack.gw_url(0, ""))
        .env("VAULT_KEY", &key.vault_key)
        .env("REVOKED_KEY", &revoked.vault_key)
        .env("HTTP2", if http2 { "1" } else { "0" })
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();

    assert_eq!(seen["created"]["object"], "payment_intent");
    assert_eq!(seen["created"]["amount"], 1000);
    assert_eq!(seen["retrieved"], seen["created"]["id"]);
    let cases = [
        (
            "not_allowed",
            "PermissionError",
            403,
            "endpoint_not_allowed",
        ),
        ("revoked", "AuthenticationError", 401, "key_revoked"),
        ("unknown", "AuthenticationError", 401, "unknown_key"),
    ];
    for (case, exception, status, code) in cases {
        let r = &seen[case];
        assert_eq!(r["exception"], exception, "{case}: {r}");
        assert_eq!(r["http_status"], status, "{case}: {r}");
        assert_eq!(r["code"], code, "{case}: {r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("keybrake:")),
            "{case}: {r}"
        );
    }
    // The refusal names the call the agent made, so it can tell which one is off its list.
    assert!(
        seen["not_allowed"]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("The call was POST /v1/refunds.")),
        "{}",
        seen["not_allowed"]
    );

    // Two allowed calls reached Stripe; the three refusals, retries enabled, did not.
    let received = stack.stripe_requests().await;
    assert_eq!(received.len(), 2, "{received:?}");
    for r in &received {
        let text = r.to_string();
        assert!(
            !text.contains(&key.vault_key) && !text.contains(&revoked.vault_key),
            "a vault key reached Stripe: {text}"
        );
        assert!(
            text.contains("sk_test_keybrake_e2e"),
            "the real key was not swapped in: {text}"
        );
    }

    // Every call of the script's key came in on the protocol it was meant to.
    let want = if http2 { "HTTP/2" } else { "HTTP/1.1" };
    let lines = keybrake_e2e::wait_until(
        std::time::Duration::from_secs(10),
        "the script's access-log lines",
        || {
            let lines: Vec<Value> = stack
                .access_log(0)
                .into_iter()
                .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
                .collect();
            async move { (lines.len() >= 3).then_some(lines) }
        },
    )
    .await;
    for l in &lines {
        assert_eq!(l["protocol"], want, "{l}");
    }
}
