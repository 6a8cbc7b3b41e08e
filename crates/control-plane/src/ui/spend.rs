//! The Spend page: today's totals from the audit trail by label, key and vendor, each with a
//! bar chart, and the last 14 days per label. The same queries as `GET /spend`.

use super::guard::Operator;
use super::page::{render, UiError};
use super::view::{bars, usd, Bar, BAR_WIDTH, CHART_ROW};
use crate::audit::SpendBy;
use crate::ledger::utc_day_start_ms;
use crate::state::AppState;
use crate::store::SpendRow;
use crate::wire::audit::{day_string, DAY_MS};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

/// Days in the history table, today included.
const HISTORY_DAYS: u64 = 14;
/// Most groups a chart draws (the table lists them all).
const CHART_ROWS: usize = 12;

/// One grouping's totals today.
struct Totals {
    title: &'static str,
    rows: Vec<TotalLine>,
    chart: Vec<Bar>,
    chart_height: u64,
    total: String,
}

struct TotalLine {
    name: String,
    /// A key's page, for the key grouping.
    link: String,
    cost: String,
    calls: u64,
    denied: u64,
}

/// One label's spend on each of the last days, oldest first.
struct HistoryLine {
    label: String,
    days: Vec<String>,
    total: String,
}

#[derive(Template)]
#[template(path = "ui/spend.html")]
struct SpendPage {
    csrf: String,
    day: String,
    groups: Vec<Totals>,
    days: Vec<String>,
    history: Vec<HistoryLine>,
    chart_width: u64,
}

fn name(group: &Option<String>) -> String {
    group.clone().unwrap_or_else(|| "(no key)".to_owned())
}

fn totals(by: SpendBy, rows: &[SpendRow]) -> Totals {
    let chart_items: Vec<(String, u64)> = rows
        .iter()
        .take(CHART_ROWS)
        .map(|r| (name(&r.group), r.cost_micros))
        .collect();
    let chart = bars(&chart_items);
    Totals {
        title: match by {
            SpendBy::Label => "By agent-run label",
            SpendBy::Key => "By vault key",
            SpendBy::Vendor => "By vendor",
        },
        rows: rows
            .iter()
            .map(|r| TotalLine {
                name: name(&r.group),
                link: match (by, &r.group) {
                    (SpendBy::Key, Some(id)) => format!("/ui/keys/{id}"),
                    _ => String::new(),
                },
                cost: usd(r.cost_micros),
                calls: r.calls,
                denied: r.denied,
            })
            .collect(),
        chart_height: (chart.len() as u64).max(1) * CHART_ROW,
        chart,
        total: usd(rows.iter().map(|r| r.cost_micros).sum()),
    }
}

/// `GET /ui/spend`.
pub async fn page(State(state): State<AppState>, op: Operator) -> Result<Response, UiError> {
    let today = utc_day_start_ms(state.clock.now_ms());
    let mut groups = Vec::new();
    for by in [SpendBy::Label, SpendBy::Key, SpendBy::Vendor] {
        let rows = state.store.audit_spend(by, today, today + DAY_MS).await?;
        groups.push(totals(by, &rows));
    }
    // label -> micros per day, oldest day first.
    let mut per_label: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut days = Vec::new();
    for (i, back) in (0..HISTORY_DAYS).rev().enumerate() {
        let start = today.saturating_sub(back * DAY_MS);
        days.push(day_string(start)[5..].to_owned());
        for r in state
            .store
            .audit_spend(SpendBy::Label, start, start + DAY_MS)
            .await?
        {
            let slot = per_label
                .entry(name(&r.group))
                .or_insert_with(|| vec![0; HISTORY_DAYS as usize]);
            slot[i] += r.cost_micros;
        }
    }
    let mut history: Vec<(u64, HistoryLine)> = per_label
        .into_iter()
        .map(|(label, micros)| {
            let total: u64 = micros.iter().sum();
            let line = HistoryLine {
                label,
                days: micros
                    .iter()
                    .map(|m| if *m == 0 { "·".to_owned() } else { usd(*m) })
                    .collect(),
                total: usd(total),
            };
            (total, line)
        })
        .collect();
    history.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
    let page = SpendPage {
        csrf: op.session.csrf,
        day: day_string(today),
        groups,
        days,
        history: history.into_iter().map(|(_, l)| l).collect(),
        chart_width: BAR_WIDTH * 3,
    };
    Ok(render(StatusCode::OK, &page))
}
