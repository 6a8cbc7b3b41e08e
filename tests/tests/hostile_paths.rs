//! Paths against the allowlist, through real Envoy: every encoding trick either reaches the
//! vendor as exactly the path that was checked, or reaches nothing.
//!
//! Envoy normalizes first (`normalize_path`, `merge_slashes`, escaped `/` and `\` rejected with a
//! plain 400); the filter then normalizes again, refuses what it cannot read unambiguously, and
//! forwards its own canonical path. Each case names the trick and says what the client gets and
//! what the mock vendor saw. Requests go over a raw TCP socket, so nothing rewrites them on the
//! way (absolute-form targets, raw `#`, bytes that are not valid in a URL).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/health.rs"]
mod health;
#[path = "support/raw.rs"]
mod raw;

use keybrake_e2e::Stack;
use serde_json::json;

/// What a case must produce.
struct Expect {
    status: u16,
    /// `x-keybrake-deny-reason`; `None` for an answer from the vendor or from Envoy itself.
    deny: Option<&'static str>,
    /// The path and query the mock vendor received; `None`: nothing reached it.
    vendor_saw: Option<&'static str>,
}

const fn reached(vendor_saw: &'static str) -> Expect {
    Expect {
        status: 200,
        deny: None,
        vendor_saw: Some(vendor_saw),
    }
}

const fn refused(status: u16, deny: &'static str) -> Expect {
    Expect {
        status,
        deny: Some(deny),
        vendor_saw: None,
    }
}

/// Refused by Envoy before the filter runs: a plain status, no keybrake reason.
const fn envoy_refused(status: u16) -> Expect {
    Expect {
        status,
        deny: None,
        vendor_saw: None,
    }
}

#[tokio::test]
async fn encoded_and_odd_paths_reach_only_what_the_allowlist_names() {
    let stack = Stack::start().await;
    let key = stack
        .issue(json!({
            "vendor": "stripe", "daily_usd_cap": 500.0,
            "allowed_endpoints": ["GET /v1/customers/*", "POST /v1/payment_intents"],
            "expires_in": "30m", "agent_run_label": "hostile/paths",
        }))
        .await;
    let auth = format!("Bearer {}", key.vault_key);
    let long_segment = format!("/stripe/v1/customers/{}", "a".repeat(5_000));
    let huge_segment = format!("/stripe/v1/customers/{}", "a".repeat(70_000));
    let form = b"amount=100&currency=usd".as_slice();

    // (name, method, request target, extra headers, body, expected)
    let cases: Vec<(&str, &str, &[u8], Vec<(&str, &[u8])>, &[u8], Expect)> = vec![
        (
            "plain",
            "GET",
            b"/stripe/v1/customers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "trailing slash",
            "GET",
            b"/stripe/v1/customers/cus_1/",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "duplicate slashes",
            "GET",
            b"//stripe//v1///customers//cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "dot segments",
            "GET",
            b"/stripe/./v1/./customers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "query kept",
            "GET",
            b"/stripe/v1/customers/cus_1?expand[]=default_source",
            vec![],
            b"",
            reached("/v1/customers/cus_1?expand[]=default_source"),
        ),
        (
            "encoded letters",
            "GET",
            b"/%73tripe/v1/%63ustomers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "raw backslashes become slashes",
            "GET",
            b"/stripe\\v1\\customers\\cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "dot-dot above the root is clamped",
            "GET",
            b"/../../stripe/v1/customers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "dot-dot from another vendor's prefix",
            "GET",
            b"/resend/../stripe/v1/customers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "dot-dot out of a wildcard",
            "GET",
            b"/stripe/v1/customers/cus_1/../../refunds",
            vec![],
            b"",
            refused(403, "endpoint_not_allowed"),
        ),
        (
            "encoded dot-dot, mixed case",
            "GET",
            b"/stripe/v1/customers/%2e%2E/refunds",
            vec![],
            b"",
            refused(403, "endpoint_not_allowed"),
        ),
        (
            "encoded dot-dot, upper case",
            "GET",
            b"/stripe/v1/customers/%2E%2E/%2E%2E/v1/refunds",
            vec![],
            b"",
            refused(403, "endpoint_not_allowed"),
        ),
        (
            "double-encoded dot-dot",
            "GET",
            b"/stripe/v1/customers/%252e%252e/refunds",
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "encoded slash",
            "GET",
            b"/stripe/v1/customers/cus_1%2F..%2F..%2Frefunds",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "encoded slash, lower case",
            "GET",
            b"/stripe/v1%2fcustomers/cus_1",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "encoded backslash",
            "GET",
            b"/stripe/v1/customers/cus_1%5C..%5Crefunds",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "semicolon parameter",
            "GET",
            b"/stripe/v1/customers/cus_1;x=1",
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "encoded semicolon",
            "GET",
            b"/stripe/v1/customers/cus_1%3Bx=1",
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "raw fragment",
            "GET",
            b"/stripe/v1/customers/cus_1#x",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "encoded NUL",
            "GET",
            b"/stripe/v1/customers/cus%00_1",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "encoded control byte",
            "GET",
            b"/stripe/v1/customers/cus%01_1",
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "raw non-ASCII byte",
            "GET",
            b"/stripe/v1/customers/cus_\xff",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "raw space",
            "GET",
            b"/stripe/v1/customers/cus 1",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "overlong path",
            "GET",
            long_segment.as_bytes(),
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "path beyond Envoy's header limit",
            "GET",
            huge_segment.as_bytes(),
            vec![],
            b"",
            envoy_refused(431),
        ),
        (
            "absolute-form target",
            "GET",
            b"http://evil.example/stripe/v1/customers/cus_1",
            vec![],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "absolute-form outside the allowlist",
            "GET",
            b"http://api.stripe.com/stripe/v1/refunds",
            vec![],
            b"",
            refused(403, "endpoint_not_allowed"),
        ),
        (
            "another vendor's Host",
            "GET",
            b"/stripe/v1/customers/cus_1",
            vec![("Host", b"api.twilio.com".as_slice())],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "a Host naming an internal service",
            "GET",
            b"/stripe/v1/customers/cus_1",
            vec![("Host", b"keybrake-control-plane:8484".as_slice())],
            b"",
            reached("/v1/customers/cus_1"),
        ),
        (
            "no vendor prefix",
            "GET",
            b"/v2/customers/cus_1",
            vec![],
            b"",
            refused(400, "bad_request"),
        ),
        (
            "asterisk-form",
            "OPTIONS",
            b"*",
            vec![],
            b"",
            envoy_refused(404),
        ),
        (
            "lower-case method",
            "get",
            b"/stripe/v1/customers/cus_1",
            vec![],
            b"",
            envoy_refused(400),
        ),
        (
            "amount in the query of a create",
            "POST",
            b"/stripe/v1/payment_intents?amount=99999999",
            vec![(
                "Content-Type",
                b"application/x-www-form-urlencoded".as_slice(),
            )],
            form,
            refused(400, "bad_request"),
        ),
        (
            "expand in the query of a create",
            "POST",
            b"/stripe/v1/payment_intents?expand[]=latest_charge",
            vec![(
                "Content-Type",
                b"application/x-www-form-urlencoded".as_slice(),
            )],
            form,
            reached("/v1/payment_intents?expand[]=latest_charge"),
        ),
    ];

    let port = stack.gateways[0].port;
    let mut failures = Vec::new();
    for (name, method, target, extra, body, want) in cases {
        stack.clear_stripe_requests().await;
        let mut headers: Vec<(&str, &[u8])> = vec![("Authorization", auth.as_bytes())];
        headers.extend(extra);
        let r = raw::send(port, &raw::request_bytes(method, target, &headers, body)).await;
        let seen: Vec<String> = stack
            .stripe_requests()
            .await
            .iter()
            .map(|s| s["path"].as_str().unwrap_or_default().to_owned())
            .collect();
        let got = (r.status, r.deny_reason().map(str::to_owned), seen.clone());
        let expected = (
            want.status,
            want.deny.map(str::to_owned),
            want.vendor_saw
                .map(str::to_owned)
                .into_iter()
                .collect::<Vec<_>>(),
        );
        // The mock's own answer to a path it does not serve is fine: what matters is the path.
        let status_ok = got.0 == expected.0 || (want.vendor_saw.is_some() && !seen.is_empty());
        if !status_ok || got.1 != expected.1 || got.2 != expected.2 {
            failures.push(format!(
                "{name}:\n  EXPECTED status {} reason {:?} vendor saw {:?}\n  RECEIVED status {} reason {:?} vendor saw {:?} ({})",
                expected.0, expected.1, expected.2, got.0, got.1, got.2,
                r.text().chars().take(160).collect::<String>()
            ));
        }
        for s in &seen {
            assert!(
                !s.contains(&key.vault_key),
                "{name}: the vault key reached the vendor"
            );
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
