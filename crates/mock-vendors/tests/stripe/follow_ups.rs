//! Follow-ups of a payment intent or charge (update, confirm, capture, increment_authorization,
//! charge capture) and what each bills, read back from `/__mock/billed`.

use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};

use super::support::*;

/// `GET /__mock/billed`, without credentials.
async fn billed(app: &Router) -> Value {
    let reply = send(app, "GET", "/__mock/billed", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json
}

fn id(reply: &Reply) -> String {
    reply.json["id"].as_str().unwrap().to_owned()
}

/// One step: the request, the status and fields expected, and the money it moves (US cents).
type Step = (&'static str, String, String, StatusCode, Value, Option<i64>);

async fn run(app: &Router, steps: Vec<Step>) {
    for (name, path, body, status, expected, moved) in steps {
        let before = billed(app).await["entries"].as_array().unwrap().len();
        let reply = post(app, &path, &body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
        assert_subset(&reply.json, &expected, name);
        let entries = billed(app).await["entries"].as_array().unwrap().clone();
        match moved {
            None => assert_eq!(entries.len(), before, "{name} bills nothing: {entries:?}"),
            Some(cents) => {
                assert_eq!(entries.len(), before + 1, "{name} bills once: {entries:?}");
                let bill = &entries[before];
                assert_eq!(bill["amount"], json!(cents), "{name}: {bill}");
                assert_eq!(bill["currency"], "usd", "{name}: {bill}");
                assert_eq!(bill["micro_usd"], json!(cents * 10_000), "{name}: {bill}");
                assert_eq!(bill["method"], "POST", "{name}: {bill}");
                assert_eq!(bill["path"], json!(path), "{name}: {bill}");
            }
        }
    }
}

#[tokio::test]
async fn a_manual_capture_intent_is_billed_when_captured_and_never_above_its_authorization() {
    let app = app();
    let pi = post(
        &app,
        "/v1/payment_intents",
        "amount=1000&currency=usd&capture_method=manual&confirm=true",
    )
    .await;
    assert_eq!(pi.status, StatusCode::OK, "{}", pi.json);
    assert_subset(
        &pi.json,
        &json!({"status": "requires_capture", "amount_capturable": 1000, "amount_received": 0}),
        "manual intent",
    );
    assert!(billed(&app).await["entries"].as_array().unwrap().is_empty());
    let pi = id(&pi);
    let at = |action: &str| format!("/v1/payment_intents/{pi}/{action}");
    let unexpected = json!({"error": {"code": "payment_intent_unexpected_state"}});
    let too_large = json!({"error": {"code": "amount_too_large", "param": "amount_to_capture"}});
    let bad = StatusCode::BAD_REQUEST;
    run(
        &app,
        vec![
            (
                "update the amount of an authorized intent",
                format!("/v1/payment_intents/{pi}"),
                "amount=5000000".into(),
                bad,
                unexpected.clone(),
                None,
            ),
            (
                "metadata may still change",
                format!("/v1/payment_intents/{pi}"),
                "metadata[run]=7".into(),
                StatusCode::OK,
                json!({"metadata": {"run": "7"}, "amount": 1000}),
                None,
            ),
            (
                "increment to no more",
                at("increment_authorization"),
                "amount=1000".into(),
                bad,
                json!({"error": {"param": "amount"}}),
                None,
            ),
            (
                "increment",
                at("increment_authorization"),
                "amount=1500".into(),
                StatusCode::OK,
                json!({"amount": 1500, "amount_capturable": 1500, "status": "requires_capture"}),
                None,
            ),
            (
                "overcapture",
                at("capture"),
                "amount_to_capture=5000000".into(),
                bad,
                too_large,
                None,
            ),
            (
                "confirm twice",
                at("confirm"),
                String::new(),
                bad,
                unexpected.clone(),
                None,
            ),
            (
                "partial capture",
                at("capture"),
                "amount_to_capture=1200".into(),
                StatusCode::OK,
                json!({"status": "succeeded", "amount_received": 1200, "amount_capturable": 0}),
                Some(1200),
            ),
            (
                "capture twice",
                at("capture"),
                String::new(),
                bad,
                unexpected,
                None,
            ),
            (
                "increment after capture",
                at("increment_authorization"),
                "amount=2000".into(),
                bad,
                json!({"error": {"code": "payment_intent_unexpected_state"}}),
                None,
            ),
            (
                "refund what was captured",
                "/v1/refunds".into(),
                format!("payment_intent={pi}"),
                StatusCode::OK,
                json!({"amount": 1200}),
                Some(1200),
            ),
        ],
    )
    .await;
    let charge =
        get(&app, &format!("/v1/payment_intents/{pi}")).await.json["latest_charge"].clone();
    let charge = get(&app, &format!("/v1/charges/{}", charge.as_str().unwrap())).await;
    assert_subset(
        &charge.json,
        &json!({"captured": true, "amount_captured": 1200, "amount_refunded": 1200, "refunded": true}),
        "the charge",
    );
    assert_eq!(billed(&app).await["total_micro_usd"], json!(24_000_000));
}

#[tokio::test]
async fn an_open_intent_is_updated_then_billed_when_confirmed() {
    let app = app();
    let pi = id(&post(&app, "/v1/payment_intents", "amount=1000&currency=usd").await);
    let update = format!("/v1/payment_intents/{pi}");
    let confirm = format!("/v1/payment_intents/{pi}/confirm");
    let bad = StatusCode::BAD_REQUEST;
    run(
        &app,
        vec![
            ("capture an open intent", format!("/v1/payment_intents/{pi}/capture"), String::new(), bad, json!({"error": {"code": "payment_intent_unexpected_state"}}), None),
            ("confirm without a payment method", confirm.clone(), String::new(), bad, json!({"error": {"param": "payment_method"}}), None),
            ("update the amount", update.clone(), "amount=2500&payment_method=pm_card_visa".into(), StatusCode::OK, json!({"amount": 2500, "status": "requires_confirmation", "payment_method": "pm_card_visa"}), None),
            ("confirm more than the amount", confirm.clone(), "amount_to_confirm=2600".into(), bad, json!({"error": {"code": "amount_too_large", "param": "amount_to_confirm"}}), None),
            ("confirm", confirm.clone(), String::new(), StatusCode::OK, json!({"status": "succeeded", "amount_received": 2500}), Some(2500)),
            ("update a succeeded intent's amount", update, "amount=100".into(), bad, json!({"error": {"code": "payment_intent_unexpected_state"}}), None),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_uncaptured_charge_is_billed_when_captured_and_a_refund_before_only_releases() {
    let app = app();
    let charge = |app| async move {
        id(&post(
            app,
            "/v1/charges",
            "amount=800&currency=usd&source=tok_visa&capture=false",
        )
        .await)
    };
    let first = charge(&app).await;
    let second = charge(&app).await;
    assert!(billed(&app).await["entries"].as_array().unwrap().is_empty());
    let capture = |ch: &str| format!("/v1/charges/{ch}/capture");
    let bad = StatusCode::BAD_REQUEST;
    run(
        &app,
        vec![
            (
                "capture more than authorized",
                capture(&first),
                "amount=900".into(),
                bad,
                json!({"error": {"code": "amount_too_large"}}),
                None,
            ),
            (
                "capture part",
                capture(&first),
                "amount=500".into(),
                StatusCode::OK,
                json!({"captured": true, "amount_captured": 500}),
                Some(500),
            ),
            (
                "capture twice",
                capture(&first),
                String::new(),
                bad,
                json!({"error": {"code": "charge_already_captured"}}),
                None,
            ),
            (
                "refund before capture releases",
                "/v1/refunds".into(),
                format!("charge={second}&amount=300"),
                StatusCode::OK,
                json!({"amount": 300}),
                None,
            ),
            (
                "capture what is left",
                capture(&second),
                String::new(),
                StatusCode::OK,
                json!({"amount_captured": 500}),
                Some(500),
            ),
        ],
    )
    .await;
    let r = send(&app, "DELETE", "/__mock/billed", &[], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        billed(&app).await,
        json!({"entries": [], "total_micro_usd": 0})
    );
}

#[tokio::test]
async fn follow_ups_of_unknown_objects_are_404() {
    let app = app();
    for path in [
        "/v1/payment_intents/pi_missing",
        "/v1/payment_intents/pi_missing/capture",
        "/v1/charges/ch_missing/capture",
    ] {
        let reply = post(&app, path, "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_field("code"), "resource_missing", "{path}");
    }
}

#[tokio::test]
async fn a_replayed_capture_bills_once() {
    let app = app();
    let pi = id(&post(
        &app,
        "/v1/payment_intents",
        "amount=700&currency=usd&capture_method=manual&confirm=true",
    )
    .await);
    let path = format!("/v1/payment_intents/{pi}/capture");
    for _ in 0..2 {
        let headers = [bearer(), ("idempotency-key", "cap-1".to_owned())];
        let reply = send(&app, "POST", &path, &headers, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    }
    let billed = billed(&app).await;
    assert_eq!(billed["entries"].as_array().unwrap().len(), 1, "{billed}");
    assert_eq!(billed["total_micro_usd"], json!(7_000_000));
}
