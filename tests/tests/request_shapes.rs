//! Request shapes that would change a call's meaning after the filter judged it: method
//! overrides, Envoy's own `x-envoy-*` headers, and the vendor path rewrites (Twilio's account
//! SID, Stripe's unprefixed `/v1/`). What the mock vendor received is compared byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{
    deny_reason, paths, IssuedKey, Stack, StackOptions, STRIPE_KEY, TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
};
use serde_json::{json, Value};

async fn stripe_key(stack: &Stack, label: &str, allow: &[&str]) -> IssuedKey {
    stack
        .issue(json!({
            "vendor": "stripe", "daily_usd_cap": 100.0, "allowed_endpoints": allow,
            "expires_in": "30m", "agent_run_label": label,
        }))
        .await
}

#[tokio::test]
async fn method_overrides_are_refused_and_nothing_reaches_the_vendor() {
    let stack = Stack::start().await;
    let key = stripe_key(&stack, "shapes/override", &["POST /v1/customers/*"]).await;
    let url = stack.gw_url(0, "/stripe/v1/customers/cus_123");
    let mut failures = Vec::new();
    for header in [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        "x-http-method-override",
    ] {
        stack.clear_stripe_requests().await;
        let r = stack
            .http
            .post(&url)
            .bearer_auth(&key.vault_key)
            .header(header, "DELETE")
            .form(&[("description", "x")])
            .send()
            .await
            .unwrap();
        let got = (
            r.status().as_u16(),
            deny_reason(&r),
            stack.stripe_requests().await.len(),
        );
        let want = (400, Some("bad_request".to_owned()), 0);
        if got != want {
            failures.push(format!("{header}: EXPECTED {want:?} RECEIVED {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The same call without an override goes through.
    let r = stack
        .http
        .post(&url)
        .bearer_auth(&key.vault_key)
        .form(&[("description", "x")])
        .send()
        .await
        .unwrap();
    assert_ne!(deny_reason(&r).as_deref(), Some("bad_request"));
    assert_eq!(stack.stripe_requests().await.len(), 1);
}

/// `x-envoy-retry-on` would make Envoy's router resend a charge the vendor answered with a 5xx;
/// `x-envoy-upstream-rq-timeout-ms` would cut a call short and leave its outcome unknown. Envoy
/// honours them from clients it considers internal (a mesh marks its pod networks internal; the
/// stack here marks loopback so); the filter drops every client-sent `x-envoy-*` header, so
/// neither takes effect.
#[tokio::test]
async fn client_sent_envoy_headers_do_not_steer_the_router() {
    let stack = Stack::start_with(StackOptions {
        trust_loopback_clients: true,
        ..StackOptions::default()
    })
    .await;
    let key = stripe_key(&stack, "shapes/envoy", &["POST /v1/payment_intents"]).await;
    let pi = stack.gw_url(0, "/stripe/v1/payment_intents");

    stack.clear_stripe_requests().await;
    let r = stack
        .http
        .post(&pi)
        .bearer_auth(&key.vault_key)
        .header("x-envoy-retry-on", "5xx,reset,retriable-status-codes")
        .header("x-envoy-retriable-status-codes", "503")
        .header("x-envoy-max-retries", "3")
        .header("x-mock-status", "503")
        .form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let seen = stack.stripe_requests().await;
    assert_eq!(seen.len(), 1, "the router retried a charge: {seen:?}");
    let names: Vec<&str> = seen[0]["header_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    for sent in [
        "x-envoy-retry-on",
        "x-envoy-retriable-status-codes",
        "x-envoy-max-retries",
    ] {
        assert!(
            !names.contains(&sent),
            "{sent} reached the vendor: {names:?}"
        );
    }

    stack.clear_stripe_requests().await;
    let r = stack
        .http
        .post(&pi)
        .bearer_auth(&key.vault_key)
        .header("x-envoy-upstream-rq-timeout-ms", "1")
        .header("x-mock-delay-ms", "300")
        .form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a client-set timeout cut the call short");
    assert_eq!(stack.stripe_requests().await.len(), 1);
}

/// twilio-python's account-scoped calls, each with the agent's placeholder Account SID: the
/// vendor receives exactly the SDK's path with the real SID in its place (`.json` suffixes kept),
/// the real credential, and the account's auth token never comes back to the agent.
#[tokio::test]
async fn twilio_sdk_paths_get_the_real_account_sid_and_nothing_else_changes() {
    paths::require(&[paths::Needed::Python]);
    let stack = Stack::start().await;
    let acct = "/2010-04-01/Accounts/*";
    let allow = [
        "GET /2010-04-01/Accounts/*".to_owned(),
        format!("POST {acct}/Messages.json"),
        format!("GET {acct}/Messages/*"),
        format!("GET {acct}/Messages/*/Media.json"),
        format!("POST {acct}/Calls.json"),
        format!("GET {acct}/Calls/*"),
        format!("GET {acct}/Calls/*/Recordings.json"),
        format!("GET {acct}/Usage/Records/Today.json"),
    ];
    let key = stack
        .issue(
            json!({"vendor": "twilio", "daily_usd_cap": 5.0, "allowed_endpoints": allow,
                      "expires_in": "30m", "agent_run_label": "shapes/twilio"}),
        )
        .await;
    stack.clear_mock_requests(stack.twilio_port).await;
    let seen = stack.run_python("twilio_paths.py", &[("VAULT_KEY", &key.vault_key)]);
    let (msg, call) = (
        seen["message_sid"].as_str().unwrap(),
        seen["call_sid"].as_str().unwrap(),
    );

    // The account as the agent saw it: real, but without its auth token.
    assert_eq!(seen["account"]["status"], "active", "{seen}");
    assert_eq!(seen["account"]["sid"], TWILIO_ACCOUNT_SID);
    assert_eq!(seen["account"]["auth_token"], "[redacted]", "{seen}");
    assert!(!seen.to_string().contains(TWILIO_AUTH_TOKEN));

    let base = format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}");
    let want = vec![
        ("GET", format!("{base}.json")),
        ("POST", format!("{base}/Messages.json")),
        ("GET", format!("{base}/Messages/{msg}.json")),
        (
            "GET",
            format!("{base}/Messages/{msg}/Media.json?PageSize=5"),
        ),
        ("POST", format!("{base}/Calls.json")),
        ("GET", format!("{base}/Calls/{call}.json")),
        (
            "GET",
            format!("{base}/Calls/{call}/Recordings.json?PageSize=5"),
        ),
        ("GET", format!("{base}/Usage/Records/Today.json?PageSize=5")),
    ];
    let received = stack.mock_requests(stack.twilio_port).await;
    let got: Vec<(String, String)> = received
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = want.into_iter().map(|(m, p)| (m.to_owned(), p)).collect();
    assert_eq!(got, want, "the script's calls: {}", seen["calls"]);
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}")
        )
    );
    for r in &received {
        assert_eq!(r["headers"]["authorization"], basic.as_str(), "{r}");
        assert!(!r.to_string().contains(&key.vault_key), "{r}");
    }
}

/// Stripe's own `/v1/…` route (for SDKs that fix the path) forwards the path unchanged.
#[tokio::test]
async fn stripe_unprefixed_v1_paths_reach_the_vendor_unchanged() {
    let stack = Stack::start().await;
    let key = stripe_key(
        &stack,
        "shapes/v1",
        &["POST /v1/payment_intents", "GET /v1/payment_intents/*"],
    )
    .await;
    stack.clear_stripe_requests().await;
    let created: Value = stack
        .http
        .post(stack.gw_url(0, "/v1/payment_intents"))
        .bearer_auth(&key.vault_key)
        .form(&[("amount", "700"), ("currency", "usd")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let r = stack
        .http
        .get(stack.gw_url(
            0,
            &format!("/v1/payment_intents/{id}?expand[]=latest_charge"),
        ))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Vec<(String, String, String)> = stack
        .stripe_requests()
        .await
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["headers"]["authorization"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let auth = format!("Bearer {STRIPE_KEY}");
    assert_eq!(
        got,
        vec![
            (
                "POST".to_owned(),
                "/v1/payment_intents".to_owned(),
                auth.clone()
            ),
            (
                "GET".to_owned(),
                format!("/v1/payment_intents/{id}?expand[]=latest_charge"),
                auth
            ),
        ]
    );
}
