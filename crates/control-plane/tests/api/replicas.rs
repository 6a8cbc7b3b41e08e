//! Two control-plane replicas on one database (PostgreSQL with `KEYBRAKE_TEST_DATABASE=postgres`;
//! the same SQLite file otherwise): concurrent lease grants through both never lease more than
//! a key's cap, and (PostgreSQL) a change made through one wakes the other's long-polls.

use crate::lease_support::{key_with_cap, money, Gw, USD};
use crate::support::{temp_data_dir, TestApp};
use axum::http::StatusCode;
use keybrake_control_plane::Settings;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings(dir: std::path::PathBuf, database_url: Option<String>) -> Settings {
    Settings {
        propagation_wait: Duration::ZERO,
        reclaim_wait: Duration::ZERO,
        instance_ttl: Duration::from_secs(3_600),
        database_url,
        ..Settings::new(dir)
    }
}

/// Two replicas: the second opens the first's database (and data directory, for its secrets).
async fn replicas() -> (Arc<TestApp>, Arc<TestApp>) {
    let a = TestApp::with_settings(settings(temp_data_dir(), None)).await;
    let b = TestApp::with_settings(settings(a.dir.clone(), a.database_url.clone())).await;
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grants_through_two_replicas_never_lease_past_the_cap() {
    let (a, b) = replicas().await;
    let key = key_with_cap(&a, 500).await;
    // 80 instances, each wanting $20 ($1,600 against $500), asking at once, half through
    // each replica, three rounds each.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..80 {
        let app = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut gw = Gw::new(&format!("inst-{i:02}"), &key);
            for _ in 0..3 {
                gw.ask(&app, 20 * USD).await;
            }
            gw.lease
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let took = started.elapsed();
    let (spent, leased, _) = money(&a, &key).await;
    eprintln!(
        "240 lease steps through 2 replicas ({}): {took:?}; granted ${} in total",
        a.state.store.kind(),
        total as f64 / 1e6
    );
    assert!(
        total <= 500 * USD,
        "instances hold {total} µUSD against a $500 cap"
    );
    assert_eq!(spent, 0);
    assert_eq!(leased, total, "the ledger and the instances agree");
    assert!(total > 0, "something was granted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_wakes_polls_on_the_other() {
    if !crate::support::on_postgres() {
        // SQLite serves one control-plane process; replicas need PostgreSQL's NOTIFY.
        return;
    }
    let (a, b) = replicas().await;
    let current = b.state.version();
    let poll = {
        let b = Arc::clone(&b);
        tokio::spawn(async move {
            let r = b.poll("gw-b", current, 20_000).await;
            (r.status, Instant::now())
        })
    };
    // Wait for the poll to be waiting on B.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = b.clock.now_ms();
        let row = b
            .state
            .gateways
            .get(&b.state.store, now, "gw-b")
            .await
            .unwrap();
        if row.is_some_and(|r| r.polling_until_ms > now) {
            break;
        }
        assert!(Instant::now() < deadline, "the poll never arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let issued_at = Instant::now();
    a.issue_stripe("run/other-replica").await;
    let issue_took = issued_at.elapsed();
    let (status, answered_at) = poll.await.unwrap();
    eprintln!("issue took {issue_took:?}");
    let latency = answered_at - issued_at;
    eprintln!(
        "a key issued through A woke B's poll after {latency:?} ({})",
        a.state.store.kind()
    );
    assert_eq!(status, StatusCode::OK);
    assert!(
        latency < Duration::from_secs(2),
        "woken by the change, not by its 20 s wait: {latency:?}"
    );
}
