//! Every call that can move money is bounded before it leaves: the five cases of issue 11 with
//! the official SDKs through the real Envoy and filter. Each call is refused
//! (`cost_not_bounded`, or `spend_cap_exceeded` when its bound is above the cap) or priced;
//! nothing over the cap reaches the mock vendor; the key's spend never passes its cap and is
//! never below what the mock bills (`/__mock/billed`); no settlement is above its reservation
//! (Envoy's `keybrake_over_reserved_micros` and the audit's `over_reserved_usd`
//! stay 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{paths, wait_until, Stack, STRIPE_KEY};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn issue(stack: &Stack, vendor: &str, cap: f64, allow: &[&str]) -> keybrake_e2e::IssuedKey {
    stack
        .issue(
            json!({"vendor": vendor, "daily_usd_cap": cap, "allowed_endpoints": allow,
                      "expires_in": "30m", "agent_run_label": format!("cost-model/{vendor}")}),
        )
        .await
}

/// Runs `tests/python/<script>` with `CASE=case`, the gateway and the key; its JSON output.
fn run_script(stack: &Stack, script: &str, case: &str, key: &str, env: &[(&str, String)]) -> Value {
    let mut all = vec![("VAULT_KEY", key), ("CASE", case)];
    all.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
    stack.run_python(script, &all)
}

/// `GET /__mock/billed` on the mock at `port`.
async fn billed(stack: &Stack, port: u16) -> Value {
    let url = format!("http://127.0.0.1:{port}/__mock/billed");
    stack
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `n` access-log lines of `key_id`, oldest first, once all are written.
async fn log_lines(stack: &Stack, key_id: &str, n: usize) -> Vec<Value> {
    let lines = wait_until(WAIT, &format!("{n} access-log lines of {key_id}"), || {
        let lines: Vec<Value> = stack
            .access_log(0)
            .into_iter()
            .filter(|l| l["keybrake_key_id"] == key_id)
            .collect();
        async move { (lines.len() >= n).then_some(lines) }
    })
    .await;
    assert_eq!(lines.len(), n, "{lines:?}");
    lines
}

/// The `n` audit records of `key_id`, once all reached the control plane.
async fn audit(stack: &Stack, key_id: &str, n: usize) -> Vec<Value> {
    wait_until(
        WAIT,
        &format!("{n} audit records of {key_id}"),
        || async move {
            let path = format!("/audit?limit=1000&key_id={key_id}");
            let (status, body) = stack.admin_request(reqwest::Method::GET, &path, None).await;
            let records = body["records"].as_array().cloned().unwrap_or_default();
            (status == 200 && records.len() == n).then_some(records)
        },
    )
    .await
}

/// The deny reasons of `records`, sorted; `""` for an allowed call.
fn reasons(records: &[Value]) -> Vec<String> {
    let mut r: Vec<String> = records
        .iter()
        .map(|r| r["deny_reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    r.sort();
    r
}

/// Waits for the key's spend to be `want` USD and checks it is within `cap`.
async fn wait_spend(stack: &Stack, key_id: &str, want: f64, cap: f64) {
    let body = wait_until(WAIT, &format!("${want} spent on {key_id}"), || async move {
        let body = stack.key_info(key_id).await;
        let spend = body["spend_today_usd"].as_f64()?;
        ((spend - want).abs() < 1e-9).then_some(body)
    })
    .await;
    assert!(body["spend_today_usd"].as_f64().unwrap() <= cap, "{body}");
}

/// Envoy's over-reservation counter: micro-USD vendors reported above a reservation. The
/// filter defines `keybrake.over_reserved_micros`; Envoy files it under its `wasmcustom` stat
/// namespace, which its Prometheus output leaves out of the name.
async fn over_reserved_metric(stack: &Stack) -> u64 {
    let url = format!(
        "http://127.0.0.1:{}/stats/prometheus",
        stack.gateways[0].admin_port
    );
    let text = stack
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("keybrake_over_reserved_micros"))
        .unwrap_or_else(|| panic!("no over-reservation counter in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Nothing was settled above its reservation: the counter and every audit record say 0.
async fn assert_never_over_reserved(stack: &Stack, records: &[Value]) {
    assert_eq!(over_reserved_metric(stack).await, 0);
    for r in records {
        assert_eq!(r["over_reserved_usd"], json!(0.0), "{r}");
    }
}

/// The requests the mock at `port` received as `METHOD path` (without query).
async fn received(stack: &Stack, port: u16) -> Vec<String> {
    stack
        .mock_requests(port)
        .await
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap().split('?').next().unwrap();
            format!("{} {path}", r["method"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_refund_without_an_amount_is_refused_and_a_named_one_is_priced() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let key = issue(&stack, "stripe", 5.0, &["POST /v1/refunds"]).await;
    let mock = format!("http://127.0.0.1:{}", stack.stripe_port);
    let seen = run_script(
        &stack,
        "cost_stripe.py",
        "refunds",
        &key.vault_key,
        &[("MOCK", mock), ("MOCK_KEY", STRIPE_KEY.to_owned())],
    );

    let whole = &seen["whole"];
    assert_eq!(whole["exception"], "PermissionError", "{whole}");
    assert_eq!(whole["http_status"], 403, "{whole}");
    assert_eq!(whole["code"], "cost_not_bounded", "{whole}");
    let message = whole["message"].as_str().unwrap();
    assert!(
        message.contains("Name `amount`"),
        "says what to do: {message}"
    );
    assert_eq!(seen["small"]["amount"], 200, "{seen}");

    // The merchant's charge (made at the mock directly) and the $2 refund; the refund without
    // an amount never left.
    assert_eq!(
        received(&stack, stack.stripe_port).await,
        ["POST /v1/charges", "POST /v1/refunds"]
    );
    let bills = billed(&stack, stack.stripe_port).await;
    let refunds: Vec<&Value> = bills["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["path"] == "/v1/refunds")
        .collect();
    assert_eq!(refunds.len(), 1, "{bills}");
    assert_eq!(refunds[0]["micro_usd"], 2_000_000, "{bills}");

    // Reserved at the ceiling for an unnamed currency ($4), settled to what the mock moved.
    let lines = log_lines(&stack, &key.key_id, 2).await;
    assert_eq!(lines[0]["keybrake_decision"], "deny", "{}", lines[0]);
    assert_eq!(lines[1]["keybrake_cost_usd"], "2.00", "{}", lines[1]);
    assert_eq!(lines[1]["keybrake_cost_source"], "response", "{}", lines[1]);
    wait_spend(&stack, &key.key_id, 2.0, 5.0).await;
    let records = audit(&stack, &key.key_id, 2).await;
    assert_eq!(reasons(&records), ["", "cost_not_bounded"]);
    assert_never_over_reserved(&stack, &records).await;
}

#[tokio::test]
async fn follow_ups_of_an_intent_above_the_cap_are_refused_and_its_capture_is_counted_once() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let allow = [
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/*",
        "POST /v1/payment_intents/*/increment_authorization",
        "POST /v1/payment_intents/*/capture",
    ];
    let key = issue(&stack, "stripe", 20.0, &allow).await;
    let seen = run_script(&stack, "cost_stripe.py", "intents", &key.vault_key, &[]);

    assert_eq!(seen["created"]["status"], "requires_capture", "{seen}");
    for case in ["modify", "increment", "overcapture"] {
        let r = &seen[case];
        assert_eq!(r["exception"], "PermissionError", "{case}: {r}");
        assert_eq!(r["http_status"], 403, "{case}: {r}");
        // $50,000 in the intent's currency, which this gateway recorded at creation.
        assert_eq!(r["code"], "spend_cap_exceeded", "{case}: {r}");
    }
    assert_eq!(
        seen["captured"],
        json!({"status": "succeeded", "amount_received": 1000})
    );

    let pi = seen["created"]["id"].as_str().unwrap();
    assert_eq!(
        received(&stack, stack.stripe_port).await,
        [
            "POST /v1/payment_intents".to_owned(),
            format!("POST /v1/payment_intents/{pi}/capture")
        ],
        "only the intent and its $10 capture reached Stripe"
    );
    // The mock moved $10, at the capture; keybrake counted it once, at the intent's creation.
    let bills = billed(&stack, stack.stripe_port).await;
    assert_eq!(bills["total_micro_usd"], 10_000_000, "{bills}");
    let lines = log_lines(&stack, &key.key_id, 5).await;
    let costs: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["keybrake_decision"].as_str().unwrap(),
                l["keybrake_cost_usd"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(costs[0], ("allow", "10.00"), "{lines:?}");
    assert_eq!(
        costs[4],
        ("allow", "0.00"),
        "the capture is not charged again"
    );
    wait_spend(&stack, &key.key_id, 10.0, 20.0).await;
    let records = audit(&stack, &key.key_id, 5).await;
    assert_eq!(
        reasons(&records),
        [
            "",
            "",
            "spend_cap_exceeded",
            "spend_cap_exceeded",
            "spend_cap_exceeded"
        ]
    );
    assert_never_over_reserved(&stack, &records).await;
}

/// Micro-USD from the access log's `keybrake_cost_usd` (`"0.0249"`).
fn micros(line: &Value) -> i64 {
    let usd: f64 = line["keybrake_cost_usd"].as_str().unwrap().parse().unwrap();
    (usd * 1e6).round() as i64
}

#[tokio::test]
async fn a_call_update_that_lengthens_the_call_past_the_cap_is_refused() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let allow = [
        "POST /2010-04-01/Accounts/*/Calls.json",
        "POST /2010-04-01/Accounts/*/Calls/*",
        "GET /2010-04-01/Accounts/*/Calls/*",
    ];
    let key = issue(&stack, "twilio", 1.0, &allow).await;
    let seen = run_script(&stack, "cost_twilio.py", "calls", &key.vault_key, &[]);

    let day_long = &seen["day_long"];
    assert_eq!(day_long["status"], 403, "{day_long}");
    assert!(
        day_long["message"]
            .as_str()
            .unwrap()
            .contains("daily spend cap"),
        "{day_long}"
    );
    assert_eq!(seen["ended"]["status"], "completed", "{seen}");
    assert_eq!(seen["fetched"]["price"], "-0.01400", "{seen}");

    let sid = seen["created"]["sid"].as_str().unwrap();
    let updates = received(&stack, stack.twilio_port)
        .await
        .into_iter()
        .filter(|r| r.starts_with("POST") && r.contains(sid))
        .count();
    assert_eq!(
        updates, 2,
        "TimeLimit=120 and the hang-up reached Twilio, the day did not"
    );

    // Reserved: one minute for the call, two for TimeLimit=120 at the dearest rate; the hang-up
    // is free. Twilio bills the one minute the call lasted.
    let lines = log_lines(&stack, &key.key_id, 5).await;
    let costs: Vec<i64> = lines
        .iter()
        .filter(|l| l["keybrake_decision"] == "allow" && l["method"] == "POST")
        .map(micros)
        .collect();
    assert_eq!(costs, [14_000, 28_000, 0], "{lines:?}");
    let bills = billed(&stack, stack.twilio_port).await;
    assert_eq!(bills["total_micro_usd"], 14_000, "{bills}");
    assert!(costs.iter().sum::<i64>() >= 14_000);
    wait_spend(&stack, &key.key_id, 0.042, 1.0).await;
    let records = audit(&stack, &key.key_id, 5).await;
    assert_eq!(reasons(&records), ["", "", "", "", "spend_cap_exceeded"]);
    assert_never_over_reserved(&stack, &records).await;
}

#[tokio::test]
async fn send_as_mms_is_priced_as_an_mms_and_segments_as_twilio_counts_them() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let allow = ["POST /2010-04-01/Accounts/*/Messages.json"];
    // One MMS ($0.022) does not fit in a cent; one SMS segment ($0.0083) does.
    let small = issue(&stack, "twilio", 0.01, &allow).await;
    let seen = run_script(&stack, "cost_twilio.py", "mms", &small.vault_key, &[]);
    assert_eq!(seen["mms"]["status"], 403, "{seen}");
    assert_eq!(seen["sms"]["num_segments"], "1", "{seen}");
    let records = audit(&stack, &small.key_id, 2).await;
    assert_eq!(reasons(&records), ["", "spend_cap_exceeded"]);
    let received_bodies: Vec<String> = stack
        .mock_requests(stack.twilio_port)
        .await
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received_bodies.len(), 1, "{received_bodies:?}");
    assert!(
        !received_bodies[0].contains("SendAsMms"),
        "{received_bodies:?}"
    );
    wait_spend(&stack, &small.key_id, 0.0083, 0.01).await;

    // 153 escapes (two septets each) and 66 + 66 Cyrillic letters around an emoji (a surrogate
    // pair never split): three segments each, reserved exactly as the mock bills them.
    stack.clear_mock_requests(stack.twilio_port).await;
    let key = issue(&stack, "twilio", 1.0, &allow).await;
    let seen = run_script(&stack, "cost_twilio.py", "segments", &key.vault_key, &[]);
    for body in ["escapes", "surrogates"] {
        assert_eq!(seen[body]["num_segments"], "3", "{body}: {seen}");
    }
    let lines = log_lines(&stack, &key.key_id, 2).await;
    let costs: Vec<i64> = lines.iter().map(micros).collect();
    assert_eq!(costs, [24_900, 24_900], "{lines:?}");
    let bills = billed(&stack, stack.twilio_port).await;
    for body in ["escapes", "surrogates"] {
        let sid = seen[body]["sid"].as_str().unwrap();
        let bill: Vec<&Value> = bills["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["object"] == sid)
            .collect();
        assert_eq!(bill.len(), 1, "{body}: {bills}");
        assert_eq!(bill[0]["micro_usd"], 24_900, "{body}: {bills}");
    }
    wait_spend(&stack, &key.key_id, 0.0498, 1.0).await;
    let mut records = audit(&stack, &key.key_id, 2).await;
    records.extend(audit(&stack, &small.key_id, 2).await);
    assert_never_over_reserved(&stack, &records).await;
}

/// A Twilio message the shipped prices cannot bound, as cost_twilio.py's `case` sends it (to
/// `to`): refused with a message naming `why`, with nothing reaching Twilio; then the operator
/// PUTs `price`, a key too small for one message shows when the gateway has it (its refusal
/// turns from cost_not_bounded into spend_cap_exceeded), and the message is sent and reserved at
/// `micros`. Returns the stack, the key and what the script printed when it sent.
async fn refused_until_priced(
    case: &str,
    why: &str,
    price: Value,
    to: &str,
    from: &str,
    micros_each: i64,
) -> (Stack, keybrake_e2e::IssuedKey, Value) {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let allow = ["POST /2010-04-01/Accounts/*/Messages.json"];
    let key = issue(&stack, "twilio", 1.0, &allow).await;
    let seen = run_script(&stack, "cost_twilio.py", case, &key.vault_key, &[]);
    let refused = &seen["refused"];
    assert_eq!(refused["status"], 403, "{seen}");
    assert!(
        refused["message"].as_str().unwrap().contains(why),
        "{refused}"
    );
    assert!(stack.mock_requests(stack.twilio_port).await.is_empty());

    let (status, body) = stack.admin_put("/prices/twilio", price).await;
    assert_eq!(status, 200, "{body}");
    let probe = issue(&stack, "twilio", 0.001, &allow).await;
    let url = stack.gw_url(
        0,
        "/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
    );
    keybrake_e2e::wait_refused(
        WAIT,
        "the new price at the gateway",
        "spend_cap_exceeded",
        || {
            stack
                .http
                .post(&url)
                .basic_auth("AC0", Some(&probe.vault_key))
                .form(&[("To", to), ("From", from), ("Body", "hi")])
        },
    )
    .await;

    let sent = run_script(&stack, "cost_twilio.py", case, &key.vault_key, &[]);
    assert!(sent["sent"]["sid"].is_string(), "{sent}");
    let lines = log_lines(&stack, &key.key_id, 2).await;
    assert_eq!(micros(&lines[1]), micros_each, "{}", lines[1]);
    (stack, key, sent)
}

#[tokio::test]
async fn a_channel_message_is_refused_until_an_operator_prices_the_channel() {
    let (stack, key, seen) = refused_until_priced(
        "whatsapp",
        "no price for this channel",
        json!({"message_by_channel": {"whatsapp": 0.005}}),
        "whatsapp:+15558675310",
        "whatsapp:+15005550006",
        5_000,
    )
    .await;
    let bills = billed(&stack, stack.twilio_port).await;
    assert_eq!(
        bills["entries"][0]["object"], seen["sent"]["sid"],
        "{bills}"
    );
    assert_eq!(bills["total_micro_usd"], 5_000, "{bills}");
    wait_spend(&stack, &key.key_id, 0.005, 1.0).await;
    let records = audit(&stack, &key.key_id, 2).await;
    assert_eq!(reasons(&records), ["", "cost_not_bounded"]);
    assert_never_over_reserved(&stack, &records).await;
}

/// The shipped Twilio prices are US list prices: they bound nothing abroad, so an SMS to a UK
/// number is refused until an operator prices the +44 prefix, and then reserved at that price.
#[tokio::test]
async fn an_sms_abroad_is_refused_until_an_operator_prices_its_prefix() {
    let (stack, key, _) = refused_until_priced(
        "uk",
        "no price for this destination",
        json!({"sms_segment_by_prefix": {"44": 0.04}}),
        "+447700900123",
        "+15005550006",
        40_000,
    )
    .await;
    let bills = billed(&stack, stack.twilio_port).await;
    assert!(
        bills["total_micro_usd"].as_i64().unwrap() <= 40_000,
        "the reservation bounds the bill: {bills}"
    );
    let records = audit(&stack, &key.key_id, 2).await;
    assert_eq!(reasons(&records), ["", "cost_not_bounded"]);
    assert_never_over_reserved(&stack, &records).await;
}
