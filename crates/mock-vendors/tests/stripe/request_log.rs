//! `GET` and `DELETE /__mock/requests`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

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
