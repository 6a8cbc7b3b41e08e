//! `keybrake vendors`: set and list the vendors' real credentials.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::vendors::{VendorList, VendorStatus};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::Path;

/// Set and list the vendors' real credentials. They are sealed at rest and never shown again.
#[derive(Debug, Args)]
pub struct VendorsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: VendorsCommand,
}

#[derive(Debug, Subcommand)]
pub enum VendorsCommand {
    /// Set a vendor's real credential. Secrets are read from a file or stdin, never from flags.
    ///
    /// Examples: echo "$STRIPE_KEY" | keybrake vendors set stripe;
    /// keybrake vendors set twilio --account-sid AC123 --auth-token-file token.txt;
    /// keybrake vendors set twilio --account-sid AC123 --api-key-sid SK456
    /// --api-key-secret-file secret.txt
    Set {
        /// stripe, twilio or resend.
        vendor: String,
        /// File holding the API key (stripe, resend); "-" or absent: stdin.
        #[arg(long, value_name = "PATH")]
        api_key_file: Option<String>,
        /// The Twilio Account SID (AC…), needed with either form of Twilio credential.
        #[arg(long)]
        account_sid: Option<String>,
        /// File holding the Twilio Auth Token; "-" or absent: stdin.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["api_key_sid", "api_key_secret_file"])]
        auth_token_file: Option<String>,
        /// A Twilio API key's SID (SK…), to use the API key instead of the Auth Token.
        #[arg(long)]
        api_key_sid: Option<String>,
        /// File holding the Twilio API key's secret; "-" or absent: stdin.
        #[arg(long, value_name = "PATH", requires = "api_key_sid")]
        api_key_secret_file: Option<String>,
    },
    /// List the vendors and whether each has a credential.
    List,
}

/// Reads a secret from `path`, or from stdin for "-" or none, trimmed.
fn read_secret(path: Option<&str>, prompt: &str) -> anyhow::Result<String> {
    let text = match path {
        Some(p) if p != "-" => {
            std::fs::read_to_string(Path::new(p)).with_context(|| format!("reading {p}"))?
        }
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("{prompt}");
                let mut line = String::new();
                stdin.read_line(&mut line)?;
                line
            } else {
                let mut all = String::new();
                stdin.lock().read_to_string(&mut all)?;
                all
            }
        }
    };
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        bail!("the secret read from {} is empty", path.unwrap_or("stdin"));
    }
    Ok(secret)
}

pub async fn run(args: VendorsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let as_json = args.client.json;
    match args.command {
        VendorsCommand::Set {
            vendor,
            api_key_file,
            account_sid,
            auth_token_file,
            api_key_sid,
            api_key_secret_file,
        } => {
            let body = if vendor == "twilio" {
                let Some(sid) = account_sid else {
                    bail!("twilio needs --account-sid");
                };
                if api_key_file.is_some() {
                    bail!("--api-key-file is for stripe and resend; twilio takes --auth-token-file, or --api-key-sid with --api-key-secret-file");
                }
                match api_key_sid {
                    Some(key_sid) => {
                        let secret =
                            read_secret(api_key_secret_file.as_deref(), "Twilio API key secret:")?;
                        json!({"account_sid": sid, "api_key_sid": key_sid, "api_key_secret": secret})
                    }
                    None => {
                        let token = read_secret(auth_token_file.as_deref(), "Twilio auth token:")?;
                        json!({"account_sid": sid, "auth_token": token})
                    }
                }
            } else {
                if account_sid.is_some() || auth_token_file.is_some() || api_key_sid.is_some() {
                    bail!("--account-sid, --auth-token-file and --api-key-sid are for twilio; {vendor} takes an API key");
                }
                let key = read_secret(api_key_file.as_deref(), &format!("{vendor} API key:"))?;
                json!({"api_key": key})
            };
            let url = client.url(&["vendors", &vendor, "credentials"]);
            let v = client.send(Method::PUT, url, Some(&body)).await?;
            if as_json {
                return output::json(&v);
            }
            let s: VendorStatus = serde_json::from_value(v)?;
            output::line(format_args!(
                "{}: credential set ({})",
                s.vendor,
                s.updated_at.unwrap_or_default()
            ));
            Ok(())
        }
        VendorsCommand::List => {
            let v = client
                .send(Method::GET, client.url(&["vendors"]), None)
                .await?;
            if as_json {
                return output::json(&v);
            }
            let list: VendorList = serde_json::from_value(v)?;
            let rows: Vec<Vec<String>> = list
                .vendors
                .iter()
                .map(|s| {
                    vec![
                        s.vendor.to_string(),
                        if s.configured { "yes" } else { "no" }.to_owned(),
                        s.updated_at.clone().unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect();
            output::table(&["VENDOR", "CONFIGURED", "UPDATED AT"], &rows);
            Ok(())
        }
    }
}
