//! Secret hygiene across everything a running stack leaves behind: drive a representative set
//! of calls (allowed and refused, each vendor, revocation, bad input, bad admin credentials),
//! then collect every process log, access-log line, audit record, metric and API answer, and
//! fail if a vault key (or its secret half), a vendor credential, the admin key or the
//! data-plane token appears in any of them.
//!
//! The one answer that legitimately carries a vault key (issuing it) is left out. The mock
//! vendors stand in for the vendors, which do see their own credentials: their log and what they
//! recorded are scanned for vault keys only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use keybrake_e2e::{
    wait_refused, wait_until, IssuedKey, Stack, RESEND_KEY, STRIPE_KEY, TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Everything collected, by where it came from.
#[derive(Default)]
struct Collected(Vec<(String, String)>);

impl Collected {
    fn add(&mut self, source: impl Into<String>, text: impl Into<String>) {
        self.0.push((source.into(), text.into()));
    }

    /// Each `(source, secret name)` where a secret shows up: as is, in any letter case,
    /// percent-encoded (either hex case, once or twice), or base64-encoded (alone or as a Basic
    /// credential).
    fn leaks(&self, secrets: &[(String, String)]) -> Vec<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut found = Vec::new();
        for (source, text) in &self.0 {
            let lower = text.to_ascii_lowercase();
            for (name, secret) in secrets {
                let encoded: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
                let folded = [
                    secret.to_ascii_lowercase(),
                    encoded.clone(),
                    encoded.replace('%', "%25"),
                ];
                let exact = [b64.encode(secret), b64.encode(format!("{secret}:"))];
                if folded.iter().any(|f| lower.contains(f.as_str()))
                    || exact.iter().any(|f| text.contains(f.as_str()))
                {
                    found.push(format!("{name} in {source}"));
                }
            }
        }
        found
    }
}

async fn api(
    stack: &Stack,
    out: &mut Collected,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, body) = stack.admin_request(method.clone(), path, body).await;
    out.add(format!("API {method} {path} ({status})"), body.to_string());
    (status, body)
}

async fn raw_text(out: &mut Collected, source: &str, r: reqwest::RequestBuilder) -> (u16, String) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = format!("{:?}", r.headers());
    let text = r.text().await.unwrap_or_default();
    out.add(format!("{source} ({status})"), format!("{headers}\n{text}"));
    (status, text)
}

#[tokio::test]
async fn no_secret_appears_in_logs_audit_metrics_or_answers() {
    let stack = Stack::start().await;
    let http = &stack.http;
    let mut out = Collected::default();
    let mut vault_keys: Vec<IssuedKey> = Vec::new();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();

    let stripe = stack
        .issue(json!({"vendor": "stripe", "daily_usd_cap": 50.0, "allowed_endpoints": ["POST /v1/payment_intents", "GET /v1/payment_intents/*"], "expires_in": "30m", "agent_run_label": "scan/stripe"}))
        .await;
    let twilio = stack
        .issue(json!({"vendor": "twilio", "daily_usd_cap": 5.0, "allowed_endpoints": ["POST /2010-04-01/Accounts/*/Messages.json"], "expires_in": "30m", "agent_run_label": "scan/twilio"}))
        .await;
    let resend = stack
        .issue(json!({"vendor": "resend", "daily_usd_cap": 5.0, "allowed_endpoints": ["POST /emails"], "expires_in": "30m", "agent_run_label": "scan/resend"}))
        .await;
    let doomed = stack
        .issue(json!({"vendor": "stripe", "daily_usd_cap": 5.0, "allowed_endpoints": ["POST /v1/payment_intents"], "expires_in": "30m", "agent_run_label": "scan/revoked"}))
        .await;
    vault_keys.extend([
        stripe.clone(),
        twilio.clone(),
        resend.clone(),
        doomed.clone(),
    ]);

    // Stripe: allowed (both credential forms), refused for policy, for cap, for bad input.
    let pi = stack.gw_url(0, "/stripe/v1/payment_intents");
    let (s, body) = raw_text(
        &mut out,
        "gateway stripe create (bearer)",
        http.post(&pi)
            .bearer_auth(&stripe.vault_key)
            .form(&[("amount", "1000"), ("currency", "usd")]),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let pi_id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    raw_text(
        &mut out,
        "gateway stripe create (basic)",
        http.post(&pi)
            .basic_auth(&stripe.vault_key, Some(""))
            .form(&[("amount", "500"), ("currency", "usd")]),
    )
    .await;
    raw_text(
        &mut out,
        "gateway stripe retrieve",
        http.get(stack.gw_url(0, &format!("/stripe/v1/payment_intents/{pi_id}")))
            .bearer_auth(&stripe.vault_key),
    )
    .await;
    let refusals = [
        (
            "endpoint not allowed",
            http.post(stack.gw_url(0, "/stripe/v1/refunds"))
                .bearer_auth(&stripe.vault_key)
                .form(&[("charge", "ch_1")]),
        ),
        (
            "over the cap",
            http.post(&pi)
                .bearer_auth(&stripe.vault_key)
                .form(&[("amount", "999999"), ("currency", "usd")]),
        ),
        (
            "unknown currency",
            http.post(&pi)
                .bearer_auth(&stripe.vault_key)
                .form(&[("amount", "1"), ("currency", "xts")]),
        ),
        (
            "malformed body",
            http.post(&pi)
                .bearer_auth(&stripe.vault_key)
                .form(&[("amount", "ten"), ("currency", "usd")]),
        ),
        (
            "vault key in the query",
            http.post(format!("{pi}?api_key={}", stripe.vault_key))
                .bearer_auth(&stripe.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
        (
            "vault key in x-api-key",
            http.post(&pi)
                .bearer_auth(&stripe.vault_key)
                .header("x-api-key", &stripe.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
        (
            "vault key as a path segment",
            http.get(stack.gw_url(
                0,
                &format!("/stripe/v1/payment_intents/{}", stripe.vault_key),
            ))
            .bearer_auth(&stripe.vault_key),
        ),
        (
            "vault key as the path, no credential",
            http.get(stack.gw_url(0, &format!("/stripe/v1/{}", stripe.vault_key))),
        ),
        (
            "vault key percent-encoded in the path",
            http.get(stack.gw_url(
                0,
                &format!(
                    "/stripe/v1/payment_intents/{}",
                    percent_encoded(&stripe.vault_key)
                ),
            ))
            .bearer_auth(&stripe.vault_key),
        ),
        (
            "the secret half in the path",
            http.get(stack.gw_url(
                0,
                &format!(
                    "/stripe/v1/payment_intents/{}",
                    &stripe.vault_key[stripe.vault_key.len() - 64..]
                ),
            ))
            .bearer_auth(&stripe.vault_key),
        ),
        (
            "vault key double-encoded in the query, no credential",
            http.get(stack.gw_url(
                0,
                &format!(
                    "/stripe/v1/payment_intents?key={}",
                    percent_encoded(&stripe.vault_key).replace('%', "%25")
                ),
            )),
        ),
        (
            "vault key in x-request-id",
            http.post(&pi)
                .bearer_auth(&stripe.vault_key)
                .header("x-request-id", &stripe.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
        (
            "vault key upper-cased in a header, no credential",
            http.get(stack.gw_url(0, "/stripe/v1/payment_intents/pi_1"))
                .header("x-token", stripe.vault_key.to_ascii_uppercase()),
        ),
        (
            "vault key in the user-agent and the path, over HTTP/2",
            h2.get(stack.gw_url(0, &format!("/stripe/v1/customers/{}", stripe.vault_key)))
                .header("user-agent", format!("agent/1 {}", stripe.vault_key)),
        ),
        (
            "forged secret",
            http.post(&pi)
                .bearer_auth(format!(
                    "{}0000",
                    &stripe.vault_key[..stripe.vault_key.len() - 4]
                ))
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
        (
            "the real vendor key",
            http.post(&pi)
                .bearer_auth(STRIPE_KEY)
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
        (
            "a Resend key on Stripe",
            http.post(&pi)
                .bearer_auth(&resend.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")]),
        ),
    ];
    for (name, req) in refusals {
        let (s, _) = raw_text(&mut out, &format!("gateway stripe refusal: {name}"), req).await;
        assert!((400..500).contains(&s), "{name}: {s}");
    }

    // Twilio and Resend, each allowed once.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "AC00000000000000000000000000000000:{}",
        twilio.vault_key
    ));
    let (s, body) = raw_text(
        &mut out,
        "gateway twilio message",
        http.post(stack.gw_url(
            0,
            "/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
        ))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("To", "+15558675310"),
            ("From", "+15005550006"),
            ("Body", "hello"),
        ]),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = raw_text(
        &mut out,
        "gateway resend email",
        http.post(stack.gw_url(0, "/resend/emails")).bearer_auth(&resend.vault_key).json(&json!({"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Revocation, then a call with the revoked key.
    api(
        &stack,
        &mut out,
        Method::DELETE,
        &format!("/vault/keys/{}", doomed.key_id),
        None,
    )
    .await;
    wait_refused(
        Duration::from_secs(5),
        "the revocation to reach the gateway",
        "key_revoked",
        || {
            http.post(&pi)
                .bearer_auth(&doomed.vault_key)
                .form(&[("amount", "1"), ("currency", "usd")])
        },
    )
    .await;

    // The control plane: bad admin credentials (the data-plane token, a vault key, a vendor
    // key, nothing), the data-plane endpoints without their token or with the admin key, bad input.
    let cp = |p: &str| stack.cp_url(p);
    for (name, auth) in [
        ("no credential", None),
        ("the data-plane token", Some(stack.dataplane_token.clone())),
        ("a vault key", Some(stripe.vault_key.clone())),
        ("a vendor key", Some(STRIPE_KEY.to_owned())),
        (
            "almost the admin key",
            Some(format!("{}x", stack.admin_key)),
        ),
    ] {
        let mut req = http.get(cp("/vault/keys"));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let (s, _) = raw_text(
            &mut out,
            &format!("control plane /vault/keys with {name}"),
            req,
        )
        .await;
        assert_eq!(s, 401, "admin API with {name}");
    }
    for (name, auth) in [
        ("no token", None),
        ("the admin key", Some(stack.admin_key.clone())),
        ("a vault key", Some(stripe.vault_key.clone())),
    ] {
        let mut req = http.get(cp("/dataplane/v1/snapshot"));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let (s, _) = raw_text(
            &mut out,
            &format!("control plane snapshot with {name}"),
            req,
        )
        .await;
        assert_eq!(s, 401, "data-plane API with {name}");
    }
    let bad_inputs = [
        (
            Method::POST,
            "/vault/keys",
            json!({"vendor": "stripe", "daily_usd_cap": -1, "allowed_endpoints": [], "expires_in": "30m", "agent_run_label": STRIPE_KEY}),
        ),
        (
            Method::POST,
            "/vault/keys",
            json!({"vendor": "stripe", "daily_usd_cap": 1, "allowed_endpoints": [stripe.vault_key.clone()], "expires_in": "30m", "agent_run_label": "x"}),
        ),
        (
            Method::PUT,
            "/vendors/stripe/credentials",
            json!({"api_key": STRIPE_KEY, "extra": TWILIO_AUTH_TOKEN}),
        ),
        (
            Method::PUT,
            "/vendors/twilio/credentials",
            json!({"account_sid": TWILIO_ACCOUNT_SID, "auth_token": 42}),
        ),
    ];
    for (method, path, body) in bad_inputs {
        let (s, _) = api(&stack, &mut out, method, path, Some(body)).await;
        assert!((400..500).contains(&s), "bad input to {path} answered {s}");
    }
    let r = http
        .post(cp("/vault/keys"))
        .bearer_auth(&stack.admin_key)
        .header("content-type", "application/json")
        .body("{\"vendor\": \"stripe\", ")
        .send()
        .await
        .unwrap();
    out.add("control plane truncated JSON", r.text().await.unwrap());
    let r = http
        .post(cp("/vault/keys"))
        .bearer_auth(&stack.admin_key)
        .header("content-type", "application/json")
        .body(vec![b'a'; 4 * 1024 * 1024])
        .send()
        .await;
    if let Ok(r) = r {
        let s = r.status().as_u16();
        out.add(
            "control plane 4 MiB body",
            r.text().await.unwrap_or_default(),
        );
        assert!((400..500).contains(&s), "an oversized body answered {s}");
    }

    // Every listing and view an operator uses.
    for path in ["/vault/keys", "/vendors", "/rates", "/prices", "/spend"] {
        api(&stack, &mut out, Method::GET, path, None).await;
    }
    for k in &vault_keys {
        api(
            &stack,
            &mut out,
            Method::GET,
            &format!("/vault/keys/{}", k.key_id),
            None,
        )
        .await;
    }
    for args in [
        &["keys", "list", "--json"][..],
        &["keys", "list"],
        &["vendors", "list"],
        &["keys", "show", &stripe.key_id],
    ] {
        let o = stack.cli(args);
        out.add(
            format!("CLI {args:?}"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        );
    }

    // Every call through the gateway (the revocation wait made at least one more).
    let gateway_calls = out
        .0
        .iter()
        .filter(|(s, _)| s.starts_with("gateway"))
        .count()
        + 1;

    // The audit trail (once the gateway's records have arrived).
    let (status, _) = stack
        .admin_request(Method::GET, "/audit?limit=1000", None)
        .await;
    if status == 404 {
        eprintln!("GET /audit is not served by this control plane: audit records not scanned");
    } else {
        let audit = wait_until(
            Duration::from_secs(15),
            "the audit records of the calls",
            || {
                let stack = &stack;
                async move {
                    let (s, body) = stack
                        .admin_request(Method::GET, "/audit?limit=1000", None)
                        .await;
                    (s == 200
                        && body["records"]
                            .as_array()
                            .is_some_and(|r| r.len() >= gateway_calls))
                    .then_some(body)
                }
            },
        )
        .await;
        out.add("GET /audit", audit.to_string());
    }

    // Metrics: failed admin authentications are counted.
    let (_, metrics) = raw_text(&mut out, "control plane /metrics", http.get(cp("/metrics"))).await;
    let failures = metric(&metrics, "keybrake_admin_auth_failures_total");
    assert!(
        failures >= 5.0,
        "keybrake_admin_auth_failures_total = {failures}:\n{metrics}"
    );
    let dp_failures = metric(&metrics, "keybrake_dataplane_auth_failures_total");
    assert!(
        dp_failures >= 3.0,
        "keybrake_dataplane_auth_failures_total = {dp_failures}"
    );
    let admin = stack.gateways[0].admin_port;
    raw_text(
        &mut out,
        "envoy /stats/prometheus",
        http.get(format!("http://127.0.0.1:{admin}/stats/prometheus")),
    )
    .await;
    raw_text(
        &mut out,
        "envoy /stats",
        http.get(format!("http://127.0.0.1:{admin}/stats")),
    )
    .await;

    // Logs: every process, and the access log, after Envoy's flush.
    wait_until(
        Duration::from_secs(10),
        "the access log to hold every call",
        || {
            let n = stack.access_log(0).len();
            async move { (n >= gateway_calls).then_some(()) }
        },
    )
    .await;
    out.add(
        "access log",
        std::fs::read_to_string(&stack.gateways[0].access_log).unwrap(),
    );
    let mut vendor_side = Collected::default();
    for p in stack
        .gateways
        .iter()
        .map(|g| &g.proc)
        .chain([&stack.control_plane])
    {
        out.add(format!("log of {}", p.name), p.log_text());
    }
    vendor_side.add("log of the mock vendors", stack.mocks.log_text());
    for port in [stack.stripe_port, stack.twilio_port, stack.resend_port] {
        vendor_side.add(
            format!("requests the mock on {port} received"),
            Value::Array(stack.mock_requests(port).await).to_string(),
        );
    }

    let mut secrets: Vec<(String, String)> = Vec::new();
    for k in &vault_keys {
        secrets.push((format!("vault key {}", k.key_id), k.vault_key.clone()));
        secrets.push((
            format!("secret half of {}", k.key_id),
            k.vault_key[k.vault_key.len() - 64..].to_owned(),
        ));
    }
    let vault_only = secrets.clone();
    secrets.extend([
        ("STRIPE_KEY".to_owned(), STRIPE_KEY.to_owned()),
        ("TWILIO_AUTH_TOKEN".to_owned(), TWILIO_AUTH_TOKEN.to_owned()),
        ("RESEND_KEY".to_owned(), RESEND_KEY.to_owned()),
        ("the admin key".to_owned(), stack.admin_key.clone()),
        (
            "the data-plane token".to_owned(),
            stack.dataplane_token.clone(),
        ),
    ]);
    // The detector itself: the issue answer is the one place a vault key belongs.
    let mut control = Collected::default();
    control.add("the issue answer", stripe.body.to_string());
    assert!(
        !control.leaks(&secrets).is_empty(),
        "the scan cannot see a vault key"
    );
    let mut leaks = out.leaks(&secrets);
    leaks.extend(vendor_side.leaks(&vault_only));
    let scanned: usize = out
        .0
        .iter()
        .chain(&vendor_side.0)
        .map(|(_, t)| t.len())
        .sum();
    eprintln!(
        "scanned {} sources, {scanned} bytes",
        out.0.len() + vendor_side.0.len()
    );
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

fn percent_encoded(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
