//! Revocation latency: issue a key, see it work through the gateway, revoke it, then call
//! through the gateway as fast as possible until the call is refused.

use crate::api::{gateway_get, ControlPlane};
use crate::throughput::median;
use anyhow::bail;
use std::time::{Duration, Instant};

/// Longest the bench polls for a refusal before calling the revocation lost.
const GIVE_UP: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default)]
pub struct Revocations {
    /// `DELETE /vault/keys/{id}` round trips (the control plane answers once the connected
    /// gateways hold the new snapshot), milliseconds.
    pub delete_ms: Vec<f64>,
    /// From the `DELETE` answer to the first refused call, milliseconds.
    pub refused_after_answer_ms: Vec<f64>,
    /// Calls that still passed after the `DELETE` answered.
    pub passed_after_answer: u64,
    /// `POST /vault/keys` round trips (the same propagation wait), milliseconds.
    pub issue_ms: Vec<f64>,
    /// From the issue answer to the first allowed call, milliseconds.
    pub allowed_after_issue_ms: Vec<f64>,
}

/// Nearest-rank percentile (`q` in 0..=1).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    if q == 0.5 {
        return median(values.to_vec());
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `count` times: issue, call until allowed, revoke, call until refused with `key_revoked`.
pub async fn measure(
    cp: &ControlPlane,
    gateway_port: u16,
    count: usize,
    label: &str,
) -> anyhow::Result<Revocations> {
    let http = crate::api::client()?;
    let mut out = Revocations::default();
    for i in 0..count {
        let t0 = Instant::now();
        let key = cp.issue(&format!("{label}/{i}")).await?;
        let t1 = Instant::now();
        out.issue_ms.push(ms(t1 - t0));
        loop {
            let (status, _) = gateway_get(&http, gateway_port, &key.vault_key).await?;
            if status == 200 {
                break;
            }
            if t1.elapsed() > GIVE_UP {
                bail!(
                    "key {} never worked through the gateway (last status {status})",
                    key.key_id
                );
            }
        }
        out.allowed_after_issue_ms.push(ms(t1.elapsed()));

        let t2 = Instant::now();
        cp.revoke(&key.key_id).await?;
        let t3 = Instant::now();
        out.delete_ms.push(ms(t3 - t2));
        loop {
            let (status, reason) = gateway_get(&http, gateway_port, &key.vault_key).await?;
            if status == 401 && reason.as_deref() == Some("key_revoked") {
                break;
            }
            out.passed_after_answer += 1;
            if t3.elapsed() > GIVE_UP {
                bail!("revoked key {} still works after {GIVE_UP:?}", key.key_id);
            }
        }
        out.refused_after_answer_ms.push(ms(t3.elapsed()));
    }
    Ok(out)
}
