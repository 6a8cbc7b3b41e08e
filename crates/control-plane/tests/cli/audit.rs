//! audit, audit gaps, audit --follow and spend from the command line.

use crate::support::{stderr, stdout, Server};
use std::time::Duration;

/// Ships `n` audit records numbered from `first_seq` for instance `inst-cli`, as a gateway does.
async fn ship_audit(server: &Server, first_seq: u64, n: u64, label: &str) -> serde_json::Value {
    let token = std::fs::read_to_string(server.dir.join("dataplane.token")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let entries: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "seq": first_seq + i, "time_ms": now + i, "key_id": "kid_0123456789abcdef",
                "agent_run_label": label, "vendor": "stripe", "method": "POST",
                "path": "/v1/payment_intents", "status": 200, "decision": "allow",
                "deny_reason": null, "cost_micros": 1_500_000, "cost_source": "response",
                "spend_micros": 1_500_000 * (first_seq + i), "upstream_latency_ms": 9,
                "vendor_request_id": "pi_1"})
        })
        .collect();
    let batch = serde_json::json!({"gateway": "gw-cli", "instance": "inst-cli",
        "entries": entries, "next_seq": first_seq + n, "dropped_total": 0});
    reqwest::Client::new()
        .post(format!("{}/dataplane/v1/audit", server.url))
        .bearer_auth(token.trim())
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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
    use tokio::io::AsyncBufReadExt;
    let server = Server::start().await;
    ship_audit(&server, 1, 2, "run/follow").await;
    let mut child = server
        .cli(&["audit", "--follow", "--json", "--label", "run/follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;
    async fn next(lines: &mut Lines) -> u64 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line within 10 s")
            .unwrap()
            .expect("output goes on");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["seq"]
            .as_u64()
            .unwrap()
    }
    assert_eq!((next(&mut lines).await, next(&mut lines).await), (1, 2));
    ship_audit(&server, 3, 2, "run/follow").await;
    ship_audit(&server, 5, 1, "run/other").await;
    assert_eq!((next(&mut lines).await, next(&mut lines).await), (3, 4));
    ship_audit(&server, 6, 1, "run/follow").await;
    assert_eq!(
        next(&mut lines).await,
        6,
        "nothing repeated, the other label left out"
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
