//! Twilio and Resend through the gateway with their official Python SDKs: only the base URL and
//! the key change; every refusal raises the SDK's usual exception with a message to act on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{deny_reason, paths, wait_until, Stack, RESEND_KEY, TWILIO_ACCOUNT_SID};
use serde_json::{json, Value};
use std::time::Duration;

/// Issues the keys a script needs: `ok` (with `allow`), `revoked`, `expired`, `capped` (cap
/// `capped_usd`) and a well-formed `unknown` one; waits until the gateway enforces them.
async fn keys(stack: &Stack, vendor: &str, allow: &[&str], capped_usd: f64, probe: &str) -> Value {
    let issue = |cap: f64, expires: &str| {
        json!({"vendor": vendor, "daily_usd_cap": cap, "allowed_endpoints": allow,
               "expires_in": expires, "agent_run_label": format!("sdk/{vendor}")})
    };
    let ok = stack.issue(issue(5.0, "30m")).await;
    let revoked = stack.issue(issue(5.0, "30m")).await;
    let expired = stack.issue(issue(5.0, "1s")).await;
    let capped = stack.issue(issue(capped_usd, "30m")).await;
    let (s, _) = stack
        .admin_request(
            reqwest::Method::DELETE,
            &format!("/vault/keys/{}", revoked.key_id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let url = stack.gw_url(0, probe);
    let auth = if vendor == "twilio" {
        "basic"
    } else {
        "bearer"
    };
    wait_until(Duration::from_secs(10), "the 1s key to expire", || {
        let req = stack.http.post(&url);
        let req = if auth == "basic" {
            req.basic_auth("AC0", Some(&expired.vault_key))
        } else {
            req.bearer_auth(&expired.vault_key)
        };
        async move {
            (deny_reason(&req.send().await.ok()?).as_deref() == Some("key_expired")).then_some(())
        }
    })
    .await;
    json!({"ok": ok.vault_key, "revoked": revoked.vault_key, "expired": expired.vault_key,
           "capped": capped.vault_key, "unknown": format!("vk_{}_{}", "0".repeat(16), "0".repeat(64))})
}

fn run_script(stack: &Stack, script: &str, keys: &Value) -> Value {
    stack.run_python(script, &[("KEYS", &keys.to_string())])
}

fn assert_no_vault_key(received: &[Value], keys: &Value) {
    for r in received {
        let text = r.to_string();
        for k in keys.as_object().unwrap().values() {
            assert!(
                !text.contains(k.as_str().unwrap()),
                "a vault key reached the vendor: {text}"
            );
        }
    }
}

#[tokio::test]
async fn twilio_python_sends_through_the_gateway_and_reads_refusals() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let allow = [
        "POST /2010-04-01/Accounts/*/Messages.json",
        "GET /2010-04-01/Accounts/*/Messages/*",
    ];
    // Two segments cost $0.0166 at the default US rate: a $0.01 cap refuses them.
    let keys = keys(
        &stack,
        "twilio",
        &allow,
        0.01,
        "/twilio/2010-04-01/Accounts/AC0/Messages.json",
    )
    .await;
    stack.clear_mock_requests(stack.twilio_port).await;
    let seen = run_script(&stack, "twilio_sdk.py", &keys);

    assert!(
        seen["created"]["sid"].as_str().unwrap().starts_with("SM"),
        "{seen}"
    );
    assert_eq!(seen["created"]["status"], "queued");
    assert_eq!(seen["fetched"]["sid"], seen["created"]["sid"]);
    let cases = [
        ("not_allowed", 403, "endpoint_not_allowed"),
        ("revoked", 401, "key_revoked"),
        ("expired", 401, "key_expired"),
        ("unknown", 401, "unknown_key"),
        ("capped", 403, "spend_cap_exceeded"),
    ];
    for (case, status, _reason) in cases {
        let r = &seen[case];
        assert_eq!(r["exception"], "TwilioRestException", "{case}: {r}");
        assert_eq!(r["status"], status, "{case}: {r}");
        assert!(r["code"].is_u64(), "{case}: a Twilio error code: {r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.contains("keybrake: ")),
            "{case}: {r}"
        );
    }

    let received = stack.mock_requests(stack.twilio_port).await;
    assert_eq!(
        received.len(),
        2,
        "only the create and the fetch reached Twilio: {received:?}"
    );
    for r in &received {
        let path = r["path"].as_str().unwrap();
        assert!(
            path.starts_with(&format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/")),
            "the real SID is in the path: {path}"
        );
    }
    assert_no_vault_key(&received, &keys);

    // The message was estimated at one segment; the access log says so.
    let ok_id = format!("kid_{}", &keys["ok"].as_str().unwrap()[3..19]);
    let line = wait_until(
        Duration::from_secs(10),
        "the message's access-log line",
        || {
            let line = stack
                .access_log(0)
                .into_iter()
                .find(|l| l["method"] == "POST" && l["keybrake_key_id"] == ok_id.as_str());
            async move { line }
        },
    )
    .await;
    assert_eq!(line["keybrake_cost_usd"], "0.0083", "{line}");
    assert_eq!(line["keybrake_cost_source"], "estimate", "{line}");
}

#[tokio::test]
async fn resend_python_sends_through_the_gateway_and_reads_refusals() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    // Two recipients cost $0.0018 at the default price: a $0.001 cap refuses them.
    let keys = keys(
        &stack,
        "resend",
        &["POST /emails", "POST /emails/batch"],
        0.001,
        "/resend/emails",
    )
    .await;
    stack.clear_mock_requests(stack.resend_port).await;
    let seen = run_script(&stack, "resend_sdk.py", &keys);

    assert!(
        seen["sent"]["id"].as_str().is_some_and(|id| id.len() == 36),
        "{seen}"
    );
    assert_eq!(seen["batch"]["count"], 2);
    let cases = [
        ("not_allowed", 403, "endpoint_not_allowed"),
        ("revoked", 401, "key_revoked"),
        ("expired", 401, "key_expired"),
        ("unknown", 401, "unknown_key"),
        ("capped", 403, "spend_cap_exceeded"),
    ];
    for (case, status, reason) in cases {
        let r = &seen[case];
        assert_eq!(r["status"], status, "{case}: {r}");
        assert_eq!(r["name"], reason, "{case}: {r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("keybrake:")),
            "{case}: {r}"
        );
    }

    let received = stack.mock_requests(stack.resend_port).await;
    assert_eq!(
        received.len(),
        2,
        "only the send and the batch reached Resend: {received:?}"
    );
    for r in &received {
        assert!(
            r.to_string().contains(&format!("Bearer {RESEND_KEY}")),
            "the real key was swapped in: {r}"
        );
    }
    assert_no_vault_key(&received, &keys);

    // 2 recipients, then 1 + 2 in the batch: 5 emails at $0.0009.
    let ok_id = format!("kid_{}", &keys["ok"].as_str().unwrap()[3..19]);
    let key_lines: Vec<Value> = wait_until(
        Duration::from_secs(10),
        "two costed access-log lines",
        || {
            let lines: Vec<Value> = stack
                .access_log(0)
                .into_iter()
                .filter(|l| {
                    l["keybrake_key_id"] == ok_id.as_str() && l["keybrake_decision"] == "allow"
                })
                .collect();
            async move { (lines.len() == 2).then_some(lines) }
        },
    )
    .await;
    let costs: Vec<&str> = key_lines
        .iter()
        .map(|l| l["keybrake_cost_usd"].as_str().unwrap())
        .collect();
    assert_eq!(costs, ["0.0018", "0.0027"]);
}
