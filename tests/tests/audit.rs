//! The audit trail of record: every call through the gateway becomes exactly one record in the
//! control plane, through control-plane crashes, lost acknowledgements and full buffers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/trail.rs"]
mod trail;

use keybrake_e2e::{wait_until, Stack, StackOptions};
use serde_json::{json, Value};
use std::time::Duration;
use trail::{assert_each_once, audit};

fn key_body(label: &str) -> Value {
    json!({"vendor": "stripe", "daily_usd_cap": 500, "expires_in": "1h", "agent_run_label": label,
           "allowed_endpoints": ["POST /v1/payment_intents", "GET /v1/customers/*"]})
}

async fn wait_audit_count(stack: &Stack, query: &str, n: usize) -> Vec<Value> {
    wait_until(
        Duration::from_secs(20),
        &format!("{n} audit records for {query}"),
        || async move {
            let records = audit(stack, query).await;
            (records.len() >= n).then_some(records)
        },
    )
    .await
}

/// GETs a customer: free, allowed, and answered 404 by the mock. Returns the status.
async fn free_call(stack: &Stack, gw: usize, key: &str, i: usize) -> u16 {
    let r = stack
        .http
        .get(stack.gw_url(gw, &format!("/stripe/v1/customers/cus_{i}")))
        .bearer_auth(key)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            if status != 404 {
                eprintln!(
                    "free call {i}: {status} {:?}",
                    keybrake_e2e::deny_reason(&r)
                );
            }
            status
        }
        Err(e) => {
            eprintln!("free call {i}: {e}");
            0
        }
    }
}

/// Waits until gateway `gw` holds no audit record waiting for an acknowledgement (its
/// `keybrake.audit.buffered` gauge is 0): from then on no more records can arrive.
async fn wait_outbox_empty(stack: &Stack, gw: usize) {
    wait_until(
        Duration::from_secs(20),
        "the gateway's audit outbox to empty",
        || async {
            let n = stack
                .envoy_stat(gw, "wasmcustom.keybrake.audit.buffered")
                .await?;
            (n == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn n_calls_make_exactly_n_records_with_their_costs_and_labels() {
    let stack = Stack::start().await;
    let key = stack.issue(key_body("audit/run-7")).await;
    for i in 0..4 {
        let r = stack
            .http
            .post(stack.gw_url(0, "/stripe/v1/payment_intents"))
            .bearer_auth(&key.vault_key)
            .form(&[
                ("amount", (1000 + i).to_string()),
                ("currency", "usd".to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for i in 0..3 {
        assert_eq!(free_call(&stack, 0, &key.vault_key, i).await, 404);
    }
    let refused = stack
        .http
        .post(stack.gw_url(0, "/stripe/v1/refunds"))
        .bearer_auth(&key.vault_key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let query = format!("key_id={}", key.key_id);
    wait_audit_count(&stack, &query, 8).await;
    // Nothing more can arrive once the gateway holds nothing unacknowledged.
    wait_outbox_empty(&stack, 0).await;
    let records = audit(&stack, &query).await;
    assert_eq!(
        records.len(),
        8,
        "exactly one record per call: {records:#?}"
    );
    assert_each_once(&records);

    let mut costs: Vec<(String, String, f64, String)> = records
        .iter()
        .map(|r| {
            assert_eq!(r["agent_run_label"], "audit/run-7", "{r}");
            assert_eq!(r["vendor"], "stripe", "{r}");
            assert!(r["gateway_id"].as_str().is_some(), "{r}");
            (
                r["method"].as_str().unwrap().to_owned(),
                r["decision"].as_str().unwrap().to_owned(),
                r["cost_usd"].as_f64().unwrap(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    costs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let posts: Vec<f64> = costs
        .iter()
        .filter(|c| c.0 == "POST" && c.1 == "allow")
        .map(|c| c.2)
        .collect();
    assert_eq!(posts, [10.0, 10.01, 10.02, 10.03]);
    assert_eq!(
        costs
            .iter()
            .filter(|c| c.0 == "GET" && c.2 == 0.0 && c.3.starts_with("/v1/customers/"))
            .count(),
        3
    );
    let denial = records.iter().find(|r| r["decision"] == "deny").unwrap();
    assert_eq!(denial["deny_reason"], "endpoint_not_allowed");
    assert_eq!(denial["status"], 403);
    let paid = records
        .iter()
        .find(|r| r["method"] == "POST" && r["decision"] == "allow")
        .unwrap();
    assert_eq!(paid["status"], 200);
    assert_eq!(paid["cost_source"], "response");
    assert!(
        paid["vendor_request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("pi_")),
        "{paid}"
    );

    // The CLI reads the same trail.
    let out = stack.cli(&["audit", "--key-id", &key.key_id, "--json", "--limit", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 8);
    // No secret in the trail.
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(&key.vault_key) && !text.contains(keybrake_e2e::STRIPE_KEY));
}

/// The control plane is SIGKILLed once it has stored some of the burst's records and while the
/// rest of the burst is still to come: the second half of the calls waits for the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_control_plane_killed_during_a_burst_loses_and_doubles_nothing() {
    const CALLS: u64 = 120;
    let mut stack = Stack::start().await;
    let key = stack.issue(key_body("audit/burst")).await;
    let query = format!("key_id={}", key.key_id);
    let (killed_tx, killed) = tokio::sync::watch::channel(false);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let http = stack.http.clone();
        let url = stack.gw_url(0, &format!("/stripe/v1/customers/cus_{i}"));
        let vk = key.vault_key.clone();
        let mut killed = killed.clone();
        calls.spawn(async move {
            if i < CALLS / 2 {
                // Paced 5 ms apart, so batches are in flight when the kill comes.
                tokio::time::sleep(Duration::from_millis(i * 5)).await;
            } else {
                let _ = killed.wait_for(|k| *k).await;
            }
            http.get(url)
                .bearer_auth(vk)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        });
    }
    wait_until(
        Duration::from_secs(20),
        "the control plane to store some of the burst",
        || async { (!audit(&stack, &query).await.is_empty()).then_some(()) },
    )
    .await;
    stack.control_plane.kill(); // SIGKILL, mid-burst
    killed_tx.send_replace(true);
    while let Some(status) = calls.join_next().await {
        assert_eq!(
            status.unwrap(),
            404,
            "free calls go on inside a fresh policy"
        );
    }
    stack.restart_control_plane().await;
    wait_audit_count(&stack, &query, CALLS as usize).await;
    wait_outbox_empty(&stack, 0).await;
    let records = audit(&stack, &query).await;
    assert_eq!(records.len(), CALLS as usize, "every call exactly once");
    assert_each_once(&records);
    let stored_after = stack
        .cp_metric("keybrake_audit_records_stored_total")
        .await
        .unwrap();
    assert!(
        stored_after >= CALLS / 2,
        "the restarted control plane stored at least the calls made after the kill: {stored_after}"
    );
}

#[tokio::test]
async fn a_full_buffer_counts_its_drops_and_a_killed_gateway_shows_as_a_gap() {
    let opts = StackOptions {
        sync_extra: r#""audit_buffer_records":5,"audit_batch_records":1,"audit_timeout_ms":400,"retry_ms":300"#.into(),
        cp_env: vec![("KEYBRAKE_INSTANCE_TTL_MS".into(), "1500".into())],
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(opts).await;
    let key = stack.issue(key_body("audit/drops")).await;
    let query = format!("key_id={}", key.key_id);
    for i in 0..3 {
        assert_eq!(free_call(&stack, 0, &key.vault_key, i).await, 404);
    }
    wait_audit_count(&stack, &query, 3).await;

    // Stopped, the control plane takes connections but answers nothing: the gateway keeps
    // five records, counts the rest as dropped, and retries its batch, which tells how many
    // records it numbered.
    stack.control_plane.signal("STOP");
    for i in 3..15 {
        assert_eq!(free_call(&stack, 0, &key.vault_key, i).await, 404);
    }
    let dropped = wait_until(
        Duration::from_secs(10),
        "the gateway to count dropped audit records",
        || async {
            let n = stack
                .envoy_stat(0, "wasmcustom.keybrake.audit.dropped")
                .await?;
            (n >= 7).then_some(n)
        },
    )
    .await;
    assert_eq!(dropped, 7, "12 calls, 5 kept");
    // Let a batch sent from now on, which tells that all 15 calls were numbered, reach the
    // stopped control plane's socket; then kill the gateway with its five records still
    // queued. Nothing else talks to the control plane meanwhile: the long-poll waits 20 s.
    let sent = "cluster.keybrake_control_plane.upstream_cx_tx_bytes_total";
    let before = stack.envoy_stat(0, sent).await.unwrap();
    wait_until(
        Duration::from_secs(10),
        "the gateway to resend its audit batch",
        || async { (stack.envoy_stat(0, sent).await? > before).then_some(()) },
    )
    .await;
    stack.gateways[0].proc.kill();
    stack.control_plane.signal("CONT");

    let gap = wait_until(
        Duration::from_secs(20),
        "a gap for the killed gateway",
        || async {
            let (_, body) = stack
                .admin_request(reqwest::Method::GET, "/audit/gaps", None)
                .await;
            body["gaps"]
                .as_array()?
                .iter()
                .find(|g| g["missing"].as_u64().unwrap_or(0) > 0)
                .cloned()
        },
    )
    .await;
    let stored = audit(&stack, &query).await;
    assert_each_once(&stored);
    let missing = gap["missing"].as_u64().unwrap();
    assert!(stored.len() < 15, "the killed gateway still held records");
    assert_eq!(gap["dropped_total"], 7, "{gap}");
    assert_eq!(
        stored.len() as u64 + missing,
        8,
        "15 calls: 7 dropped, the other 8 either stored or reported missing: {gap}"
    );
    // The instance also numbered the harness's readiness probes: count all its stored records.
    let instance = gap["instance"].as_str().unwrap();
    let of_instance: Vec<u64> = audit(&stack, "")
        .await
        .iter()
        .filter(|r| r["instance"] == instance)
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let highest = of_instance.iter().copied().max().unwrap();
    assert_eq!(
        of_instance.len() as u64,
        highest,
        "stored records are 1..={highest} without holes"
    );
    assert_eq!(
        gap["first_missing_seq"].as_u64().unwrap(),
        highest + 1,
        "{gap}"
    );
    // The missing records are in the gateway's access log: one line per call.
    let lines = stack
        .access_log(0)
        .into_iter()
        .filter(|l| l["keybrake_key_id"] == key.key_id.as_str())
        .count();
    assert_eq!(lines, 15);
}
