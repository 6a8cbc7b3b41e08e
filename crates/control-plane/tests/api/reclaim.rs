//! Reclaims: an instance short of room waits while others give back unused lease; usage
//! reports name the keys to give back.
//!
//! On tokio's paused clock (see `dataplane.rs`) where a wait is measured exactly; in real time
//! where a request waits on another's database write.

use crate::lease_support::{app_with, key_with_cap, metric, money, post, Gw, USD};
use crate::support::{As, TestApp};
use axum::http::StatusCode;
use keybrake_core::lease::LeaseGrant;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(30);

/// Real time, not paused: on PostgreSQL the requests wait on sockets, and paused time would jump
/// to the end of B's 10 s wait while a query is in flight.
#[tokio::test]
async fn a_short_instance_waits_for_another_to_release_and_then_gets_the_grant() {
    let app = Arc::new(app_with(Duration::from_secs(10), TTL).await);
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 400 * USD).await;
    a.spent = 20 * USD;
    let free = 500 * USD - a.lease;
    assert!(free < 100 * USD, "{free}");
    assert!(
        a.report(&app, &[]).await.release.is_empty(),
        "nobody is short yet"
    );

    // B needs more than is free: its request waits.
    let b = Gw::new("inst-b", &key);
    let body = b.lease_body(100 * USD);
    let app_b = Arc::clone(&app);
    let started = Instant::now();
    let pending = tokio::spawn(async move {
        let r = post(&app_b, As::Gateway, "/dataplane/v1/lease", &body).await;
        (r, Instant::now())
    });

    // A's next reports are answered with the key to release (once B has marked it short).
    let release = loop {
        let answer = a.report(&app, &[]).await;
        if !answer.release.is_empty() {
            break answer.release;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "A was never told to release"
        );
        assert!(!pending.is_finished(), "B answered before any release");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(release, vec![key.clone()]);
    assert_eq!(metric(&app, "keybrake_lease_reclaims_total").await, 1);

    // A gives back its unused lease under the grant it holds; B's request completes with it.
    a.release();
    let released_at = Instant::now();
    a.report(&app, &[]).await;
    let (r, answered_at) = pending.await.unwrap();
    assert!(
        answered_at - released_at < Duration::from_secs(5),
        "B is answered on the release, not at the end of its 10 s wait: {:?}",
        answered_at - released_at
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let g: LeaseGrant = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(g.seq, 1);
    assert!(g.lease_micros >= 100 * USD, "{g:?}");
    let (spent, leased, _) = money(&app, &key).await;
    assert_eq!(spent, 20 * USD);
    assert!(spent + leased <= 500 * USD);
    assert_eq!(leased, g.lease_micros, "A holds nothing unused any more");
    // B is no longer short, so A is not told again.
    assert!(a.report(&app, &[]).await.release.is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_a_release_the_wait_ends_with_the_lease_unchanged() {
    let app = app_with(Duration::from_millis(200), TTL).await;
    let key = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 90 * USD).await;
    let mut b = Gw::new("inst-b", &key);
    let start = Instant::now();
    let g = b.ask(&app, 50 * USD).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(200),
        "the whole wait"
    );
    assert_eq!((g.lease_micros, g.seq), (0, 0));
    assert_eq!(metric(&app, "keybrake_lease_denials_total").await, 1);
    // The mark outlives the wait, so A still gives back for B's next try.
    assert_eq!(a.report(&app, &[]).await.release, vec![key.clone()]);
    a.release();
    a.report(&app, &[]).await;
    assert!(b.ask(&app, 50 * USD).await.lease_micros >= 50 * USD);
}

#[tokio::test(start_paused = true)]
async fn no_wait_when_nobody_else_holds_unused_lease() {
    let app = app_with(Duration::from_secs(10), TTL).await;
    let key = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 100 * USD).await;
    a.spent = 100 * USD;
    a.report(&app, &[]).await;
    let start = Instant::now();
    let g = Gw::new("inst-b", &key).ask(&app, USD).await;
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait");
    assert_eq!((g.lease_micros, g.seq), (0, 0));
    assert_eq!(metric(&app, "keybrake_lease_reclaims_total").await, 0);
}

#[tokio::test]
async fn idle_keys_with_unused_lease_are_released() {
    let app = TestApp::new().await;
    let used = key_with_cap(&app, 100).await;
    let spent_out = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &used);
    a.ask(&app, USD).await;
    let mut s = Gw::new("inst-a", &spent_out);
    s.ask(&app, 100 * USD).await;
    s.spent = 100 * USD;
    s.report(&app, &[]).await;
    let answer = a
        .report(&app, &[&used, &spent_out, "kid_0123456789abcdef", "junk"])
        .await;
    assert_eq!(answer.release, vec![used.clone()]);
    assert_eq!(metric(&app, "keybrake_usage_reports_total").await, 2);
}

#[tokio::test]
async fn a_usage_report_skips_unknown_keys_and_records_the_rest() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 10 * USD).await;
    a.spent = 3 * USD;
    let good = serde_json::to_value(a.usage()).unwrap();
    let mut unknown = good.clone();
    unknown["key_id"] = json!("kid_0123456789abcdef");
    let mut malformed = good.clone();
    malformed["key_id"] = json!("not-a-key");
    let mut huge = good.clone();
    huge["spent_micros"] = json!(u64::MAX);
    let mut future = good.clone();
    future["day"] = json!(a.day + 1);
    let body = json!({"gateway": "gw-test", "instance": "inst-a",
                      "keys": [unknown, malformed, huge, future, good]});
    let r = post(&app, As::Gateway, "/dataplane/v1/usage", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"release": []}));
    assert_eq!(money(&app, &key).await.0, 3 * USD);
}

#[tokio::test]
async fn the_largest_usage_report_a_gateway_builds_fits() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 100).await;
    let a = Gw::new("inst-a", &key);
    let n = keybrake_core::usage::MAX_KEYS_PER_REPORT;
    let mut usage = a.usage();
    usage.lease_micros = u64::from(u32::MAX);
    usage.spent_micros = u64::from(u32::MAX);
    let keys = vec![serde_json::to_value(&usage).unwrap(); n];
    let idle = vec![key.clone(); n];
    let body = json!({"gateway": "gw-test", "instance": "inst-a", "keys": keys, "idle": idle});
    assert!(body.to_string().len() > 64 * 1024);
    let r = post(&app, As::Gateway, "/dataplane/v1/usage", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Other routes keep the general limit.
    let big = json!({"gateway": "g", "instance": "i", "want_micros": 1, "usage": usage,
                     "pad": "x".repeat(70 * 1024)});
    let r = post(&app, As::Gateway, "/dataplane/v1/lease", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error().0, "payload_too_large");
}
