//! The real `keybrake` binary as a user runs it: `serve()` on port 0 in process, the CLI as a
//! child process against it.

#![cfg(test)]

use keybrake_control_plane::{serve, AppState, Clock, Settings};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

struct Server {
    url: String,
    admin_key: String,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("keybrake-cli-test-{}-{n}", std::process::id()));
        let state = AppState::open(Settings::new(&dir), Clock::system())
            .await
            .unwrap();
        let admin_key = state.admin_key.expose().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        let health = format!("{url}/healthz");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while reqwest::get(&health)
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            url,
            admin_key,
            dir,
            stop: Some(tx),
            task,
        }
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keybrake"));
        cmd.args(args)
            .env("KEYBRAKE_URL", &self.url)
            .env("KEYBRAKE_ADMIN_KEY", &self.admin_key)
            .env_remove("KEYBRAKE_DATA_DIR")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.cli(args).output().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("graceful shutdown within 5 s")
            .unwrap()
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_issues_lists_revokes_and_sets_credentials() {
    let server = Server::start().await;

    let issued = server
        .run(&[
            "keys",
            "issue",
            "--vendor",
            "stripe",
            "--daily-usd-cap",
            "500",
            "--allow",
            "POST /v1/payment_intents",
            "--expires-in",
            "30m",
            "--label",
            "billing-agent/42",
            "--json",
        ])
        .await;
    assert!(issued.status.success(), "{}", stderr(&issued));
    let v: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let key_id = v["key_id"].as_str().unwrap().to_owned();
    assert!(v["vault_key"].as_str().unwrap().starts_with("vk_"));

    let table = server.run(&["keys", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("KEY ID"), "{text}");
    assert!(text.contains(&key_id) && text.contains("billing-agent/42") && text.contains("active"));

    let revoked = server.run(&["keys", "revoke", &key_id]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&revoked).contains("revoked"));

    let mut set = server.cli(&["vendors", "set", "stripe"]);
    set.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"sk_test_from_stdin\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("sk_test_from_stdin"));

    let vendors = server.run(&["vendors", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&vendors.stdout).unwrap();
    assert_eq!(v["vendors"][0]["configured"], true);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_api_error_and_fails() {
    let server = Server::start().await;
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "bad cap",
            &[
                "keys",
                "issue",
                "--vendor",
                "stripe",
                "--daily-usd-cap",
                "0",
                "--allow",
                "POST /v1/x",
                "--expires-in",
                "30m",
                "--label",
                "l",
            ],
            "daily_usd_cap must be greater than 0",
        ),
        (
            "unknown key",
            &["keys", "show", "kid_0123456789abcdef"],
            "no vault key kid_0123456789abcdef",
        ),
        (
            "malformed key",
            &["keys", "revoke", "nope"],
            "is not a key id",
        ),
    ];
    for (name, args, want) in cases {
        let out = server.run(args).await;
        assert!(!out.status.success(), "case {name}");
        assert!(stderr(&out).contains(want), "case {name}: {}", stderr(&out));
    }
    let wrong = server
        .cli(&["keys", "list"])
        .env("KEYBRAKE_ADMIN_KEY", "kba_wrong")
        .output()
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("missing or invalid bearer token"),
        "{}",
        stderr(&wrong)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_lists_and_deletes_rates_and_shows_spend() {
    let server = Server::start().await;
    let set = server.run(&["rates", "set", "jpy", "0.0067"]).await;
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("0.0067"), "{}", stdout(&set));

    let table = server.run(&["rates", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CURRENCY"), "{text}");
    assert!(
        lines[1].starts_with("usd") && lines[1].contains("built in"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("jpy") && lines[2].contains("0.0067"),
        "{text}"
    );

    let json = server.run(&["rates", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rates"][1]["usd_per_unit"], 0.0067);

    let bad = server.run(&["rates", "set", "usd", "2"]).await;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("built in"), "{}", stderr(&bad));

    let deleted = server.run(&["rates", "delete", "jpy"]).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let v: serde_json::Value =
        serde_json::from_slice(&server.run(&["rates", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(v["rates"].as_array().unwrap().len(), 1);

    let issued = server
        .run(&[
            "keys",
            "issue",
            "--vendor",
            "stripe",
            "--daily-usd-cap",
            "500",
            "--allow",
            "POST /v1/payment_intents",
            "--expires-in",
            "30m",
            "--label",
            "run/spend",
            "--json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let show = server
        .run(&["keys", "show", v["key_id"].as_str().unwrap()])
        .await;
    let text = stdout(&show);
    for want in [
        ["daily_usd_cap", "500.00"],
        ["spend_today_usd", "0.00"],
        ["leased_usd", "0.00"],
        ["remaining_usd", "500.00"],
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == want),
            "{want:?} in\n{text}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_lists_and_resets_prices() {
    let server = Server::start().await;
    let table = server.run(&["prices", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("VENDOR"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["twilio", "sms", "segment", "other", "$0.0083", "default"]),
        "{text}"
    );

    let set = server
        .run(&[
            "prices",
            "set",
            "twilio",
            "--sms-segment",
            "0.009",
            "--prefix-sms",
            "44=0.04",
            "--call-max-minutes",
            "60",
        ])
        .await;
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("+44"), "{}", stdout(&set));
    // Another set keeps what was set before and adds to the prefix table.
    let more = server
        .run(&["prices", "set", "twilio", "--prefix-sms", "447=0.045"])
        .await;
    assert!(more.status.success(), "{}", stderr(&more));
    let resend = server
        .run(&["prices", "set", "resend", "--email", "0.001"])
        .await;
    assert!(resend.status.success(), "{}", stderr(&resend));

    let json = server.run(&["prices", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["twilio"]["prices"]["sms_segment_usd"], 0.009);
    assert_eq!(
        v["twilio"]["prices"]["sms_segment_by_prefix"],
        serde_json::json!({"44": 0.04, "447": 0.045})
    );
    assert_eq!(v["twilio"]["prices"]["call_max_minutes"], 60);
    assert_eq!(v["twilio"]["default"]["mms_message_usd"], true);
    assert_eq!(v["resend"]["prices"]["email_usd"], 0.001);

    let bad = server
        .run(&["prices", "set", "twilio", "--call-max-minutes", "0"])
        .await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("call_max_minutes"),
        "{}",
        stderr(&bad)
    );
    let bad = server
        .run(&["prices", "set", "twilio", "--prefix-sms", "44:0.04"])
        .await;
    assert!(stderr(&bad).contains("PREFIX=USD"), "{}", stderr(&bad));

    let replaced = server
        .run(&[
            "prices",
            "set",
            "twilio",
            "--replace",
            "--mms",
            "0.03",
            "--json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_eq!(v["default"]["sms_segment_by_prefix"], true);
    assert_eq!(v["prices"]["mms_message_usd"], 0.03);

    let reset = server.run(&["prices", "reset", "resend"]).await;
    assert!(reset.status.success(), "{}", stderr(&reset));
    let v: serde_json::Value =
        serde_json::from_slice(&server.run(&["prices", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(v["resend"]["default"]["email_usd"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_a_twilio_api_key_from_a_file() {
    let server = Server::start().await;
    let secret_file = server.dir.join("twilio-key-secret.txt");
    std::fs::write(&secret_file, "api_key_secret_from_file\n").unwrap();
    let out = server
        .run(&[
            "vendors",
            "set",
            "twilio",
            "--account-sid",
            "AC0123",
            "--api-key-sid",
            "SK0456",
            "--api-key-secret-file",
            secret_file.to_str().unwrap(),
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("api_key_secret_from_file"));

    let token = std::fs::read_to_string(server.dir.join("dataplane.token")).unwrap();
    let snap: keybrake_core::Snapshot = reqwest::Client::new()
        .get(format!(
            "{}/dataplane/v1/snapshot?gateway=gw&wait_ms=0",
            server.url
        ))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        snap.credentials,
        [keybrake_core::VendorCredential::Twilio {
            account_sid: "AC0123".into(),
            auth_token: None,
            api_key_sid: Some("SK0456".into()),
            api_key_secret: Some("api_key_secret_from_file".into()),
        }]
    );

    let both = server
        .run(&[
            "vendors",
            "set",
            "twilio",
            "--account-sid",
            "AC0123",
            "--api-key-sid",
            "SK0456",
            "--auth-token-file",
            secret_file.to_str().unwrap(),
        ])
        .await;
    assert!(!both.status.success());
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    server.stop().await;
}
