//! A vault key works end to end through real Envoy: issue, call, refuse, revoke, log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{deny_reason, wait_refused, wait_until, Stack, StackOptions, STRIPE_KEY};
use serde_json::{json, Value};
use std::time::Duration;

fn stripe_key_body(allow: &[&str], expires_in: Value) -> Value {
    json!({
        "vendor": "stripe",
        "daily_usd_cap": 500.0,
        "allowed_endpoints": allow,
        "expires_in": expires_in,
        "agent_run_label": "billing-agent/42",
    })
}

async fn create_payment_intent(stack: &Stack, auth: reqwest::RequestBuilder) -> reqwest::Response {
    let _ = stack;
    auth.form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap()
}

/// Checks a refusal: status, deny reason, Stripe's error shape, no retry.
async fn assert_refused(step: &str, r: reqwest::Response, status: u16, reason: &str) {
    assert_eq!(r.status().as_u16(), status, "{step}: status");
    assert_eq!(
        deny_reason(&r).as_deref(),
        Some(reason),
        "{step}: x-keybrake-deny-reason"
    );
    let retry = r
        .headers()
        .get("stripe-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        retry.as_deref(),
        Some("false"),
        "{step}: Stripe-Should-Retry"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["type"], "invalid_request_error",
        "{step}: error type in {body}"
    );
    assert_eq!(
        body["error"]["code"], reason,
        "{step}: error code in {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 20),
        "{step}: a message an agent can act on"
    );
}

#[tokio::test]
async fn a_vault_key_calls_stripe_with_the_real_key_swapped_in() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key_body(
            &["POST /v1/payment_intents", "GET /v1/payment_intents/*"],
            json!("30m"),
        ))
        .await;

    // The issue answer carries every field of DESIGN.
    for field in [
        "vault_key",
        "key_id",
        "vendor",
        "daily_usd_cap",
        "allowed_endpoints",
        "expires_at",
        "agent_run_label",
    ] {
        assert!(
            !key.body[field].is_null(),
            "issue answer lacks {field}: {}",
            key.body
        );
    }
    assert_eq!(key.body["daily_usd_cap"], 500.0);
    assert_eq!(key.body["agent_run_label"], "billing-agent/42");

    let url = stack.gw_url(0, "/stripe/v1/payment_intents");
    let bearer =
        create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&key.vault_key)).await;
    assert_eq!(bearer.status(), 200, "Bearer form");
    let pi: Value = bearer.json().await.unwrap();
    assert_eq!(pi["object"], "payment_intent");
    assert_eq!(pi["amount"], 1000);

    let basic = create_payment_intent(
        &stack,
        stack.http.post(&url).basic_auth(&key.vault_key, Some("")),
    )
    .await;
    assert_eq!(basic.status(), 200, "Basic form with the key as username");

    let pi_id = pi["id"].as_str().unwrap();
    let get = stack
        .http
        .get(stack.gw_url(0, &format!("/stripe/v1/payment_intents/{pi_id}")))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "retrieve through the wildcard pattern");

    let received = stack.stripe_requests().await;
    assert_eq!(
        received.len(),
        3,
        "the mock saw each allowed call once: {received:?}"
    );
    for r in &received {
        let text = r.to_string();
        assert!(
            !text.contains(&key.vault_key),
            "the vault key reached the vendor: {text}"
        );
        assert!(
            !text.contains(&key.vault_key[..20]),
            "part of the vault key reached the vendor: {text}"
        );
        assert!(
            text.contains(&format!("Bearer {STRIPE_KEY}")),
            "the real key was not swapped in: {text}"
        );
        assert!(
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/payment_intents")),
            "the vendor sees its own path, without the /stripe prefix: {text}"
        );
    }
}

#[tokio::test]
async fn refusals_are_shaped_like_stripe_and_never_reach_the_vendor() {
    let stack = Stack::start().await;
    let allow = ["POST /v1/payment_intents"];
    let key = stack.issue(stripe_key_body(&allow, json!("30m"))).await;
    let revoked = stack.issue(stripe_key_body(&allow, json!(1800))).await;
    let (s, _) = stack
        .admin_request(
            reqwest::Method::DELETE,
            &format!("/vault/keys/{}", revoked.key_id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let expiring = stack.issue(stripe_key_body(&allow, json!("1s"))).await;
    let resend = stack
        .issue(json!({"vendor": "resend", "daily_usd_cap": 5, "allowed_endpoints": ["POST /emails"], "expires_in": "30m", "agent_run_label": "mailer/1"}))
        .await;
    let pi = stack.gw_url(0, "/stripe/v1/payment_intents");
    let forged = format!("{}{}", &key.vault_key[..key.vault_key.len() - 4], "0000");

    // The expiring key expires one second after issue; wait for the gateway to say so.
    wait_refused(
        Duration::from_secs(10),
        "the 1s key to expire",
        "key_expired",
        || {
            stack
                .http
                .post(&pi)
                .bearer_auth(&expiring.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")])
        },
    )
    .await;
    stack.clear_stripe_requests().await;

    let http = &stack.http;
    let steps: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "endpoint outside the allowlist",
            http.post(stack.gw_url(0, "/stripe/v1/refunds"))
                .bearer_auth(&key.vault_key),
            403,
            "endpoint_not_allowed",
        ),
        (
            "method outside the allowlist",
            http.get(&pi).bearer_auth(&key.vault_key),
            403,
            "endpoint_not_allowed",
        ),
        (
            "dot-segments cannot reach another endpoint",
            http.post(stack.gw_url(0, "/stripe/v1/payment_intents/../refunds"))
                .bearer_auth(&key.vault_key),
            403,
            "endpoint_not_allowed",
        ),
        ("no key at all", http.post(&pi), 401, "unknown_key"),
        (
            "the real vendor key is not a vault key",
            http.post(&pi).bearer_auth(STRIPE_KEY),
            401,
            "unknown_key",
        ),
        (
            "forged secret",
            http.post(&pi).bearer_auth(&forged),
            401,
            "unknown_key",
        ),
        (
            "revoked key",
            http.post(&pi).bearer_auth(&revoked.vault_key),
            401,
            "key_revoked",
        ),
        (
            "expired key",
            http.post(&pi).bearer_auth(&expiring.vault_key),
            401,
            "key_expired",
        ),
        (
            "a Resend key on a Stripe route",
            http.post(&pi).bearer_auth(&resend.vault_key),
            401,
            "wrong_vendor",
        ),
    ];
    for (step, req, status, reason) in steps {
        let r = req
            .form(&[("amount", "1000"), ("currency", "usd")])
            .send()
            .await
            .unwrap();
        assert_refused(step, r, status, reason).await;
    }
    let received = stack.stripe_requests().await;
    assert!(
        received.is_empty(),
        "refused calls reached the vendor: {received:?}"
    );
}

/// The revoke's answer waits until every live gateway confirmed the new policy, so the very
/// next call is refused: no polling interval, and no clock in the test.
#[tokio::test]
async fn revocation_bites_on_the_next_request() {
    let stack = Stack::start().await;
    let url = stack.gw_url(0, "/stripe/v1/payment_intents");
    for round in 0..5 {
        let key = stack
            .issue(stripe_key_body(&["POST /v1/payment_intents"], json!("30m")))
            .await;
        let ok =
            create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&key.vault_key)).await;
        assert_eq!(ok.status(), 200, "round {round}: allowed before revocation");

        let (s, body) = stack
            .admin_request(
                reqwest::Method::DELETE,
                &format!("/vault/keys/{}", key.key_id),
                None,
            )
            .await;
        assert_eq!(s, 200, "round {round}: revoke: {body}");
        let next = stack
            .http
            .post(&url)
            .bearer_auth(&key.vault_key)
            .form(&[("amount", "1"), ("currency", "usd")])
            .send()
            .await
            .unwrap();
        assert_refused(
            &format!("round {round}: the next call"),
            next,
            401,
            "key_revoked",
        )
        .await;
    }
    assert_eq!(
        stack.cp_metric("keybrake_propagation_timeouts_total").await,
        Some(0),
        "every revoke was answered on the gateway's confirmation, not at the end of the wait"
    );
    // Data plane v2: the gateway took one full snapshot when it started, and every issue and
    // revoke since reached it as a delta (the keys that changed, not all of them).
    assert_eq!(
        stack.cp_metric("keybrake_snapshots_served_total").await,
        Some(1),
        "one full snapshot, at start"
    );
    let deltas = stack
        .cp_metric("keybrake_deltas_served_total")
        .await
        .unwrap_or(0);
    assert!(deltas >= 10, "{deltas} deltas for 10 changes");
}

#[tokio::test]
async fn every_call_writes_an_access_log_line_with_keybrake_fields() {
    access_log_lines_carry_the_fields(AccessLogMode::Each).await;
}

/// `"access_log_fields":"record"`: the same fields, in one `wasm.keybrake` entry holding a JSON
/// object, and none of the eight single entries.
#[tokio::test]
async fn the_record_mode_writes_the_fields_as_one_json_entry() {
    access_log_lines_carry_the_fields(AccessLogMode::Record).await;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AccessLogMode {
    Each,
    Record,
}

/// One allowed $10 charge and one refusal; their access-log lines name the key and say what
/// each call did, in the filter-state entries `mode` writes.
async fn access_log_lines_carry_the_fields(mode: AccessLogMode) {
    let stack = Stack::start_with(StackOptions {
        filter_extra: match mode {
            AccessLogMode::Each => String::new(),
            AccessLogMode::Record => r#""access_log_fields":"record""#.into(),
        },
        ..StackOptions::default()
    })
    .await;
    let key = stack
        .issue(stripe_key_body(&["POST /v1/payment_intents"], json!("30m")))
        .await;
    let url = stack.gw_url(0, "/stripe/v1/payment_intents");
    let ok = create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&key.vault_key)).await;
    assert_eq!(ok.status(), 200);
    let denied = stack
        .http
        .post(stack.gw_url(0, "/stripe/v1/refunds"))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    let unset = |v: Option<&Value>| v.is_some_and(|v| v.is_null() || v == "-");
    // Each line's keybrake fields, from wherever `mode` puts them, named as the single
    // entries are (`keybrake_NAME`).
    let fields = |line: &Value| -> serde_json::Map<String, Value> {
        match mode {
            AccessLogMode::Each => {
                assert!(unset(line.get("keybrake")), "no record entry: {line}");
                line.as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, v)| k.starts_with("keybrake_") && !unset(Some(v)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
            AccessLogMode::Record => {
                for (k, v) in line.as_object().unwrap() {
                    assert!(
                        !k.starts_with("keybrake_") || unset(Some(v)),
                        "{k} set in record mode: {line}"
                    );
                }
                let record: serde_json::Map<String, Value> =
                    serde_json::from_str(line["keybrake"].as_str().unwrap_or("{}"))
                        .expect("the record entry is one JSON object");
                record
                    .into_iter()
                    .map(|(k, v)| (format!("keybrake_{k}"), v))
                    .collect()
            }
        }
    };
    let lines = wait_until(
        Duration::from_secs(10),
        "two access-log lines naming the key",
        || {
            let lines: Vec<(Value, serde_json::Map<String, Value>)> = stack
                .access_log(0)
                .into_iter()
                .map(|l| {
                    let f = fields(&l);
                    (l, f)
                })
                .filter(|(_, f)| f.get("keybrake_key_id") == Some(&json!(key.key_id)))
                .collect();
            async move { (lines.len() >= 2).then_some(lines) }
        },
    )
    .await;
    let (allowed_line, allowed) = lines
        .iter()
        .find(|(_, f)| f["keybrake_decision"] == "allow")
        .expect("an allow line");
    let (refused_line, refused) = lines
        .iter()
        .find(|(_, f)| f["keybrake_decision"] == "deny")
        .expect("a deny line");
    for (line, name) in [(allowed, "allow"), (refused, "deny")] {
        assert_eq!(
            line["keybrake_label"], "billing-agent/42",
            "{name}: {line:?}"
        );
        assert_eq!(line["keybrake_vendor"], "stripe", "{name}: {line:?}");
        assert_eq!(line["keybrake_cap_usd"], "500.00", "{name}: {line:?}");
    }
    // The filter sets its fields once, when the call ends: each documented field holds the
    // call's value, and a field the call has no value for (a refusal's cost) is left out.
    for (field, want) in [
        ("keybrake_cost_usd", "10.00"),
        ("keybrake_cost_source", "response"),
        ("keybrake_spend_usd", "10.00"),
    ] {
        assert_eq!(allowed[field], want, "allow: {field} in {allowed:?}");
        assert!(!refused.contains_key(field), "deny: {field} in {refused:?}");
    }
    assert!(
        !allowed.contains_key("keybrake_deny_reason"),
        "allow: no deny reason in {allowed:?}"
    );
    assert_eq!(refused["keybrake_deny_reason"], "endpoint_not_allowed");
    assert_eq!(allowed.len(), 8, "{allowed:?}");
    assert_eq!(refused_line["response_code"], 403);
    assert_eq!(allowed_line["response_code"], 200);
    let text = std::fs::read_to_string(&stack.gateways[0].access_log).unwrap();
    assert!(
        !text.contains(&key.vault_key) && !text.contains(STRIPE_KEY),
        "a secret in the access log"
    );
}

#[tokio::test]
async fn the_gateway_fails_closed_without_a_fresh_snapshot_and_recovers() {
    let opts = StackOptions {
        max_snapshot_age_ms: 1_500,
        poll_wait_ms: 300,
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(opts).await;
    let key = stack
        .issue(stripe_key_body(&["POST /v1/payment_intents"], json!("30m")))
        .await;
    let url = stack.gw_url(0, "/stripe/v1/payment_intents");
    let ok = create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&key.vault_key)).await;
    assert_eq!(ok.status(), 200);

    stack.control_plane.kill();
    stack.clear_stripe_requests().await;
    let r = wait_until(
        Duration::from_secs(15),
        "the gateway to refuse with policy_unavailable",
        || {
            let req = stack
                .http
                .post(&url)
                .bearer_auth(&key.vault_key)
                .form(&[("amount", "1000"), ("currency", "usd")]);
            async move {
                let r = req.send().await.ok()?;
                (deny_reason(&r).as_deref() == Some("policy_unavailable")).then_some(r)
            }
        },
    )
    .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["stripe-should-retry"], "false");
    // From now on nothing gets through until the control plane is back.
    stack.clear_stripe_requests().await;
    for _ in 0..5 {
        let r =
            create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&key.vault_key)).await;
        assert_eq!(deny_reason(&r).as_deref(), Some("policy_unavailable"));
    }
    let received = stack.stripe_requests().await;
    assert!(
        received.is_empty(),
        "calls passed a stale policy: {received:?}"
    );

    stack.restart_control_plane().await;
    wait_until(
        Duration::from_secs(15),
        "the gateway to serve again",
        || {
            let req = stack
                .http
                .post(&url)
                .bearer_auth(&key.vault_key)
                .form(&[("amount", "1000"), ("currency", "usd")]);
            async move { req.send().await.ok().filter(|r| r.status() == 200) }
        },
    )
    .await;
}

/// After an outage long enough for the policy to go stale, the gateway's first poll to the
/// control plane that is back asks for an answer at once: calls pass again within the poll's
/// backoff, not after a long-poll held open for `poll_wait_ms` (10 s here; 20 s by default).
#[tokio::test]
async fn a_gateway_serves_again_as_soon_as_its_control_plane_is_back() {
    let opts = StackOptions {
        max_snapshot_age_ms: 12_000,
        poll_wait_ms: 10_000,
        sync_extra: r#""retry_ms":100"#.into(),
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(opts).await;
    // A free call: it needs no lease, so only a stale policy refuses it.
    let key = stack
        .issue(stripe_key_body(&["GET /v1/customers/*"], json!("30m")))
        .await;
    let url = stack.gw_url(0, "/stripe/v1/customers/cus_1");
    // The mock answers 404 for an unknown customer: what counts is that the call reached it.
    let call = |stack: &Stack| stack.http.get(&url).bearer_auth(&key.vault_key);
    let first = call(&stack).send().await.unwrap();
    assert_eq!(deny_reason(&first), None, "{first:?}");

    stack.control_plane.kill();
    let killed = std::time::Instant::now();
    wait_until(
        Duration::from_secs(30),
        "the policy to go stale (policy_unavailable)",
        || {
            let req = call(&stack);
            async move {
                let r = req.send().await.ok()?;
                (deny_reason(&r).as_deref() == Some("policy_unavailable")).then_some(())
            }
        },
    )
    .await;
    assert!(
        killed.elapsed() >= Duration::from_secs(5),
        "refused after {:?}: before the policy went stale",
        killed.elapsed()
    );

    stack.restart_control_plane().await;
    let back = std::time::Instant::now();
    // The sync service's backoff is at most 5 s; a poll held for `poll_wait_ms` would take 10.
    wait_until(
        Duration::from_secs(7),
        "calls to pass again within the poll backoff",
        || {
            let req = call(&stack);
            async move {
                let r = req.send().await.ok()?;
                deny_reason(&r).is_none().then_some(())
            }
        },
    )
    .await;
    eprintln!("calls passed again {:?} after the restart", back.elapsed());
}

#[tokio::test]
async fn the_cli_issues_lists_shows_and_revokes() {
    let stack = Stack::start().await;
    let out = stack.cli(&[
        "keys",
        "issue",
        "--vendor",
        "stripe",
        "--daily-usd-cap",
        "500",
        "--allow",
        "POST /v1/payment_intents",
        "--expires-in",
        "30m",
        "--label",
        "billing-agent/cli",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "keys issue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vault_key = issued["vault_key"].as_str().unwrap().to_owned();
    let key_id = issued["key_id"].as_str().unwrap().to_owned();

    let url = stack.gw_url(0, "/stripe/v1/payment_intents");
    let ok = create_payment_intent(&stack, stack.http.post(&url).bearer_auth(&vault_key)).await;
    assert_eq!(ok.status(), 200, "a CLI-issued key works at the gateway");

    let list = stack.cli(&["keys", "list"]);
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success() && table.contains(&key_id) && table.contains("billing-agent/cli"),
        "keys list: {table}"
    );
    assert!(!table.contains(&vault_key), "keys list shows the secret");

    let show = stack.cli(&["keys", "show", &key_id, "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["status"], "active");
    assert!(
        shown.get("vault_key").is_none(),
        "show returns the secret: {shown}"
    );

    let revoke = stack.cli(&["keys", "revoke", &key_id]);
    assert!(
        revoke.status.success(),
        "keys revoke: {}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    wait_refused(
        Duration::from_secs(5),
        "the CLI revocation to reach the gateway",
        "key_revoked",
        || {
            stack
                .http
                .post(&url)
                .bearer_auth(&vault_key)
                .form(&[("amount", "1"), ("currency", "usd")])
        },
    )
    .await;
    let show = stack.cli(&["keys", "show", &key_id, "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["status"], "revoked");
}
