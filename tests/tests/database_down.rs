//! The control plane with its PostgreSQL down: `/healthz` answers 503, so the gateways' health
//! checks of the control-plane cluster send their polls and lease requests to a replica that
//! can answer them, and it answers 200 again by itself once the database is back. Requests it
//! takes meanwhile are answered 503 `unavailable` (which gateways and the CLI ask again), not
//! 500.

use keybrake_e2e::paths::{self, Needed};
use keybrake_e2e::postgres::Postgres;
use keybrake_e2e::process::{free_port, Proc, TempDir};
use keybrake_e2e::wait_until;
use std::process::Command;
use std::time::Duration;

const ADMIN_KEY: &str = "kba_e2e_database_down";

/// Polls `/healthz` until it answers `status`, for at most `within`; returns the body.
async fn health_becomes(
    http: &reqwest::Client,
    url: &str,
    status: u16,
    within: Duration,
    what: &str,
) -> serde_json::Value {
    wait_until(within, what, || async move {
        let r = http.get(url).send().await.ok()?;
        if r.status().as_u16() != status {
            return None;
        }
        r.json().await.ok()
    })
    .await
}

#[tokio::test]
async fn healthz_says_the_database_is_down_and_recovers_with_it() {
    paths::require(&[Needed::Binaries, Needed::Postgres]);
    let pg = Postgres::start();
    let url = pg.create_database();
    let dir = TempDir::new("keybrake-dbdown");
    let port = free_port();
    let mut cmd = Command::new(paths::bin("keybrake"));
    cmd.arg("serve")
        .env("KEYBRAKE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYBRAKE_DATA_DIR", dir.0.join("data"))
        .env("KEYBRAKE_DATABASE_URL", &url)
        .env("KEYBRAKE_ADMIN_KEY", ADMIN_KEY)
        .env("RUST_LOG", "info");
    let cp = Proc::spawn("control-plane", cmd, &dir.0);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");

    let up = health_becomes(
        &http,
        &healthz,
        200,
        Duration::from_secs(30),
        "the control plane up",
    )
    .await;
    assert_eq!(up, serde_json::json!({"status": "ok", "database": "ok"}));

    pg.stop_now();
    let down = health_becomes(
        &http,
        &healthz,
        503,
        Duration::from_secs(15),
        "503 while PostgreSQL is down",
    )
    .await;
    assert_eq!(
        down,
        serde_json::json!({"status": "unavailable", "database": "unreachable"}),
        "the cause goes to the log, not to unauthenticated callers"
    );
    // An admin request meanwhile: 503, saying what to do, and nothing of the cause.
    let list_keys = || {
        http.get(format!("http://127.0.0.1:{port}/vault/keys"))
            .bearer_auth(ADMIN_KEY)
            .send()
    };
    let r = list_keys().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("ask again"), "{message}");
    assert!(
        !message.contains("127.0.0.1") && !message.contains("postgres"),
        "{message}"
    );
    // More requests while it is away: their failure is logged once per 10 s, not per request.
    for _ in 0..5 {
        assert_eq!(list_keys().await.unwrap().status().as_u16(), 503);
    }
    wait_until(Duration::from_secs(10), "the causes in the log", || {
        let log = cp.log_text();
        async move {
            (log.contains("the database is unreachable")
                && log.contains("the database is unavailable"))
            .then_some(())
        }
    })
    .await;
    assert_eq!(
        cp.log_text()
            .matches("requests answered 503: the database is unavailable")
            .count(),
        1,
        "one line for six requests"
    );

    pg.start_again();
    health_becomes(
        &http,
        &healthz,
        200,
        Duration::from_secs(30),
        "200 again once PostgreSQL is back",
    )
    .await;
    assert!(
        !cp.log_text().contains(&url),
        "the database URL stays out of the log"
    );
}
