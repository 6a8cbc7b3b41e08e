//! `POST /emails/batch` in strict and permissive mode.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn batches() {
    let app = app();
    let bad = email_with("from", json!("nobody"));
    let attached = email_with(
        "attachments",
        json!([{"filename": "a.txt", "content": "aGk="}]),
    );
    let from_error = "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";
    let cases: Vec<(&str, Option<&str>, Value, StatusCode, Value)> = vec![
        (
            "two good, default strict",
            None,
            json!([
                email(),
                email_with("to", json!(["b@example.com", "c@example.com"]))
            ]),
            StatusCode::OK,
            json!({"sent": 2}),
        ),
        (
            "one bad, strict refuses all",
            Some("strict"),
            json!([email(), bad]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"statusCode": 422, "name": "validation_error", "message": from_error}),
        ),
        (
            "one bad, permissive sends the rest",
            Some("permissive"),
            json!([email(), bad, email()]),
            StatusCode::OK,
            json!({"sent": 2, "errors": [{"index": 1, "message": from_error}]}),
        ),
        (
            "all good, permissive",
            Some("permissive"),
            json!([email()]),
            StatusCode::OK,
            json!({"sent": 1, "errors": []}),
        ),
        (
            "attachments not taken in a batch",
            None,
            json!([attached]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"name": "validation_error", "message": "The `attachments` field is not supported in batch emails."}),
        ),
        (
            "scheduled_at not taken in a batch",
            None,
            json!([email_with("scheduled_at", json!("tomorrow"))]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"name": "validation_error"}),
        ),
        (
            "100 emails",
            None,
            Value::Array(vec![email(); 100]),
            StatusCode::OK,
            json!({"sent": 100}),
        ),
        (
            "101 emails",
            None,
            Value::Array(vec![email(); 101]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Too many emails in the batch. The maximum is 100."}),
        ),
        (
            "empty",
            None,
            json!([]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"name": "validation_error"}),
        ),
        (
            "not an array",
            None,
            email(),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "The request body must be an array of emails."}),
        ),
        (
            "unknown validation mode",
            Some("lenient"),
            json!([email()]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "The `x-batch-validation` header must be `strict` or `permissive`."}),
        ),
    ];
    for (name, mode, body, status, expected) in cases {
        let mut headers = vec![bearer()];
        if let Some(mode) = mode {
            headers.push(("x-batch-validation", mode.to_owned()));
        }
        let reply = send(&app, "POST", "/emails/batch", &headers, &body.to_string()).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        if status != StatusCode::OK {
            for (field, value) in expected.as_object().into_iter().flatten() {
                assert_eq!(&reply.json[field], value, "{name}: {field}");
            }
            continue;
        }
        let data = reply.json["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(json!(data.len()), expected["sent"], "{name}");
        assert_eq!(reply.json.get("errors"), expected.get("errors"), "{name}");
        for item in data {
            assert_uuid(&item["id"]);
            let fetched = get(
                &app,
                &format!("/emails/{}", item["id"].as_str().unwrap_or_default()),
            )
            .await;
            assert_eq!(
                fetched.status,
                StatusCode::OK,
                "{name}: each batch email is retrievable"
            );
        }
    }
}

#[tokio::test]
async fn batch_idempotency() {
    let app = app();
    let headers = vec![bearer(), ("idempotency-key", "batch-1".to_owned())];
    let body = json!([email(), email()]).to_string();
    let first = send(&app, "POST", "/emails/batch", &headers, &body).await;
    let again = send(&app, "POST", "/emails/batch", &headers, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(again.json, first.json, "the replay names the same emails");
    let other = send(
        &app,
        "POST",
        "/emails/batch",
        &headers,
        &json!([email()]).to_string(),
    )
    .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
}
