//! `GET /audit?after_id=…`: reading the trail forward by row id, as `keybrake audit --follow`
//! does, gets every record stored after the starting point once, in the order stored, whatever
//! its call time; filters and the limit hold; bad ids are refused.

use crate::audit_support::{audit, ids, record, Instance, KEY_B};
use crate::support::{TestApp, T0_MS};
use axum::http::StatusCode;
use keybrake_core::audit::AuditRecord;
use keybrake_core::Vendor;
use serde_json::Value;
use std::time::Duration;

/// The same record by `KEY_B`, labelled `run/b`, through Twilio.
fn other_run(offset_ms: u64) -> AuditRecord {
    AuditRecord {
        key_id: Some(KEY_B.into()),
        agent_run_label: Some("run/b".into()),
        vendor: Some(Vendor::Twilio),
        ..record(offset_ms, 8_300)
    }
}

/// Reads forward from `after_id` with `query`, page by page until an answer has no record.
/// Returns every record's `(instance, seq)` and where reading would resume; asserts that each
/// page keeps to the limit, that resume ids only grow, and that no page has a cursor.
async fn read_forward(
    app: &TestApp,
    query: &str,
    limit: usize,
    after_id: i64,
) -> (Vec<(String, u64)>, i64) {
    let mut after = after_id;
    let mut seen = Vec::new();
    loop {
        let page = audit(app, &format!("{query}&limit={limit}&after_id={after}")).await;
        assert_eq!(
            page["next_cursor"],
            Value::Null,
            "{query}: forward reads have no cursor"
        );
        let records = ids(&page);
        assert!(
            records.len() <= limit,
            "{query}: {} records over the limit {limit}",
            records.len()
        );
        let next = page["next_after_id"].as_i64().unwrap();
        assert!(
            next >= after,
            "{query}: next_after_id {next} went back from {after}"
        );
        if records.is_empty() {
            return (seen, next);
        }
        assert!(
            next > after,
            "{query}: records but no progress from {after}"
        );
        seen.extend(records);
        after = next;
    }
}

fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(i, s)| ((*i).to_owned(), *s)).collect()
}

#[tokio::test]
async fn reading_forward_gets_records_delivered_late_once_in_the_order_stored() {
    let app = TestApp::new().await;
    let a = Instance::new("inst-a");
    let b = Instance {
        gateway: "gw-2",
        ..Instance::new("inst-b")
    };
    // Before the reader starts: not part of what it reads.
    a.ship(&app, 1, vec![record(10_000, 1), record(11_000, 1)])
        .await;

    // The starting point, as a follower takes it: the newest page's next_after_id.
    let newest = audit(&app, "limit=1").await;
    assert_eq!(ids(&newest), pairs(&[("inst-a", 2)]));
    let start = newest["next_after_id"].as_i64().unwrap();
    let (nothing, resume) = read_forward(&app, "", 10, start).await;
    assert!(
        nothing.is_empty(),
        "nothing stored since the start: {nothing:?}"
    );
    assert_eq!(
        resume, start,
        "nothing new: the answer keeps the starting point"
    );

    // Then, in this order: a call at +20 s on gateway 1; gateway 2, cut off for a while,
    // catches up with calls made long before it (+1 s, +2 s, one of another run); gateway 1
    // resends a batch whose first record is already stored, with an even older one after it.
    a.ship(&app, 3, vec![record(20_000, 1)]).await;
    b.ship(
        &app,
        1,
        vec![record(1_000, 1), other_run(2_000), record(3_000, 1)],
    )
    .await;
    a.ship(&app, 3, vec![record(20_000, 1), record(500, 1)])
        .await;
    let stored = pairs(&[
        ("inst-a", 3),
        ("inst-b", 1),
        ("inst-b", 2),
        ("inst-b", 3),
        ("inst-a", 4),
    ]);

    for limit in [1, 2, 1000] {
        let (seen, _) = read_forward(&app, "", limit, start).await;
        assert_eq!(
            seen, stored,
            "limit {limit}: every record once, in the order stored"
        );
    }
    // The limit holds for one answer too.
    let two = audit(&app, &format!("after_id={start}&limit=2")).await;
    assert_eq!(ids(&two), stored[..2]);

    let (_, end) = read_forward(&app, "", 1000, start).await;
    let cases: [(&str, &str, &[(&str, u64)]); 5] = [
        ("vendor", "vendor=twilio", &[("inst-b", 2)]),
        (
            "label",
            "label=run/a",
            &[("inst-a", 3), ("inst-b", 1), ("inst-b", 3), ("inst-a", 4)],
        ),
        ("key", &format!("key_id={KEY_B}"), &[("inst-b", 2)]),
        // Call time filters still apply to the call time.
        (
            "since",
            &format!("since={}", T0_MS + 2_000),
            &[("inst-a", 3), ("inst-b", 2), ("inst-b", 3)],
        ),
        ("nothing matches", "label_prefix=zzz", &[]),
    ];
    for (name, query, want) in cases {
        let (seen, resume) = read_forward(&app, query, 1, start).await;
        assert_eq!(seen, pairs(want), "case {name}: {query}");
        assert_eq!(
            resume, end,
            "case {name}: resumes after every record it looked at"
        );
    }

    // A follower that read everything gets what is stored next, and only that.
    assert_eq!(read_forward(&app, "", 1000, end).await.0, []);
    b.ship(&app, 4, vec![record(0, 1)]).await;
    let (next, _) = read_forward(&app, "", 1000, end).await;
    assert_eq!(next, pairs(&[("inst-b", 4)]));
    // And from 0, the whole trail.
    assert_eq!(read_forward(&app, "", 1000, 0).await.0.len(), 8);
}

#[tokio::test]
async fn the_newest_page_ends_where_reading_forward_starts() {
    let app = TestApp::new().await;
    let empty = audit(&app, "").await;
    assert_eq!(empty["records"], serde_json::json!([]));
    let start = empty["next_after_id"].as_i64().unwrap();
    assert_eq!(start, 0, "an empty trail starts at 0");

    let a = Instance::new("inst-a");
    a.ship(&app, 1, (1..=5).map(|i| record(i * 1_000, 1)).collect())
        .await;
    // The page is the newest two; the three before it are behind its cursor, not ahead of
    // next_after_id.
    let page = audit(&app, "limit=2").await;
    assert_eq!(ids(&page), pairs(&[("inst-a", 5), ("inst-a", 4)]));
    assert!(page["next_cursor"].is_string());
    let after = page["next_after_id"].as_i64().unwrap();
    assert!(after > start);
    assert_eq!(read_forward(&app, "", 10, after).await.0, []);
    assert_eq!(read_forward(&app, "", 10, start).await.0.len(), 5);
}

/// Retention prunes every record of a quiet trail: a follower that read them all still gets the
/// next one stored (row ids never go back, on SQLite too).
#[tokio::test]
async fn a_follower_gets_new_records_after_retention_pruned_the_trail() {
    let app = TestApp::new().await;
    let a = Instance::new("inst-a");
    a.ship(&app, 1, vec![record(0, 1), record(1, 1), record(2, 1)])
        .await;
    let (_, after) = read_forward(&app, "", 10, 0).await;

    app.clock.advance(Duration::from_secs(100 * 86_400)); // past the 90 days of retention
    keybrake_control_plane::retention::prune_once(&app.state)
        .await
        .unwrap();
    // A follower asking before anything new is stored: nothing yet, and no error (the newest
    // record is kept, so its id is still the highest).
    let (seen, after_prune) = read_forward(&app, "", 10, after).await;
    assert_eq!((seen, after_prune), (Vec::new(), after));
    let now = 100 * 86_400_000;
    a.ship(&app, 4, vec![record(now, 1), record(now + 1, 1)])
        .await;
    let (seen, _) = read_forward(&app, "", 10, after).await;
    assert_eq!(seen, pairs(&[("inst-a", 4), ("inst-a", 5)]));
}

#[tokio::test]
async fn a_bad_after_id_is_refused_naming_it() {
    let app = TestApp::new().await;
    Instance::new("inst-a")
        .ship(&app, 1, vec![record(0, 1), record(1, 1)])
        .await;
    let cursor = audit(&app, "limit=1").await["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for query in [
        "after_id=abc".to_owned(),
        "after_id=-1".to_owned(),
        "after_id=1.5".to_owned(),
        "after_id=".to_owned(),
        format!("after_id=1&cursor={cursor}"),
        // Past the newest record (2 stored): not an id this trail handed out.
        "after_id=3".to_owned(),
        "after_id=1000000".to_owned(),
    ] {
        let r = app.get(&format!("/audit?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        assert_eq!(r.error().1.as_deref(), Some("after_id"), "{query}");
        assert!(r.text().contains("after_id"), "{query}: {}", r.text());
    }
    // The newest record's id itself is where a follower waits for the next.
    let r = app.get("/audit?after_id=2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
