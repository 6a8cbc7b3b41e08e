//! `keybrake audit`: the audit trail, filtered, as a table or JSON lines, optionally followed;
//! `keybrake audit gaps`: records gateways numbered and never delivered.

use super::client::{Client, ClientArgs};
use super::output;
use crate::wire::audit::{AuditPage, AuditRecordView, GapsView};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use reqwest::{Method, Url};
use std::collections::HashSet;
use std::time::Duration;

/// How often `--follow` asks for new records.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Show the audit trail: one record per call through a gateway, oldest first (the newest
/// LIMIT records that match; when there are older ones, stderr says which --cursor shows them).
/// Times are RFC 3339 (2027-01-15T08:00:00Z), a date, or Unix ms.
///
/// Examples: keybrake audit --label-prefix billing-agent/ --decision deny;
/// keybrake audit --key-id kid_0123456789abcdef --json; keybrake audit --follow
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub query: AuditQueryArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Gateway instances that died with records they never delivered (those are in their Envoy
    /// access log), and what every instance numbered, stored and dropped.
    Gaps,
}

#[derive(Debug, Args)]
pub struct AuditQueryArgs {
    /// Only this vault key's calls (kid_…).
    #[arg(long)]
    pub key_id: Option<String>,
    /// Only calls with exactly this label.
    #[arg(long, conflicts_with = "label_prefix")]
    pub label: Option<String>,
    /// Only calls whose label starts with this.
    #[arg(long)]
    pub label_prefix: Option<String>,
    /// stripe, twilio or resend.
    #[arg(long)]
    pub vendor: Option<String>,
    /// allow, deny or undecided.
    #[arg(long)]
    pub decision: Option<String>,
    /// Calls at or after this time.
    #[arg(long)]
    pub since: Option<String>,
    /// Calls before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// How many records (1 to 1000; default 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// The next page: older records than the last page showed (the cursor it printed).
    #[arg(long, conflicts_with = "follow")]
    pub cursor: Option<String>,
    /// Keep printing new records as they arrive (every second) until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
}

impl AuditQueryArgs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let fields = [
            ("key_id", &self.key_id),
            ("label", &self.label),
            ("label_prefix", &self.label_prefix),
            ("vendor", &self.vendor),
            ("decision", &self.decision),
            ("since", &self.since),
            ("until", &self.until),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                out.push((name, v.clone()));
            }
        }
        out
    }
}

fn url(client: &Client, pairs: &[(&str, String)]) -> Url {
    let mut url = client.url(&["audit"]);
    if !pairs.is_empty() {
        let mut q = url.query_pairs_mut();
        for (name, value) in pairs {
            q.append_pair(name, value);
        }
    }
    url
}

async fn page(client: &Client, pairs: &[(&str, String)]) -> anyhow::Result<AuditPage> {
    let v = client.send(Method::GET, url(client, pairs), None).await?;
    serde_json::from_value(v).context("reading the audit page")
}

const HEADERS: [&str; 10] = [
    "TIME", "KEY", "LABEL", "VENDOR", "METHOD", "PATH", "STATUS", "DECISION", "COST", "SPEND",
];

fn row(r: &AuditRecordView) -> Vec<String> {
    let dash = || "-".to_owned();
    let decision = match r.deny_reason {
        Some(reason) => format!("deny: {}", reason.as_str()),
        None => r.decision.as_str().to_owned(),
    };
    vec![
        r.time.clone(),
        r.key_id.clone().unwrap_or_else(dash),
        r.agent_run_label.clone().unwrap_or_else(dash),
        r.vendor.map_or_else(dash, |v| v.to_string()),
        r.method.clone(),
        r.path.clone(),
        r.status.to_string(),
        decision,
        output::usd(r.cost_usd),
        r.spend_usd.map_or_else(dash, output::usd),
    ]
}

/// Prints records oldest first: JSON lines, or table rows (the header with the first).
fn print(
    records: &[AuditRecordView],
    as_json: bool,
    table: &mut Option<output::Table>,
) -> anyhow::Result<()> {
    if as_json {
        for r in records {
            output::line(serde_json::to_string(r)?);
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records.iter().map(row).collect();
    match table {
        Some(t) => t.more(&rows),
        None => *table = Some(output::Table::print(&HEADERS, &rows)),
    }
    Ok(())
}

fn time_ms(r: &AuditRecordView) -> u64 {
    humantime::parse_rfc3339(&r.time)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

/// Where `--follow` stands: the newest time shown, and the records shown at or after it.
#[derive(Default)]
struct Follow {
    newest_ms: Option<u64>,
    shown: HashSet<(String, u64)>,
}

impl Follow {
    /// Of `records` (oldest first), the ones not shown yet; remembers them.
    fn take_new(&mut self, records: Vec<AuditRecordView>) -> Vec<AuditRecordView> {
        let fresh: Vec<AuditRecordView> = records
            .into_iter()
            .filter(|r| self.shown.insert((r.instance.clone(), r.seq)))
            .collect();
        if let Some(newest) = fresh.iter().map(time_ms).max() {
            if self.newest_ms.is_none_or(|n| newest > n) {
                self.newest_ms = Some(newest);
                // Only records at the newest time can come back in the next poll.
                let keep: HashSet<(String, u64)> = fresh
                    .iter()
                    .filter(|r| time_ms(r) == newest)
                    .map(|r| (r.instance.clone(), r.seq))
                    .collect();
                self.shown.retain(|k| keep.contains(k));
            }
        }
        fresh
    }
}

async fn follow(
    client: &Client,
    args: &AuditQueryArgs,
    mut state: Follow,
    as_json: bool,
    mut table: Option<output::Table>,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let mut pairs = args.pairs();
        if let Some(newest) = state.newest_ms {
            pairs.retain(|(n, _)| *n != "since");
            pairs.push(("since", newest.to_string()));
        }
        pairs.push(("limit", "1000".to_owned()));
        let mut records = Vec::new();
        loop {
            let p = page(client, &pairs).await?;
            records.extend(p.records);
            match p.next_cursor {
                Some(c) => {
                    pairs.retain(|(n, _)| *n != "cursor");
                    pairs.push(("cursor", c));
                }
                None => break,
            }
        }
        records.reverse();
        let fresh = state.take_new(records);
        print(&fresh, as_json, &mut table)?;
    }
}

async fn gaps(client: &Client, as_json: bool) -> anyhow::Result<()> {
    let v = client
        .send(Method::GET, client.url(&["audit", "gaps"]), None)
        .await?;
    if as_json {
        return output::json(&v);
    }
    let view: GapsView = serde_json::from_value(v)?;
    let rows: Vec<Vec<String>> = view
        .instances
        .iter()
        .map(|i| {
            vec![
                i.gateway.clone(),
                i.instance.clone(),
                if i.live { "live" } else { "dead" }.to_owned(),
                i.last_seen.clone(),
                i.numbered.to_string(),
                i.stored_through.to_string(),
                i.missing.to_string(),
                i.dropped_total.to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            "GATEWAY",
            "INSTANCE",
            "STATE",
            "LAST SEEN",
            "NUMBERED",
            "STORED THROUGH",
            "MISSING",
            "DROPPED",
        ],
        &rows,
    );
    if view.gaps.is_empty() {
        output::line("\nno gaps");
    }
    for g in &view.gaps {
        output::line(format_args!(
            "\ngap: instance {} of gateway {} stopped at {} with {} records never delivered \
             (from seq {}); they are in that gateway's Envoy access log",
            g.instance, g.gateway, g.last_seen, g.missing, g.first_missing_seq
        ));
    }
    Ok(())
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let as_json = args.client.json;
    if let Some(AuditCommand::Gaps) = args.command {
        if !args.query.pairs().is_empty() || args.query.limit.is_some() || args.query.follow {
            anyhow::bail!("audit gaps takes no filters: it covers every gateway instance");
        }
        return gaps(&client, as_json).await;
    }
    let mut pairs = args.query.pairs();
    if let Some(n) = args.query.limit {
        pairs.push(("limit", n.to_string()));
    }
    if let Some(c) = &args.query.cursor {
        pairs.push(("cursor", c.clone()));
    }
    let first = page(&client, &pairs).await?;
    let mut records = first.records;
    records.reverse();
    let mut state = Follow::default();
    let shown = state.take_new(records);
    let mut table = None;
    print(&shown, as_json, &mut table)?;
    if let (Some(cursor), false) = (first.next_cursor, args.query.follow) {
        // On stderr, so that `--json` output stays one record per line.
        eprintln!("older records: run the same command with --cursor {cursor}");
    }
    if args.query.follow {
        follow(&client, &args.query, state, as_json, table).await?;
    }
    Ok(())
}
