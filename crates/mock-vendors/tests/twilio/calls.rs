//! `POST …/Calls.json` and `GET …/Calls/{Sid}.json`.

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

const TO: &str = "+15558675310";
const FROM: &str = "+15005550006";
const TWIML_URL: &str = "http://demo.twilio.com/docs/voice.xml";

#[tokio::test]
async fn place_then_fetch_calls() {
    let app = app();
    let cases: Vec<(&str, Vec<(&str, &str)>, &str, &str)> = vec![
        (
            "url, default time limit",
            vec![("To", TO), ("From", FROM), ("Url", TWIML_URL)],
            "60",
            "-0.01400",
        ),
        (
            "inline twiml, 30 s limit",
            vec![
                ("To", TO),
                ("From", FROM),
                ("Twiml", "<Response><Say>hi</Say></Response>"),
                ("TimeLimit", "30"),
            ],
            "30",
            "-0.01400",
        ),
        (
            "application, sip address",
            vec![
                ("To", "sip:alice@example.com"),
                ("From", FROM),
                ("ApplicationSid", "AP0123"),
                ("Timeout", "20"),
            ],
            "60",
            "-0.01400",
        ),
    ];
    for (name, pairs, duration, price) in cases {
        let created = post(&app, "Calls.json", &pairs).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {}",
            created.text
        );
        assert_sid(&created.json["sid"], "CA");
        let sid = created.json["sid"].as_str().unwrap_or_default().to_owned();
        assert_subset(
            &created.json,
            &json!({"account_sid": SID, "status": "queued", "price": null, "duration": null,
                    "price_unit": "USD", "direction": "outbound-api", "from": FROM, "api_version": "2010-04-01",
                    "uri": format!("/2010-04-01/Accounts/{SID}/Calls/{sid}.json")}),
            name,
        );
        let fetched = get(&app, &format!("Calls/{sid}.json")).await;
        assert_eq!(fetched.status, StatusCode::OK, "{name}");
        assert_subset(
            &fetched.json,
            &json!({"sid": sid, "status": "completed", "duration": duration, "price": price}),
            name,
        );
    }
    let formatted = post(
        &app,
        "Calls.json",
        &[("To", TO), ("From", FROM), ("Url", TWIML_URL)],
    )
    .await;
    assert_eq!(formatted.json["to_formatted"], "(555) 867-5310");
}

#[tokio::test]
async fn refused_calls() {
    let app = app();
    let cases: Vec<(&str, Vec<(&str, &str)>, u32)> = vec![
        ("no To", vec![("From", FROM), ("Url", TWIML_URL)], 21201),
        ("no From", vec![("To", TO), ("Url", TWIML_URL)], 21213),
        (
            "To not a number",
            vec![("To", "555"), ("From", FROM), ("Url", TWIML_URL)],
            21211,
        ),
        ("no instructions", vec![("To", TO), ("From", FROM)], 21205),
        (
            "time limit not a number",
            vec![
                ("To", TO),
                ("From", FROM),
                ("Url", TWIML_URL),
                ("TimeLimit", "long"),
            ],
            21200,
        ),
        (
            "time limit over a day",
            vec![
                ("To", TO),
                ("From", FROM),
                ("Url", TWIML_URL),
                ("TimeLimit", "86401"),
            ],
            21200,
        ),
    ];
    for (name, pairs, code) in cases {
        let reply = post(&app, "Calls.json", &pairs).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.text
        );
        assert_eq!(reply.json["code"], code, "{name}");
        assert_eq!(reply.json["status"], 400, "{name}");
    }
    let message_sid_as_call = get(&app, "Calls/SM00000000000000000000000000000000.json").await;
    assert_eq!(message_sid_as_call.status, StatusCode::NOT_FOUND);
}

/// `GET /__mock/billed`: the entries' `(object, micro_usd)`.
async fn bills(app: &axum::Router) -> Vec<(String, i64)> {
    let reply = send(app, "GET", "/__mock/billed", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["object"].as_str().unwrap().to_owned(),
                b["micro_usd"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn call_updates_change_what_the_call_is_billed() {
    let app = app();
    let created = post(
        &app,
        "Calls.json",
        &[
            ("To", TO),
            ("From", FROM),
            ("Url", TWIML_URL),
            ("TimeLimit", "60"),
        ],
    )
    .await;
    let sid = created.json["sid"].as_str().unwrap().to_owned();
    let call = format!("Calls/{sid}.json");
    // (name, update, status, answer, what the call is billed after it, in micro-USD)
    let cases: Vec<(&str, Vec<(&str, &str)>, StatusCode, serde_json::Value, i64)> = vec![
        (
            "longer limit, callee still hangs up at 60 s",
            vec![("TimeLimit", "86400")],
            StatusCode::OK,
            json!({"sid": sid, "status": "in-progress", "price": null, "duration": null}),
            14_000,
        ),
        (
            "new instructions keep the callee a minute more",
            vec![("Url", TWIML_URL)],
            StatusCode::OK,
            json!({"status": "in-progress"}),
            28_000,
        ),
        (
            "inline twiml too",
            vec![("Twiml", "<Response><Pause length=\"60\"/></Response>")],
            StatusCode::OK,
            json!({"status": "in-progress"}),
            42_000,
        ),
        (
            "a shorter limit cuts it",
            vec![("TimeLimit", "90")],
            StatusCode::OK,
            json!({}),
            28_000,
        ),
        (
            "canceling a call in progress does nothing",
            vec![("Status", "canceled")],
            StatusCode::OK,
            json!({"status": "in-progress"}),
            28_000,
        ),
        (
            "no such status",
            vec![("Status", "busy")],
            StatusCode::BAD_REQUEST,
            json!({"code": 21200}),
            28_000,
        ),
        (
            "time limit over a day",
            vec![("TimeLimit", "86401")],
            StatusCode::BAD_REQUEST,
            json!({"code": 21200}),
            28_000,
        ),
        (
            "hanging up ends it within its first minute",
            vec![("Status", "completed")],
            StatusCode::OK,
            json!({"status": "completed", "price": null}),
            14_000,
        ),
        (
            "a call that is over cannot be redirected",
            vec![("Url", TWIML_URL)],
            StatusCode::BAD_REQUEST,
            json!({"code": 21220, "status": 400}),
            14_000,
        ),
    ];
    for (name, pairs, status, answer, billed) in cases {
        let reply = post(&app, &call, &pairs).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert_subset(&reply.json, &answer, name);
        let total: i64 = bills(&app).await.iter().map(|(_, m)| m).sum();
        assert_eq!(total, billed, "{name}: {:?}", bills(&app).await);
        let fetched = get(&app, &call).await;
        assert_eq!(
            fetched.json["price"],
            json!(format!("-0.{:05}", billed / 10)),
            "{name}: a fetch shows the price billed"
        );
    }
    // One entry per change: the call, +1 minute, +1 minute, -1 minute, -1 minute.
    let changes: Vec<i64> = bills(&app).await.iter().map(|(_, m)| *m).collect();
    assert_eq!(changes, [14_000, 14_000, 14_000, -14_000, -14_000]);
    let unknown = post(
        &app,
        "Calls/CA00000000000000000000000000000000.json",
        &[("Url", TWIML_URL)],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn messages_are_billed_when_sent() {
    let app = app();
    let escapes = "]".repeat(153);
    let cases: Vec<(&str, Vec<(&str, &str)>, i64)> = vec![
        ("one segment", vec![("Body", "hi")], 8_300),
        (
            "153 escapes are three segments",
            vec![("Body", &escapes)],
            24_900,
        ),
        (
            "media is one MMS",
            vec![("Body", "hi"), ("MediaUrl", "https://example.com/a.png")],
            22_000,
        ),
        (
            "SendAsMms without media is one MMS",
            vec![("Body", "hi"), ("SendAsMms", "true")],
            22_000,
        ),
        (
            "a WhatsApp message is one channel message, whatever its length",
            vec![
                ("To", "whatsapp:+15558675310"),
                ("From", "whatsapp:+15005550006"),
                ("Body", &escapes),
            ],
            5_000,
        ),
    ];
    for (name, extra, micro_usd) in cases {
        let mut pairs = extra;
        if !pairs.iter().any(|(k, _)| *k == "To") {
            pairs.extend([("To", TO), ("From", FROM)]);
        }
        let reply = post(&app, "Messages.json", &pairs).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.text);
        let last = bills(&app).await.pop().unwrap();
        assert_eq!(
            last,
            (reply.json["sid"].as_str().unwrap().to_owned(), micro_usd),
            "{name}"
        );
    }
}
