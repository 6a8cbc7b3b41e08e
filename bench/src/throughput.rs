//! Throughput and added latency: plain Envoy and Envoy with keybrake, same upstream, runs
//! interleaved (plain, keybrake, plain, keybrake, …) so that drift hits both alike.

use crate::load::{self, Load, Measured, Scenario};
use crate::stack::{Flavor, Gateway};
use crate::Settings;
use std::path::Path;

/// The runs of one scenario on two gateways: `a` is the baseline (plain Envoy, or keybrake
/// with 10 keys), `b` the one measured against it.
#[derive(Clone, Debug)]
pub struct Pair {
    pub scenario: Scenario,
    pub a: Vec<Measured>,
    pub b: Vec<Measured>,
}

impl Pair {
    pub fn median(runs: &[Measured], f: impl Fn(&Measured) -> f64) -> f64 {
        median(runs.iter().map(f).collect())
    }

    /// `b`'s median requests per second over `a`'s.
    pub fn ratio(&self) -> f64 {
        Self::median(&self.b, |m| m.rps) / Self::median(&self.a, |m| m.rps).max(1e-9)
    }

    /// `b`'s median of `f` minus `a`'s.
    pub fn added(&self, f: impl Fn(&Measured) -> f64 + Copy) -> f64 {
        Self::median(&self.b, f) - Self::median(&self.a, f)
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs every scenario `repeats` times on each gateway, interleaved. `rate` fixes the request
/// rate (latency runs); `None` runs flat out (throughput runs).
pub fn compare(
    wrk: &Path,
    settings: &Settings,
    gateways: [&Gateway; 2],
    vault_key: &str,
    scenarios: &[Scenario],
    rate: Option<u32>,
) -> anyhow::Result<Vec<Pair>> {
    let connections = if rate.is_some() {
        settings.latency_connections
    } else {
        settings.connections
    };
    let mut pairs = Vec::new();
    for &scenario in scenarios {
        let mut pair = Pair {
            scenario,
            a: Vec::new(),
            b: Vec::new(),
        };
        // A short warm-up on each: connection pools, the filter's policy index, page cache.
        for gw in gateways {
            let warm = Load {
                scenario,
                vault_key,
                connections,
                seconds: settings.warmup_seconds,
                rate,
            };
            load::run(wrk, gw.port, &warm, gw.proc.pid())?;
        }
        for round in 0..settings.repeats {
            // Alternate which goes first, so neither always runs on a warmer machine.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let gw = gateways[i];
                let l = Load {
                    scenario,
                    vault_key,
                    connections,
                    seconds: settings.seconds,
                    rate,
                };
                let m = load::run(wrk, gw.port, &l, gw.proc.pid())?;
                let expected = scenario.expected_status(gw.flavor == Flavor::Keybrake);
                if !m.all(expected) {
                    anyhow::bail!(
                        "{} on {}: expected every call to get {expected}, got {m:?}",
                        scenario.name(),
                        gw.name,
                    );
                }
                eprintln!(
                    "bench:   {:<12} {:<10} {:>8.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us  gateway CPU {:>5.1} us/req ({:.0}% of a core)",
                    scenario.name(),
                    gw.name,
                    m.rps,
                    m.p50_us,
                    m.p99_us,
                    m.gateway_cpu_us,
                    m.gateway_cpu * 100.0,
                );
                if i == 0 {
                    pair.a.push(m);
                } else {
                    pair.b.push(m);
                }
            }
        }
        pairs.push(pair);
    }
    Ok(pairs)
}
