//! The control plane's HTTP API as the bench uses it, and the gateway calls the bench makes
//! one at a time (revocation polling).

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::time::Duration;

/// The "real" Stripe key the control plane holds; the bench upstream accepts anything.
pub const STRIPE_KEY: &str = "sk_test_keybrake_bench";

/// The bench key's allowlist: the costed POST and the free GET. `GET /v1/balance` is not on it
/// (the denied call).
pub fn key_spec(label: &str) -> Value {
    json!({
        "vendor": "stripe",
        "daily_usd_cap": 1e9,
        "allowed_endpoints": ["POST /v1/payment_intents", "GET /v1/customers/*"],
        "expires_in": "1d",
        "agent_run_label": label,
    })
}

#[derive(Clone)]
pub struct ControlPlane {
    pub url: String,
    pub admin_key: String,
    pub http: reqwest::Client,
}

#[derive(Clone, Debug)]
pub struct Key {
    pub vault_key: String,
    pub key_id: String,
}

impl ControlPlane {
    pub fn new(port: u16, admin_key: &str) -> anyhow::Result<Self> {
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            admin_key: admin_key.to_owned(),
            http: client()?,
        })
    }

    pub async fn healthy(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    pub async fn register_stripe(&self) -> anyhow::Result<()> {
        let r = self
            .http
            .put(format!("{}/vendors/stripe/credentials", self.url))
            .bearer_auth(&self.admin_key)
            .json(&json!({ "api_key": STRIPE_KEY }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("registering the Stripe credential: {}", r.status());
        }
        Ok(())
    }

    pub async fn issue(&self, label: &str) -> anyhow::Result<Key> {
        let r = self
            .http
            .post(format!("{}/vault/keys", self.url))
            .bearer_auth(&self.admin_key)
            .json(&key_spec(label))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.context("issue answer")?;
        if status.as_u16() != 201 {
            bail!("issuing a key: {status} {body}");
        }
        let field = |f: &str| {
            body[f]
                .as_str()
                .map(str::to_owned)
                .context("issue answer field")
        };
        Ok(Key {
            vault_key: field("vault_key")?,
            key_id: field("key_id")?,
        })
    }

    pub async fn revoke(&self, key_id: &str) -> anyhow::Result<()> {
        let r = self
            .http
            .delete(format!("{}/vault/keys/{key_id}", self.url))
            .bearer_auth(&self.admin_key)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("revoking {key_id}: {}", r.status());
        }
        Ok(())
    }
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Waits (30 s at most) until a call with `vault_key` through the gateway on `port` is allowed.
pub async fn first_allowed(
    http: &reqwest::Client,
    port: u16,
    vault_key: &str,
    gateway: &str,
) -> anyhow::Result<()> {
    keybrake_e2e::wait::poll_until(
        Duration::from_secs(30),
        &format!("the first allowed call through {gateway}"),
        || {
            let (http, key) = (http.clone(), vault_key.to_owned());
            async move {
                let (status, _) = gateway_get(&http, port, &key).await.ok()?;
                (status == 200).then_some(())
            }
        },
    )
    .await?;
    Ok(())
}

/// One free call through a gateway with `vault_key`: the status and `x-keybrake-deny-reason`.
pub async fn gateway_get(
    http: &reqwest::Client,
    port: u16,
    vault_key: &str,
) -> anyhow::Result<(u16, Option<String>)> {
    let r = http
        .get(format!(
            "http://127.0.0.1:{port}/stripe/v1/customers/cus_bench"
        ))
        .bearer_auth(vault_key)
        .send()
        .await?;
    let reason = r
        .headers()
        .get("x-keybrake-deny-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    Ok((status, reason))
}
