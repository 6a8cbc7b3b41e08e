//! The figures, as a table for the terminal and `bench/RESULTS.md`, and the last line.

use crate::audit::AuditFigure;
use crate::load::Measured;
use crate::revoke::{percentile, Revocations};
use crate::scale::Scale;
use crate::stack::Paths;
use crate::throughput::Pair;
use crate::Settings;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edit outside these markers) -->";
const END: &str = "<!-- bench:end -->";

/// Where and on what the bench ran.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub date: String,
    pub load: String,
    pub envoy: String,
    pub wrk: String,
    pub commit: String,
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    pub fn read(paths: &Paths) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let envoy = output(Command::new(&paths.envoy).arg("--version"));
        let envoy = envoy
            .split("version: ")
            .nth(1)
            .and_then(|v| v.split('/').nth(1))
            .unwrap_or("?")
            .to_owned();
        let dirty = !output(Command::new("git").arg("-C").arg(&paths.root).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]))
        .is_empty();
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            envoy,
            wrk: output(Command::new(&paths.wrk).arg("--version"))
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .map_or_else(|| "wrk".to_owned(), |v| format!("wrk {v}")),
            commit: format!(
                "{}{}",
                output(Command::new("git").arg("-C").arg(&paths.root).args([
                    "rev-parse",
                    "--short",
                    "HEAD"
                ])),
                if dirty {
                    " (with uncommitted changes)"
                } else {
                    ""
                }
            ),
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cores ({}), {}, load average {}, Envoy {}, {}, commit {}",
            self.cores, self.cpu, self.date, self.load, self.envoy, self.wrk, self.commit
        )
    }
}

/// The machine's CPU time so far, from the first line of `/proc/stat` (clock ticks).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTimes {
    total: u64,
    steal: u64,
}

impl CpuTimes {
    pub fn read() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        Self {
            total: fields.iter().take(8).sum(),
            steal: fields.get(7).copied().unwrap_or(0),
        }
    }

    /// Share of the CPU time since `before` that the hypervisor gave to other guests.
    pub fn stolen_share_since(&self, before: &Self) -> f64 {
        let total = self.total.saturating_sub(before.total);
        self.steal.saturating_sub(before.steal) as f64 / total.max(1) as f64
    }
}

pub struct Figures {
    /// Share of CPU time stolen by the hypervisor during the run: a noisy neighbour.
    pub stolen: f64,
    pub machine: Machine,
    pub settings: Settings,
    pub throughput: Vec<Pair>,
    /// Plain Envoy against the costed skeleton (`bench/skeleton`) in the throughput rounds;
    /// empty when the bench ran without it.
    pub skeleton: Vec<Pair>,
    pub latency: Vec<Pair>,
    pub revocations: Revocations,
    pub scale: Scale,
    pub audit: AuditFigure,
}

/// Issue 12's targets for the Envoy CPU keybrake adds per call, in µs: costed, free, refused.
fn cpu_target(scenario: crate::load::Scenario) -> Option<f64> {
    use crate::load::Scenario;
    match scenario {
        Scenario::Costed => Some(60.0),
        Scenario::Free => Some(35.0),
        Scenario::Denied => Some(15.0),
    }
}

fn med(runs: &[Measured], f: impl Fn(&Measured) -> f64) -> f64 {
    Pair::median(runs, f)
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

impl Figures {
    fn pair<'a>(&self, list: &'a [Pair], scenario: crate::load::Scenario) -> Option<&'a Pair> {
        list.iter().find(|p| p.scenario == scenario)
    }

    fn costed_p99_added(&self) -> f64 {
        self.pair(&self.latency, crate::load::Scenario::Costed)
            .map_or(0.0, |p| p.added(|m| m.p99_us))
    }

    fn revoke_p99(&self) -> f64 {
        percentile(&self.revocations.refused_after_answer_ms, 0.99)
    }

    /// The summary line (DESIGN.md's stable interface: this shape exactly). `cpu` is the Envoy
    /// CPU time per request added over plain Envoy in the same run, per scenario.
    pub fn last_line(&self) -> String {
        use crate::load::Scenario;
        let ratio = |s| self.pair(&self.throughput, s).map_or(0.0, Pair::ratio);
        let cpu = |s| {
            self.pair(&self.throughput, s)
                .map_or(0.0, |p| p.added(|m| m.gateway_cpu_us))
        };
        format!(
            "keybrake bench: throughput ratio {:.2} (costed), {:.2} (free), p99 {:+.0} us, revoke p99 {:.0} ms, cpu {:+.0}/{:+.0}/{:+.0} us (costed/free/refused), 100k churn p99 x {:.2}, 100k revoke p99 {:.0} ms",
            ratio(Scenario::Costed),
            ratio(Scenario::Free),
            self.costed_p99_added(),
            self.revoke_p99().ceil(),
            cpu(Scenario::Costed),
            cpu(Scenario::Free),
            cpu(Scenario::Denied),
            self.scale.churn_p99_ratio(),
            self.scale.revoke_p99_ms().ceil(),
        )
    }

    /// The whole table, as Markdown (it reads as well in a terminal).
    pub fn table(&self) -> String {
        let s = &self.settings;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| figure | plain Envoy | keybrake | keybrake vs plain | target |"
        );
        let _ = writeln!(t, "| --- | --- | --- | --- | --- |");
        for p in &self.throughput {
            let ratio = p.ratio();
            let target = if p.scenario == crate::load::Scenario::Costed {
                format!("≥ 0.90: {}", mark(ratio >= 0.90))
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "| throughput, {} (req/s, {} connections) | {:.0} | {:.0} | ratio **{ratio:.2}** | {target} |",
                p.scenario.name(),
                s.connections,
                med(&p.a, |m| m.rps),
                med(&p.b, |m| m.rps),
            );
        }
        for p in &self.throughput {
            let added = p.added(|m| m.gateway_cpu_us);
            let target = cpu_target(p.scenario)
                .map(|t| format!("≤ +{t:.0} us: {}", mark(added <= t)))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "| Envoy CPU per request, {} (us, all threads) | {:.1} | {:.1} | {added:+.1} us | {target} |",
                p.scenario.name(),
                med(&p.a, |m| m.gateway_cpu_us),
                med(&p.b, |m| m.gateway_cpu_us),
            );
        }
        for s in &self.skeleton {
            let keybrake = self
                .throughput
                .iter()
                .find(|p| p.scenario == s.scenario)
                .map_or(0.0, |p| med(&p.b, |m| m.gateway_cpu_us));
            let skeleton = med(&s.b, |m| m.gateway_cpu_us);
            let _ = writeln!(
                t,
                "| Envoy CPU per request, {}, the costed skeleton (`bench/skeleton`) in keybrake's place (us) | {:.1} | {skeleton:.1} | {:+.1} us; keybrake {:+.1} us above it | |",
                s.scenario.name(),
                med(&s.a, |m| m.gateway_cpu_us),
                s.added(|m| m.gateway_cpu_us),
                keybrake - skeleton,
            );
        }
        for p in &self.latency {
            for (name, f) in [
                ("p50", (|m: &Measured| m.p50_us) as fn(&Measured) -> f64),
                ("p99", |m: &Measured| m.p99_us),
            ] {
                let added = p.added(f);
                let target = if name == "p99" && p.scenario == crate::load::Scenario::Costed {
                    format!("≤ +100 us: {}", mark(added <= 100.0))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    t,
                    "| latency {name}, {} at ~{:.0} req/s (us) | {:.0} | {:.0} | {added:+.0} us | {target} |",
                    p.scenario.name(),
                    med(&p.b, |m| m.rps),
                    med(&p.a, f),
                    med(&p.b, f),
                );
            }
        }
        let r = &self.revocations;
        let revoke_p99 = self.revoke_p99();
        let _ = writeln!(
            t,
            "| revocation: `DELETE` answered → first refused call, p50 / p99 ({} revocations) | | {:.1} / {:.1} ms | | ≤ 100 ms: {} |",
            r.refused_after_answer_ms.len(),
            percentile(&r.refused_after_answer_ms, 0.5),
            revoke_p99,
            mark(revoke_p99 <= 100.0),
        );
        let _ = writeln!(
            t,
            "| revocation: `DELETE` round trip (waits for the gateway to hold it), p50 / p99 | | {:.1} / {:.1} ms | calls passed after the answer: {} | |",
            percentile(&r.delete_ms, 0.5),
            percentile(&r.delete_ms, 0.99),
            r.passed_after_answer,
        );
        let _ = writeln!(
            t,
            "| new key: `POST /vault/keys` round trip, p50 / p99 | | {:.1} / {:.1} ms | first call allowed {:.1} ms after (p50) | |",
            percentile(&r.issue_ms, 0.5),
            percentile(&r.issue_ms, 0.99),
            percentile(&r.allowed_after_issue_ms, 0.5),
        );
        t.push_str(&self.scale_rows());
        t.push_str(&self.control_plane_rows());
        t
    }

    fn scale_rows(&self) -> String {
        let sc = &self.scale;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| **{} keys** | 10 keys | {} keys | | |",
            sc.keys, sc.keys
        );
        let _ = writeln!(
            t,
            "| snapshot: size, built and sent by the control plane | | {:.1} MB, {:.0} ms | | |",
            sc.snapshot_bytes as f64 / 1e6,
            sc.snapshot_build_ms
        );
        let _ = writeln!(
            t,
            "| gateway start: Envoy ready / first call allowed | | {:.0} / {:.0} ms | | |",
            sc.startup_ms, sc.first_allowed_ms
        );
        let c = &sc.changes;
        let _ = writeln!(
            t,
            "| new key with {} keys: `POST /vault/keys` sent → first call allowed, p50 / p99 ({} rounds) | | {:.0} / {:.0} ms | | ≤ 100 ms p99: {} |",
            sc.keys,
            c.issue_ms.len(),
            percentile(&sum(&c.issue_ms, &c.allowed_after_issue_ms), 0.5),
            sc.allow_p99_ms(),
            mark(sc.allow_p99_ms() <= 100.0),
        );
        let _ = writeln!(
            t,
            "| revocation with {} keys: `DELETE` sent → first call refused, p50 / p99 | | {:.0} / {:.0} ms | | ≤ 100 ms p99: {} |",
            sc.keys,
            percentile(&sum(&c.delete_ms, &c.refused_after_answer_ms), 0.5),
            sc.revoke_p99_ms(),
            mark(sc.revoke_p99_ms() <= 100.0),
        );
        let _ = writeln!(
            t,
            "| Envoy resident memory (VmRSS) | {} | {} | +{} | ≤ +100 MiB: {} |",
            mib(sc.rss_10_kib),
            mib(sc.rss_big_kib),
            mib(sc.rss_big_kib.saturating_sub(sc.rss_10_kib)),
            mark(sc.rss_growth_mib() <= 100.0),
        );
        for p in &sc.latency {
            for (name, f) in [
                ("p50", (|m: &Measured| m.p50_us) as fn(&Measured) -> f64),
                ("p99", |m: &Measured| m.p99_us),
            ] {
                let (a, b) = (med(&p.a, f), med(&p.b, f));
                let change = (b - a) / a.max(1e-9) * 100.0;
                let target = if name == "p50" {
                    format!("within 5%: {}", mark(change <= 5.0))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    t,
                    "| latency {name}, {} at ~{:.0} req/s (us) | {a:.0} | {b:.0} | {change:+.1}% | {target} |",
                    p.scenario.name(),
                    med(&p.b, |m| m.rps),
                );
            }
        }
        let _ = writeln!(
            t,
            "| free GET at {} req/s with {} keys: p99 / max, quiet → during {} key changes at {}/s (us) | | {:.0} / {:.0} → {:.0} / {:.0} | p99 x {:.2} | ≤ x 1.2: {} |",
            self.settings.rate,
            sc.keys,
            sc.churn_changes,
            crate::scale::CHURN_CHANGES_PER_SECOND,
            sc.quiet.p99_us,
            sc.quiet.max_us,
            sc.churn.p99_us,
            sc.churn.max_us,
            sc.churn_p99_ratio(),
            mark(sc.churn_p99_ratio() <= 1.2),
        );
        t
    }

    fn control_plane_rows(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| **control plane** | | | | |");
        let _ = writeln!(
            t,
            "| keys issued per second (`POST /vault/keys`, {} clients, no gateway connected) | | {:.0} | | |",
            self.settings.issue_connections, self.scale.issued_per_second
        );
        let audit = match &self.audit {
            AuditFigure::Stored { records_per_second, batch, senders } => format!(
                "| audit records stored per second (`POST /dataplane/v1/audit`, batches of {batch}, {senders} instances) | | {records_per_second:.0} | | |"
            ),
            AuditFigure::Unavailable(status) => format!(
                "| audit records stored per second | | not measured: `POST /dataplane/v1/audit` answered {status} | | |"
            ),
        };
        let _ = writeln!(t, "{audit}");
        t
    }

    pub fn markdown(&self) -> String {
        let s = &self.settings;
        let mut m = String::new();
        let _ = writeln!(m, "Run: {}.\n", self.machine.date);
        let _ = writeln!(
            m,
            "Machine: {} cores, {}; load average before the run {}; CPU time stolen by the hypervisor during the run {:.1} %; Envoy {}; {}; commit {}.\n",
            self.machine.cores,
            self.machine.cpu,
            self.machine.load,
            self.stolen * 100.0,
            self.machine.envoy,
            self.machine.wrk,
            self.machine.commit
        );
        let _ = writeln!(
            m,
            "Method: Envoy with one worker (`--concurrency 1`) pinned to core 0; the upstream, the control plane and wrk share core 1. \
Medians of {} interleaved runs of {} s per gateway. Throughput runs flat out with {} connections; latency runs at a fixed {} req/s \
({} connections, each paced by wrk's `delay()` hook; closed loop, so without coordinated-omission correction; the rate reached is in the row). \"Envoy CPU per request\" is the Envoy process's user + system time (every thread, \
the sync service's included) over the requests answered.\n",
            s.repeats, s.seconds, s.connections, s.rate, s.latency_connections
        );
        m.push_str(&self.table());
        let _ = writeln!(m, "\n`{}`", self.last_line());
        m
    }
}

pub fn results_path(paths: &Paths) -> Option<PathBuf> {
    match std::env::var("KEYBRAKE_BENCH_RESULTS") {
        Ok(p) if p.is_empty() => None,
        Ok(p) => Some(PathBuf::from(p)),
        Err(_) => Some(paths.root.join("bench/RESULTS.md")),
    }
}

/// Replaces the generated part of the results file, keeping what is written around it.
pub fn write_results(path: &Path, generated: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{generated}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("# keybrake benchmark results\n\n{block}\n\n{old}"),
    };
    std::fs::write(path, new)?;
    Ok(())
}

/// The audit figure on one line (`KEYBRAKE_BENCH_ONLY=audit`).
pub fn audit_summary(audit: &AuditFigure) -> String {
    match audit {
        AuditFigure::Stored {
            records_per_second,
            batch,
            senders,
        } => format!(
            "keybrake bench (audit): {records_per_second:.0} records stored/s (batches of {batch}, {senders} instances)"
        ),
        AuditFigure::Unavailable(status) => {
            format!("keybrake bench (audit): not measured: the control plane answered {status}")
        }
    }
}

/// The 100,000-key figures on one line (`KEYBRAKE_BENCH_ONLY=scale`).
pub fn scale_summary(sc: &crate::scale::Scale) -> String {
    format!(
        "keybrake bench (scale): {} keys, full snapshot {:.1} MB, first call allowed {:.0} ms after start, churn p99 x {:.2} ({:.0} -> {:.0} us, {} changes), revoke p99 {:.0} ms, new key allowed p99 {:.0} ms, RSS +{:.0} MiB",
        sc.keys,
        sc.snapshot_bytes as f64 / 1e6,
        sc.first_allowed_ms,
        sc.churn_p99_ratio(),
        sc.quiet.p99_us,
        sc.churn.p99_us,
        sc.churn_changes,
        sc.revoke_p99_ms(),
        sc.allow_p99_ms(),
        sc.rss_growth_mib(),
    )
}

/// Element-wise sums of two series of the same rounds (a round trip and the wait after it).
pub fn sum(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// `KEYBRAKE_BENCH_AB`'s answer: per scenario, plain Envoy's CPU per request, what build A
/// (the first keybrake gateway) adds to it, and for each other build B what it adds and B minus
/// A round by round (the runs of one round are seconds apart, so their difference is the
/// steadiest figure on a shared machine). Main-thread CPU per request in parentheses.
pub fn ab_table(runs: &[(crate::load::Scenario, Vec<Vec<Measured>>)], names: &[String]) -> String {
    let cpu = |m: &Measured| m.gateway_cpu_us;
    let main = |m: &Measured| m.main_thread_cpu_us;
    let mut out = String::from(
        "| scenario | build | Envoy CPU per request (us) | added over plain (main thread) | minus A: medians / paired median | minus A per round |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for (scenario, per_gateway) in runs {
        let (Some(plain), Some(a)) = (per_gateway.first(), per_gateway.get(1)) else {
            continue;
        };
        for (i, b) in per_gateway.iter().enumerate() {
            let rounds: Vec<f64> = a.iter().zip(b).map(|(a, b)| cpu(b) - cpu(a)).collect();
            let listed: Vec<String> = rounds.iter().map(|d| format!("{d:+.1}")).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:+.1} ({:.1}) | {:+.1} / {:+.1} | {} |",
                scenario.name(),
                names.get(i).map_or("?", String::as_str),
                med(b, cpu),
                med(b, cpu) - med(plain, cpu),
                med(b, main),
                med(b, cpu) - med(a, cpu),
                crate::throughput::median(rounds.clone()),
                listed.join(", "),
            );
        }
    }
    out
}
