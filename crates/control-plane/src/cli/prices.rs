//! `keybrake prices`: what gateways charge for Twilio and Resend calls when the vendor's
//! response does not say.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::prices::{PriceList, PriceTable, PriceView};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Set, list and reset the prices gateways charge Twilio and Resend calls at. Defaults are the
/// vendors' US list prices; Stripe calls are priced from the request's own amount.
#[derive(Debug, Args)]
pub struct PricesArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: PricesCommand,
}

// Parsed once per run: the size of the `Set` variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// List both vendors' prices, and which are defaults.
    List,
    /// Set some of a vendor's prices, in US dollars. Prices not named keep what they were
    /// (with --replace: go back to the default).
    ///
    /// Examples: keybrake prices set twilio --sms-segment 0.0083 --prefix-sms 44=0.04
    /// --mms 0.022 --call-minute 0.014 --call-max-minutes 240 --channel-message whatsapp=0.005;
    /// keybrake prices set resend --email 0.0009
    Set {
        /// twilio or resend.
        vendor: String,
        /// Twilio: per SMS segment, for destinations without a prefix price.
        #[arg(long, value_name = "USD")]
        sms_segment: Option<String>,
        /// Twilio: per SMS segment to numbers starting with PREFIX (E.164 digits, no +).
        /// Repeat for more; the longest matching prefix wins.
        #[arg(long, value_name = "PREFIX=USD")]
        prefix_sms: Vec<String>,
        /// Twilio: per MMS message (any message with media).
        #[arg(long, value_name = "USD")]
        mms: Option<String>,
        /// Twilio: per MMS message to numbers starting with PREFIX.
        #[arg(long, value_name = "PREFIX=USD")]
        prefix_mms: Vec<String>,
        /// Twilio: per started minute of an outbound call.
        #[arg(long, value_name = "USD")]
        call_minute: Option<String>,
        /// Twilio: per call minute to numbers starting with PREFIX.
        #[arg(long, value_name = "PREFIX=USD")]
        prefix_call: Vec<String>,
        /// Twilio: minutes a call without TimeLimit is reserved for (1 to 1440).
        #[arg(long, value_name = "MINUTES")]
        call_max_minutes: Option<String>,
        /// Twilio: per message to a channel address (whatsapp:+1…, messenger:…). Repeat for
        /// more; a message to a channel without a price is refused.
        #[arg(long, value_name = "CHANNEL=USD")]
        channel_message: Vec<String>,
        /// Twilio: per call minute to a channel address (client:alice, sip:…).
        #[arg(long, value_name = "CHANNEL=USD")]
        channel_call: Vec<String>,
        /// Resend: per email (each to, cc and bcc address is one).
        #[arg(long, value_name = "USD")]
        email: Option<String>,
        /// Send only the prices given: every other one goes back to its default.
        #[arg(long)]
        replace: bool,
    },
    /// Put a vendor's prices back to the defaults.
    Reset {
        /// twilio or resend.
        vendor: String,
    },
}

/// A number as typed: a JSON number when it reads as one, else the text, so that the API's
/// message says what is wrong with it.
fn number(s: &str) -> Value {
    s.trim()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// The body fields the view shows as set (not default).
fn set_fields(view: &PriceView) -> anyhow::Result<Map<String, Value>> {
    let Value::Object(prices) = serde_json::to_value(&view.prices)? else {
        bail!("the control plane sent prices that are not an object");
    };
    Ok(prices
        .into_iter()
        .filter(|(name, _)| view.default.get(name) == Some(&false))
        .collect())
}

/// Adds `KEY=USD` flags (a destination prefix or a channel name) to the table `field`.
fn add_entries(
    body: &mut Map<String, Value>,
    field: &str,
    flags: &[String],
    example: &str,
) -> anyhow::Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let table = body
        .entry(field.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !table.is_object() {
        *table = Value::Object(Map::new());
    }
    for flag in flags {
        let Some((prefix, usd)) = flag.split_once('=') else {
            bail!("{flag:?} is not of the form {example}");
        };
        if let Some(t) = table.as_object_mut() {
            t.insert(prefix.trim().to_owned(), number(usd));
        }
    }
    Ok(())
}

fn money(usd: f64) -> String {
    format!("${usd}")
}

fn rows(view: &PriceView) -> Vec<Vec<String>> {
    let source = |field: &str| {
        if view.default.get(field) == Some(&false) {
            "set"
        } else {
            "default"
        }
        .to_owned()
    };
    let vendor = view.vendor.to_string();
    let row = |item: &str, dest: &str, value: String, field: &str| {
        vec![
            vendor.clone(),
            item.to_owned(),
            dest.to_owned(),
            value,
            source(field),
        ]
    };
    let mut out = Vec::new();
    let mut priced = |item: &str, usd: f64, field: &str, by: &BTreeMap<String, f64>, by_field| {
        // The shipped defaults are US prices: they price +1 numbers only, and other countries are
        // refused until set. An operator's own default prices every destination.
        let dest = if view.default.get(field) == Some(&false) {
            "other"
        } else {
            "+1"
        };
        out.push(row(item, dest, money(usd), field));
        for (prefix, p) in by {
            out.push(row(item, &format!("+{prefix}"), money(*p), by_field));
        }
    };
    match &view.prices {
        PriceTable::Twilio(t) => {
            priced(
                "sms segment",
                t.sms_segment_usd,
                "sms_segment_usd",
                &t.sms_segment_by_prefix,
                "sms_segment_by_prefix",
            );
            priced(
                "mms message",
                t.mms_message_usd,
                "mms_message_usd",
                &t.mms_message_by_prefix,
                "mms_message_by_prefix",
            );
            priced(
                "call minute",
                t.call_minute_usd,
                "call_minute_usd",
                &t.call_minute_by_prefix,
                "call_minute_by_prefix",
            );
            out.push(row(
                "call max minutes",
                "-",
                t.call_max_minutes.to_string(),
                "call_max_minutes",
            ));
            let channels = [
                ("message", &t.message_by_channel, "message_by_channel"),
                (
                    "call minute",
                    &t.call_minute_by_channel,
                    "call_minute_by_channel",
                ),
            ];
            for (item, table, field) in channels {
                for (channel, usd) in table {
                    out.push(row(item, &format!("{channel}:"), money(*usd), field));
                }
            }
        }
        PriceTable::Resend(r) => out.push(row("email", "-", money(r.email_usd), "email_usd")),
    }
    out
}

fn print(views: &[&PriceView]) {
    let all: Vec<Vec<String>> = views.iter().flat_map(|v| rows(v)).collect();
    output::table(&["VENDOR", "PRICE", "DESTINATION", "VALUE", "SOURCE"], &all);
}

pub async fn run(args: PricesArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let as_json = args.client.json;
    match args.command {
        PricesCommand::List => {
            let v = client
                .send(Method::GET, client.url(&["prices"]), None)
                .await?;
            if as_json {
                return output::json(&v);
            }
            let list: PriceList = serde_json::from_value(v)?;
            print(&[&list.twilio, &list.resend]);
            Ok(())
        }
        PricesCommand::Set {
            vendor,
            sms_segment,
            prefix_sms,
            mms,
            prefix_mms,
            call_minute,
            prefix_call,
            call_max_minutes,
            channel_message,
            channel_call,
            email,
            replace,
        } => {
            let mut body = Map::new();
            if !replace {
                let v = client
                    .send(Method::GET, client.url(&["prices"]), None)
                    .await?;
                if let Some(current) = v.get(vendor.as_str()) {
                    let view: PriceView = serde_json::from_value(current.clone())
                        .context("reading the current prices")?;
                    body = set_fields(&view)?;
                }
            }
            let scalars = [
                ("sms_segment_usd", sms_segment),
                ("mms_message_usd", mms),
                ("call_minute_usd", call_minute),
                ("call_max_minutes", call_max_minutes),
                ("email_usd", email),
            ];
            for (field, value) in scalars {
                if let Some(v) = value {
                    body.insert(field.to_owned(), number(&v));
                }
            }
            let prefix = "PREFIX=USD (such as 44=0.04)";
            add_entries(&mut body, "sms_segment_by_prefix", &prefix_sms, prefix)?;
            add_entries(&mut body, "mms_message_by_prefix", &prefix_mms, prefix)?;
            add_entries(&mut body, "call_minute_by_prefix", &prefix_call, prefix)?;
            let channel = "CHANNEL=USD (such as whatsapp=0.005)";
            add_entries(&mut body, "message_by_channel", &channel_message, channel)?;
            add_entries(&mut body, "call_minute_by_channel", &channel_call, channel)?;
            let url = client.url(&["prices", &vendor]);
            let v = client
                .send(Method::PUT, url, Some(&Value::Object(body)))
                .await?;
            if as_json {
                return output::json(&v);
            }
            print(&[&serde_json::from_value(v)?]);
            Ok(())
        }
        PricesCommand::Reset { vendor } => {
            let url = client.url(&["prices", &vendor]);
            let v = client.send(Method::DELETE, url, None).await?;
            if as_json {
                return output::json(&v);
            }
            let view: PriceView = serde_json::from_value(v)?;
            output::line(format_args!("{}: prices back to the defaults", view.vendor));
            Ok(())
        }
    }
}
