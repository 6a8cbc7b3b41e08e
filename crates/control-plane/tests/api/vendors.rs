//! Vendor credentials go in, are sealed at rest, reach the snapshot, and never come back out.

use crate::support::{As, TestApp, T0_RFC3339};
use axum::http::{Method, StatusCode};
use keybrake_control_plane::{AppState, Clock, Settings, StartError};
use keybrake_core::{Snapshot, VendorCredential};
use serde_json::json;

const STRIPE_SECRET: &str = "sk_test_51SecretNeverEchoed";
const TWILIO_TOKEN: &str = "twilio_auth_token_never_echoed";

async fn put(app: &TestApp, vendor: &str, body: serde_json::Value) -> crate::support::Reply {
    let uri = format!("/vendors/{vendor}/credentials");
    app.call(As::Admin, Method::PUT, &uri, Some(&body)).await
}

#[tokio::test]
async fn set_credentials_never_echo_and_are_sealed_at_rest() {
    let app = TestApp::new().await;
    let r = put(&app, "stripe", json!({"api_key": STRIPE_SECRET})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"vendor": "stripe", "configured": true, "updated_at": T0_RFC3339})
    );
    let r = put(
        &app,
        "twilio",
        json!({"account_sid": "AC0123", "auth_token": TWILIO_TOKEN}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(!r.text().contains(TWILIO_TOKEN));

    let list = app.get("/vendors").await;
    assert_eq!(
        list.json(),
        json!({"vendors": [
            {"vendor": "stripe", "configured": true, "updated_at": T0_RFC3339},
            {"vendor": "twilio", "configured": true, "updated_at": T0_RFC3339},
            {"vendor": "resend", "configured": false, "updated_at": null},
        ]})
    );
    assert!(!list.text().contains(STRIPE_SECRET));
    assert!(!app.db_contains(STRIPE_SECRET));
    assert!(!app.db_contains(TWILIO_TOKEN));
    assert!(!app.db_contains("sk_test_51"));

    let snap: Snapshot = serde_json::from_slice(&app.poll("gw", 0, 0).await.body).unwrap();
    assert!(snap.credentials.contains(&VendorCredential::Stripe {
        api_key: STRIPE_SECRET.into()
    }));
    assert!(snap.credentials.contains(&VendorCredential::Twilio {
        account_sid: "AC0123".into(),
        auth_token: Some(TWILIO_TOKEN.into()),
        api_key_sid: None,
        api_key_secret: None,
    }));
}

#[tokio::test]
async fn a_twilio_api_key_replaces_the_auth_token() {
    const KEY_SECRET: &str = "twilio_api_key_secret_never_echoed";
    let app = TestApp::new().await;
    put(
        &app,
        "twilio",
        json!({"account_sid": "AC0123", "auth_token": TWILIO_TOKEN}),
    )
    .await;
    let r = put(
        &app,
        "twilio",
        json!({"account_sid": "AC0123", "api_key_sid": "SK0456", "api_key_secret": KEY_SECRET}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(!r.text().contains(KEY_SECRET));
    assert!(!app.db_contains(KEY_SECRET));
    let snap: Snapshot = serde_json::from_slice(&app.poll("gw", 0, 0).await.body).unwrap();
    let twilio = VendorCredential::Twilio {
        account_sid: "AC0123".into(),
        auth_token: None,
        api_key_sid: Some("SK0456".into()),
        api_key_secret: Some(KEY_SECRET.into()),
    };
    assert_eq!(snap.credentials, std::slice::from_ref(&twilio));
    let index = keybrake_core::PolicyIndex::build(snap);
    assert_eq!(index.twilio_account_sid(), Some("AC0123"));
    assert_eq!(
        index.upstream_authorization(keybrake_core::Vendor::Twilio),
        Some(twilio.authorization().as_str())
    );
}

#[tokio::test]
async fn replacing_a_credential_bumps_the_version() {
    let app = TestApp::new().await;
    let v0 = app.state.version();
    put(&app, "resend", json!({"api_key": "re_one"})).await;
    put(&app, "resend", json!({"api_key": "re_two"})).await;
    assert_eq!(app.state.version(), v0 + 2);
    let snap: Snapshot = serde_json::from_slice(&app.poll("gw", 0, 0).await.body).unwrap();
    assert_eq!(
        snap.credentials,
        [VendorCredential::Resend {
            api_key: "re_two".into()
        }]
    );
}

#[tokio::test]
async fn bad_credentials_name_the_field() {
    let app = TestApp::new().await;
    let cases = [
        (
            "unknown vendor",
            "paypal",
            json!({"api_key": "k"}),
            StatusCode::NOT_FOUND,
            Some("vendor"),
        ),
        (
            "missing api_key",
            "stripe",
            json!({}),
            StatusCode::BAD_REQUEST,
            Some("api_key"),
        ),
        (
            "empty api_key",
            "resend",
            json!({"api_key": ""}),
            StatusCode::BAD_REQUEST,
            Some("api_key"),
        ),
        (
            "api_key with newline",
            "stripe",
            json!({"api_key": "sk\nx"}),
            StatusCode::BAD_REQUEST,
            Some("api_key"),
        ),
        (
            "api_key too long",
            "stripe",
            json!({"api_key": "k".repeat(513)}),
            StatusCode::BAD_REQUEST,
            Some("api_key"),
        ),
        (
            "twilio fields on stripe",
            "stripe",
            json!({"api_key": "k", "auth_token": "t"}),
            StatusCode::BAD_REQUEST,
            Some("auth_token"),
        ),
        (
            "twilio without sid",
            "twilio",
            json!({"auth_token": "t"}),
            StatusCode::BAD_REQUEST,
            Some("account_sid"),
        ),
        (
            "twilio with token and api key",
            "twilio",
            json!({"account_sid": "AC1", "auth_token": "t", "api_key_sid": "SK1", "api_key_secret": "s"}),
            StatusCode::BAD_REQUEST,
            Some("api_key_sid"),
        ),
        (
            "twilio api key without secret",
            "twilio",
            json!({"account_sid": "AC1", "api_key_sid": "SK1"}),
            StatusCode::BAD_REQUEST,
            Some("api_key_secret"),
        ),
        (
            "api_key on twilio",
            "twilio",
            json!({"api_key": "k"}),
            StatusCode::BAD_REQUEST,
            Some("api_key"),
        ),
        (
            "unknown field",
            "stripe",
            json!({"api_key": "k", "secret": "s"}),
            StatusCode::BAD_REQUEST,
            Some("secret"),
        ),
    ];
    for (name, vendor, body, status, field) in cases {
        let r = put(&app, vendor, body).await;
        assert_eq!(r.status, status, "case {name}: {}", r.text());
        assert_eq!(r.error().1.as_deref(), field, "case {name}");
        assert!(!r.text().contains("sk\nx"));
    }
    let list = app.get("/vendors").await.json();
    assert!(list["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["configured"] == false));
}

#[tokio::test]
async fn a_wrong_master_key_refuses_to_start() {
    let app = TestApp::new().await;
    put(&app, "stripe", json!({"api_key": STRIPE_SECRET})).await;
    let settings = Settings {
        master_key: Some("11".repeat(32)),
        database_url: app.database_url.clone(),
        ..Settings::new(&app.dir)
    };
    match AppState::open(settings, Clock::system()).await {
        Err(StartError::MasterKeyMismatch(v)) => assert_eq!(v.as_str(), "stripe"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("started with the wrong master key"),
    }
    let master = std::fs::read_to_string(app.dir.join("master.key")).unwrap();
    let settings = Settings {
        master_key: Some(master.trim().to_owned()),
        database_url: app.database_url.clone(),
        ..Settings::new(&app.dir)
    };
    assert!(AppState::open(settings, Clock::system()).await.is_ok());
}
