//! The gateways' snapshot long-poll.
//!
//! Tests that say how long the control plane waited run on tokio's paused clock: time moves only
//! when every task waits on a timer, so a wait is measured exactly and a busy machine cannot make
//! an answer look late.

use crate::support::{As, TestApp, T0_MS};
use axum::http::{header, Method, StatusCode};
use keybrake_core::shared_policy::PolicyUpdate;
use keybrake_core::{Snapshot, VaultKey};
use std::time::Duration;
use tokio::time::Instant;

fn snapshot(r: &crate::support::Reply) -> Snapshot {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_older_version_gets_the_snapshot_at_once() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("billing-agent/42").await;
    let start = Instant::now();
    let snap = snapshot(&app.poll("gw-1", 0, 20_000).await);
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait");
    assert_eq!(snap.version, app.state.version());
    assert_eq!(snap.generated_at_ms, T0_MS);
    let key = VaultKey::parse(issued["vault_key"].as_str().unwrap()).unwrap();
    let [entry] = snap.keys.as_slice() else {
        panic!("one key expected: {snap:?}");
    };
    assert_eq!(entry.key_id, key.id().as_str());
    assert_eq!(entry.secret_sha256, key.hash().to_hex());
    assert_eq!(entry.daily_cap_micros, 500_000_000);
    assert_eq!(entry.expires_at_ms, T0_MS + 30 * 60 * 1000);
    assert_eq!(
        entry.allowed_endpoints[0].to_string(),
        "POST /v1/payment_intents"
    );
    assert_eq!(entry.label, "billing-agent/42");
    assert!(!entry.revoked);
    let raw = app.poll("gw-1", 0, 0).await.text();
    assert!(
        !raw.contains(key.expose()),
        "the snapshot never carries a vault key"
    );
}

#[tokio::test(start_paused = true)]
async fn the_current_version_waits_then_answers_304() {
    let app = TestApp::new().await;
    let current = app.state.version();
    let start = Instant::now();
    let r = app.poll("gw-1", current, 100).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "the whole wait"
    );
}

/// Real time, not paused: on PostgreSQL the wait is on sockets, and paused time would jump
/// past the poll's 20 s while the revoke's queries are in flight.
#[tokio::test]
async fn a_revoke_wakes_a_waiting_poll_at_once() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("run/revoke").await;
    let id = issued["key_id"].as_str().unwrap().to_owned();
    let current = app.state.version();

    let state = app.state.clone();
    let poll = tokio::spawn(async move {
        let uri = format!("/dataplane/v1/snapshot?gateway=gw-wait&after={current}&wait_ms=20000");
        let req = axum::http::Request::builder()
            .uri(uri)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", state.dataplane_token.expose()),
            )
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = tower::ServiceExt::oneshot(keybrake_control_plane::app(state), req)
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, body, Instant::now())
    });
    poll_arrived(&app, "gw-wait").await;

    let revoked_at = Instant::now();
    let r = app
        .call(
            As::Admin,
            Method::DELETE,
            &format!("/vault/keys/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (status, body, answered_at) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        answered_at - revoked_at < Duration::from_secs(5),
        "woken by the revoke, not by its 20 s wait: {:?}",
        answered_at - revoked_at
    );
    let snap: Snapshot = serde_json::from_slice(&body).unwrap();
    assert_eq!(snap.version, current + 1);
    let entry = snap.keys.iter().find(|k| k.key_id == id).unwrap();
    assert!(entry.revoked);
}

#[tokio::test(start_paused = true)]
async fn shutdown_answers_waiting_polls() {
    let app = TestApp::new().await;
    let current = app.state.version();
    let state = app.state.clone();
    let stopper = tokio::spawn(async move {
        tokio::task::yield_now().await;
        state.begin_shutdown();
    });
    let start = Instant::now();
    let r = app.poll("gw-stop", current, 20_000).await;
    stopper.await.unwrap();
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(start.elapsed(), Duration::ZERO, "not its 20 s wait");
}

#[tokio::test]
async fn a_gateway_ahead_of_the_control_plane_gets_the_current_snapshot() {
    let app = TestApp::new().await;
    let snap = snapshot(
        &app.poll("gw-restored", app.state.version() + 100, 20_000)
            .await,
    );
    assert_eq!(snap.version, app.state.version());
}

#[tokio::test]
async fn expired_keys_stay_a_day_then_leave_the_snapshot() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("run/expiring").await;
    let id = issued["key_id"].as_str().unwrap();
    // 30 minutes to expiry, then 23 hours: expired, still delivered so gateways say key_expired.
    app.clock.advance(Duration::from_secs(30 * 60 + 23 * 3600));
    let snap = snapshot(&app.poll("gw", 0, 0).await);
    assert!(snap.keys.iter().any(|k| k.key_id == id));
    app.clock.advance(Duration::from_secs(2 * 3600));
    let snap = snapshot(&app.poll("gw", 0, 0).await);
    assert!(snap.keys.iter().all(|k| k.key_id != id), "{snap:?}");
}

#[tokio::test]
async fn every_mutation_grows_the_version_and_gateways_are_counted() {
    let app = TestApp::new().await;
    let v0 = app.state.version();
    assert_eq!(v0, 1, "a fresh control plane starts at version 1");
    let k = app.issue_stripe("run/v").await;
    let uri = format!("/vault/keys/{}", k["key_id"].as_str().unwrap());
    app.call(As::Admin, Method::DELETE, &uri, None).await;
    let body = serde_json::json!({"api_key": "sk_x"});
    app.call(
        As::Admin,
        Method::PUT,
        "/vendors/stripe/credentials",
        Some(&body),
    )
    .await;
    assert_eq!(app.state.version(), v0 + 3);
    app.poll("gw-a", 0, 0).await;
    app.poll("gw-b", 0, 0).await;
    let metrics = app
        .call(As::Nobody, Method::GET, "/metrics", None)
        .await
        .text();
    assert!(
        metrics.contains("keybrake_gateways_connected 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keybrake_snapshots_served_total 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_poll_queries_name_the_parameter() {
    let app = TestApp::new().await;
    let cases = [
        (
            "missing gateway",
            "/dataplane/v1/snapshot?after=0",
            "gateway",
        ),
        (
            "bad after",
            "/dataplane/v1/snapshot?gateway=g&after=x",
            "after",
        ),
        (
            "bad wait",
            "/dataplane/v1/snapshot?gateway=g&wait_ms=-1",
            "wait_ms",
        ),
    ];
    for (name, uri, field) in cases {
        let r = app.call(As::Gateway, Method::GET, uri, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "case {name}");
        assert_eq!(r.error().1.as_deref(), Some(field), "case {name}");
    }
}

/// Sends one request to the router from a spawned task, as a second client would.
fn spawn_call(
    state: &keybrake_control_plane::AppState,
    req: axum::http::Request<axum::body::Body>,
) -> tokio::task::JoinHandle<(StatusCode, Vec<u8>)> {
    let app = keybrake_control_plane::app(state.clone());
    tokio::spawn(async move {
        let resp = tower::ServiceExt::oneshot(app, req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, body.to_vec())
    })
}

fn issue_request(admin_key: &str) -> axum::http::Request<axum::body::Body> {
    let body = serde_json::json!({
        "vendor": "stripe",
        "daily_usd_cap": 5,
        "allowed_endpoints": ["POST /v1/payment_intents"],
        "expires_in": "30m",
        "agent_run_label": "run/ack",
    });
    axum::http::Request::builder()
        .method(Method::POST)
        .uri("/vault/keys")
        .header(header::AUTHORIZATION, format!("Bearer {admin_key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// Waits until the instance's poll is in the database, waiting.
async fn poll_arrived(app: &TestApp, instance: &str) {
    let start = std::time::Instant::now();
    loop {
        let now = app.clock.now_ms();
        let row = app
            .state
            .gateways
            .get(&app.state.store, now, instance)
            .await
            .unwrap();
        if row.is_some_and(|r| r.polling_until_ms > now) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "timed out waiting for the poll of {instance}"
        );
        tokio::task::yield_now().await;
    }
}

async fn app_with_propagation_wait(wait: Duration) -> TestApp {
    TestApp::with_settings(keybrake_control_plane::Settings {
        propagation_wait: wait,
        ..keybrake_control_plane::Settings::new(crate::support::temp_data_dir())
    })
    .await
}

/// Real time, for the reason `a_revoke_wakes_a_waiting_poll_at_once` gives.
#[tokio::test]
async fn a_change_is_answered_once_every_live_gateway_holds_it() {
    let app = app_with_propagation_wait(Duration::from_secs(10)).await;
    let current = app.state.version();
    let poll_req = axum::http::Request::builder()
        .uri(format!(
            "/dataplane/v1/snapshot?gateway=gw-ack&after={current}&wait_ms=20000"
        ))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.state.dataplane_token.expose()),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let poll = spawn_call(&app.state, poll_req);
    poll_arrived(&app, "gw-ack").await;

    let start = Instant::now();
    let issue = spawn_call(&app.state, issue_request(app.state.admin_key.expose()));
    let (status, _) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the poll gets the change at once, not after its 20 s: {:?}",
        start.elapsed()
    );
    assert!(
        !issue.is_finished(),
        "answered before the gateway confirmed"
    );

    // The gateway's next poll, holding the new version, is its confirmation.
    let confirm = app.poll("gw-ack", current + 1, 0).await;
    assert_eq!(confirm.status, StatusCode::NOT_MODIFIED);
    let (status, body) = issue.await.unwrap();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "answered on the confirmation, not at the end of its 10 s wait: {:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_gateway_delays_a_change_only_up_to_the_wait() {
    let app = app_with_propagation_wait(Duration::from_millis(200)).await;
    assert_eq!(app.poll("gw-silent", 0, 0).await.status, StatusCode::OK);
    let start = Instant::now();
    app.issue_stripe("run/slow").await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(200),
        "the whole wait"
    );
    let metrics = app
        .call(As::Nobody, Method::GET, "/metrics", None)
        .await
        .text();
    assert!(
        metrics.contains("keybrake_propagation_timeouts_total 1\n"),
        "{metrics}"
    );

    // Silent for longer than the live window: no longer waited for.
    app.clock.advance(Duration::from_millis(
        keybrake_control_plane::gateways::LIVE_AFTER_POLL_MS + 1,
    ));
    let start = Instant::now();
    app.issue_stripe("run/fast").await;
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait");
}

fn update(r: &crate::support::Reply) -> PolicyUpdate {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn a_v2_gateway_gets_only_the_keys_changed_since_its_version() {
    let app = TestApp::new().await;
    let old = app.issue_stripe("run/old").await;
    let full = update(&app.poll_delta("gw-d", 0, 0).await);
    assert_eq!(full.base, None, "after=0 gets everything");
    assert_eq!(full.keys.len(), 1);
    assert!(full.credentials.is_some());
    let held = full.version;

    let new = app.issue_stripe("run/new").await;
    let old_id = old["key_id"].as_str().unwrap();
    app.call(
        As::Admin,
        Method::DELETE,
        &format!("/vault/keys/{old_id}"),
        None,
    )
    .await;
    let delta = update(&app.poll_delta("gw-d", held, 0).await);
    assert_eq!(delta.base, Some(held));
    assert_eq!(delta.version, app.state.version());
    let mut changed: Vec<(&str, bool)> = delta
        .keys
        .iter()
        .map(|k| (k.key_id.as_str(), k.revoked))
        .collect();
    changed.sort();
    let mut want = vec![(old_id, true), (new["key_id"].as_str().unwrap(), false)];
    want.sort();
    assert_eq!(
        changed, want,
        "the new key and the revoked one, nothing else"
    );
    assert!(
        delta.credentials.is_none() && delta.rates.is_none() && delta.prices.is_none(),
        "credentials, rates and prices did not change: {delta:?}"
    );
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains("keybrake_deltas_served_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_delta_carries_credentials_rates_and_prices_when_one_of_them_changed() {
    let app = TestApp::new().await;
    let held = app.state.version();
    let body = serde_json::json!({"api_key": "sk_test_rotated"});
    app.call(
        As::Admin,
        Method::PUT,
        "/vendors/stripe/credentials",
        Some(&body),
    )
    .await;
    let delta = update(&app.poll_delta("gw-g", held, 0).await);
    assert_eq!(delta.base, Some(held));
    assert!(delta.keys.is_empty());
    let credentials = delta.credentials.expect("credentials changed");
    assert!(credentials
        .iter()
        .any(|c| c.authorization() == "Bearer sk_test_rotated"));
    assert!(delta.rates.is_some() && delta.prices.is_some());
    // The next delta, from the version that holds the rotation, carries none of it.
    let again = app.poll_delta("gw-g", delta.version, 0).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_gateway_ahead_of_the_database_gets_everything_not_a_delta() {
    let app = TestApp::new().await;
    app.issue_stripe("run/a").await;
    let ahead = app.state.version() + 100;
    let r = update(&app.poll_delta("gw-x", ahead, 0).await);
    assert_eq!(r.base, None);
    assert_eq!(r.keys.len(), 1);
    // An old gateway (no `delta=1`) keeps getting the full snapshot it always did.
    let snap = snapshot(&app.poll("gw-old", 1, 0).await);
    assert_eq!(snap.keys.len(), 1);
}
