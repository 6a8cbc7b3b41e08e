//! Who gets in: sign-in, the session cookie, its expiry and sign-out, CSRF and cross-site
//! posts, and the headers every answer carries.

use crate::browser::{form, Browser, HOST};
use crate::support::As;
use axum::http::{header, Method, StatusCode};
use keybrake_control_plane::ui::CONTENT_SECURITY_POLICY;

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let mut b = Browser::new().await;
    let signed_out = [
        "/ui/login",
        "/ui/keys",
        "/ui/assets/htmx.min.js",
        "/ui/assets/nope",
        "/ui/nope",
        "/ui/keys/kid_0000000000000000/nope",
    ];
    let mut replies = Vec::new();
    for path in signed_out {
        replies.push((path, b.get(path).await));
    }
    replies.push(("wrong key", b.sign_in_with("kba_wrong").await));
    b.sign_in().await;
    for path in [
        "/ui/keys",
        "/ui/spend",
        "/ui/audit",
        "/ui/gateways",
        "/ui/keys/kid_0000000000000000",
    ] {
        replies.push((path, b.get(path).await));
    }
    for (what, r) in &replies {
        let h = |name: &str| {
            r.headers
                .get(name)
                .unwrap_or_else(|| panic!("{what}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            h("content-security-policy"),
            CONTENT_SECURITY_POLICY,
            "{what}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("referrer-policy"), "same-origin", "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    }
    for needle in [
        "unsafe-inline",
        "unsafe-eval",
        "*",
        "http:",
        "https:",
        "data:",
    ] {
        assert!(
            !CONTENT_SECURITY_POLICY.contains(needle),
            "CSP allows {needle}"
        );
    }
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn a_wrong_admin_key_is_refused_and_pages_need_a_session() {
    let mut b = Browser::new().await;
    let r = b.get("/ui/keys").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/ui/login");
    let htmx = b
        .send(
            axum::http::Request::get("/ui/keys")
                .header("hx-request", "true")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        htmx.status,
        StatusCode::UNAUTHORIZED,
        "htmx is told, not redirected"
    );
    assert_eq!(htmx.headers["hx-redirect"], "/ui/login");

    let wrong = format!("{}x", b.app.state.admin_key.expose());
    for key in ["", "kba_wrong", wrong.as_str()] {
        let r = b.sign_in_with(key).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert!(r.headers.get(header::SET_COOKIE).is_none(), "{key:?}");
        assert!(
            r.text().contains("not the admin key"),
            "{key:?}: {}",
            r.text()
        );
        if !key.is_empty() {
            assert!(!r.text().contains(key), "the typed key is echoed back");
        }
    }
    assert_eq!(b.get("/ui/keys").await.status, StatusCode::SEE_OTHER);
    // The API's bearer token does not open the console either.
    let r = b.app.call(As::Admin, Method::GET, "/ui/keys", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_session_cookie_is_locked_down_and_never_the_admin_key() {
    let mut b = Browser::new().await;
    let key = b.app.state.admin_key.expose().to_owned();
    let r = b.sign_in_with(&key).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.headers[header::LOCATION], "/ui/keys");
    let set = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    let attrs: Vec<&str> = set.split("; ").collect();
    for want in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
        assert!(attrs.contains(&want), "{want} missing: {set}");
    }
    assert!(!attrs.contains(&"Secure"), "plain http: no Secure ({set})");
    assert!(
        !set.contains(&key),
        "the cookie carries the admin key: {set}"
    );

    // Behind a TLS-terminating proxy the cookie is Secure.
    for (name, value) in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=1.2.3.4;proto=https"),
    ] {
        let r = b
            .post("/ui/login", form(&[("admin_key", &key)]), &[(name, value)])
            .await;
        let set = r.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(set.split("; ").any(|a| a == "Secure"), "{name}: {set}");
    }
}

#[tokio::test]
async fn a_session_expires_and_sign_out_ends_it_on_the_server() {
    let mut b = Browser::new().await;
    b.sign_in().await;
    b.app
        .clock
        .advance(std::time::Duration::from_millis(8 * 3600 * 1000 - 1));
    assert_eq!(
        b.get("/ui/keys").await.status,
        StatusCode::OK,
        "just before expiry"
    );
    b.app.clock.advance(std::time::Duration::from_millis(1));
    assert_eq!(
        b.get("/ui/keys").await.status,
        StatusCode::SEE_OTHER,
        "expired"
    );

    b.sign_in().await;
    let old_cookie = b.cookie.clone();
    let r = b.post("/ui/logout", form(&[("csrf", &b.csrf)]), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let set = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.contains("Max-Age=0"), "{set}");
    // A copy of the cookie kept from before is worthless now.
    b.cookie = old_cookie;
    assert_eq!(b.get("/ui/keys").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn posts_need_this_sessions_csrf_token_and_this_origin() {
    let mut b = Browser::new().await;
    let key = b.app.issue_stripe("csrf/target").await;
    let id = key["key_id"].as_str().unwrap().to_owned();
    b.sign_in().await;
    let path = format!("/ui/keys/{id}/revoke");
    let other = {
        let mut o = Browser::new().await;
        o.sign_in().await;
        o.csrf
    };
    let csrf = b.csrf.clone();
    let evil_origin = [("origin", "http://evil.example")];
    let cases: Vec<(&str, String, Vec<(&str, &str)>)> = vec![
        ("no token", form(&[]), vec![]),
        ("wrong token", form(&[("csrf", "0123")]), vec![]),
        ("another session's token", form(&[("csrf", &other)]), vec![]),
        (
            "cross-site fetch",
            form(&[("csrf", &csrf)]),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site, other origin",
            form(&[("csrf", &csrf)]),
            vec![("sec-fetch-site", "same-site")],
        ),
        (
            "foreign Origin",
            form(&[("csrf", &csrf)]),
            evil_origin.to_vec(),
        ),
        (
            "null Origin",
            form(&[("csrf", &csrf)]),
            vec![("origin", "null")],
        ),
    ];
    for (name, body, headers) in cases {
        // Browser::post sends a same-origin Origin and Sec-Fetch-Site; these replace them.
        let mut req = axum::http::Request::post(&path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, HOST);
        let overrides_origin = headers.iter().any(|(k, _)| *k == "origin");
        if !overrides_origin {
            req = req.header(header::ORIGIN, format!("http://{HOST}"));
        }
        if !headers.iter().any(|(k, _)| *k == "sec-fetch-site") {
            req = req.header(
                "sec-fetch-site",
                if overrides_origin {
                    "cross-site"
                } else {
                    "same-origin"
                },
            );
        }
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let r = b
            .send(req.body(axum::body::Body::from(body)).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}: {}", r.text());
        let info = b.app.get(&format!("/vault/keys/{id}")).await.json();
        assert_eq!(info["status"], "active", "{name} revoked the key");
    }
    // Without a browser's headers (a script with the cookie and token) the token suffices.
    let r = b
        .send(
            axum::http::Request::post(&path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(form(&[("csrf", &csrf)])))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let info = b.app.get(&format!("/vault/keys/{id}")).await.json();
    assert_eq!(info["status"], "revoked");
}

/// Every file a page links in its head (scripts, the style sheet, the icon) is served, with a
/// content type the browser accepts under the console's CSP: a missing one is a 404 in every
/// browser's console (a new user saw one for `/favicon.ico`).
#[tokio::test]
async fn every_asset_a_page_links_is_served() {
    let b = Browser::new().await;
    let page = String::from_utf8(b.get("/ui/login").await.body).unwrap();
    let links: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/ui/assets/"))
        .collect();
    assert!(links.len() >= 5, "{links:?}");
    assert!(links.contains(&"/ui/assets/favicon.svg"), "{links:?}");
    for link in links {
        let r = b.get(link).await;
        assert_eq!(r.status, StatusCode::OK, "{link}");
        let ty = r.headers[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let want = match link.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            other => panic!("{link}: an asset of an unexpected kind {other:?}"),
        };
        assert!(ty.starts_with(want), "{link}: {ty}");
    }
}
