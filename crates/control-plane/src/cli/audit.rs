//! `keybrake audit`: the audit trail, filtered, as a table or JSON lines, optionally followed;
//! `keybrake audit gaps`: records gateways numbered and never delivered.

use super::client::{Client, ClientArgs, Unavailable};
use super::output;
use crate::audit::MAX_LIMIT;
use crate::wire::audit::{AuditPage, AuditRecordView, GapsView};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use reqwest::{Method, Url};
use std::time::Duration;

/// How often `--follow` asks for new records (and, while the control plane is away, for an
/// answer).
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
    /// Keep printing records as they are stored (asking every second) until Ctrl-C: each one
    /// once, in the order stored, whatever its call time (a gateway may deliver late).
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

/// The row id an answer says to read on from. Every answer of this control plane carries one.
fn resume_id(next_after_id: Option<i64>) -> anyhow::Result<i64> {
    next_after_id.context(
        "the control plane did not say where to follow from (no next_after_id): it is older \
         than this CLI; upgrade it to use --follow",
    )
}

/// Prints every matching record stored after row `after_id`, in the order stored, asking
/// every [`FOLLOW_EVERY`] (at once while whole pages come), until Ctrl-C. Records are printed
/// whatever their call time, so one a gateway delivers late is not missed. While the control
/// plane is unreachable or answers 5xx it says so on stderr once and keeps asking from the
/// same row id, so nothing stored meanwhile is skipped; any other error ends the command.
async fn follow(
    client: &Client,
    args: &AuditQueryArgs,
    mut after_id: i64,
    as_json: bool,
    mut table: Option<output::Table>,
) -> anyhow::Result<()> {
    let mut base = args.pairs();
    base.push(("limit", MAX_LIMIT.to_string()));
    let mut away = false;
    loop {
        let mut pairs = base.clone();
        pairs.push(("after_id", after_id.to_string()));
        match page(client, &pairs).await {
            Ok(p) => {
                if std::mem::take(&mut away) {
                    eprintln!("keybrake audit --follow: the control plane answers again");
                }
                after_id = resume_id(p.next_after_id)?;
                let whole = p.records.len() >= MAX_LIMIT as usize;
                print(&p.records, as_json, &mut table)?;
                if whole {
                    continue;
                }
            }
            Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
                if !std::mem::replace(&mut away, true) {
                    // On stderr, so that `--json` output stays one record per line.
                    eprintln!(
                        "keybrake audit --follow: {e}; asking again every second (records \
                         stored meanwhile are printed once it answers)"
                    );
                }
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
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
    let AuditPage {
        mut records,
        next_cursor,
        next_after_id,
    } = page(&client, &pairs).await?;
    records.reverse();
    let mut table = None;
    print(&records, as_json, &mut table)?;
    if args.query.follow {
        // The page holds no record stored after its next_after_id, and following starts
        // there: every record stored since is printed once, none twice.
        let after_id = resume_id(next_after_id)?;
        return follow(&client, &args.query, after_id, as_json, table).await;
    }
    if let Some(cursor) = next_cursor {
        // On stderr, so that `--json` output stays one record per line.
        eprintln!("older records: run the same command with --cursor {cursor}");
    }
    Ok(())
}
