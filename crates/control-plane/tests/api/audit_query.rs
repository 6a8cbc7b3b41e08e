//! `GET /audit` filters and paging, and `GET /spend` totals from the audit trail.

use crate::audit_support::{audit, denied, ids, record, Instance, KEY_A, KEY_B};
use crate::support::{TestApp, T0_MS};
use axum::http::StatusCode;
use keybrake_core::audit::AuditRecord;
use keybrake_core::{DenyReason, Vendor};
use serde_json::json;
use std::collections::HashSet;

const DAY_MS: u64 = 86_400_000;

fn with(
    r: AuditRecord,
    key: Option<&str>,
    label: Option<&str>,
    vendor: Option<Vendor>,
) -> AuditRecord {
    AuditRecord {
        key_id: key.map(Into::into),
        agent_run_label: label.map(Into::into),
        vendor,
        ..r
    }
}

/// Seven records, seq 1–7; the seventh is from yesterday.
async fn seeded() -> TestApp {
    let app = TestApp::new().await;
    let mut yesterday = record(0, 5_000_000);
    yesterday.time_ms = T0_MS - DAY_MS;
    let records = vec![
        record(0, 1_000_000),
        denied(1_000, DenyReason::SpendCapExceeded),
        with(
            record(2_000, 8_300),
            Some(KEY_B),
            Some("run/b"),
            Some(Vendor::Twilio),
        ),
        with(
            record(3_000, 900),
            Some(KEY_B),
            Some("team/x"),
            Some(Vendor::Resend),
        ),
        with(denied(4_000, DenyReason::UnknownKey), None, None, None),
        with(
            record(5_000, 2_000_000),
            Some(KEY_A),
            Some("run/ab"),
            Some(Vendor::Stripe),
        ),
        yesterday,
    ];
    Instance::new("inst-a").ship(&app, 1, records).await;
    app
}

fn seqs(page: &serde_json::Value) -> Vec<u64> {
    ids(page).into_iter().map(|(_, s)| s).collect()
}

#[tokio::test]
async fn every_filter_narrows() {
    let app = seeded().await;
    let cases: [(&str, String, &[u64]); 13] = [
        (
            "everything, newest first",
            String::new(),
            &[6, 5, 4, 3, 2, 1, 7],
        ),
        ("key", format!("key_id={KEY_A}"), &[6, 2, 1, 7]),
        ("exact label", "label=run/a".into(), &[2, 1, 7]),
        ("label prefix", "label_prefix=run/".into(), &[6, 3, 2, 1, 7]),
        ("longer prefix", "label_prefix=run/a".into(), &[6, 2, 1, 7]),
        ("prefix matching nothing", "label_prefix=zzz".into(), &[]),
        ("vendor", "vendor=twilio".into(), &[3]),
        ("denials", "decision=deny".into(), &[5, 2]),
        (
            "since, inclusive",
            format!("since={}", T0_MS + 1_000),
            &[6, 5, 4, 3, 2],
        ),
        (
            "until, exclusive",
            format!("until={}", T0_MS + 1_000),
            &[1, 7],
        ),
        (
            "a window in RFC 3339",
            "since=2027-01-15T08:00:02Z&until=2027-01-15T08:00:04Z".into(),
            &[4, 3],
        ),
        (
            "since a date",
            "since=2027-01-15".into(),
            &[6, 5, 4, 3, 2, 1],
        ),
        (
            "combined",
            format!("key_id={KEY_A}&decision=allow&since=2027-01-15T08:00:00Z"),
            &[6, 1],
        ),
    ];
    for (name, query, want) in cases {
        let page = audit(&app, &query).await;
        assert_eq!(seqs(&page), want, "case {name}: {query}");
        assert_eq!(page["next_cursor"], serde_json::Value::Null, "case {name}");
    }
    let r = app.get("/audit?decision=maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().1.as_deref(), Some("decision"));
}

#[tokio::test]
async fn pages_neither_repeat_nor_miss_records_while_new_ones_arrive() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    // 25 records, three to a millisecond, so the cursor must break ties.
    let records: Vec<_> = (0..25).map(|i| record(i / 3, 0)).collect();
    gw.ship(&app, 1, records).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut next_seq = 26;
    let other = Instance::new("inst-b");
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=10&cursor={c}"),
            None => "limit=10".to_owned(),
        };
        let page = audit(&app, &query).await;
        seen.extend(ids(&page));
        // New records arrive between pages: some newer, some in the same milliseconds.
        gw.ship(&app, next_seq, vec![record(1_000, 0), record(0, 0)])
            .await;
        other.ship(&app, next_seq - 25, vec![record(4, 0)]).await;
        next_seq += 2;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let originals: Vec<_> = seen
        .iter()
        .filter(|(i, s)| i == "inst-a" && *s <= 25)
        .cloned()
        .collect();
    assert_eq!(originals.len(), 25, "every original record once: {seen:?}");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no record twice: {seen:?}");
    // Newest first: seq 25 (ms 8) down to seq 1 (ms 0), ties by arrival.
    let order: Vec<u64> = originals.iter().map(|(_, s)| *s).collect();
    assert_eq!(order, (1..=25).rev().collect::<Vec<_>>());
    let first_page = audit(&app, "limit=3").await;
    assert!(first_page["next_cursor"].is_string());
}

#[tokio::test]
async fn spend_today_by_label_key_and_vendor() {
    let app = seeded().await;
    let r = app.get("/spend?by=label").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"by": "label", "day": "2027-01-15", "rows": [
            {"label": "run/ab", "cost_usd": 2.0, "calls": 1, "denied": 0},
            {"label": "run/a", "cost_usd": 1.0, "calls": 2, "denied": 1},
            {"label": "run/b", "cost_usd": 0.0083, "calls": 1, "denied": 0},
            {"label": "team/x", "cost_usd": 0.0009, "calls": 1, "denied": 0},
            {"label": null, "cost_usd": 0.0, "calls": 1, "denied": 1},
        ]})
    );
    assert_eq!(
        app.get("/spend?by=key").await.json()["rows"],
        json!([
            {"key_id": KEY_A, "cost_usd": 3.0, "calls": 3, "denied": 1},
            {"key_id": KEY_B, "cost_usd": 0.0092, "calls": 2, "denied": 0},
            {"key_id": null, "cost_usd": 0.0, "calls": 1, "denied": 1},
        ])
    );
    assert_eq!(
        app.get("/spend?by=vendor").await.json()["rows"],
        json!([
            {"vendor": "stripe", "cost_usd": 3.0, "calls": 3, "denied": 1},
            {"vendor": "twilio", "cost_usd": 0.0083, "calls": 1, "denied": 0},
            {"vendor": "resend", "cost_usd": 0.0009, "calls": 1, "denied": 0},
            {"vendor": null, "cost_usd": 0.0, "calls": 1, "denied": 1},
        ])
    );
    assert_eq!(
        app.get("/spend?by=label&day=2027-01-14").await.json()["rows"],
        json!([{"label": "run/a", "cost_usd": 5.0, "calls": 1, "denied": 0}])
    );
    let r = app.get("/spend?by=team").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().1.as_deref(), Some("by"));
}
