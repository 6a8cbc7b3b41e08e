//! 100,000 active keys: how fast the control plane issues them, how big and how slow the
//! snapshot gets, how long a gateway takes to apply it, what it costs in memory, and whether
//! requests notice (latency against a gateway with 10 keys, and while snapshots change).

use crate::api::{gateway_get, key_spec, ControlPlane};
use crate::load::{self, Load, Measured, Scenario};
use crate::revoke::{self, Revocations};
use crate::stack::{self, ControlPlaneProc, Flavor, Gateway, Paths};
use crate::throughput::Pair;
use crate::Settings;
use anyhow::bail;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Scale {
    pub keys: u64,
    pub issued_per_second: f64,
    pub snapshot_bytes: usize,
    pub snapshot_build_ms: f64,
    /// Envoy spawned to its admin `/ready`.
    pub startup_ms: f64,
    /// Envoy spawned to the first call allowed with the 100k snapshot.
    pub first_allowed_ms: f64,
    pub rss_10_kib: u64,
    pub rss_big_kib: u64,
    /// 10 keys (`a`) against 100k keys (`b`), fixed rate.
    pub latency: Vec<Pair>,
    /// Issues and revocations against the 100k gateway.
    pub changes: Revocations,
    /// Fixed-rate calls to the 100k gateway without snapshot changes, and while they happen.
    pub quiet: Measured,
    pub churn: Measured,
    pub churn_changes: usize,
}

impl Scale {
    /// p99 of the free GET while keys change, over its p99 when they do not (target ≤ 1.2).
    pub fn churn_p99_ratio(&self) -> f64 {
        self.churn.p99_us / self.quiet.p99_us.max(1.0)
    }

    /// From `DELETE /vault/keys/{id}` sent to the first call refused `key_revoked` at the
    /// 100k gateway, p99, milliseconds (target ≤ 100).
    pub fn revoke_p99_ms(&self) -> f64 {
        let c = &self.changes;
        crate::revoke::percentile(
            &crate::report::sum(&c.delete_ms, &c.refused_after_answer_ms),
            0.99,
        )
    }

    /// From `POST /vault/keys` sent to the first call allowed with the new key at the 100k
    /// gateway, p99, milliseconds (target ≤ 100).
    pub fn allow_p99_ms(&self) -> f64 {
        let c = &self.changes;
        crate::revoke::percentile(
            &crate::report::sum(&c.issue_ms, &c.allowed_after_issue_ms),
            0.99,
        )
    }

    /// Envoy's resident memory with 100k keys above the 10-key gateway's, MiB (target ≤ 100).
    pub fn rss_growth_mib(&self) -> f64 {
        self.rss_big_kib.saturating_sub(self.rss_10_kib) as f64 / 1024.0
    }
}

/// Issues `count` keys, `connections` requests at a time, as a script issuing a key per agent
/// run would; returns keys per second.
async fn bulk_issue(cp: &ControlPlane, count: u64, connections: u32) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (cp, next) = (cp.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let body = key_spec("bench/bulk").to_string();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let r = cp
                    .http
                    .post(format!("{}/vault/keys", cp.url))
                    .bearer_auth(&cp.admin_key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                if r.status().as_u16() != 201 {
                    bail!(
                        "bulk issue: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// The control plane's snapshot as a gateway receives it: size and time to build and send.
async fn fetch_snapshot(cp: &ControlPlaneProc) -> anyhow::Result<(usize, f64)> {
    let t = Instant::now();
    let body = cp
        .api
        .http
        .get(format!(
            "{}/dataplane/v1/snapshot?gateway=bench-probe&after=0",
            cp.api.url
        ))
        .bearer_auth(&cp.token)
        .send()
        .await?
        .bytes()
        .await?;
    Ok((body.len(), t.elapsed().as_secs_f64() * 1e3))
}

pub async fn measure(
    paths: &Paths,
    settings: &Settings,
    upstream_port: u16,
    small: &Gateway,
    small_key: &str,
) -> anyhow::Result<Scale> {
    let cp = stack::start_control_plane(paths, "cp-100k").await?;
    let key = cp.api.issue("bench/100k").await?;
    let bulk = settings.keys.saturating_sub(1);
    eprintln!("bench: issuing {bulk} keys");
    let issued_per_second = bulk_issue(&cp.api, bulk, settings.issue_connections).await?;
    eprintln!("bench:   {issued_per_second:.0} keys/s");
    let (snapshot_bytes, snapshot_build_ms) = fetch_snapshot(&cp).await?;
    eprintln!(
        "bench:   snapshot {snapshot_bytes} bytes, built and sent in {snapshot_build_ms:.0} ms"
    );

    let spawned = Instant::now();
    let big = stack::start_gateway(
        paths,
        "keybrake-100k",
        Flavor::Keybrake,
        upstream_port,
        Some(&cp),
    )
    .await?;
    let http = crate::api::client()?;
    loop {
        let (status, _) = gateway_get(&http, big.port, &key.vault_key).await?;
        if status == 200 {
            break;
        }
        if spawned.elapsed() > Duration::from_secs(120) {
            bail!("the 100k gateway never allowed a call (last status {status})");
        }
    }
    let first_allowed_ms = spawned.elapsed().as_secs_f64() * 1e3;
    eprintln!("bench:   gateway with {} keys: ready in {:.0} ms, first call allowed after {first_allowed_ms:.0} ms", settings.keys, big.startup.as_secs_f64() * 1e3);

    // Latency: the 10-key gateway against the 100k one, same key shape, same fixed rate. The
    // two gateways hold different keys, so each pair of runs uses the gateway's own key.
    let mut latency = Vec::new();
    for scenario in [Scenario::Costed, Scenario::Free] {
        let mut pair = Pair {
            scenario,
            a: Vec::new(),
            b: Vec::new(),
        };
        for (gw, k) in [(small, small_key), (&big, key.vault_key.as_str())] {
            let warm = Load {
                scenario,
                vault_key: k,
                connections: settings.latency_connections,
                seconds: settings.warmup_seconds,
                rate: Some(settings.rate),
            };
            load::run(&paths.wrk, gw.port, &warm, gw.proc.pid())?;
        }
        for round in 0..settings.repeats {
            let order: [(usize, &Gateway, &str); 2] =
                [(0, small, small_key), (1, &big, &key.vault_key)];
            let order = if round % 2 == 0 {
                order
            } else {
                [order[1], order[0]]
            };
            for (i, gw, k) in order {
                let l = Load {
                    scenario,
                    vault_key: k,
                    connections: settings.latency_connections,
                    seconds: settings.seconds,
                    rate: Some(settings.rate),
                };
                let m = load::run(&paths.wrk, gw.port, &l, gw.proc.pid())?;
                eprintln!("bench:   {:<12} {:<14} p50 {:>6.0} us  p99 {:>6.0} us  gateway CPU {:>5.1} us/req", scenario.name(), gw.name, m.p50_us, m.p99_us, m.gateway_cpu_us);
                if !m.all(200) {
                    bail!(
                        "{} on {}: expected every call to get 200, got {m:?}",
                        scenario.name(),
                        gw.name
                    );
                }
                if i == 0 {
                    pair.a.push(m)
                } else {
                    pair.b.push(m)
                }
            }
        }
        latency.push(pair);
    }
    let (rss_10_kib, rss_big_kib) = (
        crate::proc::rss_kib(small.proc.pid()),
        crate::proc::rss_kib(big.proc.pid()),
    );

    eprintln!(
        "bench: {} issues and revocations against the 100k gateway",
        settings.scale_changes
    );
    let changes = revoke::measure(
        &cp.api,
        big.port,
        settings.scale_changes,
        "bench/100k-change",
    )
    .await?;

    // Do snapshot changes stall requests? The same fixed-rate load, quiet and then while keys
    // are issued and revoked (each one a new 100k-key snapshot for the gateway).
    let quiet = churn_run(paths, settings, &big, &key.vault_key, None).await?;
    let churn = churn_run(paths, settings, &big, &key.vault_key, Some(&cp.api)).await?;
    let churn_changes = churn.1;
    Ok(Scale {
        keys: settings.keys,
        issued_per_second,
        snapshot_bytes,
        snapshot_build_ms,
        startup_ms: big.startup.as_secs_f64() * 1e3,
        first_allowed_ms,
        rss_10_kib,
        rss_big_kib,
        latency,
        changes,
        quiet: quiet.0,
        churn: churn.0,
        churn_changes,
    })
}

/// Key changes a second during the churn run (issue #12: "10 changes a second").
pub const CHURN_CHANGES_PER_SECOND: u32 = 10;

/// Free calls at the fixed rate for `seconds`; with `cp`, issues and revokes keys meanwhile,
/// [`CHURN_CHANGES_PER_SECOND`] changes a second (an issue and its revocation are two).
/// Returns what the load saw and how many policy changes happened during it.
async fn churn_run(
    paths: &Paths,
    settings: &Settings,
    gw: &Gateway,
    vault_key: &str,
    cp: Option<&ControlPlane>,
) -> anyhow::Result<(Measured, usize)> {
    let wrk = paths.wrk.clone();
    let (port, key) = (gw.port, vault_key.to_owned());
    let seconds = settings.seconds.max(4);
    let (rate, connections) = (settings.rate, settings.latency_connections);
    let pid = gw.proc.pid();
    let handle = tokio::task::spawn_blocking(move || {
        let l = Load {
            scenario: Scenario::Free,
            vault_key: &key,
            connections,
            seconds,
            rate: Some(rate),
        };
        load::run(&wrk, port, &l, pid)
    });
    let mut changes = 0;
    if let Some(cp) = cp {
        let until = Instant::now() + Duration::from_secs(seconds - 1);
        let mut tick = tokio::time::interval(Duration::from_secs(1) / CHURN_CHANGES_PER_SECOND);
        let mut issued: Option<String> = None;
        while Instant::now() < until {
            tick.tick().await;
            match issued.take() {
                None => issued = Some(cp.issue("bench/churn").await?.key_id),
                Some(id) => cp.revoke(&id).await?,
            }
            changes += 1;
        }
        if let Some(id) = issued {
            cp.revoke(&id).await?;
        }
    }
    let m = handle.await??;
    eprintln!(
        "bench:   free GET at {rate}/s {}: p50 {:.0} us  p99 {:.0} us  max {:.0} us  ({} calls, {} errors)",
        if cp.is_some() { format!("during {changes} snapshot changes") } else { "quiet".to_owned() },
        m.p50_us, m.p99_us, m.max_us, m.requests, m.status_errors + m.socket_errors
    );
    Ok((m, changes))
}
