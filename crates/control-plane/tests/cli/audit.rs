//! audit, audit gaps, audit --follow and spend from the command line.

use crate::support::{stderr, stdout, Server};
use std::time::Duration;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Ships `n` audit records numbered from `first_seq` for instance `inst-cli`, as a gateway does.
async fn ship_audit(server: &Server, first_seq: u64, n: u64, label: &str) -> serde_json::Value {
    let now = now_ms();
    let times: Vec<u64> = (0..n).map(|i| now + i).collect();
    ship_at(server, "inst-cli", first_seq, &times, label).await
}

/// Ships one audit record per call time in `times_ms` (Unix ms), numbered from `first_seq`,
/// for gateway process `instance`; returns the acknowledgement.
async fn ship_at(
    server: &Server,
    instance: &str,
    first_seq: u64,
    times_ms: &[u64],
    label: &str,
) -> serde_json::Value {
    let token = std::fs::read_to_string(server.dir.join("dataplane.token")).unwrap();
    let entries: Vec<serde_json::Value> = (first_seq..)
        .zip(times_ms)
        .map(|(seq, time_ms)| {
            serde_json::json!({
                "seq": seq, "time_ms": time_ms, "key_id": "kid_0123456789abcdef",
                "agent_run_label": label, "vendor": "stripe", "method": "POST",
                "path": "/v1/payment_intents", "status": 200, "decision": "allow",
                "deny_reason": null, "cost_micros": 1_500_000, "cost_source": "response",
                "spend_micros": 1_500_000 * seq, "upstream_latency_ms": 9,
                "vendor_request_id": "pi_1"})
        })
        .collect();
    let batch = serde_json::json!({"gateway": "gw-cli", "instance": instance,
        "entries": entries, "next_seq": first_seq + times_ms.len() as u64, "dropped_total": 0});
    let ack: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/dataplane/v1/audit", server.url))
        .bearer_auth(token.trim())
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ack["acked_through"].is_u64(), "{ack}");
    ack
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// `keybrake audit --follow --json` and its stdout, line by line.
fn follow(server: &Server, args: &[&str]) -> (tokio::process::Child, Lines) {
    use tokio::io::AsyncBufReadExt;
    let mut child = server
        .cli(&[&["audit", "--follow", "--json"], args].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The next line's `(instance, seq)`, within 10 s (else a failure naming `want`).
async fn next(lines: &mut Lines, want: &str) -> (String, u64) {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no line within 10 s; waiting for {want}"))
        .unwrap()
        .expect("output goes on");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    (
        v["instance"].as_str().unwrap().to_owned(),
        v["seq"].as_u64().unwrap(),
    )
}

fn at(instance: &str, seq: u64) -> (String, u64) {
    (instance.to_owned(), seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_the_audit_trail_spend_and_gaps() {
    let server = Server::start().await;
    assert_eq!(
        ship_audit(&server, 1, 3, "run/cli").await["acked_through"],
        3
    );

    let out = server.run(&["audit", "--json", "--label", "run/cli"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3], "one JSON object per line, oldest first");
    assert_eq!(lines[0]["cost_usd"], 1.5);

    let table = server.run(&["audit", "--limit", "2"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("TIME"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("run/cli") && text.contains("1.50") && text.contains("4.50"),
        "{text}"
    );

    // The older record is one --cursor away; the hint is on stderr, so JSON stays clean.
    let hint = stderr(&table);
    let cursor = hint
        .split("--cursor ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no --cursor hint in {hint:?}"))
        .to_owned();
    let older = server
        .run(&["audit", "--json", "--limit", "2", "--cursor", &cursor])
        .await;
    assert!(older.status.success(), "{}", stderr(&older));
    let seqs: Vec<u64> = stdout(&older)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1], "the page before the newest two");
    assert!(
        !stderr(&older).contains("--cursor"),
        "no hint on the last page: {}",
        stderr(&older)
    );

    let spend = server.run(&["spend", "--by", "label"]).await;
    assert!(spend.status.success(), "{}", stderr(&spend));
    let text = stdout(&spend);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["run/cli", "4.50", "3", "0"]),
        "{text}"
    );
    let json = server.run(&["spend", "--by", "vendor", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rows"][0]["vendor"], "stripe");

    let gaps = server.run(&["audit", "gaps"]).await;
    assert!(gaps.status.success(), "{}", stderr(&gaps));
    assert!(stdout(&gaps).contains("inst-cli") && stdout(&gaps).contains("no gaps"));

    let bad = server.run(&["audit", "--decision", "maybe"]).await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("decision must be allow, deny or undecided"),
        "{}",
        stderr(&bad)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_prints_new_records_as_they_arrive() {
    let server = Server::start().await;
    ship_audit(&server, 1, 2, "run/follow").await;
    let (mut child, mut lines) = follow(&server, &["--label", "run/follow"]);
    assert_eq!(
        (
            next(&mut lines, "seq 1 (the newest page)").await,
            next(&mut lines, "seq 2").await
        ),
        (at("inst-cli", 1), at("inst-cli", 2))
    );
    ship_audit(&server, 3, 2, "run/follow").await;
    ship_audit(&server, 5, 1, "run/other").await;
    assert_eq!(
        (
            next(&mut lines, "seq 3").await,
            next(&mut lines, "seq 4").await
        ),
        (at("inst-cli", 3), at("inst-cli", 4))
    );
    ship_audit(&server, 6, 1, "run/follow").await;
    assert_eq!(
        next(&mut lines, "seq 6").await,
        at("inst-cli", 6),
        "nothing repeated, the other label left out"
    );
    child.kill().await.unwrap();
    server.stop().await;
}

/// A gateway that was cut off delivers a call made before one `--follow` already printed: it
/// is printed too, once, in the order stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_prints_a_record_delivered_late_with_an_older_call_time() {
    let server = Server::start().await;
    let now = now_ms();
    ship_at(&server, "inst-a", 1, &[now - 120_000], "run/late").await;
    let (mut child, mut lines) = follow(&server, &["--label", "run/late"]);
    // The newest page: the follower has its starting point once this is printed.
    assert_eq!(
        next(&mut lines, "inst-a 1 (the newest page)").await,
        at("inst-a", 1)
    );

    ship_at(&server, "inst-a", 2, &[now], "run/late").await;
    assert_eq!(next(&mut lines, "inst-a 2").await, at("inst-a", 2));
    // Made a minute before the call just printed; delivered after it.
    ship_at(&server, "inst-b", 1, &[now - 60_000], "run/late").await;
    assert_eq!(
        next(
            &mut lines,
            "inst-b 1, delivered late with an older call time"
        )
        .await,
        at("inst-b", 1),
        "the late record with the older call time is printed"
    );
    ship_at(&server, "inst-a", 3, &[now + 1], "run/late").await;
    assert_eq!(
        next(&mut lines, "inst-a 3").await,
        at("inst-a", 3),
        "and nothing twice"
    );
    child.kill().await.unwrap();
    server.stop().await;
}

/// The control plane restarts while `--follow` runs: the follower says so on stderr, keeps
/// asking, and prints what was stored meanwhile once it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_rides_out_a_control_plane_restart() {
    use tokio::io::AsyncBufReadExt;
    let server = Server::start().await;
    ship_audit(&server, 1, 1, "run/restart").await;
    let (mut child, mut lines) = follow(&server, &["--label", "run/restart"]);
    let mut errors = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    assert_eq!(
        next(&mut lines, "seq 1 (the newest page)").await,
        at("inst-cli", 1)
    );

    let server = server.stopped().await;
    let said = tokio::time::timeout(Duration::from_secs(10), errors.next_line())
        .await
        .expect("a word on stderr within 10 s")
        .unwrap()
        .unwrap_or_default();
    assert!(
        said.contains("cannot reach the control plane") && said.contains("asking again"),
        "{said}"
    );
    assert!(child.try_wait().unwrap().is_none(), "the follower goes on");

    let server = server.start_again().await;
    ship_audit(&server, 2, 2, "run/restart").await;
    assert_eq!(
        (
            next(&mut lines, "seq 2, stored while the control plane was away").await,
            next(&mut lines, "seq 3").await
        ),
        (at("inst-cli", 2), at("inst-cli", 3))
    );
    child.kill().await.unwrap();
    server.stop().await;
}

/// `keybrake audit --json | head -1`: a reader that leaves early ends the command quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_goes_away_ends_the_cli_quietly() {
    let server = Server::start().await;
    ship_audit(&server, 1, 3, "run/pipe").await;
    let mut child = server
        .cli(&["audit", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the CLI has its answer from the server, so its first write fails.
    drop(child.stdout.take());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the CLI ends")
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "status {:?}: {err}", out.status);
    server.stop().await;
}
