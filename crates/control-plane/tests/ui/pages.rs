//! What the pages show: the one-time vault key, the refused form kept, the filters, the
//! spend and gateway figures, the live tail, and no secret anywhere else.

use crate::audit_support::{denied, record, Instance};
use crate::browser::Browser;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use keybrake_core::DenyReason;
use std::time::Duration;
use tower::ServiceExt;

const STRIPE_FORM: [(&str, &str); 5] = [
    ("vendor", "stripe"),
    ("daily_usd_cap", "25"),
    (
        "allowed_endpoints",
        "POST /v1/payment_intents\r\nGET /v1/payment_intents/*\r\n",
    ),
    ("expires_in", "30m"),
    ("agent_run_label", "console/<b>run</b>"),
];

/// Every `src`/`href`/`action`/`sse-connect` value of a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [
        " src=\"",
        " href=\"",
        " action=\"",
        " sse-connect=\"",
        " hx-post=\"",
    ] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            out.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

#[tokio::test]
async fn the_issue_form_shows_the_vault_key_once_and_no_page_shows_a_secret() {
    let mut b = Browser::new().await;
    b.sign_in().await;
    let r = b.issue(&STRIPE_FORM).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let html = r.text();
    let at = html.find("id=\"vault-key\">").unwrap() + "id=\"vault-key\">".len();
    let vault_key = &html[at..at + html[at..].find('<').unwrap()];
    assert!(vault_key.starts_with("vk_"), "{vault_key}");
    assert!(html.contains("data-copy=\"vault-key\""), "a copy button");
    assert!(
        html.contains("console/&#60;b&#62;run&#60;/b&#62;"),
        "the label is escaped"
    );
    assert!(!html.contains("<b>run"), "the label is escaped");
    let key_id = vault_key
        .split('_')
        .take(2)
        .collect::<Vec<_>>()
        .join("_")
        .replacen("vk_", "kid_", 1);

    // The API holds the key as typed.
    let info = b.app.get(&format!("/vault/keys/{key_id}")).await.json();
    assert_eq!(info["agent_run_label"], "console/<b>run</b>");
    assert_eq!(info["daily_usd_cap"], 25.0);
    assert_eq!(info["allowed_endpoints"][1], "GET /v1/payment_intents/*");

    let secret_half = vault_key.rsplit('_').next().unwrap().to_owned();
    let state = &b.app.state;
    let secrets = [
        ("the vault key's secret", secret_half),
        ("the admin key", state.admin_key.expose().to_owned()),
        (
            "the data-plane token",
            state.dataplane_token.expose().to_owned(),
        ),
        (
            "the master key",
            std::fs::read_to_string(b.app.dir.join("master.key"))
                .unwrap()
                .trim()
                .to_owned(),
        ),
    ];
    let pages = [
        "/ui/keys".to_owned(),
        format!("/ui/keys/{key_id}"),
        "/ui/spend".into(),
        "/ui/audit".into(),
        "/ui/gateways".into(),
        "/ui/login".into(),
    ];
    for path in &pages {
        let r = b.get(path).await;
        let text = r.text();
        for (name, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} on {path}");
        }
        for link in links(&text) {
            assert!(
                link.starts_with("/ui/") || link.starts_with('#'),
                "{path} links {link:?}: no CDN, no other host"
            );
        }
    }
    let keys = b.get("/ui/keys").await.text();
    assert!(
        keys.contains(&key_id) && keys.contains(">Revoke</button>"),
        "{keys}"
    );
}

#[tokio::test]
async fn a_refused_issue_form_comes_back_as_typed_with_the_apis_reason() {
    let mut b = Browser::new().await;
    b.sign_in().await;
    let mut fields = STRIPE_FORM;
    fields[1] = ("daily_usd_cap", "-3");
    let r = b.issue(&fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("daily_usd_cap must be greater than 0"),
        "{html}"
    );
    assert!(html.contains("value=\"-3\""), "the cap as typed");
    assert!(
        html.contains("GET /v1/payment_intents/*"),
        "the endpoints as typed"
    );
    fields[1] = ("daily_usd_cap", "25");
    fields[2] = ("allowed_endpoints", "FETCH /v1/x");
    let r = b.issue(&fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("allowed_endpoints[0]"), "{}", r.text());
    let list = b.app.get("/vault/keys").await.json();
    assert_eq!(list["keys"].as_array().unwrap().len(), 0, "nothing issued");
}

#[tokio::test]
async fn the_keys_table_filters_by_label_prefix_vendor_and_status() {
    let mut b = Browser::new().await;
    let a = b.app.issue_stripe("billing/1").await;
    let c = b.app.issue_stripe("billing_x/2").await;
    let d = b.app.issue_stripe("support/3").await;
    b.app
        .call(
            crate::support::As::Admin,
            axum::http::Method::DELETE,
            &format!("/vault/keys/{}", d["key_id"].as_str().unwrap()),
            None,
        )
        .await;
    b.sign_in().await;
    let id = |v: &serde_json::Value| v["key_id"].as_str().unwrap().to_owned();
    let cases = [
        (
            "label prefix",
            "?label_prefix=billing/",
            vec![id(&a)],
            vec![id(&c), id(&d)],
        ),
        (
            "a % is a plain character",
            "?label_prefix=billing%25",
            vec![],
            vec![id(&a), id(&c)],
        ),
        (
            "status",
            "?status=revoked",
            vec![id(&d)],
            vec![id(&a), id(&c)],
        ),
        (
            "vendor",
            "?vendor=twilio",
            vec![],
            vec![id(&a), id(&c), id(&d)],
        ),
        (
            "empty fields are no filter",
            "?label_prefix=&vendor=&status=",
            vec![id(&a), id(&c), id(&d)],
            vec![],
        ),
    ];
    for (name, query, shown, hidden) in cases {
        let html = b.get(&format!("/ui/keys{query}")).await.text();
        for k in shown {
            assert!(html.contains(&k), "{name}: {k} missing");
        }
        for k in hidden {
            assert!(!html.contains(&k), "{name}: {k} shown");
        }
    }
    assert_eq!(
        b.get("/ui/keys?status=lost").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn spend_key_and_gateway_pages_show_the_trail_and_refusals_are_marked() {
    let mut b = Browser::new().await;
    b.sign_in().await;
    let gw = Instance::new("inst-1");
    gw.ship(
        &b.app,
        1,
        vec![
            record(0, 1_250_000),
            record(10, 8_300),
            denied(20, DenyReason::KeyRevoked),
        ],
    )
    .await;
    let spend = b.get("/ui/spend").await.text();
    assert!(spend.contains("$1.2583"), "today's total by label: {spend}");
    assert!(
        spend.contains("run/a") && spend.contains("<svg class=\"chart\""),
        "{spend}"
    );
    let audit = b.get("/ui/audit").await.text();
    assert_eq!(
        audit.matches("class=\"decision-deny refused\"").count(),
        1,
        "{audit}"
    );
    assert!(audit.contains(">key_revoked</span>"), "the reason is shown");
    let refused_only = b.get("/ui/audit?decision=deny&vendor=").await.text();
    assert_eq!(refused_only.matches("data-record=").count(), 1);
    let gateways = b.get("/ui/gateways").await.text();
    assert!(
        gateways.contains("inst-1") && gateways.contains(">live</span>"),
        "{gateways}"
    );
    assert!(b.get("/ui/audit?vendor=acme").await.status == StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_live_tail_streams_each_new_matching_record_once() {
    let mut b = Browser::new().await;
    b.sign_in().await;
    let gw = Instance::new("inst-tail");
    gw.ship(&b.app, 1, vec![record(0, 1)]).await;
    let page = b.get("/ui/audit?vendor=stripe").await.text();
    let at = page.find("sse-connect=\"").unwrap() + "sse-connect=\"".len();
    let url = page[at..at + page[at..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        url.starts_with("/ui/audit/stream?vendor=stripe&after="),
        "{url}"
    );

    let req = Request::get(&url)
        .header(header::COOKIE, b.cookie.clone().unwrap())
        .body(Body::empty())
        .unwrap();
    let resp = keybrake_control_plane::app(b.app.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let mut twilio = record(20, 5);
    twilio.vendor = Some(keybrake_core::Vendor::Twilio);
    gw.ship(
        &b.app,
        2,
        vec![
            record(10, 2),
            twilio,
            denied(30, DenyReason::SpendCapExceeded),
        ],
    )
    .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.matches("event: record").count() < 2 {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("two records within 10 s")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(
        seen.contains("spend_cap_exceeded") && seen.contains("refused"),
        "{seen}"
    );
    assert!(!seen.contains("twilio"), "filtered out: {seen}");
    assert_eq!(
        seen.matches("data-record=").count(),
        2,
        "the old record is not resent: {seen}"
    );
}
