//! `/prices`: validated, shown with what is default, delivered in the snapshot with a new
//! version, back to the defaults on reset.

use crate::support::{As, Reply, TestApp, T0_RFC3339};
use axum::http::{Method, StatusCode};
use keybrake_core::prices::{ChannelPrice, PrefixPrice, Prices, ResendPrices, TwilioPrices};
use keybrake_core::Snapshot;
use serde_json::{json, Value};

async fn put(app: &TestApp, vendor: &str, body: Value) -> Reply {
    let uri = format!("/prices/{vendor}");
    app.call(As::Admin, Method::PUT, &uri, Some(&body)).await
}

async fn snapshot(app: &TestApp) -> Snapshot {
    serde_json::from_slice(&app.poll("gw", 0, 0).await.body).unwrap()
}

fn pp(prefix: &str, micros: u64) -> PrefixPrice {
    PrefixPrice {
        prefix: prefix.into(),
        micros,
    }
}

#[tokio::test]
async fn defaults_until_set_then_delivered_with_a_new_version() {
    let app = TestApp::new().await;
    let list = app.get("/prices").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let v = list.json();
    assert_eq!(
        v["twilio"],
        json!({
            "vendor": "twilio",
            "prices": {
                "sms_segment_usd": 0.0083, "sms_segment_by_prefix": {},
                "mms_message_usd": 0.022, "mms_message_by_prefix": {},
                "call_minute_usd": 0.014, "call_minute_by_prefix": {},
                "call_max_minutes": 240,
                "message_by_channel": {}, "call_minute_by_channel": {},
            },
            "default": {
                "sms_segment_usd": true, "sms_segment_by_prefix": true,
                "mms_message_usd": true, "mms_message_by_prefix": true,
                "call_minute_usd": true, "call_minute_by_prefix": true,
                "call_max_minutes": true,
                "message_by_channel": true, "call_minute_by_channel": true,
            },
            "updated_at": null,
        })
    );
    assert_eq!(
        v["resend"],
        json!({"vendor": "resend", "prices": {"email_usd": 0.0009},
               "default": {"email_usd": true}, "updated_at": null})
    );
    assert_eq!(snapshot(&app).await.prices, Prices::default());

    let v0 = app.state.version();
    let r = put(
        &app,
        "twilio",
        json!({"sms_segment_usd": 0.01, "sms_segment_by_prefix": {"44": 0.04, "447": 0.045},
               "call_max_minutes": 60, "message_by_channel": {"whatsapp": 0.005}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["prices"]["sms_segment_usd"], 0.01);
    assert_eq!(
        v["prices"]["sms_segment_by_prefix"],
        json!({"44": 0.04, "447": 0.045})
    );
    assert_eq!(v["prices"]["mms_message_usd"], 0.022);
    assert_eq!(v["default"]["sms_segment_usd"], false);
    assert_eq!(v["default"]["mms_message_usd"], true);
    assert_eq!(v["default"]["call_max_minutes"], false);
    assert_eq!(v["updated_at"], T0_RFC3339);
    assert_eq!(app.state.version(), v0 + 1);

    let r = put(&app, "resend", json!({"email_usd": 0.001})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(app.state.version(), v0 + 2);

    let snap = snapshot(&app).await;
    assert_eq!(snap.version, v0 + 2);
    assert_eq!(
        snap.prices,
        Prices {
            twilio: TwilioPrices {
                sms_segment: vec![pp("44", 40_000), pp("447", 45_000)],
                sms_segment_default_micros: 10_000,
                // The operator's own SMS default prices every destination; the shipped MMS
                // and call defaults still price +1 numbers only.
                sms_segment_default_covers_all: true,
                call_max_minutes: 60,
                channel_message: vec![ChannelPrice {
                    channel: "whatsapp".into(),
                    micros: 5_000
                }],
                ..TwilioPrices::default()
            },
            resend: ResendPrices {
                email_micros: 1_000
            },
        }
    );

    // A PUT replaces: what it omits goes back to the default.
    put(
        &app,
        "twilio",
        json!({"call_minute_by_prefix": {"44": 0.02}}),
    )
    .await;
    let snap = snapshot(&app).await;
    assert_eq!(snap.version, v0 + 3);
    assert_eq!(
        snap.prices.twilio,
        TwilioPrices {
            call_minute: vec![pp("44", 20_000)],
            ..TwilioPrices::default()
        }
    );

    // Prices survive a restart.
    let again = app.reopen().await;
    assert_eq!(
        again.get("/prices").await.json()["resend"]["prices"]["email_usd"],
        0.001
    );

    // Reset: back to the defaults, a new version; a second reset changes nothing.
    let r = app
        .call(As::Admin, Method::DELETE, "/prices/resend", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["prices"]["email_usd"], 0.0009);
    assert_eq!(r.json()["default"]["email_usd"], true);
    assert_eq!(app.state.version(), v0 + 4);
    let r = app
        .call(As::Admin, Method::DELETE, "/prices/resend", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.state.version(), v0 + 4);
    assert_eq!(snapshot(&app).await.prices.resend, ResendPrices::default());
}

#[tokio::test]
async fn bad_prices_name_the_field() {
    let app = TestApp::new().await;
    let v0 = app.state.version();
    let cases = [
        (
            "unknown vendor",
            "paypal",
            json!({}),
            StatusCode::NOT_FOUND,
            "vendor",
        ),
        (
            "stripe has none",
            "stripe",
            json!({}),
            StatusCode::NOT_FOUND,
            "vendor",
        ),
        (
            "string price",
            "twilio",
            json!({"sms_segment_usd": "0.01"}),
            StatusCode::BAD_REQUEST,
            "sms_segment_usd",
        ),
        (
            "negative",
            "twilio",
            json!({"mms_message_usd": -1}),
            StatusCode::BAD_REQUEST,
            "mms_message_usd",
        ),
        (
            "over 100",
            "resend",
            json!({"email_usd": 101}),
            StatusCode::BAD_REQUEST,
            "email_usd",
        ),
        (
            "prefix not digits",
            "twilio",
            json!({"sms_segment_by_prefix": {"uk": 0.04}}),
            StatusCode::BAD_REQUEST,
            "sms_segment_by_prefix",
        ),
        (
            "prefix too long",
            "twilio",
            json!({"sms_segment_by_prefix": {"1234567890123456": 0.04}}),
            StatusCode::BAD_REQUEST,
            "sms_segment_by_prefix",
        ),
        (
            "prefix price",
            "twilio",
            json!({"call_minute_by_prefix": {"44": 1000}}),
            StatusCode::BAD_REQUEST,
            "call_minute_by_prefix.44",
        ),
        (
            "minutes zero",
            "twilio",
            json!({"call_max_minutes": 0}),
            StatusCode::BAD_REQUEST,
            "call_max_minutes",
        ),
        (
            "minutes past a day",
            "twilio",
            json!({"call_max_minutes": 1441}),
            StatusCode::BAD_REQUEST,
            "call_max_minutes",
        ),
        (
            "resend field on twilio",
            "twilio",
            json!({"email_usd": 0.001}),
            StatusCode::BAD_REQUEST,
            "email_usd",
        ),
        (
            "twilio field on resend",
            "resend",
            json!({"call_max_minutes": 10}),
            StatusCode::BAD_REQUEST,
            "call_max_minutes",
        ),
        (
            "channel name with its colon",
            "twilio",
            json!({"message_by_channel": {"whatsapp:": 0.005}}),
            StatusCode::BAD_REQUEST,
            "message_by_channel",
        ),
        (
            "unknown field",
            "twilio",
            json!({"sms_usd": 0.01}),
            StatusCode::BAD_REQUEST,
            "sms_usd",
        ),
    ];
    for (name, vendor, body, status, field) in cases {
        let r = put(&app, vendor, body).await;
        assert_eq!(r.status, status, "case {name}: {}", r.text());
        assert_eq!(r.error().1.as_deref(), Some(field), "case {name}");
    }
    let r = app
        .call(As::Admin, Method::DELETE, "/prices/stripe", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.state.version(), v0, "no change was stored");
    assert_eq!(snapshot(&app).await.prices, Prices::default());
}
