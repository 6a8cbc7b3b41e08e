//! Starting what the bench measures: the upstream, control planes and Envoys (plain and with
//! keybrake), each on free ports, each waited for with a deadline.

use crate::api::ControlPlane;
use crate::proc::{free_port, render, Cpu, Proc};
use anyhow::Context;
use keybrake_e2e::wait::poll_until;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(60);

/// Where the binaries and configs are (set by `make bench`).
#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub envoy: PathBuf,
    pub wasm: PathBuf,
    pub bin_dir: PathBuf,
    pub wrk: PathBuf,
    pub dir: PathBuf,
    /// The keybrake filter's configuration (JSON): [`DEFAULT_FILTER_CONFIG`], or
    /// `KEYBRAKE_BENCH_AB_CONFIG` for the builds `KEYBRAKE_BENCH_AB` names.
    pub filter_config: String,
}

/// The filter configuration of the shipped Envoy configs (`envoy/envoy.yaml`).
pub const DEFAULT_FILTER_CONFIG: &str = r#"{"max_snapshot_age_ms":60000}"#;

impl Paths {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| -> anyhow::Result<PathBuf> {
            Ok(PathBuf::from(std::env::var(name).with_context(|| {
                format!("{name} is not set; run the bench with `make bench`")
            })?))
        };
        let root = var("KEYBRAKE_BENCH_ROOT")?;
        let dir = std::env::temp_dir().join(format!("keybrake-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            envoy: var("KEYBRAKE_BENCH_ENVOY")?,
            wasm: var("KEYBRAKE_BENCH_WASM")?,
            bin_dir: var("KEYBRAKE_BENCH_BIN_DIR")?,
            wrk: var("KEYBRAKE_BENCH_WRK")?,
            root,
            dir,
            filter_config: DEFAULT_FILTER_CONFIG.to_owned(),
        })
    }
}

pub struct Upstream {
    pub port: u16,
    /// Runs as long as this is kept.
    #[allow(dead_code)]
    pub proc: Proc,
}

pub fn start_upstream(paths: &Paths) -> anyhow::Result<Upstream> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let proc = Proc::spawn(
        "upstream",
        Cpu::Others,
        &paths.bin_dir.join("keybrake-bench-upstream"),
        &[&addr],
        &[],
        &paths.dir,
    )?;
    Ok(Upstream { port, proc })
}

pub struct ControlPlaneProc {
    pub api: ControlPlane,
    pub port: u16,
    pub token: String,
    /// Runs as long as this is kept.
    #[allow(dead_code)]
    pub proc: Proc,
}

pub async fn start_control_plane(paths: &Paths, name: &str) -> anyhow::Result<ControlPlaneProc> {
    let port = free_port()?;
    let admin = format!("kba_bench_admin_{}", std::process::id());
    let token = format!("kbd_bench_dataplane_{}", std::process::id());
    let data = paths.dir.join(format!("{name}-data"));
    let listen = format!("127.0.0.1:{port}");
    let data_s = data.display().to_string();
    let proc = Proc::spawn(
        name,
        Cpu::Others,
        &paths.bin_dir.join("keybrake"),
        &["serve"],
        &[
            ("KEYBRAKE_LISTEN", &listen),
            ("KEYBRAKE_DATA_DIR", &data_s),
            ("KEYBRAKE_ADMIN_KEY", &admin),
            ("KEYBRAKE_DATAPLANE_TOKEN", &token),
            ("RUST_LOG", "warn"),
        ],
        &paths.dir,
    )?;
    let api = ControlPlane::new(port, &admin)?;
    let check = api.clone();
    poll_until(STARTUP, "the control plane", || {
        let check = check.clone();
        async move { check.healthy().await.then_some(()) }
    })
    .await?;
    api.register_stripe().await?;
    Ok(ControlPlaneProc {
        api,
        port,
        token,
        proc,
    })
}

/// Which Envoy configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Plain,
    Keybrake,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Plain => "plain",
            Flavor::Keybrake => "keybrake",
        }
    }
}

pub struct Gateway {
    pub name: String,
    pub flavor: Flavor,
    pub port: u16,
    pub proc: Proc,
    /// From spawning Envoy to its admin `/ready`.
    pub startup: Duration,
}

/// Renders `bench/envoy/<flavor>.yaml.tmpl`, validates it, starts Envoy with one worker and
/// waits for `/ready`.
pub async fn start_gateway(
    paths: &Paths,
    name: &str,
    flavor: Flavor,
    upstream_port: u16,
    cp: Option<&ControlPlaneProc>,
) -> anyhow::Result<Gateway> {
    let (port, admin_port) = (free_port()?, free_port()?);
    let template_path = paths
        .root
        .join(format!("bench/envoy/{}.yaml.tmpl", flavor.name()));
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let mut values = vec![
        ("LISTEN_PORT", port.to_string()),
        ("ADMIN_PORT", admin_port.to_string()),
        ("UPSTREAM_PORT", upstream_port.to_string()),
        (
            "ACCESS_LOG_PATH",
            paths
                .dir
                .join(format!("{name}-access.log"))
                .display()
                .to_string(),
        ),
    ];
    if flavor == Flavor::Keybrake {
        let cp = cp.context("a keybrake gateway needs a control plane")?;
        values.push(("CONTROL_PLANE_PORT", cp.port.to_string()));
        values.push(("WASM_PATH", paths.wasm.display().to_string()));
        values.push(("GATEWAY_ID", name.to_owned()));
        values.push(("FILTER_CONFIG", paths.filter_config.clone()));
    }
    let config = paths.dir.join(format!("{name}.yaml"));
    std::fs::write(&config, render(&template, &values)?)?;
    let config_s = config.display().to_string();
    let token = cp.map(|c| c.token.clone()).unwrap_or_default();
    let started = Instant::now();
    let mut proc = Proc::spawn(
        name,
        Cpu::Gateway,
        &paths.envoy,
        &[
            "-c",
            &config_s,
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "--log-level",
            "warn",
        ],
        &[("KEYBRAKE_DATAPLANE_TOKEN", &token)],
        &paths.dir,
    )?;
    let http = crate::api::client()?;
    let ready = format!("http://127.0.0.1:{admin_port}/ready");
    let mut died = false;
    let result = poll_until(STARTUP, &format!("Envoy {name}"), || {
        let alive = proc.is_running();
        died |= !alive;
        let (http, ready) = (http.clone(), ready.clone());
        async move {
            if !alive {
                return Some(false);
            }
            let r = http.get(ready).send().await.ok()?;
            r.status().is_success().then_some(true)
        }
    })
    .await;
    if died || result.is_err() {
        anyhow::bail!("Envoy {name} did not start; its log:\n{}", proc.log_tail());
    }
    Ok(Gateway {
        name: name.to_owned(),
        flavor,
        port,
        startup: started.elapsed(),
        proc,
    })
}
