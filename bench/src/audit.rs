//! Audit records stored per second by the control plane: batches posted to
//! `POST /dataplane/v1/audit` with the data-plane token, as gateways' sync services send them,
//! from several gateway instances at once.

use crate::stack::ControlPlaneProc;
use anyhow::bail;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What the gateways send per batch by default (`keybrake_core::outbox::DEFAULT_BATCH`).
const BATCH: usize = 500;

#[derive(Debug)]
pub enum AuditFigure {
    Stored {
        records_per_second: f64,
        batch: usize,
        senders: usize,
    },
    /// The control plane does not have the endpoint (it answered this status).
    Unavailable(u16),
}

fn entry(seq: u64, now_ms: u64) -> Value {
    json!({
        "seq": seq,
        "time_ms": now_ms,
        "key_id": "kid_0123456789abcdef",
        "agent_run_label": "billing-agent/bench",
        "vendor": "stripe",
        "method": "POST",
        "path": "/v1/payment_intents",
        "status": 200,
        "decision": "allow",
        "deny_reason": null,
        "cost_micros": 10_000,
        "cost_source": "response",
        "spend_micros": 10_000 * seq,
        "upstream_latency_ms": 3,
        "vendor_request_id": format!("req_bench{seq:016}"),
    })
}

fn batch(instance: &str, first_seq: u64, n: usize) -> Vec<u8> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let entries: Vec<Value> = (0..n as u64)
        .map(|i| entry(first_seq + i, now_ms))
        .collect();
    serde_json::to_vec(&json!({
        "gateway": "bench",
        "instance": instance,
        "entries": entries,
        "next_seq": first_seq + n as u64,
        "dropped_total": 0,
    }))
    .unwrap_or_default()
}

async fn post(cp: &ControlPlaneProc, body: Vec<u8>) -> anyhow::Result<u16> {
    let r = cp
        .api
        .http
        .post(format!("{}/dataplane/v1/audit", cp.api.url))
        .bearer_auth(&cp.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    Ok(r.status().as_u16())
}

/// `senders` instances post batches back to back for `seconds`.
pub async fn measure(
    cp: &ControlPlaneProc,
    senders: usize,
    seconds: f64,
) -> anyhow::Result<AuditFigure> {
    // Find a batch size the control plane takes (it may limit bodies below 500 records).
    let mut size = BATCH;
    loop {
        let status = post(cp, batch("bench-probe", 1, size)).await?;
        match status {
            200 => break,
            413 if size > 10 => size /= 2,
            other => return Ok(AuditFigure::Unavailable(other)),
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..senders {
        let cp_api = cp.api.clone();
        let token = cp.token.clone();
        tasks.push(tokio::spawn(async move {
            let instance = format!("bench-{s}-{}", std::process::id());
            let mut seq = 1u64;
            while Instant::now() < deadline {
                let r = cp_api
                    .http
                    .post(format!("{}/dataplane/v1/audit", cp_api.url))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(batch(&instance, seq, size))
                    .send()
                    .await?;
                if r.status().as_u16() != 200 {
                    bail!("audit batch refused: {}", r.status());
                }
                seq += size as u64;
            }
            Ok(seq - 1)
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(AuditFigure::Stored {
        records_per_second: stored as f64 / secs,
        batch: size,
        senders,
    })
}
