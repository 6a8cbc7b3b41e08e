//! The Stripe mock through its router, in process: each behaviour the SDKs and the
//! end-to-end tests rely on, by name.

// Helpers here are test code too, but not `#[test]` functions, which is all that
// `allow-unwrap-in-tests` covers.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use std::io::Read as _;

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flate2::read::GzDecoder;
use keybrake_mock_vendors::{stripe_app, StripeMock};
use serde_json::{json, Value};
use tower::ServiceExt as _;

const KEY: &str = "sk_test_mockkey_0123456789abcdef";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    raw: Vec<u8>,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error_field(&self, field: &str) -> &Value {
        &self.json["error"][field]
    }
}

fn app() -> Router {
    stripe_app(StripeMock::new(KEY))
}

fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {KEY}"))
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if method == "POST" {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let json = if headers.get("content-encoding").is_some() || raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        raw,
        json,
    }
}

async fn post(app: &Router, path: &str, body: &str) -> Reply {
    send(app, "POST", path, &[bearer()], body).await
}

async fn get(app: &Router, path: &str) -> Reply {
    send(app, "GET", path, &[bearer()], "").await
}

fn assert_id(value: &Value, prefix: &str) {
    let id = value.as_str().unwrap_or_default();
    assert!(id.starts_with(prefix), "{id} should start with {prefix}");
    assert_eq!(id.len(), prefix.len() + 24, "{id}");
    assert!(
        id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()),
        "{id}"
    );
}

#[tokio::test]
async fn authentication() {
    let app = app();
    let basic = |creds: &str| ("authorization", format!("Basic {}", STANDARD.encode(creds)));
    let cases: Vec<(&str, Vec<(&str, String)>, StatusCode)> = vec![
        ("bearer accepted", vec![bearer()], StatusCode::OK),
        (
            "basic with empty password accepted",
            vec![basic(&format!("{KEY}:"))],
            StatusCode::OK,
        ),
        (
            "basic without password accepted",
            vec![basic(KEY)],
            StatusCode::OK,
        ),
        (
            "wrong bearer key refused",
            vec![("authorization", "Bearer sk_test_wrongkey_999999WXYZ".into())],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong basic key refused",
            vec![basic("sk_test_wrongkey_999999WXYZ:")],
            StatusCode::UNAUTHORIZED,
        ),
        ("missing header refused", vec![], StatusCode::UNAUTHORIZED),
    ];
    for (name, headers, expected) in cases {
        let reply = send(&app, "POST", "/v1/customers", &headers, "email=a%40b.c").await;
        assert_eq!(reply.status, expected, "{name}: {}", reply.json);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        assert!(
            reply
                .header("request-id")
                .is_some_and(|id| id.starts_with("req_")),
            "{name}"
        );
        assert_eq!(
            reply.header("stripe-version"),
            Some("2026-10-28.endive"),
            "{name}"
        );
        if expected == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.error_field("type"), "invalid_request_error", "{name}");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Basic realm=\"Stripe\""),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn wrong_key_is_masked_in_the_message() {
    let app = app();
    let wrong = "sk_test_thisisnotthekey_ABCDwxyz";
    let reply = send(
        &app,
        "GET",
        "/v1/charges/ch_1",
        &[("authorization", format!("Bearer {wrong}"))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let message = reply.error_field("message").as_str().unwrap_or_default();
    assert!(
        message.starts_with("Invalid API Key provided: sk_test_****"),
        "{message}"
    );
    assert!(message.ends_with("wxyz"), "{message}");
    let body = String::from_utf8_lossy(&reply.raw);
    assert!(!body.contains(wrong), "the full key leaked: {body}");
    assert!(!body.contains(KEY), "the registered key leaked: {body}");

    let missing = send(&app, "GET", "/v1/charges/ch_1", &[], "").await;
    let message = missing.error_field("message").as_str().unwrap_or_default();
    assert!(
        message.starts_with("You did not provide an API key."),
        "{message}"
    );
}

#[tokio::test]
async fn stripe_version_is_echoed() {
    let app = app();
    let headers = [bearer(), ("stripe-version", "2024-06-20".to_owned())];
    let reply = send(&app, "POST", "/v1/customers", &headers, "").await;
    assert_eq!(reply.header("stripe-version"), Some("2024-06-20"));
}

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

fn assert_subset(actual: &Value, expected: &Value, name: &str) {
    match expected {
        Value::Object(fields) => {
            for (field, value) in fields {
                assert_subset(&actual[field], value, &format!("{name}.{field}"));
            }
        }
        other => assert_eq!(actual, other, "{name}"),
    }
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

#[tokio::test]
async fn idempotent_replay() {
    let app = app();
    let key = |k: &str| ("idempotency-key", k.to_owned());
    let body = "amount=1000&currency=usd&confirm=true";
    let first = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        body,
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("idempotency-key"), Some("k-1"));
    assert_eq!(first.header("idempotent-replayed"), None);

    let again = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        body,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.raw, first.raw,
        "the replay is byte for byte the first reply"
    );
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("request-id"), first.header("request-id"));
    assert_eq!(again.header("idempotency-key"), Some("k-1"));

    let other = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-1")],
        "amount=2000&currency=usd",
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.error_field("type"), "idempotency_error");
    let message = other.error_field("message").as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("Keys for idempotent requests can only be used with the same parameters"),
        "{message}"
    );

    let fresh = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-2")],
        body,
    )
    .await;
    assert_ne!(
        fresh.json["id"], first.json["id"],
        "a new key creates a new object"
    );

    // A validation failure is not saved: the corrected retry runs.
    let bad = send(&app, "POST", "/v1/customers", &[bearer(), key("k-3")], "").await;
    assert_eq!(bad.status, StatusCode::OK);
    let invalid = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-4")],
        "currency=usd",
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let retried = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), key("k-4")],
        "currency=usd",
    )
    .await;
    assert_eq!(retried.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn gzip_only_when_asked() {
    let app = app();
    let cases = [
        ("python sdk asks for gzip", Some("gzip, deflate"), true),
        ("identity", Some("identity"), false),
        ("stripe-node sends none", None, false),
    ];
    for (name, accept, gzipped) in cases {
        let mut headers = vec![bearer()];
        if let Some(accept) = accept {
            headers.push(("accept-encoding", accept.to_owned()));
        }
        let reply = send(
            &app,
            "POST",
            "/v1/payment_intents",
            &headers,
            "amount=1000&currency=usd",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let length: Option<usize> = reply.header("content-length").and_then(|l| l.parse().ok());
        if gzipped {
            assert_eq!(reply.header("content-encoding"), Some("gzip"), "{name}");
            assert_eq!(
                length,
                Some(reply.raw.len()),
                "{name}: exact content-length"
            );
            let mut text = String::new();
            GzDecoder::new(reply.raw.as_slice())
                .read_to_string(&mut text)
                .unwrap();
            let object: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(object["object"], "payment_intent", "{name}");
            assert_eq!(object["amount"], 1000, "{name}");
        } else {
            assert_eq!(reply.header("content-encoding"), None, "{name}");
            assert_eq!(reply.json["object"], "payment_intent", "{name}");
        }
    }
    // Errors are compressed too, and so is the request log.
    let headers = [("accept-encoding", "gzip".to_owned())];
    let refused = send(&app, "GET", "/v1/charges/ch_1", &headers, "").await;
    assert_eq!(refused.header("content-encoding"), Some("gzip"));
    let log = send(&app, "GET", "/__mock/requests", &headers, "").await;
    assert_eq!(log.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn injected_failure() {
    let app = app();
    let headers = [
        bearer(),
        ("x-mock-status", "500".to_owned()),
        ("idempotency-key", "k".to_owned()),
    ];
    let reply = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &headers,
        "amount=1&currency=usd",
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.error_field("type"), "api_error");
    assert!(reply.header("request-id").is_some());
    let retry = send(
        &app,
        "POST",
        "/v1/payment_intents",
        &[bearer(), ("idempotency-key", "k".to_owned())],
        "amount=1&currency=usd",
    )
    .await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "a forced failure is not saved under the key"
    );

    let declined = send(
        &app,
        "POST",
        "/v1/charges",
        &[bearer(), ("x-mock-status", "402".to_owned())],
        "",
    )
    .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(declined.error_field("type"), "card_error");

    let unauthenticated = send(
        &app,
        "POST",
        "/v1/charges",
        &[("x-mock-status", "500".to_owned())],
        "",
    )
    .await;
    assert_eq!(
        unauthenticated.status,
        StatusCode::UNAUTHORIZED,
        "authentication comes first"
    );
}

#[tokio::test]
async fn request_log_records_everything_and_clears() {
    let app = app();
    let headers = [
        bearer(),
        ("x-repeated", "a".to_owned()),
        ("x-repeated", "b".to_owned()),
    ];
    send(
        &app,
        "POST",
        "/v1/customers?expand[]=x",
        &headers,
        "email=a%40b.c&metadata[k]=v",
    )
    .await;
    send(
        &app,
        "GET",
        "/v1/customers/cus_nope",
        &[("authorization", "Bearer sk_test_wrong".into())],
        "",
    )
    .await;
    send(&app, "POST", "/v1/nothing_here", &[], "x=1").await;

    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    assert_eq!(log.status, StatusCode::OK);
    let entries = log.json.as_array().cloned().unwrap_or_default();
    assert_eq!(
        entries.len(),
        3,
        "refused requests are recorded, the log route is not: {}",
        log.json
    );

    let first = &entries[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/v1/customers?expand[]=x");
    assert_eq!(first["headers"]["authorization"], format!("Bearer {KEY}"));
    assert_eq!(
        first["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(first["headers"]["x-repeated"], "a, b");
    let pairs: Vec<Value> = first["header_list"].as_array().cloned().unwrap_or_default();
    assert!(
        pairs.contains(&json!(["x-repeated", "a"])) && pairs.contains(&json!(["x-repeated", "b"]))
    );
    assert_eq!(first["body"], "email=a%40b.c&metadata[k]=v");
    assert!(first["time_ms"]
        .as_u64()
        .is_some_and(|t| t > 1_700_000_000_000));

    assert_eq!(entries[1]["method"], "GET");
    assert_eq!(
        entries[1]["headers"]["authorization"],
        "Bearer sk_test_wrong"
    );
    assert_eq!(entries[2]["path"], "/v1/nothing_here");
    assert_eq!(entries[2]["body"], "x=1");

    let cleared = send(&app, "DELETE", "/__mock/requests", &[], "").await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert!(cleared.raw.is_empty());
    let log = send(&app, "GET", "/__mock/requests", &[], "").await;
    assert_eq!(log.json, json!([]));
}
