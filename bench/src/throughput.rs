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
/// rate (latency runs); `None` runs flat out (throughput runs). The answer holds, for each
/// gateway after the first (in their order), its pairs against the first.
pub fn compare(
    wrk: &Path,
    settings: &Settings,
    gateways: &[&Gateway],
    vault_key: &str,
    scenarios: &[Scenario],
    rate: Option<u32>,
) -> anyhow::Result<Vec<Vec<Pair>>> {
    let runs = interleaved(wrk, settings, gateways, vault_key, scenarios, rate)?;
    let mut out: Vec<Vec<Pair>> = vec![Vec::new(); gateways.len().saturating_sub(1)];
    for (scenario, per_gateway) in runs {
        let mut per_gateway = per_gateway.into_iter();
        let a = per_gateway.next().unwrap_or_default();
        for (b, pairs) in per_gateway.zip(out.iter_mut()) {
            pairs.push(Pair {
                scenario,
                a: a.clone(),
                b,
            });
        }
    }
    Ok(out)
}

/// The runs of every scenario on each of `gateways` (in their order), `repeats` rounds of one
/// run per gateway, in an order that changes every round: none always runs first, and (with
/// more than two) none always runs right after the same other one. That matters: on this shared
/// machine a run right after plain Envoy's (which keeps its core fully busy) measured up to
/// 30 us per request more than the same build elsewhere in the round.
pub fn interleaved(
    wrk: &Path,
    settings: &Settings,
    gateways: &[&Gateway],
    vault_key: &str,
    scenarios: &[Scenario],
    rate: Option<u32>,
) -> anyhow::Result<Vec<(Scenario, Vec<Vec<Measured>>)>> {
    let connections = if rate.is_some() {
        settings.latency_connections
    } else {
        settings.connections
    };
    let mut out = Vec::new();
    for &scenario in scenarios {
        let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); gateways.len()];
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
            for i in order(round, gateways.len()) {
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
                runs[i].push(m);
            }
        }
        out.push((scenario, runs));
    }
    Ok(out)
}

/// The order of round `round` over `n` gateways: alternating for two; otherwise a permutation
/// drawn from a small deterministic generator, so that reruns take the same orders.
fn order(round: usize, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    if n == 2 {
        if round % 2 == 1 {
            v.reverse();
        }
        return v;
    }
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ (round as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}
