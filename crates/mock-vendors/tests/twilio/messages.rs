//! `POST …/Messages.json` and `GET …/Messages/{Sid}.json`: the created and the delivered
//! message, segment counting, and the refusals Twilio gives.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::support::*;

const TO: &str = "+15558675310";
const FROM: &str = "+15005550006";

#[tokio::test]
async fn send_then_fetch_a_message() {
    let app = app();
    let created = post(
        &app,
        "Messages.json",
        &[("To", TO), ("From", FROM), ("Body", "Hello from keybrake")],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_sid(&created.json["sid"], "SM");
    let sid = created.json["sid"].as_str().unwrap_or_default().to_owned();
    assert_subset(
        &created.json,
        &json!({
            "account_sid": SID, "api_version": "2010-04-01", "to": TO, "from": FROM,
            "body": "Hello from keybrake", "status": "queued", "num_segments": "1", "num_media": "0",
            "price": null, "price_unit": "USD", "direction": "outbound-api", "error_code": null,
            "error_message": null, "messaging_service_sid": null, "date_sent": null,
            "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json"),
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json")},
        }),
        "created",
    );
    let date = created.json["date_created"].as_str().unwrap_or_default();
    assert!(
        date.ends_with(" +0000") && date.len() == 31,
        "RFC 2822: {date}"
    );
    assert_eq!(created.json["date_updated"], created.json["date_created"]);

    let fetched = get(&app, &format!("Messages/{sid}.json")).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.text);
    assert_subset(
        &fetched.json,
        &json!({"sid": sid, "status": "delivered", "price": "-0.00830", "price_unit": "USD",
                "num_segments": "1", "date_sent": date, "body": "Hello from keybrake"}),
        "fetched",
    );
}

#[tokio::test]
async fn segments_and_price_follow_the_body() {
    let app = app();
    let a = |n: usize| "a".repeat(n);
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("160 gsm-7 characters", a(160), "1", "-0.00830"),
        ("161 gsm-7 characters", a(161), "2", "-0.01660"),
        ("307 gsm-7 characters", a(307), "3", "-0.02490"),
        (
            "81 euro signs (two septets each)",
            "€".repeat(81),
            "2",
            "-0.01660",
        ),
        ("70 ucs-2 characters", "ж".repeat(70), "1", "-0.00830"),
        ("71 ucs-2 characters", "ж".repeat(71), "2", "-0.01660"),
        (
            "one emoji turns 69 letters into two ucs-2 segments",
            format!("{}😀", a(69)),
            "2",
            "-0.01660",
        ),
        (
            "1600 characters, the longest body",
            a(1600),
            "11",
            "-0.09130",
        ),
    ];
    for (name, body, segments, price) in cases {
        let created = post(
            &app,
            "Messages.json",
            &[("To", TO), ("From", FROM), ("Body", &body)],
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {}",
            created.text
        );
        assert_eq!(created.json["num_segments"], segments, "{name}");
        assert_eq!(created.json["body"], body.as_str(), "{name}: body echoed");
        let sid = created.json["sid"].as_str().unwrap_or_default();
        let fetched = get(&app, &format!("Messages/{sid}.json")).await;
        assert_eq!(fetched.json["price"], price, "{name}");
    }
}

#[tokio::test]
async fn media_and_messaging_services() {
    let app = app();
    let service = "MG0123456789abcdef0123456789abcdef";
    let two_segments = "a".repeat(200);
    let cases: Vec<(&str, Vec<(&str, &str)>, &str, Value, Value)> = vec![
        (
            "mms with two media urls",
            vec![
                ("To", TO),
                ("From", FROM),
                ("MediaUrl", "https://x.test/a.png"),
                ("MediaUrl", "https://x.test/b.png"),
            ],
            "MM",
            json!({"num_media": "2", "num_segments": "1", "status": "queued", "body": ""}),
            json!({"price": "-0.02200", "status": "delivered"}),
        ),
        (
            "via a messaging service",
            vec![
                ("To", TO),
                ("MessagingServiceSid", service),
                ("Body", &two_segments),
            ],
            "SM",
            json!({"num_segments": "0", "status": "accepted", "from": null, "messaging_service_sid": service}),
            json!({"num_segments": "2", "price": "-0.01660", "from": FROM}),
        ),
        (
            "messaging service and a sender",
            vec![
                ("To", TO),
                ("From", FROM),
                ("MessagingServiceSid", service),
                ("Body", "hi"),
            ],
            "SM",
            json!({"num_segments": "0", "status": "queued", "from": FROM}),
            json!({"num_segments": "1"}),
        ),
        (
            "whatsapp",
            vec![
                ("To", "whatsapp:+15558675310"),
                ("From", "whatsapp:+15005550006"),
                ("Body", "hi"),
            ],
            "SM",
            json!({"to": "whatsapp:+15558675310", "status": "queued"}),
            json!({"status": "delivered"}),
        ),
    ];
    for (name, pairs, prefix, created_fields, later_fields) in cases {
        let created = post(&app, "Messages.json", &pairs).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {}",
            created.text
        );
        assert_sid(&created.json["sid"], prefix);
        assert_subset(&created.json, &created_fields, name);
        let sid = created.json["sid"].as_str().unwrap_or_default();
        let fetched = get(&app, &format!("Messages/{sid}.json")).await;
        assert_subset(&fetched.json, &later_fields, name);
    }
}

#[tokio::test]
async fn refused_messages() {
    let app = app();
    let long = "a".repeat(1601);
    let cases: Vec<(&str, Vec<(&str, &str)>, u32, &str)> = vec![
        ("no To", vec![("From", FROM), ("Body", "x")], 21604, "A 'To' phone number is required."),
        ("To not E.164", vec![("To", "5558675310"), ("From", FROM), ("Body", "x")], 21211,
            "The 'To' number 5558675310 is not a valid phone number."),
        ("To with letters", vec![("To", "+1555CALLNOW"), ("From", FROM), ("Body", "x")], 21211,
            "The 'To' number +1555CALLNOW is not a valid phone number."),
        ("neither From nor service", vec![("To", TO), ("Body", "x")], 21603, "A 'From' phone number is required."),
        ("From not a sender", vec![("To", TO), ("From", "not a number!"), ("Body", "x")], 21212,
            "The 'From' number not a number! is not a valid phone number, shortcode, or alphanumeric sender ID."),
        ("bad messaging service", vec![("To", TO), ("MessagingServiceSid", "MGshort"), ("Body", "x")], 21701,
            "The Messaging Service Sid MGshort is invalid."),
        ("neither Body nor media", vec![("To", TO), ("From", FROM)], 21602, "Message body is required."),
        ("empty Body", vec![("To", TO), ("From", FROM), ("Body", "")], 21602, "Message body is required."),
        ("1601 characters", vec![("To", TO), ("From", FROM), ("Body", &long)], 21617,
            "The concatenated message body exceeds the 1600 character limit."),
    ];
    for (name, pairs, code, message) in cases {
        let reply = post(&app, "Messages.json", &pairs).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.text
        );
        assert_eq!(
            reply.json,
            json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": 400}),
            "{name}"
        );
    }
    let unknown = get(&app, "Messages/SM00000000000000000000000000000000.json").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["code"], 20404);
}
