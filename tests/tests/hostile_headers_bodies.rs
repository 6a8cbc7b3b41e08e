//! Hostile headers and bodies, through real Envoy: duplicate or odd credentials, the vault key
//! offered where it would be forwarded, the gateway's own headers sent by the client, and
//! request and response bodies built to be priced one way and charged another. Each case has a
//! decision, none panics the filter, and no call that may move money goes uncounted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/health.rs"]
mod health;
#[path = "support/raw.rs"]
mod raw;

use keybrake_e2e::{wait_until, IssuedKey, Stack, STRIPE_KEY};
use serde_json::{json, Value};
use std::time::Duration;

const FORM: &[u8] = b"application/x-www-form-urlencoded";

async fn stripe_key(stack: &Stack, label: &str) -> IssuedKey {
    stack
        .issue(json!({
            "vendor": "stripe", "daily_usd_cap": 500.0,
            "allowed_endpoints": ["GET /v1/customers/*", "POST /v1/payment_intents"],
            "expires_in": "30m", "agent_run_label": label,
        }))
        .await
}

/// A customer made directly at the mock, so that retrieving it through the gateway answers 200.
async fn customer_path(stack: &Stack) -> String {
    let r: Value = stack
        .http
        .post(format!(
            "http://127.0.0.1:{}/v1/customers",
            stack.stripe_port
        ))
        .bearer_auth(STRIPE_KEY)
        .form(&[("email", "hostile@example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("/stripe/v1/customers/{}", r["id"].as_str().unwrap())
}

/// The access-log line of the one call `key` made, once Envoy has flushed it.
async fn log_line(stack: &Stack, key: &IssuedKey) -> Value {
    wait_until(
        Duration::from_secs(10),
        "the call's access-log line",
        || {
            let line = stack
                .access_log(0)
                .into_iter()
                .find(|l| l["keybrake_key_id"] == key.key_id.as_str());
            async move { line }
        },
    )
    .await
}

#[tokio::test]
async fn odd_credentials_and_smuggled_keys_are_decided_and_never_forwarded() {
    let stack = Stack::start().await;
    let key = stripe_key(&stack, "hostile/headers").await;
    let vk = key.vault_key.as_bytes();
    let bearer = format!("Bearer {}", key.vault_key);
    let b = bearer.as_bytes();
    let encoded: String = key.vault_key.bytes().map(|c| format!("%{c:02X}")).collect();
    let secret = &key.vault_key[key.vault_key.len() - 64..];
    let big = "a".repeat(50_000);
    let huge = "a".repeat(100_000);
    let customer = customer_path(&stack).await;
    let with_key_in_query = format!("{customer}?api_key={}", key.vault_key);
    let with_encoded_key = format!("{customer}?k={encoded}");
    let path = customer.as_str();

    // (name, target, headers, status, deny reason, reaches the vendor)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a [u8])>,
        u16,
        Option<&'a str>,
        bool,
    );
    let cases: Vec<Case> = vec![
        ("plain", path, vec![("Authorization", b)], 200, None, true),
        (
            "two Authorization headers",
            path,
            vec![
                ("Authorization", b),
                ("Authorization", b"Bearer sk_live_other"),
            ],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "the vault key twice",
            path,
            vec![("Authorization", b), ("Authorization", b)],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "a vendor key first, the vault key second",
            path,
            vec![
                ("Authorization", b"Bearer sk_live_other"),
                ("Authorization", b),
            ],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "scheme in odd case",
            path,
            vec![(
                "Authorization",
                format!("bEaReR {}", key.vault_key).into_bytes().leak(),
            )],
            200,
            None,
            true,
        ),
        (
            "several spaces after the scheme",
            path,
            vec![(
                "Authorization",
                format!("Bearer    {}", key.vault_key).into_bytes().leak(),
            )],
            200,
            None,
            true,
        ),
        (
            "a tab after the scheme",
            path,
            vec![(
                "Authorization",
                format!("Bearer\t{}", key.vault_key).into_bytes().leak(),
            )],
            200,
            None,
            true,
        ),
        (
            "non-UTF-8 credential",
            path,
            vec![("Authorization", b"Bearer \xff\xfe\xfd")],
            401,
            Some("unknown_key"),
            false,
        ),
        (
            "non-UTF-8 value in another header",
            path,
            vec![("Authorization", b), ("X-Note", b"caf\xe9")],
            200,
            None,
            true,
        ),
        (
            "non-UTF-8 header name",
            path,
            vec![("Authorization", b), ("X-\u{1}", b"1")],
            400,
            None,
            false,
        ),
        (
            "a 50 KB header",
            path,
            vec![("Authorization", b), ("X-Big", big.as_bytes())],
            200,
            None,
            true,
        ),
        (
            "a 100 KB header",
            path,
            vec![("Authorization", b), ("X-Big", huge.as_bytes())],
            431,
            None,
            false,
        ),
        (
            "the vault key in the query",
            &with_key_in_query,
            vec![("Authorization", b)],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "the vault key percent-encoded in the query",
            &with_encoded_key,
            vec![("Authorization", b)],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "the vault key in x-api-key",
            path,
            vec![("Authorization", b), ("X-Api-Key", vk)],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "the vault key's secret in another header",
            path,
            vec![("Authorization", b), ("Idempotency-Key", secret.as_bytes())],
            400,
            Some("bad_request"),
            false,
        ),
        (
            "the vault key only in x-api-key",
            path,
            vec![("X-Api-Key", vk)],
            401,
            Some("unknown_key"),
            false,
        ),
        (
            "the vault key only in the query",
            &with_key_in_query,
            vec![],
            401,
            Some("unknown_key"),
            false,
        ),
    ];
    let port = stack.gateways[0].port;
    let mut failures = Vec::new();
    for (name, target, headers, status, reason, reaches) in cases {
        stack.clear_stripe_requests().await;
        // A header name byte that is not UTF-8 cannot be written in a &str: patch it in.
        let mut req = raw::request("GET", target, &headers, b"");
        for b in req.iter_mut() {
            if *b == 1 {
                *b = 0xff;
            }
        }
        let r = raw::send(port, &req).await;
        let seen = stack.stripe_requests().await;
        let got = (
            r.status,
            r.deny_reason().map(str::to_owned),
            !seen.is_empty(),
        );
        let want = (status, reason.map(str::to_owned), reaches);
        if got != want {
            failures.push(format!(
                "{name}:\n  EXPECTED {want:?}\n  RECEIVED {got:?} {}",
                r.text().chars().take(160).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    health::assert_filter_healthy(&stack, &key.vault_key).await;
}

#[tokio::test]
async fn the_gateways_own_headers_are_stripped_and_the_vault_key_never_leaves() {
    let stack = Stack::start().await;
    let key = stripe_key(&stack, "hostile/strip").await;
    let customer = customer_path(&stack).await;
    stack.clear_stripe_requests().await;
    let r = stack
        .http
        .get(stack.gw_url(0, &customer))
        .bearer_auth(&key.vault_key)
        .header("x-keybrake-deny-reason", "none")
        .header("X-Keybrake-Key-Id", "kid_0000000000000000")
        .header("x-keybrake-cost-usd", "0.00")
        .header("x-envoy-original-path", "/stripe/v1/forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = stack.stripe_requests().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let names: Vec<&str> = seen[0]["header_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("x-keybrake-")),
        "client-sent x-keybrake-* headers reached the vendor: {names:?}"
    );
    let text = seen[0].to_string();
    assert!(
        !text.contains(&key.vault_key)
            && !text.contains(&key.vault_key[key.vault_key.len() - 64..])
    );
    assert!(text.contains(&format!("Bearer {STRIPE_KEY}")));
    assert!(
        !text.contains("/stripe/v1/forged"),
        "a forged x-envoy-original-path went on: {text}"
    );

    // A refused call's access-log line shows the real path, not a forged one.
    let other = stripe_key(&stack, "hostile/strip-denied").await;
    let r = stack
        .http
        .get(stack.gw_url(0, "/stripe/v1/refunds"))
        .bearer_auth(&other.vault_key)
        .header("x-envoy-original-path", "/stripe/v1/customers/cus_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let line = log_line(&stack, &other).await;
    assert_eq!(line["path"], "/stripe/v1/refunds", "{line}");
}

#[tokio::test]
async fn costed_request_bodies_are_priced_exactly_or_refused() {
    let stack = Stack::start().await;
    let port = stack.gateways[0].port;
    let gzip_body = {
        let mut child = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"amount=100&currency=usd")
            .unwrap();
        child.wait_with_output().unwrap().stdout
    };
    let multipart = b"--X\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n5000000\r\n--X\r\nContent-Disposition: form-data; name=\"currency\"\r\n\r\nusd\r\n--X--\r\n&amount=100&currency=usd".to_vec();
    let chunked_body = b"b\r\namount=100&\r\nc\r\ncurrency=usd\r\n0\r\n\r\n".to_vec();
    let big = format!("amount=100&currency=usd&metadata[x]={}", "a".repeat(70_000));
    let ct = ("Content-Type", FORM);

    // (name, extra headers, body, chunked, status, deny, charged USD when it went on)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a [u8])>,
        Vec<u8>,
        bool,
        u16,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "plain form",
            vec![ct],
            b"amount=100&currency=usd".to_vec(),
            false,
            200,
            None,
            Some("1.00"),
        ),
        (
            "chunked form",
            vec![ct],
            chunked_body,
            true,
            200,
            None,
            Some("1.00"),
        ),
        (
            "amount not a number",
            vec![ct],
            b"amount=1e9&currency=usd".to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "negative amount",
            vec![ct],
            b"amount=-100&currency=usd".to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "amount twice",
            vec![ct],
            b"amount=1&amount=5000000&currency=usd".to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "amount twice, one percent-encoded",
            vec![ct],
            b"amount=1&%61mount=5000000&currency=usd".to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "no amount",
            vec![ct],
            b"currency=usd".to_vec(),
            false,
            // Nothing names the amount: the request does not bound the cost.
            403,
            Some("cost_not_bounded"),
            None,
        ),
        (
            "no body",
            vec![ct],
            Vec::new(),
            false,
            // Nothing names the amount: the request does not bound the cost.
            403,
            Some("cost_not_bounded"),
            None,
        ),
        (
            "not a form at all",
            vec![ct],
            b"\xff\xfe\x00garbage".to_vec(),
            false,
            // Nothing names the amount: the request does not bound the cost.
            403,
            Some("cost_not_bounded"),
            None,
        ),
        (
            "no content type",
            vec![],
            b"amount=100&currency=usd".to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "multipart hiding a bigger amount",
            vec![("Content-Type", b"multipart/form-data; boundary=X")],
            multipart,
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "JSON to Stripe",
            vec![("Content-Type", b"application/json")],
            br#"{"amount":100,"currency":"usd"}"#.to_vec(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "gzip-encoded",
            vec![ct, ("Content-Encoding", b"gzip")],
            gzip_body,
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "larger than 64 KiB",
            vec![ct],
            big.into_bytes(),
            false,
            400,
            Some("bad_request"),
            None,
        ),
        (
            "unknown currency",
            vec![ct],
            b"amount=100&currency=xts".to_vec(),
            false,
            400,
            Some("currency_not_supported"),
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (i, (name, extra, body, chunked, status, reason, charged)) in cases.into_iter().enumerate()
    {
        let key = stripe_key(&stack, &format!("hostile/body-{i}")).await;
        let auth = format!("Bearer {}", key.vault_key);
        let mut headers: Vec<(&str, &[u8])> = vec![("Authorization", auth.as_bytes())];
        headers.extend(extra);
        let req = if chunked {
            headers.push(("Transfer-Encoding", b"chunked"));
            let mut r = raw::request("POST", "/stripe/v1/payment_intents", &headers, b"");
            r.extend_from_slice(&body);
            r
        } else {
            raw::request("POST", "/stripe/v1/payment_intents", &headers, &body)
        };
        stack.clear_stripe_requests().await;
        let r = raw::send(port, &req).await;
        let seen = stack.stripe_requests().await;
        let line = log_line(&stack, &key).await;
        let cost = line["keybrake_cost_usd"].as_str().map(str::to_owned);
        let got = (
            r.status,
            r.deny_reason().map(str::to_owned),
            !seen.is_empty(),
            if seen.is_empty() { None } else { cost },
        );
        let want = (
            status,
            reason.map(str::to_owned),
            charged.is_some(),
            charged.map(str::to_owned),
        );
        if got != want {
            failures.push(format!("{name}:\n  EXPECTED (status, reason, reached, charged) {want:?}\n  RECEIVED {got:?} {}", r.text().chars().take(160).collect::<String>()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A 2 MiB chunked body never reaches the vendor.
    let key = stripe_key(&stack, "hostile/body-huge").await;
    let auth = format!("Bearer {}", key.vault_key);
    let mut req = raw::request(
        "POST",
        "/stripe/v1/payment_intents",
        &[
            ("Authorization", auth.as_bytes()),
            ct,
            ("Transfer-Encoding", b"chunked"),
        ],
        b"",
    );
    for _ in 0..32 {
        req.extend_from_slice(format!("10000\r\n{}\r\n", "a".repeat(0x10000)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    stack.clear_stripe_requests().await;
    let r = raw::send(port, &req).await;
    // The filter refuses at 64 KiB; when Envoy receives more than its 1 MiB buffer in one
    // read before the filter sees it, Envoy answers 413 itself. Either way nothing goes on.
    let got = (r.status, r.deny_reason());
    assert!(
        got == (400, Some("bad_request")) || got == (413, None),
        "2 MiB chunked body: {got:?}"
    );
    assert!(
        stack.stripe_requests().await.is_empty(),
        "2 MiB chunked body reached the vendor"
    );
    health::assert_filter_healthy(&stack, &key.vault_key).await;
}

#[tokio::test]
async fn resend_json_that_reads_two_ways_is_refused() {
    let stack = Stack::start().await;
    let port = stack.gateways[0].port;
    let cases: Vec<(&str, &[u8], u16, Option<&str>)> = vec![
        ("one recipient", br#"{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t"}"#, 200, None),
        ("to twice", br#"{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t","to":["c@example.com","d@example.com"]}"#, 400, Some("bad_request")),
        ("truncated JSON", br#"{"from":"a@example.com","to":"b@exa"#, 400, Some("bad_request")),
        ("trailing garbage", br#"{"from":"a@example.com","to":"b@example.com"} {"to":"c@example.com"}"#, 400, Some("bad_request")),
        ("recipients not strings", br#"{"from":"a@example.com","to":[{"email":"b@example.com"}]}"#, 400, Some("bad_request")),
    ];
    let mut failures = Vec::new();
    for (name, body, status, reason) in cases {
        let key = stack
            .issue(json!({"vendor": "resend", "daily_usd_cap": 5.0, "allowed_endpoints": ["POST /emails"], "expires_in": "30m", "agent_run_label": "hostile/resend"}))
            .await;
        let auth = format!("Bearer {}", key.vault_key);
        let r = raw::send(
            port,
            &raw::request(
                "POST",
                "/resend/emails",
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Content-Type", b"application/json"),
                ],
                body,
            ),
        )
        .await;
        let got = (r.status, r.deny_reason().map(str::to_owned));
        if got != (status, reason.map(str::to_owned)) {
            failures.push(format!(
                "{name}: EXPECTED {:?} RECEIVED {got:?} {}",
                (status, reason),
                r.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Answers from a vendor that misbehaves: the gateway cannot read what the call cost, so the
/// reservation stays charged (cost source `request`), and the worker keeps serving.
#[tokio::test]
async fn unreadable_responses_leave_the_call_charged() {
    let mut stack = Stack::start().await;
    // The mock stops; a raw responder takes Stripe's port (the harness routes /stripe there).
    stack.mocks.kill();
    let bomb = {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("head -c 20000000 /dev/zero | gzip -c")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut buf = Vec::new();
        use std::io::Read;
        std::io::BufReader::new(out).read_to_end(&mut buf).unwrap();
        child.wait().unwrap();
        buf
    };
    let answers: Vec<(&'static str, Vec<u8>)> = vec![
        ("truncated JSON", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"id\":\"pi_1\",\"amount\":1".to_vec()),
        ("not JSON", b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 15\r\n\r\n<html>ok</html>".to_vec()),
        ("JSON without an amount", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{\"id\":\"pi_1\"}\n".to_vec()),
        ("gzip bomb", [format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n", bomb.len()).into_bytes(), bomb.clone()].concat()),
        ("brotli the gateway cannot read", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: br\r\ncontent-length: 4\r\n\r\n\x0b\x02\x80{".to_vec()),
        ("server error", b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_vec()),
        ("connection closed without an answer", Vec::new()),
    ];
    let mut failures = Vec::new();
    for (name, answer) in answers {
        let upstream = raw::RawUpstream::start(stack.stripe_port, move |_| answer.clone()).await;
        let key = stripe_key(&stack, &format!("hostile/response-{name}")).await;
        let r = stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .form(&[("amount", "1234"), ("currency", "usd")])
            .send()
            .await;
        let line = log_line(&stack, &key).await;
        let got = (
            line["keybrake_cost_usd"].clone(),
            line["keybrake_cost_source"].clone(),
        );
        if got != (json!("12.34"), json!("request")) {
            failures.push(format!(
                "{name}: EXPECTED 12.34 from the request, RECEIVED {got:?} (client got {:?})",
                r.map(|r| r.status())
            ));
        }
        drop(upstream);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    health::assert_filter_healthy(&stack, "").await;
}
