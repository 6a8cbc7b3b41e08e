//! `/rates`: validated, listed with USD first, delivered in the snapshot with a new version.

use crate::support::{As, TestApp, T0_RFC3339};
use axum::http::{Method, StatusCode};
use keybrake_core::currency::RateEntry;
use keybrake_core::Snapshot;
use serde_json::{json, Value};

async fn put(app: &TestApp, currency: &str, body: Value) -> crate::support::Reply {
    app.call(
        As::Admin,
        Method::PUT,
        &format!("/rates/{currency}"),
        Some(&body),
    )
    .await
}

async fn snapshot(app: &TestApp) -> Snapshot {
    serde_json::from_slice(&app.poll("gw", 0, 0).await.body).unwrap()
}

#[tokio::test]
async fn a_rate_is_set_listed_and_delivered_with_a_new_version() {
    let app = TestApp::new().await;
    let v0 = app.state.version();
    let r = put(&app, "JPY", json!({"usd_per_unit": 0.0067})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"currency": "jpy", "usd_per_unit": 0.0067, "builtin": false, "updated_at": T0_RFC3339})
    );
    assert_eq!(app.state.version(), v0 + 1);
    put(&app, "eur", json!({"usd_per_unit": 1.08})).await;

    let list = app.get("/rates").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!({"rates": [
            {"currency": "usd", "usd_per_unit": 1.0, "builtin": true, "updated_at": null},
            {"currency": "eur", "usd_per_unit": 1.08, "builtin": false, "updated_at": T0_RFC3339},
            {"currency": "jpy", "usd_per_unit": 0.0067, "builtin": false, "updated_at": T0_RFC3339},
        ]})
    );
    let snap = snapshot(&app).await;
    assert_eq!(snap.version, v0 + 2);
    assert_eq!(
        snap.rates,
        vec![
            RateEntry {
                currency: "eur".into(),
                usd_nanos_per_unit: 1_080_000_000
            },
            RateEntry {
                currency: "jpy".into(),
                usd_nanos_per_unit: 6_700_000
            },
        ]
    );

    // Replacing bumps the version again; so does deleting.
    put(&app, "jpy", json!({"usd_per_unit": 0.007})).await;
    assert_eq!(app.state.version(), v0 + 3);
    let r = app
        .call(As::Admin, Method::DELETE, "/rates/eur", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["currency"], "eur");
    assert_eq!(app.state.version(), v0 + 4);
    let snap = snapshot(&app).await;
    assert_eq!(
        snap.rates,
        vec![RateEntry {
            currency: "jpy".into(),
            usd_nanos_per_unit: 7_000_000
        }]
    );
    let r = app
        .call(As::Admin, Method::DELETE, "/rates/eur", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.error(),
        ("not_found".to_owned(), Some("currency".to_owned()))
    );
    assert_eq!(
        app.state.version(),
        v0 + 4,
        "nothing deleted, no new version"
    );

    // Rates survive a restart.
    let again = app.reopen().await;
    assert_eq!(
        again.get("/rates").await.json()["rates"][1]["currency"],
        "jpy"
    );
}

#[tokio::test]
async fn bad_rates_name_the_field() {
    let app = TestApp::new().await;
    let v0 = app.state.version();
    let cases = [
        (
            "usd is built in",
            "usd",
            json!({"usd_per_unit": 1}),
            "currency",
        ),
        ("two letters", "jp", json!({"usd_per_unit": 1}), "currency"),
        ("digits", "j1y", json!({"usd_per_unit": 1}), "currency"),
        ("missing rate", "jpy", json!({}), "usd_per_unit"),
        (
            "string rate",
            "jpy",
            json!({"usd_per_unit": "0.0067"}),
            "usd_per_unit",
        ),
        ("zero", "jpy", json!({"usd_per_unit": 0}), "usd_per_unit"),
        (
            "negative",
            "jpy",
            json!({"usd_per_unit": -0.5}),
            "usd_per_unit",
        ),
        (
            "too large",
            "jpy",
            json!({"usd_per_unit": 1e7}),
            "usd_per_unit",
        ),
        (
            "below a nano",
            "jpy",
            json!({"usd_per_unit": 1e-12}),
            "usd_per_unit",
        ),
        (
            "unknown field",
            "jpy",
            json!({"usd_per_unit": 1, "rate": 1}),
            "rate",
        ),
    ];
    for (name, currency, body, field) in cases {
        let r = put(&app, currency, body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "case {name}: {}",
            r.text()
        );
        assert_eq!(
            r.error(),
            ("invalid_request".to_owned(), Some(field.to_owned())),
            "case {name}"
        );
    }
    let r = app
        .call(As::Admin, Method::DELETE, "/rates/usd", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.state.version(), v0, "no change was stored");
}
