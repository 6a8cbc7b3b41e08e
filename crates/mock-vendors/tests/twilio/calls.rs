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
