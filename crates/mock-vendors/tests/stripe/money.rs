//! The endpoints that move money: top-level `amount` and `currency` on every create reply,
//! transfers and payouts, and the mock-only delay.

use std::time::Duration;
use tokio::time::Instant;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn every_money_create_echoes_amount_and_currency() {
    let app = app();
    for (currency, amount) in [("usd", 1250), ("JPY", 1250), ("eur", 1)] {
        let lower = currency.to_ascii_lowercase();
        let charge = post(
            &app,
            "/v1/charges",
            &format!("amount={amount}&currency={currency}&source=tok_visa"),
        )
        .await;
        let charge_id = charge.json["id"].as_str().unwrap_or_default().to_owned();
        let cases: Vec<(&str, &str, String)> = vec![
            (
                "payment intent",
                "/v1/payment_intents",
                format!("amount={amount}&currency={currency}"),
            ),
            (
                "charge",
                "/v1/charges",
                format!("amount={amount}&currency={currency}&source=tok_visa"),
            ),
            (
                "refund",
                "/v1/refunds",
                format!("charge={charge_id}&amount={amount}"),
            ),
            (
                "transfer",
                "/v1/transfers",
                format!("amount={amount}&currency={currency}&destination=acct_1Dest"),
            ),
            (
                "payout",
                "/v1/payouts",
                format!("amount={amount}&currency={currency}"),
            ),
        ];
        for (name, path, body) in cases {
            let reply = post(&app, path, &body).await;
            let name = format!("{name} in {currency}");
            assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.json);
            assert_eq!(
                reply.json["amount"],
                json!(amount),
                "{name}: amount is the integer sent"
            );
            assert_eq!(
                reply.json["currency"],
                json!(lower),
                "{name}: currency in lower case"
            );
        }
    }
}

#[tokio::test]
async fn transfers_and_payouts() {
    let app = app();
    let cases: Vec<(&str, &str, &str, &str, Value)> = vec![
        (
            "transfer",
            "/v1/transfers",
            "amount=5000&currency=usd&destination=acct_1Abc&transfer_group=ORDER_9&metadata[run]=7",
            "tr_",
            json!({"object": "transfer", "amount": 5000, "amount_reversed": 0, "currency": "usd", "destination": "acct_1Abc",
                   "reversed": false, "transfer_group": "ORDER_9", "metadata": {"run": "7"}, "reversals": {"object": "list", "total_count": 0}}),
        ),
        (
            "standard payout",
            "/v1/payouts",
            "amount=2000&currency=usd",
            "po_",
            json!({"object": "payout", "amount": 2000, "currency": "usd", "status": "pending", "method": "standard", "type": "bank_account", "automatic": false}),
        ),
        (
            "instant payout to a card",
            "/v1/payouts",
            "amount=300&currency=usd&method=instant&destination=card_123",
            "po_",
            json!({"object": "payout", "method": "instant", "destination": "card_123", "type": "card", "status": "pending"}),
        ),
    ];
    for (name, path, body, prefix, expected) in cases {
        let created = post(&app, path, body).await;
        assert_eq!(created.status, StatusCode::OK, "{name}: {}", created.json);
        assert_id(&created.json["id"], prefix);
        assert_subset(&created.json, &expected, name);
        assert_eq!(created.json["livemode"], false, "{name}");
        assert_id(&created.json["balance_transaction"], "txn_");
        let id = created.json["id"].as_str().unwrap_or_default();
        let fetched = get(&app, &format!("{path}/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK, "{name}");
        assert_eq!(
            fetched.json, created.json,
            "{name}: retrieve returns the created object"
        );
    }

    let standard = post(&app, "/v1/payouts", "amount=1&currency=usd").await;
    let instant = post(&app, "/v1/payouts", "amount=1&currency=usd&method=instant").await;
    let created = standard.json["created"].as_i64().unwrap_or_default();
    assert!(standard.json["arrival_date"].as_i64().unwrap_or_default() > created);
    assert!(instant.json["arrival_date"].as_i64().unwrap_or_default() >= created);
}

#[tokio::test]
async fn transfer_and_payout_errors() {
    let app = app();
    let cases: Vec<(&str, &str, &str, &str, StatusCode, Value)> = vec![
        (
            "transfer without destination",
            "POST",
            "/v1/transfers",
            "amount=5&currency=usd",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_missing", "param": "destination"}),
        ),
        (
            "transfer to something not an account",
            "POST",
            "/v1/transfers",
            "amount=5&currency=usd&destination=cus_1",
            StatusCode::BAD_REQUEST,
            json!({"code": "resource_missing", "param": "destination", "message": "No such destination: 'cus_1'"}),
        ),
        (
            "transfer without amount",
            "POST",
            "/v1/transfers",
            "currency=usd&destination=acct_1",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_missing", "param": "amount"}),
        ),
        (
            "payout without currency",
            "POST",
            "/v1/payouts",
            "amount=5",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_missing", "param": "currency"}),
        ),
        (
            "payout with unknown method",
            "POST",
            "/v1/payouts",
            "amount=5&currency=usd&method=express",
            StatusCode::BAD_REQUEST,
            json!({"param": "method", "type": "invalid_request_error"}),
        ),
        (
            "unknown transfer",
            "GET",
            "/v1/transfers/tr_nope",
            "",
            StatusCode::NOT_FOUND,
            json!({"code": "resource_missing", "message": "No such transfer: 'tr_nope'"}),
        ),
        (
            "unknown payout",
            "GET",
            "/v1/payouts/po_nope",
            "",
            StatusCode::NOT_FOUND,
            json!({"code": "resource_missing", "message": "No such payout: 'po_nope'"}),
        ),
    ];
    for (name, method, path, body, status, expected) in cases {
        let reply = send(&app, method, path, &[bearer()], body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
        assert_subset(&reply.json["error"], &expected, name);
    }
}

/// On tokio's paused clock: the delay is measured exactly, and a client that gives up after
/// 50 ms gives up after the mock acted however busy the machine is.
#[tokio::test(start_paused = true)]
async fn mock_delay_holds_the_reply_after_acting() {
    let app = app();
    let delayed = |ms: &str| vec![bearer(), ("x-mock-delay-ms", ms.to_owned())];

    let started = Instant::now();
    let reply = send(
        &app,
        "POST",
        "/v1/transfers",
        &delayed("200"),
        "amount=10&currency=usd&destination=acct_1",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(started.elapsed(), Duration::from_millis(200), "held back");

    // A client that gives up early still leaves the object behind.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        send(
            &app,
            "POST",
            "/v1/payment_intents",
            &delayed("5000"),
            "amount=77&currency=usd&description=slow",
        ),
    )
    .await;
    assert!(gave_up.is_err(), "the reply came before the delay ran out");
    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    assert_eq!(
        log.json.as_array().map(Vec::len),
        Some(2),
        "both calls reached the mock"
    );

    let cases = [("over the maximum", "30001"), ("not a number", "soon")];
    for (name, value) in cases {
        let reply = send(
            &app,
            "POST",
            "/v1/payouts",
            &delayed(value),
            "amount=1&currency=usd",
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(reply.error_field("param"), "x-mock-delay-ms", "{name}");
    }
}
