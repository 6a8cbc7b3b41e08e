//! `POST /emails` and `GET /emails/{id}`: the stored email and the validation Resend does.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

fn addresses(n: usize) -> Value {
    json!((0..n)
        .map(|i| format!("user{i}@example.com"))
        .collect::<Vec<_>>())
}

#[tokio::test]
async fn send_then_retrieve() {
    let app = app();
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "one address as a string",
            email(),
            json!({"to": ["ann@example.com"], "from": "Acme <onboarding@resend.dev>", "subject": "Hi", "html": "<p>hi</p>",
                   "text": null, "cc": null, "bcc": null, "reply_to": null, "last_event": "delivered", "scheduled_at": null, "tags": null}),
        ),
        (
            "every optional field",
            json!({
            "from": "ops@example.com", "to": ["a@example.com", "B <b@example.com>"], "subject": "Report",
            "cc": "c@example.com", "bcc": ["d@example.com"], "reply_to": "e@example.com", "text": "plain",
            "headers": {"X-Entity-Ref-ID": "123"}, "tags": [{"name": "run", "value": "billing-42"}],
            "attachments": [{"filename": "a.txt", "content": "aGVsbG8="}, {"path": "https://x.test/b.pdf"}]}),
            json!({"to": ["a@example.com", "B <b@example.com>"], "cc": ["c@example.com"], "bcc": ["d@example.com"],
                   "reply_to": ["e@example.com"], "text": "plain", "html": null, "tags": [{"name": "run", "value": "billing-42"}]}),
        ),
        (
            "scheduled",
            email_with("scheduled_at", json!("in 1 min")),
            json!({"last_event": "scheduled", "scheduled_at": "in 1 min"}),
        ),
        (
            "exactly 50 recipients",
            email_with("to", addresses(50)),
            json!({"object": "email"}),
        ),
    ];
    for (name, body, expected) in cases {
        let sent = post(&app, "/emails", &body).await;
        assert_eq!(sent.status, StatusCode::OK, "{name}: {}", sent.text);
        assert_eq!(
            sent.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let id = sent.json["id"].clone();
        assert_uuid(&id);
        assert_eq!(
            sent.json,
            json!({"id": id}),
            "{name}: the send reply is the id alone"
        );

        let fetched = get(
            &app,
            &format!("/emails/{}", id.as_str().unwrap_or_default()),
        )
        .await;
        assert_eq!(fetched.status, StatusCode::OK, "{name}");
        assert_eq!(fetched.json["object"], "email", "{name}");
        assert_eq!(fetched.json["id"], id, "{name}");
        let created = fetched.json["created_at"].as_str().unwrap_or_default();
        assert!(
            created.len() == 32 && created.ends_with("+00:00"),
            "{name}: {created}"
        );
        for (field, value) in expected.as_object().into_iter().flatten() {
            assert_eq!(&fetched.json[field], value, "{name}: {field}");
        }
    }
    let unknown = get(&app, "/emails/49a3999c-0ce1-4ea6-ab68-afcd6dc2e794").await;
    assert_error(
        &unknown,
        StatusCode::NOT_FOUND,
        "not_found",
        "Email not found",
        "unknown id",
    );
}

#[tokio::test]
async fn refused_sends() {
    let app = app();
    let format = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<(&str, Value, &str, String)> = vec![
        ("no from", email_with("from", Value::Null), "missing_required_field", "Missing `from` field.".into()),
        ("no to", email_with("to", Value::Null), "missing_required_field", "Missing `to` field.".into()),
        ("empty to", email_with("to", json!([])), "missing_required_field", "Missing `to` field.".into()),
        ("no subject", email_with("subject", Value::Null), "missing_required_field", "Missing `subject` field.".into()),
        ("neither html nor text", email_with("html", Value::Null), "missing_required_field", "Missing `html` or `text` field.".into()),
        ("bad from", email_with("from", json!("onboarding")), "validation_error", format!("Invalid `from` field. {format}")),
        ("bad to", email_with("to", json!(["ann@example.com", "bob"])), "validation_error", format!("Invalid `to` field. {format}")),
        ("to not a string", email_with("to", json!(42)), "validation_error", format!("Invalid `to` field. {format}")),
        ("51 recipients", email_with("to", addresses(51)), "validation_error", "Too many recipients in the `to` field. The maximum is 50.".into()),
        ("51 bcc", email_with("bcc", addresses(51)), "validation_error", "Too many recipients in the `bcc` field. The maximum is 50.".into()),
        ("bad cc", email_with("cc", json!("c@")), "validation_error", format!("Invalid `cc` field. {format}")),
        ("subject not a string", email_with("subject", json!(["x"])), "validation_error", "The `subject` field must be a string.".into()),
        ("headers not strings", email_with("headers", json!({"X-A": 1})), "validation_error", "The `headers` field must be an object of strings.".into()),
        ("attachment without content", email_with("attachments", json!([{"filename": "a.txt"}])), "invalid_attachment",
            "Attachment must have a `filename` and either a `content` or a `path`.".into()),
        ("tag with a space", email_with("tags", json!([{"name": "my tag", "value": "x"}])), "validation_error",
            "Tags should be objects with a `name` and a `value`, each of ASCII letters, numbers, underscores or dashes, at most 256 characters.".into()),
        ("an array", json!([email()]), "validation_error", "The email must be a JSON object.".into()),
    ];
    for (case, body, name, message) in cases {
        let reply = post(&app, "/emails", &body).await;
        assert_error(&reply, unprocessable, name, &message, case);
    }
    let not_json = send(&app, "POST", "/emails", &[bearer()], "{\"from\":").await;
    assert_error(
        &not_json,
        unprocessable,
        "validation_error",
        "The request body is not valid JSON.",
        "not json",
    );
}

#[tokio::test]
async fn idempotency_keys() {
    let app = app();
    let with_key = |key: &str| vec![bearer(), ("idempotency-key", key.to_owned())];
    let body = email().to_string();
    let first = send(&app, "POST", "/emails", &with_key("order-1"), &body).await;
    assert_eq!(first.status, StatusCode::OK);

    let respaced = serde_json::to_string_pretty(&email()).unwrap_or_default();
    let cases: Vec<(&str, &str, String, StatusCode, bool)> = vec![
        (
            "same key, same body",
            "order-1",
            body.clone(),
            StatusCode::OK,
            true,
        ),
        (
            "same key, same json spaced differently",
            "order-1",
            respaced,
            StatusCode::OK,
            true,
        ),
        ("new key", "order-2", body.clone(), StatusCode::OK, false),
    ];
    for (name, key, body, status, same) in cases {
        let reply = send(&app, "POST", "/emails", &with_key(key), &body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert_eq!(reply.json["id"] == first.json["id"], same, "{name}");
    }
    let other = send(
        &app,
        "POST",
        "/emails",
        &with_key("order-1"),
        &email_with("subject", json!("Other")).to_string(),
    )
    .await;
    assert_error(&other, StatusCode::CONFLICT, "invalid_idempotent_request",
        "Same idempotency key used with a different request payload. Change your idempotency key or try with the same payload.",
        "same key, other body");
    let long = send(&app, "POST", "/emails", &with_key(&"k".repeat(257)), &body).await;
    assert_error(
        &long,
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "The key must be between 1-256 chars.",
        "key too long",
    );

    // A refused send is not saved: the corrected retry under the same key goes through.
    let bad = send(
        &app,
        "POST",
        "/emails",
        &with_key("order-3"),
        &email_with("to", Value::Null).to_string(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = send(&app, "POST", "/emails", &with_key("order-3"), &body).await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
}
