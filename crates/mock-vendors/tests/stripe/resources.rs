//! Creating, retrieving and refunding objects, and the parameter errors Stripe gives.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn create_then_retrieve_each_resource() {
    let app = app();
    let customer = post(&app, "/v1/customers", "email=jo%40example.com&name=Jo+Doe").await;
    let customer_id = customer.json["id"].as_str().unwrap_or_default().to_owned();
    let cases: Vec<(&str, &str, String, &str, Value)> = vec![
        ("customer", "/v1/customers", "email=ann%40example.com&name=Ann&description=vip".into(), "cus_",
            json!({"object": "customer", "email": "ann@example.com", "name": "Ann", "description": "vip", "balance": 0})),
        ("payment intent, unconfirmed", "/v1/payment_intents", "amount=1000&currency=usd".into(), "pi_",
            json!({"object": "payment_intent", "amount": 1000, "currency": "usd", "status": "requires_payment_method", "amount_received": 0, "latest_charge": null})),
        ("payment intent, confirmed", "/v1/payment_intents", format!("amount=2500&currency=EUR&confirm=true&customer={customer_id}&payment_method=pm_card_visa"), "pi_",
            json!({"object": "payment_intent", "amount": 2500, "currency": "eur", "status": "succeeded", "amount_received": 2500, "customer": customer_id, "payment_method": "pm_card_visa"})),
        ("payment intent, manual capture", "/v1/payment_intents", "amount=700&currency=usd&confirm=true&capture_method=manual".into(), "pi_",
            json!({"status": "requires_capture", "amount_capturable": 700, "amount_received": 0})),
        ("charge with source", "/v1/charges", "amount=500&currency=usd&source=tok_visa".into(), "ch_",
            json!({"object": "charge", "amount": 500, "status": "succeeded", "paid": true, "captured": true, "amount_captured": 500, "amount_refunded": 0, "refunded": false})),
        ("charge with customer, not captured", "/v1/charges", format!("amount=300&currency=usd&customer={customer_id}&capture=false"), "ch_",
            json!({"captured": false, "amount_captured": 0, "paid": true, "customer": customer_id, "balance_transaction": null})),
    ];
    for (name, path, body, prefix, expected) in cases {
        let created = post(&app, path, &body).await;
        assert_eq!(created.status, StatusCode::OK, "{name}: {}", created.json);
        assert_id(&created.json["id"], prefix);
        assert_eq!(created.json["livemode"], false, "{name}");
        assert!(
            created.json["created"]
                .as_i64()
                .is_some_and(|t| t > 1_700_000_000),
            "{name}"
        );
        assert!(created.json["metadata"].is_object(), "{name}");
        for (field, value) in expected.as_object().into_iter().flatten() {
            assert_eq!(&created.json[field], value, "{name}: field {field}");
        }
        let id = created.json["id"].as_str().unwrap_or_default();
        let fetched = get(&app, &format!("{path}/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK, "{name}");
        assert_eq!(
            fetched.json, created.json,
            "{name}: retrieve returns the created object"
        );
    }
}

#[tokio::test]
async fn confirmed_payment_intent_has_a_retrievable_charge() {
    let app = app();
    let pi = post(
        &app,
        "/v1/payment_intents",
        "amount=1234&currency=usd&confirm=true",
    )
    .await;
    assert_id(&pi.json["latest_charge"], "ch_");
    let charge_id = pi.json["latest_charge"].as_str().unwrap_or_default();
    let charge = get(&app, &format!("/v1/charges/{charge_id}")).await;
    assert_eq!(charge.status, StatusCode::OK);
    assert_eq!(charge.json["payment_intent"], pi.json["id"]);
    assert_eq!(charge.json["amount"], 1234);
}

#[tokio::test]
async fn refunds() {
    let app = app();
    let charge = post(
        &app,
        "/v1/charges",
        "amount=1000&currency=usd&source=tok_visa",
    )
    .await;
    let charge_id = charge.json["id"].as_str().unwrap_or_default().to_owned();
    let pi = post(
        &app,
        "/v1/payment_intents",
        "amount=4000&currency=usd&confirm=true",
    )
    .await;
    let pi_id = pi.json["id"].as_str().unwrap_or_default().to_owned();
    let pending = post(&app, "/v1/payment_intents", "amount=100&currency=usd").await;
    let pending_id = pending.json["id"].as_str().unwrap_or_default().to_owned();

    // Steps run in order against the same objects.
    let steps: Vec<(&str, String, StatusCode, Value)> = vec![
        (
            "partial refund of a charge",
            format!("charge={charge_id}&amount=300"),
            StatusCode::OK,
            json!({"object": "refund", "amount": 300, "charge": charge_id, "status": "succeeded", "currency": "usd"}),
        ),
        (
            "refund larger than what is left",
            format!("charge={charge_id}&amount=800"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "amount_too_large", "param": "amount", "type": "invalid_request_error"}}),
        ),
        (
            "refund without amount takes the rest",
            format!("charge={charge_id}"),
            StatusCode::OK,
            json!({"amount": 700}),
        ),
        (
            "nothing left to refund",
            format!("charge={charge_id}"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "charge_already_refunded", "type": "invalid_request_error"}}),
        ),
        (
            "payment intent without amount refunds it all",
            format!("payment_intent={pi_id}&reason=requested_by_customer"),
            StatusCode::OK,
            json!({"amount": 4000, "payment_intent": pi_id, "charge": pi.json["latest_charge"], "reason": "requested_by_customer"}),
        ),
        (
            "unconfirmed payment intent has nothing to refund",
            format!("payment_intent={pending_id}"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"param": "payment_intent"}}),
        ),
        (
            "unknown charge",
            "charge=ch_nope".to_owned(),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "resource_missing", "param": "charge", "message": "No such charge: 'ch_nope'"}}),
        ),
        (
            "neither charge nor payment intent",
            "amount=5".to_owned(),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "parameter_missing"}}),
        ),
    ];
    for (name, body, status, expected) in steps {
        let reply = post(&app, "/v1/refunds", &body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
        assert_subset(&reply.json, &expected, name);
        if status == StatusCode::OK {
            assert_id(&reply.json["id"], "re_");
            let id = reply.json["id"].as_str().unwrap_or_default();
            assert_eq!(
                get(&app, &format!("/v1/refunds/{id}")).await.json,
                reply.json,
                "{name}"
            );
        }
    }
    let charge = get(&app, &format!("/v1/charges/{charge_id}")).await;
    assert_eq!(charge.json["amount_refunded"], 1000);
    assert_eq!(charge.json["refunded"], true);
}

#[tokio::test]
async fn request_errors() {
    let app = app();
    let cases: Vec<(&str, &str, &str, &str, StatusCode, Value)> = vec![
        (
            "missing amount",
            "POST",
            "/v1/payment_intents",
            "currency=usd",
            StatusCode::BAD_REQUEST,
            json!({"type": "invalid_request_error", "code": "parameter_missing", "param": "amount", "message": "Missing required param: amount.",
                   "doc_url": "https://stripe.com/docs/error-codes/parameter-missing"}),
        ),
        (
            "missing currency",
            "POST",
            "/v1/charges",
            "amount=5&source=tok_visa",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_missing", "param": "currency"}),
        ),
        (
            "amount not an integer",
            "POST",
            "/v1/payment_intents",
            "amount=ten&currency=usd",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_invalid_integer", "param": "amount"}),
        ),
        (
            "amount not positive",
            "POST",
            "/v1/payment_intents",
            "amount=-5&currency=usd",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_invalid_integer", "param": "amount"}),
        ),
        (
            "bad currency",
            "POST",
            "/v1/payment_intents",
            "amount=5&currency=dollars",
            StatusCode::BAD_REQUEST,
            json!({"param": "currency", "type": "invalid_request_error"}),
        ),
        (
            "charge without source or customer",
            "POST",
            "/v1/charges",
            "amount=5&currency=usd",
            StatusCode::BAD_REQUEST,
            json!({"code": "parameter_missing"}),
        ),
        (
            "unknown customer",
            "POST",
            "/v1/payment_intents",
            "amount=5&currency=usd&customer=cus_nope",
            StatusCode::BAD_REQUEST,
            json!({"code": "resource_missing", "param": "customer"}),
        ),
        (
            "unknown payment intent",
            "GET",
            "/v1/payment_intents/pi_x",
            "",
            StatusCode::NOT_FOUND,
            json!({"type": "invalid_request_error", "code": "resource_missing", "param": "id", "message": "No such payment_intent: 'pi_x'"}),
        ),
        (
            "id of another resource",
            "GET",
            "/v1/refunds/pi_x",
            "",
            StatusCode::NOT_FOUND,
            json!({"message": "No such refund: 'pi_x'"}),
        ),
        (
            "unknown route",
            "POST",
            "/v1/foo",
            "",
            StatusCode::NOT_FOUND,
            json!({"type": "invalid_request_error"}),
        ),
    ];
    for (name, method, path, body, status, expected) in cases {
        let reply = send(&app, method, path, &[bearer()], body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
        assert_subset(&reply.json["error"], &expected, name);
    }
    let unknown = post(&app, "/v1/foo?x=1", "").await;
    let message = unknown.error_field("message").as_str().unwrap_or_default();
    assert!(
        message.starts_with("Unrecognized request URL (POST: /v1/foo)."),
        "{message}"
    );
}

#[tokio::test]
async fn metadata_with_raw_and_encoded_brackets() {
    let app = app();
    let cases = [
        (
            "raw brackets",
            "metadata[order_id]=6735&metadata[note]=a+b%26c",
        ),
        (
            "encoded brackets",
            "metadata%5Border_id%5D=6735&metadata%5Bnote%5D=a%20b%26c",
        ),
    ];
    for (name, metadata) in cases {
        for path in ["/v1/customers", "/v1/payment_intents", "/v1/charges"] {
            let body = format!("amount=100&currency=usd&source=tok_visa&{metadata}");
            let reply = post(&app, path, &body).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{name} {path}: {}",
                reply.json
            );
            assert_eq!(
                reply.json["metadata"],
                json!({"order_id": "6735", "note": "a b&c"}),
                "{name} {path}"
            );
        }
    }
}
