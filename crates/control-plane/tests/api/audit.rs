//! `POST /dataplane/v1/audit`: each record stored once, acknowledged only through what is
//! stored without a hole; `/audit/gaps` once an instance with missing records is dead.

use crate::audit_support::{audit, denied, record, Instance, KEY_A};
use crate::lease_support::{app_with, metric};
use crate::support::{As, TestApp};
use axum::http::{Method, StatusCode};
use keybrake_core::DenyReason;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_batch_is_stored_once_and_acknowledged() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    let records: Vec<_> = (0..5).map(|i| record(i, 1_000_000)).collect();
    let batch = gw.batch(1, records, 6);
    let r = gw.send(&app, &batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"acked_through": 5}));
    assert_eq!(metric(&app, "keybrake_audit_records_stored_total").await, 5);

    // The acknowledgement was lost: the same batch again stores nothing and acks the same.
    let r = gw.send(&app, &batch).await;
    assert_eq!(r.json(), json!({"acked_through": 5}));
    assert_eq!(metric(&app, "keybrake_audit_records_stored_total").await, 5);
    assert_eq!(metric(&app, "keybrake_audit_batches_total").await, 2);
    assert_eq!(
        audit(&app, "").await["records"].as_array().unwrap().len(),
        5
    );

    // An empty batch (a heartbeat) acks what is stored, and keeps the instance live.
    assert_eq!(gw.ship(&app, 6, vec![]).await, 5);
    assert_eq!(metric(&app, "keybrake_instances_live").await, 1);

    // What was stored survives a restart.
    let again = app.reopen().await;
    assert_eq!(gw.ship(&again, 6, vec![record(9, 0)]).await, 6);
}

#[tokio::test]
async fn a_batch_holding_a_sequence_number_twice_stores_its_first_record_once() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    let mut batch = gw.batch(1, vec![record(1, 10), record(2, 20), record(3, 30)], 3);
    batch.entries[2].seq = 1;
    let r = gw.send(&app, &batch).await;
    assert_eq!(r.json(), json!({"acked_through": 2}), "{}", r.text());
    assert_eq!(metric(&app, "keybrake_audit_records_stored_total").await, 2);
    let page = audit(&app, "").await;
    let costs: Vec<_> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].as_u64().unwrap(), r["cost_usd"].as_f64().unwrap()))
        .collect();
    assert_eq!(costs, [(2, 0.00002), (1, 0.00001)], "{page}");
}

#[tokio::test]
async fn out_of_order_batches_ack_only_what_has_no_hole_below() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    let later: Vec<_> = (5..10).map(|i| record(i, 0)).collect();
    let earlier: Vec<_> = (0..5).map(|i| record(i, 0)).collect();
    assert_eq!(gw.ship(&app, 6, later).await, 0);
    assert_eq!(gw.ship(&app, 1, earlier).await, 10);
    // Instances are independent.
    let other = Instance::new("inst-b");
    assert_eq!(other.ship(&app, 1, vec![record(0, 0)]).await, 1);
}

#[tokio::test]
async fn the_records_read_back_as_they_were_sent() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    gw.ship(
        &app,
        1,
        vec![
            record(0, 10_010_000),
            denied(1, DenyReason::EndpointNotAllowed),
        ],
    )
    .await;
    let page = audit(&app, "").await;
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
    assert_eq!(
        page["records"],
        json!([
            {"time": "2027-01-15T08:00:00.001Z", "key_id": KEY_A, "agent_run_label": "run/a",
             "vendor": "stripe", "method": "POST", "path": "/v1/payment_intents", "status": 403,
             "decision": "deny", "deny_reason": "endpoint_not_allowed", "cost_usd": 0.0,
             "cost_source": null, "spend_usd": 0.0, "upstream_latency_ms": null,
             "vendor_request_id": null, "over_reserved_usd": 0.0, "gateway_id": "gw-1",
             "instance": "inst-a", "seq": 2},
            {"time": "2027-01-15T08:00:00.000Z", "key_id": KEY_A, "agent_run_label": "run/a",
             "vendor": "stripe", "method": "POST", "path": "/v1/payment_intents", "status": 200,
             "decision": "allow", "deny_reason": null, "cost_usd": 10.01,
             "cost_source": "response", "spend_usd": 10.01, "upstream_latency_ms": 12,
             "vendor_request_id": "pi_123", "over_reserved_usd": 0.0, "gateway_id": "gw-1",
             "instance": "inst-a", "seq": 1},
        ])
    );
}

#[tokio::test]
async fn a_bad_entry_refuses_the_whole_batch() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    let mut long = record(1, 0);
    long.path = format!("/{}", "p".repeat(4096));
    let cases = [
        (
            "seq 0",
            gw.batch(0, vec![record(0, 0), record(1, 0)], 2),
            "entries[0].seq",
        ),
        (
            "long path",
            gw.batch(1, vec![record(0, 0), long], 3),
            "entries[1].path",
        ),
    ];
    for (name, batch, field) in cases {
        let r = gw.send(&app, &batch).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "case {name}: {}",
            r.text()
        );
        assert_eq!(r.error().1.as_deref(), Some(field), "case {name}");
    }
    let body = json!({"gateway": "gw-1", "instance": "inst-a", "entries": [], "next_seq": 1,
                      "dropped_total": 0, "extra": 1});
    let r = app
        .call(
            As::Gateway,
            Method::POST,
            "/dataplane/v1/audit",
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        audit(&app, "").await["records"],
        json!([]),
        "nothing half-stored"
    );
    assert_eq!(metric(&app, "keybrake_audit_records_stored_total").await, 0);
}

#[tokio::test]
async fn a_thousand_records_fit_in_one_batch() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    let records: Vec<_> = (0..1000)
        .map(|i| {
            let mut r = record(i, 1);
            r.path = format!("/v1/customers/{}", "c".repeat(2000));
            r
        })
        .collect();
    assert_eq!(gw.ship(&app, 1, records).await, 1000);
}

#[tokio::test]
async fn gateways_and_admins_cannot_use_each_others_audit_endpoints() {
    let app = TestApp::new().await;
    let admin: &'static str = Box::leak(app.state.admin_key.expose().to_owned().into_boxed_str());
    let gw = Instance::new("inst-a");
    let body = serde_json::to_value(gw.batch(1, vec![record(0, 0)], 2)).unwrap();
    for (name, who) in [("admin key", As::Token(admin)), ("nobody", As::Nobody)] {
        let r = app
            .call(who, Method::POST, "/dataplane/v1/audit", Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    for uri in ["/audit", "/audit/gaps", "/spend"] {
        let r = app.call(As::Gateway, Method::GET, uri, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    assert_eq!(gw.ship(&app, 1, vec![record(0, 0)]).await, 1);
}

#[tokio::test]
async fn a_dead_instance_with_missing_records_is_a_gap() {
    let app = app_with(Duration::ZERO, Duration::from_secs(30)).await;
    let mut gw = Instance::new("inst-a");
    gw.dropped_total = 4;
    // Seqs 1–7 arrive; the instance numbered ten (next_seq 11) and dropped four.
    let r = gw
        .send(
            &app,
            &gw.batch(1, (0..7).map(|i| record(i, 0)).collect(), 11),
        )
        .await;
    assert_eq!(r.json()["acked_through"], 7);
    let healthy = Instance::new("inst-b");
    healthy.ship(&app, 1, vec![record(0, 0)]).await;

    // Live: the three may still come. No gap yet, but the instance shows it is behind.
    let v = app.get("/audit/gaps").await.json();
    assert_eq!(v["gaps"], json!([]));
    let a = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == "inst-a")
        .unwrap()
        .clone();
    assert_eq!(
        a,
        json!({"gateway": "gw-1", "instance": "inst-a", "live": true,
               "last_seen": "2027-01-15T08:00:00.000Z", "numbered": 10, "stored_through": 7,
               "missing": 3, "dropped_total": 4})
    );
    assert_eq!(metric(&app, "keybrake_audit_gap_records").await, 0);
    assert_eq!(metric(&app, "keybrake_audit_dropped_records").await, 4);

    // Dead: the three are lost to the trail (they are in its access log).
    app.clock.advance(Duration::from_secs(31));
    healthy.ship(&app, 2, vec![]).await;
    let v = app.get("/audit/gaps").await.json();
    assert_eq!(
        v["gaps"],
        json!([{"gateway": "gw-1", "instance": "inst-a", "missing": 3, "first_missing_seq": 8,
                "last_seen": "2027-01-15T08:00:00.000Z", "dropped_total": 4}])
    );
    let instances: Vec<_> = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instance"].as_str().unwrap(),
                i["live"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(instances, [("inst-b", true), ("inst-a", false)]);
    assert_eq!(metric(&app, "keybrake_audit_gap_records").await, 3);

    // A dead instance whose records all arrived is no gap, and a late arrival closes one.
    let r = gw
        .send(
            &app,
            &gw.batch(8, (7..10).map(|i| record(i, 0)).collect(), 11),
        )
        .await;
    assert_eq!(r.json()["acked_through"], 10);
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(app.get("/audit/gaps").await.json()["gaps"], json!([]));
    assert_eq!(metric(&app, "keybrake_audit_gap_records").await, 0);
}

#[tokio::test]
async fn retention_prunes_old_records_by_the_clock() {
    let app = TestApp::new().await;
    let gw = Instance::new("inst-a");
    gw.ship(&app, 1, vec![record(0, 0), record(1, 0)]).await;
    app.poll("gw-gone", 0, 0).await;
    app.clock.advance(Duration::from_secs(60 * 86_400));
    gw.ship(&app, 3, vec![record(60 * 86_400_000, 0)]).await;

    app.clock.advance(Duration::from_secs(31 * 86_400)); // day 91 after the first two
    let removed = keybrake_control_plane::retention::prune_once(&app.state)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    let polls = app.state.store.gateway_polls(0).await.unwrap();
    assert!(
        polls.iter().all(|p| p.instance != "gw-gone"),
        "an instance silent past retention is forgotten: {polls:?}"
    );
    let left = audit(&app, "").await;
    assert_eq!(crate::audit_support::ids(&left), [("inst-a".to_owned(), 3)]);
    // Pruned records still count as stored: the sequence has no gap and acks stay put.
    assert_eq!(gw.ship(&app, 4, vec![]).await, 3);
    let v = app.get("/audit/gaps").await.json();
    assert_eq!(v["instances"][0]["missing"], 0);
}

#[tokio::test]
async fn retention_zero_keeps_everything() {
    let settings = keybrake_control_plane::Settings {
        propagation_wait: Duration::ZERO,
        audit_retention_days: 0,
        ..keybrake_control_plane::Settings::new(crate::support::temp_data_dir())
    };
    let app = TestApp::with_settings(settings).await;
    Instance::new("inst-a")
        .ship(&app, 1, vec![record(0, 0)])
        .await;
    app.clock.advance(Duration::from_secs(10 * 365 * 86_400));
    let removed = keybrake_control_plane::retention::prune_once(&app.state)
        .await
        .unwrap();
    assert_eq!(removed, 0);
    assert_eq!(
        audit(&app, "").await["records"].as_array().unwrap().len(),
        1
    );
}
