//! Spend today: reported spend, plus the unreported lease of vanished instances; the UTC day.

use crate::lease_support::{app_with, key_with_cap, metric, money, post, Gw, DAY, DAY_MS, USD};
use crate::support::{As, T0_MS};
use axum::http::StatusCode;
use keybrake_core::lease::size_grant;
use std::time::Duration;

#[tokio::test]
async fn a_dead_instances_unused_lease_counts_as_spent() {
    let app = app_with(Duration::ZERO, Duration::from_secs(30)).await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    let lease = a.ask(&app, 10 * USD).await.lease_micros;
    a.spent = 4 * USD;
    a.report(&app, &[]).await;
    assert_eq!(
        money(&app, &key).await,
        (4 * USD, lease - 4 * USD, 500 * USD - lease)
    );

    app.clock.advance(Duration::from_secs(31));
    assert_eq!(money(&app, &key).await, (lease, 0, 500 * USD - lease));
    assert_eq!(metric(&app, "keybrake_instances_live").await, 0);
    let list = app.get("/vault/keys").await.json();
    assert_eq!(
        list["keys"][0]["spend_today_usd"].as_f64(),
        Some(lease as f64 / 1e6)
    );
    // Its lease still takes from the cap: another instance gets only what is left.
    let g = Gw::new("inst-b", &key).ask(&app, 500 * USD - lease).await;
    assert_eq!(g.lease_micros, 500 * USD - lease);

    // An instance that comes back counts as reported again.
    a.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await.0, 4 * USD);
}

#[tokio::test]
async fn a_new_utc_day_starts_fresh() {
    let app = app_with(Duration::ZERO, Duration::from_secs(30)).await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 400 * USD).await;
    a.spent = 300 * USD;
    a.report(&app, &[]).await;
    assert_eq!(money(&app, &key).await.0, 300 * USD);

    let midnight = (T0_MS / DAY_MS + 1) * DAY_MS;
    app.clock.advance(Duration::from_millis(midnight - T0_MS));
    a.report(&app, &[]).await; // yesterday's figures, still live
    assert_eq!(money(&app, &key).await, (0, 0, 500 * USD));

    // Yesterday's record is stale; a record for today starts from nothing.
    let r = post(&app, As::Gateway, "/dataplane/v1/lease", &a.lease_body(USD)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let mut today = Gw::new("inst-a", &key);
    today.day = DAY + 1;
    let g = today.ask(&app, 10 * USD).await;
    assert_eq!(g.day, DAY + 1);
    assert_eq!(
        (g.lease_micros, g.seq),
        (size_grant(500 * USD, 0, 0, 10 * USD, 1).unwrap(), 1)
    );
    assert_eq!(money(&app, &key).await.0, 0);
}

#[tokio::test]
async fn yesterdays_figures_sent_as_todays_are_ignored() {
    // The first lease request after midnight may carry the gateway's record of the day before
    // under today's date: its grant sequence was never issued today, so none of it counts.
    let app = app_with(Duration::ZERO, Duration::from_secs(30)).await;
    let key = key_with_cap(&app, 500).await;
    let mut a = Gw::new("inst-a", &key);
    a.ask(&app, 400 * USD).await;
    a.ask(&app, 50 * USD).await;
    a.spent = 450 * USD;
    a.report(&app, &[]).await;
    let midnight = (T0_MS / DAY_MS + 1) * DAY_MS;
    app.clock.advance(Duration::from_millis(midnight - T0_MS));

    let mut mixed = a.clone();
    mixed.day = DAY + 1;
    let g = mixed.ask(&app, 10 * USD).await;
    assert_eq!(
        (g.lease_micros, g.seq),
        (size_grant(500 * USD, 0, 0, 10 * USD, 1).unwrap(), 1)
    );
    assert_eq!(
        money(&app, &key).await,
        (0, g.lease_micros, 500 * USD - g.lease_micros)
    );
}
