//! `keybrake keys`: issue, list, show and revoke vault keys.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::keys::{IssuedKey, KeyList, KeyView};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

/// Issue, list, show and revoke vault keys.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue a vault key. The key is printed once; keybrake keeps only its hash.
    ///
    /// Example: keybrake keys issue --vendor stripe --daily-usd-cap 500
    /// --allow "POST /v1/payment_intents" --expires-in 30m --label billing-agent/42
    Issue {
        /// stripe, twilio or resend.
        #[arg(long)]
        vendor: String,
        /// Most the key may spend per UTC day, in US dollars.
        #[arg(long)]
        daily_usd_cap: String,
        /// An endpoint the key may call, "METHOD /path" with `*` for one segment. Repeat for more.
        #[arg(long = "allow", value_name = "ENDPOINT", required = true)]
        allow: Vec<String>,
        /// Lifetime: "30m", "2h", "1d" or seconds.
        #[arg(long)]
        expires_in: String,
        /// Names the agent run, for the audit trail.
        #[arg(long)]
        label: String,
    },
    /// List vault keys, newest first.
    List {
        /// Only keys in this state: active, expired or revoked.
        #[arg(long)]
        status: Option<String>,
        /// Only keys with exactly this label.
        #[arg(long)]
        label: Option<String>,
        /// At most this many keys.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one vault key (never its secret).
    Show {
        /// The key id, kid_…
        key_id: String,
    },
    /// Revoke a vault key. Gateways refuse it as soon as they receive the new snapshot.
    Revoke {
        /// The key id, kid_…
        key_id: String,
    },
}

fn key_fields(k: &KeyView) {
    output::fields(&[
        ("key_id", k.key_id.clone()),
        ("status", k.status.clone()),
        ("vendor", k.vendor.to_string()),
        ("label", k.agent_run_label.clone()),
        ("daily_usd_cap", output::usd(k.daily_usd_cap)),
        ("spend_today_usd", output::usd(k.spend_today_usd)),
        ("leased_usd", output::usd(k.leased_usd)),
        ("remaining_usd", output::usd(k.remaining_usd)),
        ("allowed_endpoints", k.allowed_endpoints.join(", ")),
        (
            "never_callable",
            if k.never_callable.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{} (their cost is not bounded by the request: cost_not_bounded)",
                    k.never_callable.join(", ")
                )
            },
        ),
        ("created_at", k.created_at.clone()),
        ("expires_at", k.expires_at.clone()),
        (
            "revoked_at",
            k.revoked_at.clone().unwrap_or_else(|| "-".to_owned()),
        ),
    ]);
}

/// A cap as typed: a JSON number when it reads as one, else the text, so that the API's
/// message says what is wrong with it.
fn cap_value(s: &str) -> Value {
    s.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(s.to_owned()))
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let as_json = args.client.json;
    match args.command {
        KeysCommand::Issue {
            vendor,
            daily_usd_cap,
            allow,
            expires_in,
            label,
        } => {
            let body = json!({
                "vendor": vendor,
                "daily_usd_cap": cap_value(&daily_usd_cap),
                "allowed_endpoints": allow,
                "expires_in": expires_in,
                "agent_run_label": label,
            });
            let v = client
                .send(Method::POST, client.url(&["vault", "keys"]), Some(&body))
                .await?;
            if as_json {
                return output::json(&v);
            }
            let k: IssuedKey = serde_json::from_value(v)?;
            output::fields(&[
                ("vault_key", k.vault_key),
                ("key_id", k.key_id),
                ("vendor", k.vendor.to_string()),
                ("label", k.agent_run_label),
                ("daily_usd_cap", output::usd(k.daily_usd_cap)),
                ("allowed_endpoints", k.allowed_endpoints.join(", ")),
                ("expires_at", k.expires_at),
            ]);
            eprintln!("The vault key is shown only once; keybrake keeps just its hash.");
            Ok(())
        }
        KeysCommand::List {
            status,
            label,
            limit,
        } => {
            let mut url = client.url(&["vault", "keys"]);
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = &status {
                    q.append_pair("status", s);
                }
                if let Some(l) = &label {
                    q.append_pair("label", l);
                }
                if let Some(n) = limit {
                    q.append_pair("limit", &n.to_string());
                }
            }
            if url.query() == Some("") {
                url.set_query(None);
            }
            let v = client.send(Method::GET, url, None).await?;
            if as_json {
                return output::json(&v);
            }
            let list: KeyList = serde_json::from_value(v)?;
            let rows: Vec<Vec<String>> = list
                .keys
                .iter()
                .map(|k| {
                    vec![
                        k.key_id.clone(),
                        k.vendor.to_string(),
                        k.status.clone(),
                        output::usd(k.daily_usd_cap),
                        output::usd(k.spend_today_usd),
                        output::usd(k.remaining_usd),
                        k.expires_at.clone(),
                        k.agent_run_label.clone(),
                        match k.never_callable.len() {
                            0 => "-".to_owned(),
                            n => format!("{n} endpoints (keys show)"),
                        },
                    ]
                })
                .collect();
            output::table(
                &[
                    "KEY ID",
                    "VENDOR",
                    "STATUS",
                    "CAP USD",
                    "SPENT TODAY",
                    "REMAINING",
                    "EXPIRES AT",
                    "LABEL",
                    "NEVER CALLABLE",
                ],
                &rows,
            );
            Ok(())
        }
        KeysCommand::Show { key_id } => {
            let v = client
                .send(Method::GET, client.url(&["vault", "keys", &key_id]), None)
                .await?;
            if as_json {
                return output::json(&v);
            }
            key_fields(&serde_json::from_value(v)?);
            Ok(())
        }
        KeysCommand::Revoke { key_id } => {
            let v = client
                .send(
                    Method::DELETE,
                    client.url(&["vault", "keys", &key_id]),
                    None,
                )
                .await?;
            if as_json {
                return output::json(&v);
            }
            key_fields(&serde_json::from_value(v)?);
            Ok(())
        }
    }
}
