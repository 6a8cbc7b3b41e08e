//! `make bench`: keybrake inside Envoy against plain Envoy on the same listener, routes and
//! upstream, one worker each; revocation latency; 100,000 keys; the control plane's rates.
//! Prints a table, rewrites the generated part of `bench/RESULTS.md`, and ends with one line:
//! `keybrake bench: throughput ratio X.XX (costed), Y.YY (free), p99 +N us, revoke p99 N ms, cpu
//! +N/+N/+N us (costed/free/refused), 100k churn p99 x N.NN, 100k revoke p99 N ms` (Envoy CPU
//! added per call over plain Envoy; p99 of free calls at 500 req/s with 100,000 keys while keys
//! change, over the quiet p99; `DELETE` sent → first call refused with 100,000 keys).
//!
//! Settings (environment, all optional): `KEYBRAKE_BENCH_SECONDS` per run (2),
//! `KEYBRAKE_BENCH_REPEATS` (5), `KEYBRAKE_BENCH_CONNECTIONS` (16), `KEYBRAKE_BENCH_RATE` for the
//! latency runs (500 req/s), `KEYBRAKE_BENCH_REVOCATIONS` (100), `KEYBRAKE_BENCH_KEYS` (100000),
//! `KEYBRAKE_BENCH_RESULTS` (where to write, `bench/RESULTS.md`; empty: do not write),
//! `KEYBRAKE_BENCH_QUICK=1` (throughput only, nothing written: for trying a change),
//! `KEYBRAKE_BENCH_ONLY=scale` (the 100,000-key part only, nothing written),
//! `KEYBRAKE_BENCH_ONLY=audit` (the control plane's audit records stored per second only, no
//! gateway started, nothing written; with `KEYBRAKE_DATABASE_URL` set, the control plane stores
//! them in that PostgreSQL database instead of SQLite),
//! `KEYBRAKE_BENCH_SCALE_CHANGES` (issue-and-revoke rounds timed at 100k keys, 30),
//! `KEYBRAKE_BENCH_AB=<.wasm>[,<.wasm>…]` (throughput only, nothing written: plain Envoy,
//! keybrake with `KEYBRAKE_BENCH_WASM` and keybrake with each of these files, interleaved in the
//! same rounds, for comparing builds of the filter in the same time window on a noisy machine),
//! `KEYBRAKE_BENCH_AB_CONFIG` (the filter configuration, JSON, of the builds `KEYBRAKE_BENCH_AB`
//! names, one for all or one per build separated by `|`; A keeps the shipped one: for
//! comparing a setting, such as `{"access_log_fields":"record"}`, with the same `.wasm` named
//! in both),
//! `KEYBRAKE_BENCH_SKELETON=<.wasm>` (`make bench` sets it: the reference filter of
//! `bench/skeleton`, issue 12's "costed skeleton", run in the throughput rounds beside plain
//! Envoy and keybrake, so the table gives its CPU per call from the same time window),
//! `KEYBRAKE_BENCH_HOLD=1` (start the stack, print its ports, pids and the vault key, and keep it
//! up until Ctrl-C: for `perf` or a hand-run `wrk` against one gateway).

mod api;
mod audit;
mod load;
mod proc;
mod report;
mod revoke;
mod scale;
mod stack;
mod throughput;

use anyhow::Context;
use load::Scenario;
use stack::{Flavor, Paths};

/// How long and how hard to run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub seconds: u64,
    pub warmup_seconds: u64,
    pub repeats: usize,
    pub connections: u32,
    pub rate: u32,
    pub latency_connections: u32,
    pub revocations: usize,
    pub keys: u64,
    pub issue_connections: u32,
    pub scale_changes: usize,
    pub audit_seconds: f64,
    pub audit_senders: usize,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Self {
        Self {
            seconds: env("KEYBRAKE_BENCH_SECONDS", 2),
            warmup_seconds: 1,
            repeats: env("KEYBRAKE_BENCH_REPEATS", 5),
            connections: env("KEYBRAKE_BENCH_CONNECTIONS", 16),
            rate: env("KEYBRAKE_BENCH_RATE", 500),
            // Few connections, each paced: many paced connections fall into step and arrive
            // in bursts, which measures queueing instead of the filter.
            latency_connections: 2,
            revocations: env("KEYBRAKE_BENCH_REVOCATIONS", 100),
            keys: env("KEYBRAKE_BENCH_KEYS", 100_000),
            issue_connections: 16,
            scale_changes: env("KEYBRAKE_BENCH_SCALE_CHANGES", 30),
            audit_seconds: 5.0,
            audit_senders: 4,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let cpu_before = report::CpuTimes::read();
    let settings = Settings::from_env();
    let paths = Paths::from_env()?;
    let machine = report::Machine::read(&paths);
    eprintln!("bench: {machine}");
    eprintln!("bench: logs and configs in {}", paths.dir.display());

    let upstream = stack::start_upstream(&paths)?;
    let cp = stack::start_control_plane(&paths, "cp").await?;
    if std::env::var("KEYBRAKE_BENCH_ONLY").as_deref() == Ok("audit") {
        let audit = audit::measure(&cp, settings.audit_senders, settings.audit_seconds).await?;
        println!("{}", report::audit_summary(&audit));
        drop((cp, upstream));
        let _ = std::fs::remove_dir_all(&paths.dir);
        return Ok(());
    }
    // Ten active keys; the bench calls with the first.
    let mut keys = Vec::new();
    for i in 0..10 {
        keys.push(cp.api.issue(&format!("bench/{i}")).await?);
    }
    let key = keys[0].vault_key.clone();
    let plain = stack::start_gateway(&paths, "plain", Flavor::Plain, upstream.port, None).await?;
    let kb = stack::start_gateway(
        &paths,
        "keybrake",
        Flavor::Keybrake,
        upstream.port,
        Some(&cp),
    )
    .await?;
    let http = api::client()?;
    api::first_allowed(&http, kb.port, &key, "keybrake").await?;

    if env("KEYBRAKE_BENCH_HOLD", 0) == 1 {
        for gw in [&plain, &kb] {
            println!(
                "bench hold: {} gateway http://127.0.0.1:{} (Envoy pid {})",
                gw.name,
                gw.port,
                gw.proc.pid()
            );
        }
        println!("bench hold: vault key {key}");
        println!("bench hold: logs and configs in {}", paths.dir.display());
        println!("bench hold: Ctrl-C stops it");
        tokio::signal::ctrl_c().await?;
        drop((plain, kb, cp, upstream));
        let _ = std::fs::remove_dir_all(&paths.dir);
        return Ok(());
    }
    if let Ok(others) = std::env::var("KEYBRAKE_BENCH_AB") {
        let mut builds = Vec::new();
        let configs = std::env::var("KEYBRAKE_BENCH_AB_CONFIG").unwrap_or_default();
        let configs: Vec<&str> = configs.split('|').filter(|c| !c.is_empty()).collect();
        for (i, wasm) in others.split(',').enumerate() {
            let filter_config = match configs.len() {
                0 => paths.filter_config.clone(),
                1 => configs[0].to_owned(),
                _ => configs
                    .get(i)
                    .context("KEYBRAKE_BENCH_AB_CONFIG: one configuration per build")?
                    .to_string(),
            };
            let paths_b = Paths {
                wasm: wasm.into(),
                filter_config,
                ..paths.clone()
            };
            let name = format!("keybrake-{}", char::from(b'b' + i as u8));
            let gw =
                stack::start_gateway(&paths_b, &name, Flavor::Keybrake, upstream.port, Some(&cp))
                    .await?;
            api::first_allowed(&http, gw.port, &key, &name).await?;
            builds.push(gw);
        }
        let mut gateways = vec![&plain, &kb];
        gateways.extend(builds.iter());
        let runs =
            throughput::interleaved(&paths.wrk, &settings, &gateways, &key, &Scenario::ALL, None)?;
        let mut names = vec!["plain".to_owned(), format!("A {}", paths.wasm.display())];
        names.extend(others.split(',').map(str::to_owned));
        println!("{}", report::ab_table(&runs, &names));
        drop((plain, kb, builds, cp, upstream));
        let _ = std::fs::remove_dir_all(&paths.dir);
        return Ok(());
    }
    if std::env::var("KEYBRAKE_BENCH_ONLY").as_deref() == Ok("scale") {
        let sc = scale::measure(&paths, &settings, upstream.port, &kb, &key).await?;
        println!("{}", report::scale_summary(&sc));
        return Ok(());
    }
    eprintln!(
        "bench: throughput, {} connections, {} x {}s per gateway, interleaved",
        settings.connections, settings.repeats, settings.seconds
    );
    // The issue's costed skeleton in the same rounds, when `make bench` built it: the CPU
    // targets are read against it in the same time window.
    let skeleton = match std::env::var_os("KEYBRAKE_BENCH_SKELETON") {
        Some(wasm) => {
            let paths_s = Paths {
                wasm: wasm.into(),
                ..paths.clone()
            };
            let gw = stack::start_gateway(
                &paths_s,
                "skeleton",
                Flavor::Keybrake,
                upstream.port,
                Some(&cp),
            )
            .await?;
            api::first_allowed(&http, gw.port, &key, "skeleton").await?;
            Some(gw)
        }
        None => None,
    };
    let mut gateways = vec![&plain, &kb];
    gateways.extend(skeleton.as_ref());
    let mut compared =
        throughput::compare(&paths.wrk, &settings, &gateways, &key, &Scenario::ALL, None)?
            .into_iter();
    let throughput = compared.next().unwrap_or_default();
    let skeleton_throughput = compared.next().unwrap_or_default();
    drop(skeleton);
    if env("KEYBRAKE_BENCH_QUICK", 0) == 1 {
        for (build, pairs) in [
            ("keybrake", &throughput),
            ("skeleton", &skeleton_throughput),
        ] {
            for p in pairs {
                println!(
                    "{:<12} {build:<9} ratio {:.2}  Envoy CPU {:.1} -> {:.1} us/req ({:+.1})",
                    p.scenario.name(),
                    p.ratio(),
                    throughput::Pair::median(&p.a, |m| m.gateway_cpu_us),
                    throughput::Pair::median(&p.b, |m| m.gateway_cpu_us),
                    p.added(|m| m.gateway_cpu_us)
                );
            }
        }
        return Ok(());
    }
    eprintln!(
        "bench: [{:>3}s] latency at {} req/s",
        started.elapsed().as_secs(),
        settings.rate
    );
    let latency = throughput::compare(
        &paths.wrk,
        &settings,
        &[&plain, &kb],
        &key,
        &[Scenario::Costed, Scenario::Free],
        Some(settings.rate),
    )?
    .into_iter()
    .next()
    .unwrap_or_default();
    eprintln!(
        "bench: [{:>3}s] {} revocations",
        started.elapsed().as_secs(),
        settings.revocations
    );
    let revocations =
        revoke::measure(&cp.api, kb.port, settings.revocations, "bench/revoke").await?;
    eprintln!("bench: [{:>3}s] audit records", started.elapsed().as_secs());
    let audit = audit::measure(&cp, settings.audit_senders, settings.audit_seconds).await?;
    eprintln!(
        "bench: [{:>3}s] {} keys",
        started.elapsed().as_secs(),
        settings.keys
    );
    let scale = scale::measure(&paths, &settings, upstream.port, &kb, &key).await?;

    let figures = report::Figures {
        stolen: report::CpuTimes::read().stolen_share_since(&cpu_before),
        machine,
        settings: settings.clone(),
        throughput,
        skeleton: skeleton_throughput,
        latency,
        revocations,
        scale,
        audit,
    };
    let table = figures.table();
    println!("{table}");
    if let Some(path) = report::results_path(&paths) {
        report::write_results(&path, &figures.markdown())?;
        eprintln!("bench: wrote {}", path.display());
    }
    eprintln!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
    println!("{}", figures.last_line());
    drop((plain, kb, cp, upstream));
    let _ = std::fs::remove_dir_all(&paths.dir);
    Ok(())
}
