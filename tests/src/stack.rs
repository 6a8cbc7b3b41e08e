//! A whole keybrake stack on free ports: mock vendors, the control plane, and one or more Envoy
//! gateways running the real filter.

use crate::paths;
use crate::process::{free_port, Proc, TempDir};
use crate::wait::wait_until;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const STRIPE_KEY: &str = "sk_test_keybrake_e2e";
pub const TWILIO_ACCOUNT_SID: &str = "ACe2e00000000000000000000000000000";
pub const TWILIO_AUTH_TOKEN: &str = "e2etwilioauthtoken00000000000000";
pub const RESEND_KEY: &str = "re_keybrake_e2e";
const STARTUP: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct StackOptions {
    pub gateways: usize,
    /// Envoy worker threads per gateway.
    pub concurrency: u32,
    /// The filter's `max_snapshot_age_ms`.
    pub max_snapshot_age_ms: u64,
    /// The sync service's `poll_wait_ms`.
    pub poll_wait_ms: u64,
    /// More fields for the sync service's configuration, as JSON members: `"a":1,"b":2`.
    pub sync_extra: String,
    /// More fields for the filter's configuration, as JSON members: `"a":1,"b":2`.
    pub filter_extra: String,
    /// More environment for the control plane.
    pub cp_env: Vec<(String, String)>,
    /// Treat the test's own clients (loopback) as internal, the way a mesh operator marks pod
    /// networks internal (`use_remote_address` with `internal_address_config`): Envoy's router
    /// then honours the `x-envoy-*` request headers they send, unless the filter drops them.
    pub trust_loopback_clients: bool,
    /// Run the wasm the way Istio's `WasmPlugin` variant does (`deploy/istio/wasmplugin/`):
    /// the filter as istiod renders it (blank `vm_id`, no `allow_on_headers_stop_iteration`,
    /// `failure_policy: FAIL_CLOSED`) and the sync service with the same blank `vm_id`.
    pub istio_wasmplugin_shape: bool,
    /// Control-plane replicas: 1, or 2 (then on PostgreSQL, the second on `cp_port_b`).
    pub replicas: usize,
    /// Keep the state in a PostgreSQL started for this stack (always with 2 replicas).
    pub postgres: bool,
    /// Every gateway lists only this replica (0 or 1) as its control plane; `None`: all of them.
    pub gateways_use_replica: Option<usize>,
    /// One `gateway_id` for every gateway (identical configurations, as an autoscaled
    /// Deployment has); `None`: `gw-0`, `gw-1`, ….
    pub gateway_id: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            gateways: 1,
            concurrency: 2,
            max_snapshot_age_ms: 60_000,
            poll_wait_ms: 20_000,
            sync_extra: String::new(),
            filter_extra: String::new(),
            cp_env: Vec::new(),
            trust_loopback_clients: false,
            istio_wasmplugin_shape: false,
            replicas: 1,
            postgres: false,
            gateways_use_replica: None,
            gateway_id: None,
        }
    }
}

/// `extra` JSON members (`"a":1,"b":2`) to append to an object's members: `,"a":1,"b":2`.
fn more_members(extra: &str) -> String {
    if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    }
}

/// `config` with both wasm configurations as the WasmPlugin variant runs them.
fn istio_wasmplugin_shape(config: &str) -> String {
    let edits = [
        ("vm_id: keybrake\n", "vm_id: \"\"\n", 2),
        ("allow_on_headers_stop_iteration: true\n", "\n", 1),
        // As deploy/istio/wasmplugin/wasmplugin.yaml's pluginConfig says.
        (
            "'{\"max_snapshot_age_ms\":60000}'",
            "'{\"headers_pause_delivers_body\":false,\"max_snapshot_age_ms\":60000}'",
            1,
        ),
        (
            "failure_policy: FAIL_RELOAD\n",
            "failure_policy: FAIL_CLOSED\n",
            1,
        ),
    ];
    edits.iter().fold(config.to_owned(), |text, (from, to, n)| {
        assert_eq!(
            text.matches(from).count(),
            *n,
            "envoy/local.yaml.tmpl changed shape: expected {from:?} {n} time(s)"
        );
        text.replace(from, to)
    })
}

pub struct Gateway {
    pub id: String,
    pub port: u16,
    pub admin_port: u16,
    pub access_log: PathBuf,
    pub config: PathBuf,
    pub proc: Proc,
}

/// Field order is drop order: gateways stop first, the directory goes last.
pub struct Stack {
    pub gateways: Vec<Gateway>,
    pub control_plane: Proc,
    pub mocks: Proc,
    pub admin_key: String,
    pub dataplane_token: String,
    pub cp_port: u16,
    pub stripe_port: u16,
    pub twilio_port: u16,
    pub resend_port: u16,
    cp_env: Vec<(String, String)>,
    pub http: reqwest::Client,
    /// The second control-plane replica and its port (`StackOptions::replicas` = 2).
    pub control_plane_b: Option<Proc>,
    pub cp_port_b: Option<u16>,
    /// The endpoints gateways list (`StackOptions::gateways_use_replica`).
    gateway_cp_ports: (u16, u16),
    pub dir: TempDir,
    /// Last, so that it stops after the control planes.
    pub postgres: Option<crate::postgres::Postgres>,
}

#[derive(Clone, Debug)]
pub struct IssuedKey {
    pub vault_key: String,
    pub key_id: String,
    pub body: Value,
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(mut opts: StackOptions) -> Stack {
        paths::require(&[
            paths::Needed::Envoy,
            paths::Needed::Wasm,
            paths::Needed::Binaries,
        ]);
        assert!((1..=2).contains(&opts.replicas), "1 or 2 replicas");
        let postgres = (opts.postgres || opts.replicas > 1).then(|| {
            paths::require(&[paths::Needed::Postgres]);
            let pg = crate::postgres::Postgres::start();
            let url = pg.create_database();
            opts.cp_env.push(("KEYBRAKE_DATABASE_URL".into(), url));
            // Every replica seals and opens credentials with the same key.
            opts.cp_env
                .push(("KEYBRAKE_MASTER_KEY".into(), "4b".repeat(32)));
            pg
        });
        let dir = TempDir::new("keybrake-e2e");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();

        let (stripe_port, twilio_port, resend_port) = (free_port(), free_port(), free_port());
        let mut mock_cmd = Command::new(paths::bin("keybrake-mock-vendors"));
        mock_cmd
            .arg("--stripe-listen")
            .arg(format!("127.0.0.1:{stripe_port}"))
            .arg("--stripe-key")
            .arg(STRIPE_KEY)
            .arg("--twilio-listen")
            .arg(format!("127.0.0.1:{twilio_port}"))
            .arg("--twilio-account-sid")
            .arg(TWILIO_ACCOUNT_SID)
            .arg("--twilio-auth-token")
            .arg(TWILIO_AUTH_TOKEN)
            .arg("--resend-listen")
            .arg(format!("127.0.0.1:{resend_port}"))
            .arg("--resend-key")
            .arg(RESEND_KEY);
        let mocks = Proc::spawn("mock-vendors", mock_cmd, &dir.0);

        let cp_port = free_port();
        let admin_key = format!("kba_e2e_admin_{}", std::process::id());
        let dataplane_token = format!("kbd_e2e_dataplane_{}", std::process::id());
        let control_plane =
            Self::spawn_control_plane(&dir, cp_port, &admin_key, &dataplane_token, &opts.cp_env);
        let (control_plane_b, cp_port_b) = if opts.replicas > 1 {
            let port = free_port();
            let mut env = opts.cp_env.clone();
            env.push((
                "KEYBRAKE_DATA_DIR".into(),
                dir.0.join("data-b").display().to_string(),
            ));
            let proc = Self::spawn_control_plane(&dir, port, &admin_key, &dataplane_token, &env);
            (Some(proc), Some(port))
        } else {
            (None, None)
        };
        let ports = [cp_port, cp_port_b.unwrap_or(cp_port)];
        let gateway_cp_ports = match opts.gateways_use_replica {
            Some(r) => (ports[r], ports[r]),
            None => (ports[0], ports[1]),
        };

        let mut stack = Stack {
            gateways: Vec::new(),
            control_plane,
            mocks,
            admin_key,
            dataplane_token,
            cp_port,
            stripe_port,
            twilio_port,
            resend_port,
            cp_env: opts.cp_env.clone(),
            http,
            control_plane_b,
            cp_port_b,
            gateway_cp_ports,
            dir,
            postgres,
        };
        stack.wait_control_plane().await;
        if let Some(port) = stack.cp_port_b {
            stack.wait_healthy(port).await;
        }
        for port in [stripe_port, twilio_port, resend_port] {
            let url = format!("http://127.0.0.1:{port}/__mock/requests");
            let http = stack.http.clone();
            wait_until(STARTUP, "the mock vendors", || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    http.get(url)
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                }
            })
            .await;
        }
        let credentials = [
            ("stripe", json!({ "api_key": STRIPE_KEY })),
            (
                "twilio",
                json!({ "account_sid": TWILIO_ACCOUNT_SID, "auth_token": TWILIO_AUTH_TOKEN }),
            ),
            ("resend", json!({ "api_key": RESEND_KEY })),
        ];
        for (vendor, body) in credentials {
            let r = stack
                .admin_put(&format!("/vendors/{vendor}/credentials"), body)
                .await;
            assert_eq!(
                r.0, 200,
                "registering the mock's {vendor} credential: {}",
                r.1
            );
        }

        for i in 0..opts.gateways {
            let gw = stack.spawn_gateway(&format!("gw-{i}"), &opts);
            stack.gateways.push(gw);
        }
        for i in 0..stack.gateways.len() {
            stack.wait_gateway_ready(i).await;
        }
        stack
    }

    fn spawn_control_plane(
        dir: &TempDir,
        port: u16,
        admin_key: &str,
        token: &str,
        env: &[(String, String)],
    ) -> Proc {
        let mut cmd = Command::new(paths::bin("keybrake"));
        cmd.arg("serve")
            .env("KEYBRAKE_LISTEN", format!("127.0.0.1:{port}"))
            .env("KEYBRAKE_DATA_DIR", dir.0.join("data"))
            .env("KEYBRAKE_ADMIN_KEY", admin_key)
            .env("KEYBRAKE_DATAPLANE_TOKEN", token)
            .env("RUST_LOG", "info");
        // After the defaults, so that a replica can have a data directory of its own.
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let name = if env.iter().any(|(k, _)| k == "KEYBRAKE_DATA_DIR") {
            "control-plane-b"
        } else {
            "control-plane"
        };
        Proc::spawn(name, cmd, &dir.0)
    }

    /// Renders `envoy/local.yaml.tmpl` for this stack.
    pub fn render_local_config(
        &self,
        id: &str,
        port: u16,
        admin_port: u16,
        access_log: &std::path::Path,
        opts: &StackOptions,
    ) -> String {
        let template =
            std::fs::read_to_string(paths::workspace_root().join("envoy/local.yaml.tmpl")).unwrap();
        let rendered = template
            .replace("{{LISTEN_PORT}}", &port.to_string())
            .replace("{{ADMIN_PORT}}", &admin_port.to_string())
            .replace(
                "{{CONTROL_PLANE_PORT}}",
                &self.gateway_cp_ports.0.to_string(),
            )
            .replace(
                "{{CONTROL_PLANE_PORT_B}}",
                &self.gateway_cp_ports.1.to_string(),
            )
            .replace("{{STRIPE_PORT}}", &self.stripe_port.to_string())
            .replace("{{TWILIO_PORT}}", &self.twilio_port.to_string())
            .replace("{{RESEND_PORT}}", &self.resend_port.to_string())
            .replace("{{WASM_PATH}}", &paths::wasm().display().to_string())
            .replace("{{ACCESS_LOG_PATH}}", &access_log.display().to_string())
            .replace("{{GATEWAY_ID}}", opts.gateway_id.as_deref().unwrap_or(id));
        assert!(
            !rendered.contains("{{"),
            "unrendered placeholder left in envoy/local.yaml.tmpl"
        );
        let default_age = "\"max_snapshot_age_ms\":60000";
        assert!(
            rendered.contains(default_age),
            "the template's filter configuration changed shape"
        );
        let default_wait = "\"poll_wait_ms\":20000";
        assert!(
            rendered.contains(default_wait),
            "the template's sync configuration changed shape"
        );
        let hcm = "stat_prefix: keybrake_gateway\n";
        assert!(rendered.contains(hcm), "the template's HCM changed shape");
        let trust = if opts.trust_loopback_clients {
            "stat_prefix: keybrake_gateway\n                use_remote_address: true\n                \
             internal_address_config: { cidr_ranges: [{ address_prefix: 127.0.0.0, prefix_len: 8 }] }\n"
        } else {
            hcm
        };
        let rendered = if opts.istio_wasmplugin_shape {
            istio_wasmplugin_shape(&rendered)
        } else {
            rendered
        };
        rendered
            .replace(hcm, trust)
            .replace(
                default_age,
                &format!(
                    "\"max_snapshot_age_ms\":{}{}",
                    opts.max_snapshot_age_ms,
                    more_members(&opts.filter_extra)
                ),
            )
            .replace(
                default_wait,
                &format!(
                    "\"poll_wait_ms\":{}{}",
                    opts.poll_wait_ms,
                    more_members(&opts.sync_extra)
                ),
            )
    }

    fn spawn_gateway(&self, id: &str, opts: &StackOptions) -> Gateway {
        let (port, admin_port) = (free_port(), free_port());
        let access_log = self.dir.0.join(format!("{id}-access.log"));
        let config = self.dir.0.join(format!("{id}-envoy.yaml"));
        std::fs::write(
            &config,
            self.render_local_config(id, port, admin_port, &access_log, opts),
        )
        .unwrap();
        let mut cmd = Command::new(paths::envoy_bin());
        cmd.arg("-c")
            .arg(&config)
            .arg("--concurrency")
            .arg(opts.concurrency.to_string())
            .arg("--disable-hot-restart")
            .arg("--log-level")
            .arg("warn")
            .arg("--file-flush-interval-msec")
            .arg("100")
            .env("KEYBRAKE_DATAPLANE_TOKEN", &self.dataplane_token);
        let proc = Proc::spawn(&format!("envoy-{id}"), cmd, &self.dir.0);
        Gateway {
            id: id.into(),
            port,
            admin_port,
            access_log,
            config,
            proc,
        }
    }

    /// Restarts gateway `i` on the same ports and waits until it serves policy again.
    pub async fn restart_gateway(&mut self, i: usize, opts: &StackOptions) {
        self.gateways[i].proc.terminate();
        let gw = &self.gateways[i];
        let mut cmd = Command::new(paths::envoy_bin());
        cmd.arg("-c")
            .arg(&gw.config)
            .arg("--concurrency")
            .arg(opts.concurrency.to_string())
            .arg("--disable-hot-restart")
            .arg("--log-level")
            .arg("warn")
            .arg("--file-flush-interval-msec")
            .arg("100")
            .env("KEYBRAKE_DATAPLANE_TOKEN", &self.dataplane_token);
        let proc = Proc::spawn(&format!("envoy-{}-restarted", gw.id), cmd, &self.dir.0);
        self.gateways[i].proc = proc;
        self.wait_gateway_ready(i).await;
    }

    /// Starts the control plane again on the same port and data directory.
    pub async fn restart_control_plane(&mut self) {
        self.control_plane.kill();
        self.control_plane = Self::spawn_control_plane(
            &self.dir,
            self.cp_port,
            &self.admin_key,
            &self.dataplane_token,
            &self.cp_env,
        );
        self.wait_control_plane().await;
    }

    pub async fn wait_control_plane(&self) {
        self.wait_healthy(self.cp_port).await;
    }

    /// Waits until the control plane on `port` answers `/healthz`.
    pub async fn wait_healthy(&self, port: u16) {
        let url = format!("http://127.0.0.1:{port}/healthz");
        let http = self.http.clone();
        wait_until(STARTUP, "the control plane's /healthz", || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(url)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
            }
        })
        .await;
    }

    /// Waits for Envoy's admin `/ready` and for the first snapshot: a keyless call is refused
    /// as `unknown_key` rather than `policy_unavailable`.
    pub async fn wait_gateway_ready(&self, i: usize) {
        let ready = format!("http://127.0.0.1:{}/ready", self.gateways[i].admin_port);
        let probe = self.gw_url(i, "/stripe/v1/customers");
        let http = self.http.clone();
        let what = format!(
            "gateway {} to load its first snapshot (see {})",
            self.gateways[i].id,
            self.gateways[i].proc.log.display()
        );
        wait_until(STARTUP, &what, || {
            let (http, ready, probe) = (http.clone(), ready.clone(), probe.clone());
            async move {
                http.get(ready)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())?;
                let r = http.get(probe).send().await.ok()?;
                (deny_reason(&r).as_deref() == Some("unknown_key")).then_some(())
            }
        })
        .await;
    }

    pub fn cp_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.cp_port)
    }

    /// A URL on the second replica (`StackOptions::replicas` = 2).
    pub fn cp_b_url(&self, path: &str) -> String {
        let port = self.cp_port_b.expect("a stack with two replicas");
        format!("http://127.0.0.1:{port}{path}")
    }

    pub fn gw_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.gateways[i].port)
    }

    pub async fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.cp_url(path))
            .bearer_auth(&self.admin_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn admin_put(&self, path: &str, body: Value) -> (u16, Value) {
        self.admin_request(reqwest::Method::PUT, path, Some(body))
            .await
    }

    /// `GET /vault/keys/{key_id}`, whatever it answers.
    pub async fn key_info(&self, key_id: &str) -> Value {
        self.admin_request(reqwest::Method::GET, &format!("/vault/keys/{key_id}"), None)
            .await
            .1
    }

    /// Issues a key through the API; panics unless it answers 201.
    pub async fn issue(&self, body: Value) -> IssuedKey {
        let (status, body) = self
            .admin_request(reqwest::Method::POST, "/vault/keys", Some(body))
            .await;
        assert_eq!(status, 201, "issuing a key: {body}");
        IssuedKey {
            vault_key: body["vault_key"].as_str().unwrap().to_owned(),
            key_id: body["key_id"].as_str().unwrap().to_owned(),
            body,
        }
    }

    /// Every request the mock Stripe received, as JSON.
    pub async fn stripe_requests(&self) -> Vec<Value> {
        self.mock_requests(self.stripe_port).await
    }

    pub async fn clear_stripe_requests(&self) {
        self.clear_mock_requests(self.stripe_port).await;
    }

    /// Every request the mock on `port` received, as JSON.
    pub async fn mock_requests(&self, port: u16) -> Vec<Value> {
        let url = format!("http://127.0.0.1:{port}/__mock/requests");
        let r = self.http.get(url).send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn clear_mock_requests(&self, port: u16) {
        let url = format!("http://127.0.0.1:{port}/__mock/requests");
        self.http.delete(url).send().await.unwrap();
    }

    /// Envoy's counter or gauge `name` on gateway `gw` (its admin `/stats`), `None` while Envoy
    /// does not answer or has no such stat.
    pub async fn envoy_stat(&self, gw: usize, name: &str) -> Option<u64> {
        // The filter is a regex: its dots match any character, so lines are matched exactly.
        let url = format!(
            "http://127.0.0.1:{}/stats?filter={name}",
            self.gateways[gw].admin_port
        );
        let text = self.http.get(url).send().await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The control plane's Prometheus sample `name` (without labels), `None` while it does not
    /// answer or has no such sample.
    pub async fn cp_metric(&self, name: &str) -> Option<u64> {
        let text = self
            .http
            .get(self.cp_url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The gateway's access log, one JSON object per line.
    pub fn access_log(&self, i: usize) -> Vec<Value> {
        std::fs::read_to_string(&self.gateways[i].access_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Runs the `keybrake` CLI against this stack's control plane.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(paths::bin("keybrake"))
            .args(args)
            .env("KEYBRAKE_URL", self.cp_url(""))
            .env("KEYBRAKE_ADMIN_KEY", &self.admin_key)
            .env_remove("KEYBRAKE_DATA_DIR")
            .output()
            .unwrap()
    }

    /// Runs `tests/python/<script>` with the vendors' SDKs against gateway 0 (`GATEWAY`), with
    /// `env` added and Twilio's host-rewriting variables removed; panics unless it succeeds, and
    /// returns the JSON line it printed (what it observed).
    pub fn run_python(&self, script: &str, env: &[(&str, &str)]) -> Value {
        let out = Command::new(paths::python())
            .arg(paths::workspace_root().join("tests/python").join(script))
            .env("GATEWAY", self.gw_url(0, ""))
            .envs(env.iter().copied())
            .env_remove("TWILIO_EDGE")
            .env_remove("TWILIO_REGION")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script} {env:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap()
    }

    /// Every log file of the stack's processes, for failure reports and secret scans.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for p in self
            .gateways
            .iter()
            .map(|g| &g.proc)
            .chain([&self.control_plane, &self.mocks])
            .chain(self.control_plane_b.as_ref())
        {
            out.push_str(&format!("=== {} ===\n{}\n", p.name, p.log_text()));
        }
        out
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.all_logs();
            let tail: String = logs
                .chars()
                .rev()
                .take(6000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            eprintln!("--- process logs (tail) ---\n{tail}");
        }
    }
}

/// The `x-keybrake-deny-reason` header of a response, if any.
pub fn deny_reason(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("x-keybrake-deny-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
