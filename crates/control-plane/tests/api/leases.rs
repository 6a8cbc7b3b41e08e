//! `POST /dataplane/v1/lease`: grants sized by the core's rule, never past the cap in total.

use crate::lease_support::{app_with, key_with_cap, metric, money, post, Gw, DAY, USD};
use crate::support::{As, TestApp};
use axum::http::{Method, StatusCode};
use keybrake_core::lease::size_grant;
use serde_json::json;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_first_grant_is_sized_as_size_grant_says() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    let g = a.ask(&app, 10 * USD).await;
    let want = size_grant(500 * USD, 0, 0, 10 * USD, 1).unwrap();
    assert_eq!((g.key_id.as_str(), g.day), (key.as_str(), DAY));
    assert_eq!((g.lease_micros, g.seq), (want, 1));
    assert_eq!(money(&app, &key).await, (0, want, 500 * USD - want));
    assert_eq!(metric(&app, "keybrake_lease_grants_total").await, 1);
    assert_eq!(metric(&app, "keybrake_instances_live").await, 1);

    // The second instance shares the headroom with the first, which is live.
    let mut b = Gw::new("inst-b", &key);
    let g = b.ask(&app, 10 * USD).await;
    assert_eq!(
        g.lease_micros,
        size_grant(500 * USD, want, 0, 10 * USD, 2).unwrap()
    );
    assert_eq!(metric(&app, "keybrake_instances_live").await, 2);
}

#[tokio::test]
async fn a_request_for_many_waiting_calls_gets_what_is_left_when_the_smallest_fits() {
    let app = app_with(Duration::ZERO, TTL).await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 470 * USD).await;
    let left = 500 * USD - a.lease;
    assert!(left > 10 * USD && left < 100 * USD, "{left}");
    // B's worker has 100 calls of $10 waiting: it wants $1,000, at least $10.
    let b = Gw::new("inst-b", &key);
    let ask = |min| {
        let body = b.lease_body_at_least(1_000 * USD, min);
        let app = &app;
        async move {
            let r = post(app, As::Gateway, "/dataplane/v1/lease", &body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            serde_json::from_slice::<keybrake_core::lease::LeaseGrant>(&r.body).unwrap()
        }
    };
    // Without `min_micros` (an older gateway) nothing is granted: the cap cannot cover $1,000.
    assert_eq!(ask(None).await.lease_micros, 0);
    // With it, B gets all that is left, and the cap is exactly used.
    let g = ask(Some(10 * USD)).await;
    assert_eq!(g.lease_micros, left);
    assert_eq!(money(&app, &key).await, (0, 500 * USD, 0));
    // Nothing is left for a third instance.
    let c = Gw::new("inst-c", &key);
    let r = post(
        &app,
        As::Gateway,
        "/dataplane/v1/lease",
        &c.lease_body_at_least(10 * USD, Some(USD)),
    )
    .await;
    let g: keybrake_core::lease::LeaseGrant = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(g.lease_micros, 0);
}

#[tokio::test]
async fn grants_from_three_instances_never_exceed_the_cap_in_total() {
    let app = app_with(Duration::ZERO, TTL).await;
    let cap = 500 * USD;
    let key = key_with_cap(&app, 500).await;
    let mut gws: Vec<Gw> = ["inst-a", "inst-b", "inst-c"]
        .iter()
        .map(|i| Gw::new(i, &key))
        .collect();
    let mut seed = 11u64;
    let mut denials = 0;
    for step in 0..300 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let gw = &mut gws[(seed >> 33) as usize % 3];
        let cost = (seed >> 40) % (25 * USD) + 1;
        if gw.room() < cost {
            let before = (gw.lease, gw.seq);
            let g = gw.ask(&app, cost - gw.room()).await;
            if (g.lease_micros, g.seq) == before {
                denials += 1;
            }
        }
        if gw.room() >= cost {
            gw.spent += cost;
        }
        if step % 7 == 0 {
            gw.report(&app, &[]).await;
        }
        let leases: u64 = gws.iter().map(|g| g.lease).sum();
        assert!(leases <= cap, "step {step}: leases {leases} over the cap");
        let (spent, leased, _) = money(&app, &key).await;
        assert!(spent + leased <= cap, "step {step}: {spent} + {leased}");
    }
    assert!(denials > 0, "the loop ran the cap dry");
    for gw in &gws {
        gw.report(&app, &[]).await;
    }
    let spent: u64 = gws.iter().map(|g| g.spent).sum();
    let leased: u64 = gws.iter().map(|g| g.lease - g.spent).sum();
    assert_eq!(
        money(&app, &key).await,
        (spent, leased, cap - spent - leased)
    );
    assert_eq!(metric(&app, "keybrake_lease_denials_total").await, denials);
}

#[tokio::test]
async fn a_request_beyond_the_cap_answers_the_lease_unchanged() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &key);
    let first = a.ask(&app, 90 * USD).await;
    let again = a.ask(&app, 50 * USD).await;
    assert_eq!(again, first, "no room: same lease, same sequence");
    assert_eq!(metric(&app, "keybrake_lease_denials_total").await, 1);
    assert_eq!(
        metric(&app, "keybrake_lease_reclaims_total").await,
        0,
        "nobody else holds any lease: answered at once"
    );
    // What is left still fits.
    let left = 100 * USD - first.lease_micros;
    let g = a.ask(&app, left).await;
    assert_eq!((g.lease_micros, g.seq), (100 * USD, 2));
}

#[tokio::test]
async fn a_release_is_acknowledged_only_under_the_current_grant() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 10 * USD).await;
    let stale = a.clone();
    let second = a.ask(&app, 10 * USD).await;
    assert_eq!(second.seq, 2);

    // A release made before the second grant arrived: it does not lower the lease.
    let mut old = stale;
    old.spent = USD;
    old.release();
    old.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await.1, second.lease_micros - USD);

    // The same release under the current grant does.
    a.spent = USD;
    a.release();
    a.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await, (USD, 0, 499 * USD));

    // A report never raises the lease back.
    a.lease = 400 * USD;
    a.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await, (USD, 0, 499 * USD));
}

#[tokio::test]
async fn another_day_answers_409_stale_day() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 500).await;
    for day in [DAY - 1, DAY + 1] {
        let mut a = Gw::new("inst-a", &key);
        a.day = day;
        let r = post(&app, As::Gateway, "/dataplane/v1/lease", &a.lease_body(USD)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "day {day}");
        assert_eq!(
            r.error(),
            ("stale_day".to_owned(), Some("usage.day".to_owned()))
        );
    }
    assert_eq!(money(&app, &key).await, (0, 0, 500 * USD));
}

#[tokio::test]
async fn unknown_revoked_and_expired_keys_are_refused() {
    let app = TestApp::new().await;
    let revoked = key_with_cap(&app, 5).await;
    app.call(
        As::Admin,
        Method::DELETE,
        &format!("/vault/keys/{revoked}"),
        None,
    )
    .await;
    let expiring = app
        .issue(
            json!({"vendor": "stripe", "daily_usd_cap": 5, "allowed_endpoints": ["POST /v1/payment_intents"],
                       "expires_in": 60, "agent_run_label": "short"}),
        )
        .await;
    app.clock.advance(Duration::from_secs(61));
    let cases = [
        (
            "unknown",
            "kid_0123456789abcdef",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "revoked",
            revoked.as_str(),
            StatusCode::FORBIDDEN,
            "key_revoked",
        ),
        (
            "expired",
            expiring["key_id"].as_str().unwrap(),
            StatusCode::FORBIDDEN,
            "key_expired",
        ),
        (
            "malformed",
            "nope",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (name, key, status, kind) in cases {
        let r = post(
            &app,
            As::Gateway,
            "/dataplane/v1/lease",
            &Gw::new("inst-a", key).lease_body(USD),
        )
        .await;
        assert_eq!(r.status, status, "case {name}: {}", r.text());
        assert_eq!(
            r.error(),
            (kind.to_owned(), Some("usage.key_id".to_owned())),
            "case {name}"
        );
    }
}

#[tokio::test]
async fn bad_lease_bodies_name_the_field() {
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 5).await;
    let good = Gw::new("inst-a", &key).lease_body(USD);
    let with = |path: &[&str], v: serde_json::Value| {
        let mut b = good.clone();
        let mut at = &mut b;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        b
    };
    let mut unknown = good.clone();
    unknown["extra"] = json!(1);
    let cases = [
        ("empty instance", with(&["instance"], json!("")), "instance"),
        (
            "gateway with space",
            with(&["gateway"], json!("a b")),
            "gateway",
        ),
        (
            "huge figure",
            with(&["usage", "spent_micros"], json!(u64::MAX)),
            "usage",
        ),
        (
            "negative want",
            with(&["want_micros"], json!(-1)),
            "want_micros",
        ),
        (
            "nested wrong type",
            with(&["usage", "spent_micros"], json!("10")),
            "usage.spent_micros",
        ),
        ("unknown field", unknown, "extra"),
    ];
    for (name, body, field) in cases {
        let r = post(&app, As::Gateway, "/dataplane/v1/lease", &body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "case {name}: {}",
            r.text()
        );
        let (kind, got) = r.error();
        assert_eq!(kind, "invalid_request", "case {name}");
        assert_eq!(got.as_deref(), Some(field), "case {name}");
    }
}

#[tokio::test]
async fn spend_past_a_lease_takes_from_the_cap_and_the_next_grant_covers_want() {
    let app = app_with(Duration::ZERO, TTL).await;
    let key = key_with_cap(&app, 100).await;
    let mut a = Gw::new("inst-a", &key);
    let g = a.ask(&app, 10 * USD).await;
    // A refund settled above its reservation: spend beyond the lease.
    a.spent = g.lease_micros + 5 * USD;
    a.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await.0, a.spent);
    let g = a.ask(&app, USD).await;
    assert!(
        g.lease_micros >= a.spent + USD,
        "{g:?} covers the spend and want"
    );
    let (spent, leased, remaining) = money(&app, &key).await;
    assert_eq!(spent + leased + remaining, 100 * USD);
}

#[tokio::test]
async fn a_request_sized_against_an_older_lease_counts_the_newer_grants() {
    // Two workers of one instance ask at once from the same record: the second's `want`
    // counts from the lease before the first's grant, which already covers it.
    let app = TestApp::new().await;
    let key = key_with_cap(&app, 100).await;
    let before = Gw::new("inst-a", &key);
    let mut first = before.clone();
    let g1 = first.ask(&app, 95 * USD).await;
    assert!(100 * USD - g1.lease_micros < 4 * USD);
    let mut second = before.clone();
    let g2 = second.ask(&app, 4 * USD).await;
    assert_eq!(g2.seq, 2, "granted, not refused: {g2:?}");
    assert!(g2.lease_micros >= g1.lease_micros);
    assert!(g2.lease_micros <= 100 * USD);
    assert_eq!(metric(&app, "keybrake_lease_denials_total").await, 0);
}
