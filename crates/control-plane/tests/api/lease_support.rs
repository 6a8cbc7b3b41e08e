//! Helpers for the lease tests: a gateway instance as a small state machine that asks for
//! leases, spends inside them and reports, as the filter and its sync service do.

use crate::support::{As, Reply, TestApp, T0_MS};
use axum::http::{Method, StatusCode};
use keybrake_control_plane::Settings;
use keybrake_core::lease::{KeyUsage, LeaseGrant, LeaseRequest, UsageAnswer, UsageReport};
use serde_json::{json, Value};
use std::time::Duration;

pub const DAY_MS: u64 = 86_400_000;
/// The UTC day of `T0_MS`.
pub const DAY: u32 = (T0_MS / DAY_MS) as u32;
pub const USD: u64 = 1_000_000;

/// A control plane with the given reclaim wait and instance TTL.
pub async fn app_with(reclaim_wait: Duration, instance_ttl: Duration) -> TestApp {
    TestApp::with_settings(Settings {
        propagation_wait: Duration::ZERO,
        reclaim_wait,
        instance_ttl,
        ..Settings::new(crate::support::temp_data_dir())
    })
    .await
}

/// Issues a Stripe key with `cap_usd` and returns its id.
pub async fn key_with_cap(app: &TestApp, cap_usd: u64) -> String {
    let v = app
        .issue(json!({
            "vendor": "stripe",
            "daily_usd_cap": cap_usd,
            "allowed_endpoints": ["POST /v1/payment_intents"],
            "expires_in": "1d",
            "agent_run_label": "caps/test",
        }))
        .await;
    v["key_id"].as_str().unwrap().to_owned()
}

/// `(spend_today, leased, remaining)` in micro-USD, from `GET /vault/keys/{id}`.
pub async fn money(app: &TestApp, key_id: &str) -> (u64, u64, u64) {
    let v = app.get(&format!("/vault/keys/{key_id}")).await.json();
    let micros = |f: &str| (v[f].as_f64().unwrap() * 1e6).round() as u64;
    (
        micros("spend_today_usd"),
        micros("leased_usd"),
        micros("remaining_usd"),
    )
}

pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .call(As::Nobody, Method::GET, "/metrics", None)
        .await
        .text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

pub async fn post(app: &TestApp, who: As, path: &str, body: &Value) -> Reply {
    app.call(who, Method::POST, path, Some(body)).await
}

/// One gateway process's record of one key, as the filter keeps it.
#[derive(Clone, Debug)]
pub struct Gw {
    pub instance: String,
    pub key_id: String,
    pub day: u32,
    pub lease: u64,
    pub seq: u64,
    pub spent: u64,
    pub reserved: u64,
}

impl Gw {
    pub fn new(instance: &str, key_id: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            key_id: key_id.to_owned(),
            day: DAY,
            lease: 0,
            seq: 0,
            spent: 0,
            reserved: 0,
        }
    }

    pub fn usage(&self) -> KeyUsage {
        KeyUsage {
            key_id: self.key_id.clone(),
            day: self.day,
            lease_micros: self.lease,
            seq: self.seq,
            spent_micros: self.spent,
            reserved_micros: self.reserved,
        }
    }

    pub fn lease_body(&self, want: u64) -> Value {
        self.lease_body_at_least(want, None)
    }

    /// A request for `want` that can use as little as `min` (`min_micros`).
    pub fn lease_body_at_least(&self, want: u64, min: Option<u64>) -> Value {
        serde_json::to_value(LeaseRequest {
            gateway: "gw-test".into(),
            instance: self.instance.clone(),
            usage: self.usage(),
            want_micros: want,
            min_micros: min,
        })
        .unwrap()
    }

    /// Asks for `want` more; applies the grant as `ledger::apply_grant` does.
    pub async fn ask(&mut self, app: &TestApp, want: u64) -> LeaseGrant {
        let r = post(
            app,
            As::Gateway,
            "/dataplane/v1/lease",
            &self.lease_body(want),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let grant: LeaseGrant = serde_json::from_slice(&r.body).unwrap();
        self.apply(&grant);
        grant
    }

    pub fn apply(&mut self, g: &LeaseGrant) {
        assert_eq!((g.key_id.as_str(), g.day), (self.key_id.as_str(), self.day));
        if g.seq > self.seq {
            self.lease = g.lease_micros;
            self.seq = g.seq;
        }
    }

    pub fn room(&self) -> u64 {
        self.lease - self.spent - self.reserved
    }

    /// Gives back everything unspent and unreserved, as `ledger::release(…, 0)` does.
    pub fn release(&mut self) {
        self.lease = self.spent + self.reserved;
    }

    /// Reports this key (and `idle` ones) and returns the answer.
    pub async fn report(&self, app: &TestApp, idle: &[&str]) -> UsageAnswer {
        let body = serde_json::to_value(UsageReport {
            gateway: "gw-test".into(),
            instance: self.instance.clone(),
            keys: vec![self.usage()],
            idle: idle.iter().map(|s| (*s).to_owned()).collect(),
        })
        .unwrap();
        let r = post(app, As::Gateway, "/dataplane/v1/usage", &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }
}
