//! `keybrake spend`: a UTC day's totals from the audit trail, by label, key or vendor.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::audit::SpendView;
use clap::Args;
use reqwest::Method;

/// Show what was spent today (UTC), from the audit trail: cost, calls and denials per agent-run
/// label, vault key or vendor, most spent first.
///
/// Example: keybrake spend --by label
#[derive(Debug, Args)]
pub struct SpendArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// label, key or vendor.
    #[arg(long, default_value = "label")]
    pub by: String,
    /// Another UTC day, YYYY-MM-DD.
    #[arg(long)]
    pub day: Option<String>,
}

pub async fn run(args: SpendArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let mut url = client.url(&["spend"]);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("by", &args.by);
        if let Some(day) = &args.day {
            q.append_pair("day", day);
        }
    }
    let v = client.send(Method::GET, url, None).await?;
    if args.client.json {
        return output::json(&v);
    }
    let view: SpendView = serde_json::from_value(v)?;
    let column = match view.by.as_str() {
        "key" => "KEY ID",
        "vendor" => "VENDOR",
        _ => "LABEL",
    };
    let mut rows: Vec<Vec<String>> = view
        .rows
        .iter()
        .map(|r| {
            let group = r.group.values().next().cloned().flatten();
            vec![
                group.unwrap_or_else(|| "(none)".to_owned()),
                output::usd(r.cost_usd),
                r.calls.to_string(),
                r.denied.to_string(),
            ]
        })
        .collect();
    let cost: f64 = view.rows.iter().map(|r| r.cost_usd).sum();
    let calls: u64 = view.rows.iter().map(|r| r.calls).sum();
    let denied: u64 = view.rows.iter().map(|r| r.denied).sum();
    rows.push(vec![
        "TOTAL".to_owned(),
        output::usd((cost * 1e6).round() / 1e6),
        calls.to_string(),
        denied.to_string(),
    ]);
    output::line(format_args!("{} (UTC)", view.day));
    output::table(&[column, "COST USD", "CALLS", "DENIED"], &rows);
    Ok(())
}
