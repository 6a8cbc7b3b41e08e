//! `keybrake rates`: the conversion rates gateways use for amounts in other currencies.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::rates::{RateList, RateView};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

/// Set, list and delete conversion rates to USD. An amount in a currency without a rate is
/// refused at the gateway with currency_not_supported, never guessed.
#[derive(Debug, Args)]
pub struct RatesArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: RatesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// Set how many US dollars one unit of a currency is worth.
    ///
    /// Example: keybrake rates set jpy 0.0067
    Set {
        /// Three-letter ISO 4217 code, such as jpy or eur.
        currency: String,
        /// US dollars per major unit (one yen, one euro).
        usd_per_unit: String,
    },
    /// List the rates, USD (built in) first.
    List,
    /// Delete a currency's rate: amounts in it are refused from then on.
    Delete {
        /// Three-letter ISO 4217 code.
        currency: String,
    },
}

/// A rate as typed: a JSON number when it reads as one, else the text, so that the API's
/// message says what is wrong with it.
fn rate_value(s: &str) -> Value {
    s.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(s.to_owned()))
}

fn print_rate(r: &RateView) {
    output::fields(&[
        ("currency", r.currency.clone()),
        ("usd_per_unit", r.usd_per_unit.to_string()),
        (
            "updated_at",
            r.updated_at.clone().unwrap_or_else(|| "-".to_owned()),
        ),
    ]);
}

pub async fn run(args: RatesArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let as_json = args.client.json;
    match args.command {
        RatesCommand::Set {
            currency,
            usd_per_unit,
        } => {
            let body = json!({ "usd_per_unit": rate_value(&usd_per_unit) });
            let url = client.url(&["rates", &currency]);
            let v = client.send(Method::PUT, url, Some(&body)).await?;
            if as_json {
                return output::json(&v);
            }
            print_rate(&serde_json::from_value(v)?);
            Ok(())
        }
        RatesCommand::List => {
            let v = client
                .send(Method::GET, client.url(&["rates"]), None)
                .await?;
            if as_json {
                return output::json(&v);
            }
            let list: RateList = serde_json::from_value(v)?;
            let rows: Vec<Vec<String>> = list
                .rates
                .iter()
                .map(|r| {
                    vec![
                        r.currency.clone(),
                        r.usd_per_unit.to_string(),
                        match (&r.updated_at, r.builtin) {
                            (_, true) => "built in".to_owned(),
                            (Some(at), false) => at.clone(),
                            (None, false) => "-".to_owned(),
                        },
                    ]
                })
                .collect();
            output::table(&["CURRENCY", "USD PER UNIT", "UPDATED AT"], &rows);
            Ok(())
        }
        RatesCommand::Delete { currency } => {
            let url = client.url(&["rates", &currency]);
            let v = client.send(Method::DELETE, url, None).await?;
            if as_json {
                return output::json(&v);
            }
            let r: RateView = serde_json::from_value(v)?;
            output::line(format_args!("{}: rate deleted", r.currency));
            Ok(())
        }
    }
}
