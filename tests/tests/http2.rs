//! The same decision whatever the protocol: costed, free and refused calls through real Envoy
//! over cleartext HTTP/2 (prior knowledge), with and without request trailers, with the body
//! split into several DATA frames, with `te: trailers`, and over HTTP/1.1 chunked with trailers.
//! For each call: the status and deny reason the client saw, and what the mock vendor received,
//! byte for byte (path, credential, body), or that it received nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/raw.rs"]
mod raw;

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::StreamBody;
use keybrake_e2e::{deny_reason, wait_until, IssuedKey, Stack, STRIPE_KEY};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

const FORM: &str = "application/x-www-form-urlencoded";
/// The key's daily cap, USD.
const CAP_USD: f64 = 100.0;

/// How a request body goes on the wire.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One DATA frame with END_STREAM.
    Whole,
    /// One DATA frame, then a trailers frame that ends the stream.
    WithTrailers,
    /// `n` DATA frames, a little apart, the last with END_STREAM.
    Split(usize),
    /// `n` DATA frames, then trailers.
    SplitWithTrailers(usize),
}

fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// `body` as the frames of `shape`. Frames after the first wait 20 ms, so Envoy sees them in
/// separate reads and the filter in separate body callbacks.
fn body_of(shape: Shape, body: &'static str) -> reqwest::Body {
    let (parts, trailers) = match shape {
        Shape::Whole => (1, false),
        Shape::WithTrailers => (1, true),
        Shape::Split(n) => (n, false),
        Shape::SplitWithTrailers(n) => (n, true),
    };
    let bytes = body.as_bytes();
    let step = bytes.len().div_ceil(parts).max(1);
    let mut frames: Vec<Frame<Bytes>> = bytes
        .chunks(step)
        .map(|c| Frame::data(Bytes::copy_from_slice(c)))
        .collect();
    if trailers {
        let mut t = HeaderMap::new();
        t.insert("x-checksum", HeaderValue::from_static("abc123"));
        frames.push(Frame::trailers(t));
    }
    let frames = stream::unfold((frames.into_iter(), true), |(mut it, first)| async move {
        let frame = it.next()?;
        if !first {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some((Ok::<_, Infallible>(frame), (it, false)))
    });
    reqwest::Body::wrap(StreamBody::new(frames))
}

async fn issue(stack: &Stack, label: &str) -> IssuedKey {
    stack
        .issue(json!({
            "vendor": "stripe", "daily_usd_cap": CAP_USD,
            "allowed_endpoints": ["POST /v1/payment_intents", "GET /v1/payment_intents/*"],
            "expires_in": "30m", "agent_run_label": label,
        }))
        .await
}

/// What one case expects.
struct Want {
    status: u16,
    reason: Option<&'static str>,
    /// The body the vendor must receive, or `None` for nothing received.
    forwarded: Option<&'static str>,
}

#[tokio::test]
async fn costed_free_and_refused_calls_decide_the_same_over_http2_with_any_framing() {
    let stack = Stack::start().await;
    let key = issue(&stack, "h2/shapes").await;
    let h2 = h2_client();
    let pi = stack.gw_url(0, "/stripe/v1/payment_intents");
    let under = "amount=1000&currency=usd&description=h2%20shapes";
    let over = "amount=99999999&currency=usd";

    let allowed = |body| Want {
        status: 200,
        reason: None,
        forwarded: Some(body),
    };
    let over_cap = Want {
        status: 403,
        reason: Some("spend_cap_exceeded"),
        forwarded: None,
    };
    // (name, shape, body, extra headers, expectation)
    let cases: Vec<(&str, Shape, &'static str, Vec<(&str, &str)>, Want)> = vec![
        ("whole body", Shape::Whole, under, vec![], allowed(under)),
        (
            "trailers, under the cap",
            Shape::WithTrailers,
            under,
            vec![],
            allowed(under),
        ),
        (
            "trailers, over the cap",
            Shape::WithTrailers,
            over,
            vec![],
            over_cap,
        ),
        (
            "seven DATA frames",
            Shape::Split(7),
            under,
            vec![],
            allowed(under),
        ),
        (
            "seven DATA frames over the cap",
            Shape::Split(7),
            over,
            vec![],
            Want {
                status: 403,
                reason: Some("spend_cap_exceeded"),
                forwarded: None,
            },
        ),
        (
            "five DATA frames and trailers",
            Shape::SplitWithTrailers(5),
            under,
            vec![],
            allowed(under),
        ),
        (
            "five DATA frames and trailers, over the cap",
            Shape::SplitWithTrailers(5),
            over,
            vec![],
            Want {
                status: 403,
                reason: Some("spend_cap_exceeded"),
                forwarded: None,
            },
        ),
        (
            "te: trailers and trailers",
            Shape::WithTrailers,
            under,
            vec![("te", "trailers")],
            allowed(under),
        ),
        (
            "a malformed amount behind trailers",
            Shape::WithTrailers,
            "amount=ten&currency=usd",
            vec![],
            Want {
                status: 400,
                reason: Some("bad_request"),
                forwarded: None,
            },
        ),
    ];

    let mut failures = Vec::new();
    let mut expected_micros = 0u64;
    for (name, shape, body, headers, want) in cases {
        stack.clear_stripe_requests().await;
        let mut req = h2
            .post(&pi)
            .bearer_auth(&key.vault_key)
            .header("content-type", FORM)
            .body(body_of(shape, body));
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        let r = req.send().await.unwrap();
        let version = r.version();
        let got_status = r.status().as_u16();
        let got_reason = deny_reason(&r);
        let text = r.text().await.unwrap_or_default();
        let seen = stack.stripe_requests().await;
        let got_forwarded: Vec<(String, String, String)> = seen
            .iter()
            .map(|s| {
                (
                    s["path"].as_str().unwrap_or("").to_owned(),
                    s["headers"]["authorization"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    s["body"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let want_forwarded: Vec<(String, String, String)> = want
            .forwarded
            .iter()
            .map(|b| {
                (
                    "/v1/payment_intents".to_owned(),
                    format!("Bearer {STRIPE_KEY}"),
                    (*b).to_owned(),
                )
            })
            .collect();
        let got = (got_status, got_reason.as_deref(), &got_forwarded);
        let expected = (want.status, want.reason, &want_forwarded);
        if got != expected || version != reqwest::Version::HTTP_2 {
            failures.push(format!(
                "{name} ({shape:?}, {version:?}):\n  EXPECTED {expected:?}\n  RECEIVED {got:?} {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        if want.forwarded.is_some() {
            expected_micros += 10_000_000;
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Free and refused calls over HTTP/2.
    let created: Value = stack
        .http
        .post(format!(
            "http://127.0.0.1:{}/v1/payment_intents",
            stack.stripe_port
        ))
        .bearer_auth(STRIPE_KEY)
        .form(&[("amount", "1"), ("currency", "usd")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    stack.clear_stripe_requests().await;
    let r = h2
        .get(stack.gw_url(0, &format!("/stripe/v1/payment_intents/{id}")))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.version(), r.status().as_u16()),
        (reqwest::Version::HTTP_2, 200)
    );
    let r = h2
        .post(stack.gw_url(0, "/stripe/v1/refunds"))
        .bearer_auth(&key.vault_key)
        .header("content-type", FORM)
        .body(body_of(Shape::WithTrailers, "payment_intent=pi_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), deny_reason(&r).as_deref()),
        (403, Some("endpoint_not_allowed"))
    );
    let r = h2
        .post(&pi)
        .bearer_auth(format!("vk_{}_{}", "0".repeat(16), "0".repeat(64)))
        .header("content-type", FORM)
        .body(body_of(Shape::WithTrailers, under))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), deny_reason(&r).as_deref()),
        (401, Some("unknown_key"))
    );
    let seen = stack.stripe_requests().await;
    assert_eq!(seen.len(), 1, "only the free GET reached Stripe: {seen:?}");

    // The spend is exactly what the allowed calls cost, and the access log says HTTP/2.
    // (The control plane hears of spend when the gateway reports it.)
    wait_until(
        Duration::from_secs(10),
        &format!("spend_today_usd to be {expected_micros} micro-USD"),
        || async {
            let info = stack.key_info(&key.key_id).await;
            let spent = (info["spend_today_usd"].as_f64()? * 1e6).round() as u64;
            (spent == expected_micros).then_some(())
        },
    )
    .await;
    let lines = wait_until(Duration::from_secs(10), "the access-log lines", || {
        let lines: Vec<Value> = stack
            .access_log(0)
            .into_iter()
            .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
            .collect();
        async move { (lines.len() >= 11).then_some(lines) }
    })
    .await;
    assert!(lines.iter().all(|l| l["protocol"] == "HTTP/2"), "{lines:?}");
    // Had Envoy sent a call on before the filter decided it, its line would say so.
    assert!(
        lines.iter().all(|l| l["keybrake_decision"] != "undecided"),
        "{lines:?}"
    );
}

/// HTTP/1.1 chunked with trailers: Envoy drops request trailers on HTTP/1.1 by default (they
/// are not forwarded), and the body ends with the last chunk, so the decision is the same.
#[tokio::test]
async fn http1_chunked_with_trailers_decides_the_same() {
    let stack = Stack::start().await;
    let key = issue(&stack, "h1/trailers").await;
    let port = stack.gateways[0].port;
    let chunked = |body: &str| {
        let mut req = format!(
            "POST /stripe/v1/payment_intents HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {}\r\n\
             Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\
             Connection: close\r\n\r\n",
            key.vault_key
        );
        for part in body.as_bytes().chunks(7) {
            req.push_str(&format!(
                "{:x}\r\n{}\r\n",
                part.len(),
                String::from_utf8_lossy(part)
            ));
        }
        req.push_str("0\r\nX-Checksum: abc123\r\n\r\n");
        req.into_bytes()
    };
    for (body, status, reason, forwarded) in [
        ("amount=1000&currency=usd", 200, None, true),
        (
            "amount=99999999&currency=usd",
            403,
            Some("spend_cap_exceeded"),
            false,
        ),
    ] {
        stack.clear_stripe_requests().await;
        let r = raw::send(port, &chunked(body)).await;
        let seen = stack.stripe_requests().await;
        assert_eq!(
            (r.status, r.deny_reason(), seen.len()),
            (status, reason, usize::from(forwarded)),
            "{body}: {}",
            r.text()
        );
        if forwarded {
            assert_eq!(seen[0]["body"], body);
            assert_eq!(
                seen[0]["headers"]["authorization"],
                format!("Bearer {STRIPE_KEY}")
            );
        }
    }
}
