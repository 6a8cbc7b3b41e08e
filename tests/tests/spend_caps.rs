//! Spend caps that hold exactly: reserve before forwarding, settle from the response, leases
//! across gateways. Real Envoy (two workers per gateway), the control plane, the mock Stripe.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{deny_reason, wait_until, Stack, StackOptions};
use serde_json::{json, Value};
use std::time::Duration;

fn stripe_key(cap: f64, allow: &[&str]) -> Value {
    json!({"vendor": "stripe", "daily_usd_cap": cap, "allowed_endpoints": allow,
           "expires_in": "1h", "agent_run_label": "billing-agent/caps"})
}

/// POSTs a PaymentIntent for `cents` US cents through gateway `gw`.
async fn pay(stack: &Stack, gw: usize, key: &str, cents: u64) -> reqwest::Response {
    stack
        .http
        .post(stack.gw_url(gw, "/stripe/v1/payment_intents"))
        .bearer_auth(key)
        .form(&[
            ("amount", cents.to_string()),
            ("currency", "usd".to_owned()),
        ])
        .send()
        .await
        .unwrap()
}

/// Waits until the control plane reports `want` USD spent today on the key.
async fn wait_spend(stack: &Stack, key_id: &str, want: f64) -> Value {
    wait_until(
        Duration::from_secs(15),
        &format!("the control plane to report ${want} spent on {key_id}"),
        || async move {
            let body = stack.key_info(key_id).await;
            (body["spend_today_usd"].as_f64() == Some(want)).then_some(body)
        },
    )
    .await
}

/// Sends `n` $10 payments at once, spread over the stack's gateways; returns (allowed, refused
/// with spend_cap_exceeded). Any other answer fails the test.
async fn burst(stack: &Stack, key: &str, n: usize) -> (usize, usize) {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let gw = i % stack.gateways.len();
        let req = stack
            .http
            .post(stack.gw_url(gw, "/stripe/v1/payment_intents"))
            .bearer_auth(key)
            .form(&[("amount", "1000"), ("currency", "usd")]);
        calls.spawn(async move { req.send().await.unwrap() });
    }
    let (mut ok, mut capped) = (0, 0);
    while let Some(r) = calls.join_next().await {
        let r = r.unwrap();
        match (r.status().as_u16(), deny_reason(&r).as_deref()) {
            (200, None) => ok += 1,
            (403, Some("spend_cap_exceeded")) => capped += 1,
            (s, reason) => panic!(
                "unexpected answer {s} {reason:?}: {}",
                r.text().await.unwrap_or_default()
            ),
        }
    }
    (ok, capped)
}

/// 200 concurrent $10 payments against a $500 cap, spread over the stack's gateways: exactly 50
/// pass and reach the vendor, 150 are refused, and the control plane reports exactly $500.
async fn burst_stops_at_exactly_the_cap(stack: &Stack) {
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    let (ok, capped) = burst(stack, &key.vault_key, 200).await;
    assert_eq!(
        (ok, capped),
        (50, 150),
        "{} gateway(s) together admit exactly fifty $10 payments",
        stack.gateways.len()
    );
    let posts = stack
        .stripe_requests()
        .await
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 50, "exactly fifty reached the vendor");
    wait_spend(stack, &key.key_id, 500.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_200_stops_at_exactly_the_cap() {
    burst_stops_at_exactly_the_cap(&Stack::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_share_one_cap_to_the_cent() {
    let stack = Stack::start_with(StackOptions {
        gateways: 2,
        ..StackOptions::default()
    })
    .await;
    burst_stops_at_exactly_the_cap(&stack).await;
}

#[tokio::test]
async fn one_charge_larger_than_a_fresh_cap_never_reaches_the_vendor() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    let r = pay(&stack, 0, &key.vault_key, 60_000).await;
    assert_eq!(r.status(), 403);
    assert_eq!(deny_reason(&r).as_deref(), Some("spend_cap_exceeded"));
    assert_eq!(r.headers()["stripe-should-retry"], "false");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "spend_cap_exceeded");
    assert!(
        stack.stripe_requests().await.is_empty(),
        "the $600 charge reached the vendor"
    );
    // The cap is untouched: $500 still fits.
    assert_eq!(pay(&stack, 0, &key.vault_key, 50_000).await.status(), 200);
    wait_spend(&stack, &key.key_id, 500.0).await;
}

#[tokio::test]
async fn an_idempotency_key_sent_three_times_is_charged_once() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .header("Idempotency-Key", "order-6735-attempt")
            .form(&[("amount", "1000"), ("currency", "usd")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the vendor replayed one payment: {ids:?}"
    );
    wait_spend(&stack, &key.key_id, 10.0).await;
    let costs = wait_until(Duration::from_secs(10), "three access-log lines", || {
        let lines: Vec<Value> = stack
            .access_log(0)
            .into_iter()
            .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
            .collect();
        async move { (lines.len() == 3).then_some(lines) }
    })
    .await;
    let charged: Vec<&str> = costs
        .iter()
        .map(|l| l["keybrake_cost_usd"].as_str().unwrap())
        .collect();
    assert_eq!(charged, ["10.00", "0.00", "0.00"]);
}

#[tokio::test]
async fn gzip_responses_settle_to_the_right_amount() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(
            500.0,
            &["POST /v1/payment_intents", "POST /v1/refunds"],
        ))
        .await;
    let gz = |path: &str| {
        stack
            .http
            .post(stack.gw_url(0, path))
            .bearer_auth(&key.vault_key)
            .header("Accept-Encoding", "gzip, deflate")
    };
    let r = gz("/stripe/v1/payment_intents")
        .form(&[("amount", "1234"), ("currency", "usd"), ("confirm", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-encoding"],
        "gzip",
        "the mock compressed its answer"
    );
    let raw = r.bytes().await.unwrap();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2_free_gunzip(&raw), &mut json).unwrap();
    let pi: Value = serde_json::from_slice(&json).unwrap();
    // A refund names its amount but not its currency (it is the charge's): it reserves the
    // amount at two cents per minor unit, then settles to the amount and currency read from the
    // (gzip-encoded) response.
    let refund = gz("/stripe/v1/refunds")
        .form(&[
            ("payment_intent", pi["id"].as_str().unwrap()),
            ("amount", "1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 200);
    let lines = wait_until(
        Duration::from_secs(10),
        "two costed access-log lines",
        || {
            let lines: Vec<Value> = stack
                .access_log(0)
                .into_iter()
                .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
                .collect();
            async move { (lines.len() == 2).then_some(lines) }
        },
    )
    .await;
    for line in &lines {
        assert_eq!(line["keybrake_cost_usd"], "12.34", "{line}");
        assert_eq!(line["keybrake_cost_source"], "response", "{line}");
        assert_eq!(line["keybrake_cap_usd"], "500.00", "{line}");
    }
    wait_spend(&stack, &key.key_id, 24.68).await;
}

/// Decompresses gzip without a new dependency: the mock's own gzip is checked by its tests;
/// here a `gzip -d` child process does it.
fn flate2_free_gunzip(raw: &[u8]) -> std::io::Cursor<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    std::io::Cursor::new(child.wait_with_output().unwrap().stdout)
}

#[tokio::test]
async fn the_access_log_shows_what_each_call_cost_and_the_spend_so_far() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(
            100.0,
            &["POST /v1/payment_intents", "GET /v1/payment_intents/*"],
        ))
        .await;
    let pi: Value = pay(&stack, 0, &key.vault_key, 2_500)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pay(&stack, 0, &key.vault_key, 1_000).await.status(), 200);
    let get = stack
        .http
        .get(stack.gw_url(
            0,
            &format!("/stripe/v1/payment_intents/{}", pi["id"].as_str().unwrap()),
        ))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let lines = wait_until(Duration::from_secs(10), "three access-log lines", || {
        let lines: Vec<Value> = stack
            .access_log(0)
            .into_iter()
            .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
            .collect();
        async move { (lines.len() == 3).then_some(lines) }
    })
    .await;
    let row = |l: &Value| {
        (
            l["method"].as_str().unwrap().to_owned(),
            l["keybrake_cost_usd"].as_str().unwrap().to_owned(),
            l["keybrake_cost_source"].as_str().unwrap().to_owned(),
            l["keybrake_spend_usd"].as_str().unwrap().to_owned(),
            l["keybrake_cap_usd"].as_str().unwrap().to_owned(),
        )
    };
    let got: Vec<_> = lines.iter().map(row).collect();
    let s = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        (
            a.to_owned(),
            b.to_owned(),
            c.to_owned(),
            d.to_owned(),
            e.to_owned(),
        )
    };
    assert_eq!(
        got,
        vec![
            s("POST", "25.00", "response", "25.00", "100.00"),
            s("POST", "10.00", "response", "35.00", "100.00"),
            s("GET", "0.00", "request", "35.00", "100.00"),
        ]
    );
}

#[tokio::test]
async fn currencies_convert_at_the_operators_rate_and_unknown_ones_are_refused() {
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    let pay_in = |amount: &'static str, currency: &'static str| {
        stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .form(&[("amount", amount), ("currency", currency)])
            .send()
    };
    let r = pay_in("1000", "jpy").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(deny_reason(&r).as_deref(), Some("currency_not_supported"));
    assert!(stack.stripe_requests().await.is_empty());

    let (s, body) = stack
        .admin_put("/rates/jpy", json!({"usd_per_unit": 0.0067}))
        .await;
    assert_eq!(s, 200, "{body}");
    // Zero-decimal: 1000 JPY is ¥1000, $6.70.
    let r = wait_until(
        Duration::from_secs(5),
        "the rate to reach the gateway",
        || {
            let req = pay_in("1000", "jpy");
            async move { req.await.ok().filter(|r| r.status() == 200) }
        },
    )
    .await;
    assert_eq!(r.status(), 200);
    wait_spend(&stack, &key.key_id, 6.7).await;
}

#[tokio::test]
async fn spend_survives_an_envoy_restart_and_is_still_enforced() {
    let opts = StackOptions::default();
    let mut stack = Stack::start_with(opts.clone()).await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    for _ in 0..3 {
        assert_eq!(pay(&stack, 0, &key.vault_key, 10_000).await.status(), 200);
    }
    // Once the key is idle the gateway gives its unused lease back, so the restart loses none.
    let key_id = key.key_id.as_str();
    let stack_ref = &stack;
    wait_until(
        Duration::from_secs(15),
        "the idle lease to return to the control plane",
        || async move {
            let b = stack_ref.key_info(key_id).await;
            (b["spend_today_usd"].as_f64() == Some(300.0) && b["leased_usd"].as_f64() == Some(0.0))
                .then_some(())
        },
    )
    .await;
    stack.restart_gateway(0, &opts).await;
    let over = pay(&stack, 0, &key.vault_key, 25_000).await;
    assert_eq!(
        deny_reason(&over).as_deref(),
        Some("spend_cap_exceeded"),
        "$250 more would pass the cap"
    );
    assert_eq!(
        pay(&stack, 0, &key.vault_key, 20_000).await.status(),
        200,
        "$200 more still fits"
    );
    wait_spend(&stack, &key.key_id, 500.0).await;
}

#[tokio::test]
async fn with_the_control_plane_away_a_gateway_serves_inside_its_lease_and_no_further() {
    let mut stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    assert_eq!(pay(&stack, 0, &key.vault_key, 1_000).await.status(), 200);
    stack.control_plane.kill();
    stack.clear_stripe_requests().await;

    let mut served = 1u64;
    let refusal = loop {
        let r = pay(&stack, 0, &key.vault_key, 1_000).await;
        if r.status() != 200 {
            break r;
        }
        served += 1;
        assert!(served <= 50, "served beyond the cap");
    };
    assert_eq!(
        deny_reason(&refusal).as_deref(),
        Some("policy_unavailable"),
        "more budget needs the control plane"
    );
    assert!(
        served > 1,
        "the gateway held a lease and kept serving inside it"
    );
    let posts = stack.stripe_requests().await.len() as u64;
    assert_eq!(posts, served - 1);

    stack.restart_control_plane().await;
    wait_spend(&stack, &key.key_id, served as f64 * 10.0).await;
}

/// Once a busy key's first lease is in, its calls never wait on the control plane: the sync
/// service sees the lease fall below its low-water mark (four report intervals of the key's
/// recent use) and tops it up ahead of need. Without top-ups each grant covers a shrinking share
/// of what is left, so a key that spends 70 % of its cap pauses for leases several times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_key_is_topped_up_ahead_of_need_and_its_calls_do_not_wait() {
    const WAITS: &str = "wasmcustom.keybrake.lease_waits";
    const SENDERS: usize = 4;
    const CALLS: usize = 1_400; // $2 each: $2,800 of a $4,000 cap
    let stack = Stack::start().await;
    let key = stack
        .issue(stripe_key(4_000.0, &["POST /v1/payment_intents"]))
        .await;
    // The first calls wait for the first lease; the sync service needs two reports to see a rate.
    for _ in 0..20 {
        assert_eq!(pay(&stack, 0, &key.vault_key, 200).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = stack.envoy_stat(0, WAITS).await.unwrap_or(0);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(20));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (http, url, vault_key, sent) = (
            stack.http.clone(),
            stack.gw_url(0, "/stripe/v1/payment_intents"),
            key.vault_key.clone(),
            sent.clone(),
        );
        senders.spawn(async move {
            while sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < CALLS {
                let r = http
                    .post(&url)
                    .bearer_auth(&vault_key)
                    .form(&[("amount", "200"), ("currency", "usd")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{:?}", deny_reason(&r));
            }
        });
    }
    while let Some(r) = senders.join_next().await {
        r.unwrap();
    }
    let after = stack.envoy_stat(0, WAITS).await.unwrap_or(0);
    assert_eq!(
        after - before,
        0,
        "calls paused for a lease {} times while the key was busy ({before} before)",
        after - before
    );
    wait_spend(&stack, &key.key_id, 2_800.0).await;
}

/// Calls waiting on one lease request share it; when the call whose stream sent that request
/// goes away (its client hangs up, and Envoy cancels the stream's callout with it), the request
/// is sent again from the worker's root and the call left waiting still gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_request_outlives_the_call_that_sent_it() {
    const WAITS: &str = "wasmcustom.keybrake.lease_waits";
    const REQUESTS: &str = "wasmcustom.keybrake.lease_requests";
    // One worker: calls share a lease request within a worker VM.
    let stack = Stack::start_with(StackOptions {
        concurrency: 1,
        ..StackOptions::default()
    })
    .await;
    let key = stack
        .issue(stripe_key(500.0, &["POST /v1/payment_intents"]))
        .await;
    let stack = &stack;
    let stat = |name: &'static str| async move { stack.envoy_stat(0, name).await.unwrap_or(0) };
    // Stopped, the control plane takes connections but answers nothing: lease requests wait.
    stack.control_plane.signal("STOP");
    let send = |timeout: Duration| {
        let req = stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .timeout(timeout)
            .form(&[("amount", "1000"), ("currency", "usd")]);
        tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
    };
    // A asks for the key's first lease; B joins A's request instead of sending its own.
    let a = send(Duration::from_secs(2));
    wait_until(Duration::from_secs(10), "A to wait for a lease", || async {
        (stat(WAITS).await == 1).then_some(())
    })
    .await;
    let b = send(Duration::from_secs(20));
    wait_until(Duration::from_secs(10), "B to wait too", || async {
        (stat(WAITS).await == 2).then_some(())
    })
    .await;
    assert_eq!(stat(REQUESTS).await, 1, "one lease request for both");
    // A's client gives up: Envoy ends A's stream and cancels the request it sent.
    assert!(a.await.unwrap().is_err(), "A timed out on the client side");
    wait_until(Duration::from_secs(5), "the request sent again", || async {
        (stat(REQUESTS).await == 2).then_some(())
    })
    .await;
    stack.control_plane.signal("CONT");
    assert_eq!(
        b.await.unwrap().unwrap(),
        200,
        "B got the lease it waited for"
    );
    assert_eq!(
        stack.stripe_requests().await.len(),
        1,
        "only B reached the vendor"
    );
}
