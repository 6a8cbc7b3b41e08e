//! Issue, list, show and revoke vault keys.

use crate::support::{As, TestApp, T0_RFC3339};
use axum::http::{Method, StatusCode};
use keybrake_core::{VaultKey, VaultKeyId};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn issue_answers_201_with_every_field() {
    let app = TestApp::new().await;
    let v = app
        .issue(json!({
            "vendor": "stripe",
            "daily_usd_cap": 500.25,
            "allowed_endpoints": ["post /v1/payment_intents/", "GET /v1/customers/*"],
            "expires_in": "30m",
            "agent_run_label": "billing-agent/42",
        }))
        .await;
    let fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields.len(), 7, "exactly the documented fields: {fields:?}");
    let key = VaultKey::parse(v["vault_key"].as_str().unwrap()).unwrap();
    assert_eq!(v["key_id"], key.id().as_str());
    assert_eq!(v["vendor"], "stripe");
    assert_eq!(v["daily_usd_cap"], 500.25);
    assert_eq!(
        v["allowed_endpoints"],
        json!(["POST /v1/payment_intents", "GET /v1/customers/*"])
    );
    assert_eq!(v["expires_at"], "2027-01-15T08:30:00Z");
    assert_eq!(v["agent_run_label"], "billing-agent/42");
}

#[tokio::test]
async fn expires_in_takes_seconds_and_suffixed_strings() {
    let app = TestApp::new().await;
    let cases = [
        ("integer seconds", json!(90), "2027-01-15T08:01:30Z"),
        ("digit string", json!("3600"), "2027-01-15T09:00:00Z"),
        ("hours", json!("2h"), "2027-01-15T10:00:00Z"),
        ("day", json!("1d"), "2027-01-16T08:00:00Z"),
        ("seconds suffix", json!("90s"), "2027-01-15T08:01:30Z"),
        ("the maximum", json!("30d"), "2027-02-14T08:00:00Z"),
    ];
    for (name, expires_in, want) in cases {
        let v = app
            .issue(json!({
                "vendor": "resend",
                "daily_usd_cap": 1,
                "allowed_endpoints": ["POST /emails"],
                "expires_in": expires_in,
                "agent_run_label": name,
            }))
            .await;
        assert_eq!(v["expires_at"], want, "case {name}");
    }
}

#[tokio::test]
async fn list_is_newest_first_and_filters() {
    let app = TestApp::new().await;
    let a = app.issue_stripe("run/a").await;
    app.clock.advance(Duration::from_secs(1));
    let b = app.issue_stripe("run/b").await;
    app.clock.advance(Duration::from_secs(1));
    let c = app.issue_stripe("run/c").await;
    let uri = format!("/vault/keys/{}", b["key_id"].as_str().unwrap());
    assert_eq!(
        app.call(As::Admin, Method::DELETE, &uri, None).await.status,
        StatusCode::OK
    );

    let ids = |uri: &'static str| {
        let app = &app;
        async move {
            let r = app.get(uri).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["key_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let id = |v: &serde_json::Value| v["key_id"].as_str().unwrap().to_owned();
    assert_eq!(ids("/vault/keys").await, [id(&c), id(&b), id(&a)]);
    assert_eq!(ids("/vault/keys?status=active").await, [id(&c), id(&a)]);
    assert_eq!(ids("/vault/keys?status=revoked").await, [id(&b)]);
    assert_eq!(
        ids("/vault/keys?status=expired").await,
        Vec::<String>::new()
    );
    assert_eq!(ids("/vault/keys?label=run%2Fa").await, [id(&a)]);
    assert_eq!(ids("/vault/keys?limit=1").await, [id(&c)]);

    let listed = app.get("/vault/keys").await.json();
    assert!(listed["keys"][0].get("vault_key").is_none());
}

#[tokio::test]
async fn show_has_the_issue_fields_without_the_secret_plus_status_and_spend() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("billing-agent/42").await;
    let id = issued["key_id"].as_str().unwrap();
    let r = app.get(&format!("/vault/keys/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(
        v,
        json!({
            "key_id": id,
            "vendor": "stripe",
            "daily_usd_cap": 500.0,
            "allowed_endpoints": ["POST /v1/payment_intents"],
            "expires_at": "2027-01-15T08:30:00Z",
            "agent_run_label": "billing-agent/42",
            "created_at": T0_RFC3339,
            "revoked_at": null,
            "status": "active",
            "spend_today_usd": 0.0,
            "leased_usd": 0.0,
            "remaining_usd": 500.0,
            "never_callable": [],
        })
    );
    app.clock.advance(Duration::from_secs(30 * 60));
    let v = app.get(&format!("/vault/keys/{id}")).await.json();
    assert_eq!(v["status"], "expired");
    let expired = app.get("/vault/keys?status=expired").await.json();
    assert_eq!(expired["keys"][0]["key_id"], id);
}

#[tokio::test]
async fn revoke_is_idempotent_and_bumps_the_version_once() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("run/1").await;
    let uri = format!("/vault/keys/{}", issued["key_id"].as_str().unwrap());
    let before = app.state.version();

    app.clock.advance(Duration::from_secs(5));
    let first = app.call(As::Admin, Method::DELETE, &uri, None).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(first["status"], "revoked");
    assert_eq!(first["revoked_at"], "2027-01-15T08:00:05Z");
    assert_eq!(app.state.version(), before + 1);

    app.clock.advance(Duration::from_secs(5));
    let again = app.call(As::Admin, Method::DELETE, &uri, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), first, "a second revoke changes nothing");
    assert_eq!(app.state.version(), before + 1);
}

#[tokio::test]
async fn unknown_and_malformed_key_ids() {
    let app = TestApp::new().await;
    let cases = [
        (
            "unknown show",
            Method::GET,
            "/vault/keys/kid_0123456789abcdef",
            StatusCode::NOT_FOUND,
        ),
        (
            "unknown revoke",
            Method::DELETE,
            "/vault/keys/kid_0123456789abcdef",
            StatusCode::NOT_FOUND,
        ),
        (
            "malformed show",
            Method::GET,
            "/vault/keys/not-a-key",
            StatusCode::BAD_REQUEST,
        ),
        (
            "upper-case hex",
            Method::GET,
            "/vault/keys/kid_0123456789ABCDEF",
            StatusCode::BAD_REQUEST,
        ),
        (
            "malformed revoke",
            Method::DELETE,
            "/vault/keys/kid_12",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, method, uri, status) in cases {
        let r = app.call(As::Admin, method, uri, None).await;
        assert_eq!(r.status, status, "case {name}: {}", r.text());
        assert_eq!(r.error().1.as_deref(), Some("key_id"), "case {name}");
    }
}

#[tokio::test]
async fn only_the_hash_of_a_vault_key_is_stored() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("run/hash").await;
    let key = VaultKey::parse(issued["vault_key"].as_str().unwrap()).unwrap();
    let secret_part = key.expose().rsplit('_').next().unwrap();
    assert!(!app.db_contains(key.expose()));
    assert!(!app.db_contains(secret_part));
    assert!(app.db_contains(&key.hash().to_hex()));
    assert!(app.db_contains(key.id().as_str()));
    use std::os::unix::fs::PermissionsExt;
    let sqlite_files: &[&str] = if app.database_url.is_some() {
        &[]
    } else {
        &["keybrake.db", "keybrake.db-wal"]
    };
    for name in sqlite_files
        .iter()
        .copied()
        .chain(["admin.key", "dataplane.token", "master.key"])
    {
        let mode = std::fs::metadata(app.dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let mode = std::fs::metadata(&app.dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "data dir");
}

#[tokio::test]
async fn keys_secrets_and_the_version_survive_a_restart() {
    let app = TestApp::new().await;
    let issued = app.issue_stripe("run/restart").await;
    let version = app.state.version();
    assert!(version > 1);
    let again = app.reopen().await;
    assert_eq!(again.state.version(), version);
    assert_eq!(again.state.admin_key.expose(), app.state.admin_key.expose());
    assert_eq!(
        again.state.dataplane_token.expose(),
        app.state.dataplane_token.expose()
    );
    let id = VaultKeyId::parse(issued["key_id"].as_str().unwrap()).unwrap();
    let r = again.get(&format!("/vault/keys/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["created_at"], crate::support::T0_RFC3339);
}

#[tokio::test]
async fn a_pattern_that_reaches_only_unbounded_endpoints_is_refused_and_a_broad_one_says_what_it_cannot_call(
) {
    let app = TestApp::new().await;
    let body = |allow: Value| {
        json!({
            "vendor": "stripe",
            "daily_usd_cap": 5.0,
            "allowed_endpoints": allow,
            "expires_in": "30m",
            "agent_run_label": "run/1",
        })
    };
    // Only unbounded endpoints: 400 naming the pattern and the endpoints.
    let r = app
        .call(
            As::Admin,
            Method::POST,
            "/vault/keys",
            Some(&body(json!([
                "POST /v1/payment_intents",
                "POST /v1/subscriptions/*"
            ]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let v = r.json();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(v["error"]["field"], "allowed_endpoints", "{v}");
    assert!(
        message.contains("allowed_endpoints[1] \"POST /v1/subscriptions/*\""),
        "{message}"
    );
    assert!(message.contains(": POST /v1/subscriptions/*."), "{message}");
    assert!(message.contains("cost_not_bounded"), "{message}");
    // A path no SDK calls, written to: unbounded (fail closed).
    let r = app
        .call(
            As::Admin,
            Method::POST,
            "/vault/keys",
            Some(&body(json!(["POST /v1/made_up"]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // A broad pattern is accepted; the key says which endpoints it can never call.
    let issued = app.issue(body(json!(["POST /v1/*"]))).await;
    let id = issued["key_id"].as_str().unwrap();
    let v = app.get(&format!("/vault/keys/{id}")).await.json();
    let never: Vec<&str> = v["never_callable"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(never.contains(&"POST /v1/subscriptions"), "{never:?}");
    assert!(!never.contains(&"POST /v1/payment_intents"), "{never:?}");
    let listed = app.get("/vault/keys").await.json();
    assert_eq!(listed["keys"][0]["never_callable"], v["never_callable"]);
}
