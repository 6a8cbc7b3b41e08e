//! Load with `wrk`: one run against one gateway, and what it measured, with the gateway's own
//! CPU time over the run (from `/proc`), so the cost per request does not depend on which
//! process happened to be the bottleneck.

use crate::proc::{cpu_ticks, main_thread_ticks, ticks_per_second};
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// What one request of a scenario looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `POST /v1/payment_intents` for $0.01: reserve, forward, settle from the response.
    Costed,
    /// `GET /v1/customers/{id}`: allowed, costs nothing.
    Free,
    /// `GET /v1/balance`: not on the key's allowlist, refused by keybrake (plain Envoy forwards it).
    Denied,
}

impl Scenario {
    /// The status every call of the scenario must get (plain Envoy forwards what keybrake
    /// refuses).
    pub fn expected_status(self, keybrake: bool) -> u16 {
        match (self, keybrake) {
            (Scenario::Denied, true) => 403,
            _ => 200,
        }
    }

    pub const ALL: [Scenario; 3] = [Scenario::Costed, Scenario::Free, Scenario::Denied];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Costed => "costed POST",
            Scenario::Free => "free GET",
            Scenario::Denied => "denied call",
        }
    }
}

/// One wrk run.
#[derive(Clone, Debug)]
pub struct Load<'a> {
    pub scenario: Scenario,
    pub vault_key: &'a str,
    pub connections: u32,
    pub seconds: u64,
    /// Requests per second in total, paced by wrk's `delay()` hook (each connection waits
    /// `connections / rate`, less about a millisecond for the call itself, between a response
    /// and its next request); `None`: flat out.
    pub rate: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// Answers with a status of 400 or more.
    pub status_errors: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    /// The gateway's CPU time (all threads) per request, in microseconds.
    pub gateway_cpu_us: f64,
    /// The gateway's CPU time over wall time (1.0 = one core busy).
    pub gateway_cpu: f64,
    /// The part of `gateway_cpu_us` spent on Envoy's main thread (the sync service's share).
    pub main_thread_cpu_us: f64,
}

impl Measured {
    /// Whether every call got `status` (200, or 403 for keybrake's refusals).
    pub fn all(&self, status: u16) -> bool {
        self.requests > 0
            && self.socket_errors == 0
            && match status {
                200 => self.status_errors == 0,
                _ => self.status_errors == self.requests,
            }
    }
}

/// `done()` prints one JSON line with what the bench needs (latencies in microseconds).
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"p50":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

/// The wrk script of a load: method, body, headers, pacing, and the JSON summary.
fn script(load: &Load<'_>) -> String {
    let mut lua = String::new();
    let (method, body) = match load.scenario {
        Scenario::Costed => ("POST", Some("amount=1&currency=usd")),
        Scenario::Free | Scenario::Denied => ("GET", None),
    };
    lua.push_str(&format!("wrk.method = {}\n", lua_string(method)));
    if let Some(body) = body {
        lua.push_str(&format!("wrk.body = {}\n", lua_string(body)));
        lua.push_str("wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n");
    }
    lua.push_str(&format!(
        "wrk.headers[\"Authorization\"] = {}\n",
        lua_string(&format!("Bearer {}", load.vault_key))
    ));
    if let Some(rate) = load.rate {
        let period_ms = f64::from(load.connections) * 1000.0 / f64::from(rate.max(1));
        let pause_ms = (period_ms - 1.0).max(0.0).round();
        lua.push_str(&format!("delay = function() return {pause_ms} end\n"));
    }
    lua.push_str(DONE);
    lua
}

fn path(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::Costed => "/stripe/v1/payment_intents",
        Scenario::Free => "/stripe/v1/customers/cus_bench",
        Scenario::Denied => "/stripe/v1/balance",
    }
}

/// Runs `load` against the gateway listening on `port` whose process is `gateway_pid`.
pub fn run(wrk: &Path, port: u16, load: &Load<'_>, gateway_pid: u32) -> anyhow::Result<Measured> {
    let script_path =
        std::env::temp_dir().join(format!("keybrake-bench-{}-{port}.lua", std::process::id()));
    std::fs::write(&script_path, script(load))?;
    let mut cmd = if crate::proc::pinned() {
        // The load generator shares the second core with the upstream and the control plane.
        let mut c = Command::new("taskset");
        c.arg("-c").arg("1").arg(wrk);
        c
    } else {
        Command::new(wrk)
    };
    cmd.args(["-t", "1", "-c"])
        .arg(load.connections.to_string())
        .arg("-d")
        .arg(format!("{}s", load.seconds))
        .arg("-s")
        .arg(&script_path)
        .arg(format!("http://127.0.0.1:{port}{}", path(load.scenario)));
    let ticks_before = cpu_ticks(gateway_pid);
    let main_before = main_thread_ticks(gateway_pid);
    let started = std::time::Instant::now();
    let out = cmd.output().context("running wrk")?;
    let wall = started.elapsed().as_secs_f64();
    let ticks = cpu_ticks(gateway_pid).saturating_sub(ticks_before);
    let main_ticks = main_thread_ticks(gateway_pid).saturating_sub(main_before);
    let _ = std::fs::remove_file(&script_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no summary in wrk's output: {stdout}"))?;
    let v: Value = serde_json::from_str(line)?;
    let num = |k: &str| v[k].as_u64().unwrap_or(0);
    let requests = num("requests");
    let duration_s = num("duration_us") as f64 / 1e6;
    let cpu_secs = ticks as f64 / ticks_per_second() as f64;
    Ok(Measured {
        requests,
        rps: requests as f64 / duration_s.max(1e-9),
        p50_us: num("p50") as f64,
        p99_us: num("p99") as f64,
        max_us: num("max") as f64,
        status_errors: num("status_errors"),
        socket_errors: num("socket_errors"),
        gateway_cpu_us: if requests > 0 {
            cpu_secs * 1e6 / requests as f64
        } else {
            0.0
        },
        gateway_cpu: cpu_secs / wall.max(1e-9),
        main_thread_cpu_us: if requests > 0 {
            main_ticks as f64 / ticks_per_second() as f64 * 1e6 / requests as f64
        } else {
            0.0
        },
    })
}
