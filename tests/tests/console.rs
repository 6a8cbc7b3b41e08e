//! The operator console in a real browser (Debian's chromium, driven by Playwright from
//! tests/python/console.py) against the real stack: sign in, issue a key from the form, watch a
//! gateway call arrive in the live tail, revoke with one click and see the very next call
//! refused, a wrong admin key and a cross-site post refused, and no secret in any page.
//!
//! Screenshots of every page are left in `KEYBRAKE_CONSOLE_SHOTS` when it is set (the ones in
//! docs/ come from there).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::{paths, Stack, RESEND_KEY, STRIPE_KEY, TWILIO_AUTH_TOKEN};
use serde_json::{json, Value};
use std::path::Path;

#[tokio::test]
async fn the_console_in_a_browser_issues_tails_and_revokes() {
    paths::require(&[paths::Needed::Python, paths::Needed::Chromium]);
    let stack = Stack::start().await;
    // The key a page on another site tries to revoke.
    let target = stack
        .issue(json!({"vendor": "stripe", "daily_usd_cap": 5, "allowed_endpoints": ["POST /v1/payment_intents"],
                      "expires_in": "30m", "agent_run_label": "console/target"}))
        .await;
    let out = stack.dir.0.join("console");
    std::fs::create_dir_all(&out).unwrap();

    let run = std::process::Command::new(paths::python())
        .arg(paths::workspace_root().join("tests/python/console.py"))
        .env("CONSOLE", stack.cp_url(""))
        .env("GATEWAY", stack.gw_url(0, ""))
        .env("ADMIN_KEY", &stack.admin_key)
        .env("TARGET_KEY_ID", &target.key_id)
        .env("OUT", &out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    let key_id = seen["key_id"].as_str().unwrap();
    let vault_key = seen["vault_key"].as_str().unwrap();

    // Sign-in: a wrong key is refused; the session cookie is out of scripts' reach.
    assert_eq!(seen["wrong_key"]["status"], 401, "{}", seen["wrong_key"]);
    assert_eq!(seen["wrong_key"]["cookies"], 0);
    let cookies = seen["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let c = &cookies[0];
    assert_eq!(c["httpOnly"], true, "{c}");
    assert_eq!(c["sameSite"], "Strict", "{c}");
    assert!(
        c["expires"].as_f64().unwrap() > 0.0,
        "a session cookie that expires: {c}"
    );
    assert_eq!(seen["document_cookie"], "", "scripts see no cookie");
    assert!(!seen["web_storage"]
        .as_str()
        .unwrap()
        .contains(&stack.admin_key));
    let headers = &seen["headers"]["login"];
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let csp = headers["content-security-policy"].as_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // Issued from the form, shown once, copied.
    assert_eq!(seen["issue_status"], 201);
    assert!(vault_key.starts_with("vk_"), "{vault_key}");
    assert_eq!(seen["clipboard_matches"], true);
    assert_eq!(
        seen["issued_page_again"], false,
        "the vault key shown again"
    );
    let info = stack.key_info(key_id).await;
    assert_eq!(info["agent_run_label"], "console/e2e");
    assert_eq!(info["status"], "revoked", "{info}");

    // The call went through and appeared in the live tail without a reload.
    assert!(
        seen["paid"]["ok"]
            .as_str()
            .is_some_and(|id| id.starts_with("pi_")),
        "{}",
        seen["paid"]
    );
    assert_eq!(seen["tail_same_document"], true);
    println!("call to live-tail row: {} ms", seen["tail_ms"]);

    // One click (plus the confirm), and the very next call is refused: no waiting.
    assert_eq!(
        seen["dialogs"].as_array().unwrap().len(),
        1,
        "{}",
        seen["dialogs"]
    );
    assert_eq!(
        seen["after_revoke"]["refused"], "key_revoked",
        "{}",
        seen["after_revoke"]
    );
    assert_eq!(seen["after_revoke"]["status"], 401);
    assert_eq!(seen["revoke_buttons_left"], 0);
    assert!(
        seen["refused_row"]
            .as_str()
            .unwrap()
            .contains("key_revoked"),
        "{}",
        seen["refused_row"]
    );

    // The key page, Spend and Gateways show the call.
    assert_eq!(seen["key_page"]["spent"], "$10.00", "{}", seen["key_page"]);
    assert_eq!(seen["key_page"]["cap"], "$50.00");
    assert!(
        seen["key_page"]["leases"]
            .as_str()
            .unwrap()
            .contains("gw-0"),
        "{}",
        seen["key_page"]
    );
    let spend = seen["spend_text"].as_str().unwrap();
    assert!(
        spend.contains("console/e2e") && spend.contains("$10.00"),
        "{spend}"
    );
    assert!(
        seen["spend_bars"].as_u64().unwrap() >= 3,
        "a bar per grouping"
    );
    assert!(seen["gateways_text"].as_str().unwrap().contains("gw-0"));

    // The page on another site could not revoke anything.
    assert_eq!(seen["cross_site"]["status"], 403, "{}", seen["cross_site"]);
    assert_eq!(stack.key_info(&target.key_id).await["status"], "active");

    // Signed out means signed out.
    assert!(seen["after_sign_out_url"]
        .as_str()
        .unwrap()
        .ends_with("/ui/login"));
    assert_eq!(seen["cookies_after_sign_out"], 0);

    // No secret in any page or answer; the vault key only in the one answer that issued it.
    let secret_half = vault_key.rsplit('_').next().unwrap();
    let everywhere = [
        ("the admin key", stack.admin_key.as_str()),
        ("the data-plane token", stack.dataplane_token.as_str()),
        ("Stripe's key", STRIPE_KEY),
        ("Twilio's auth token", TWILIO_AUTH_TOKEN),
        ("Resend's key", RESEND_KEY),
    ];
    let mut scanned = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".html") || name.ends_with(".txt")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        scanned += 1;
        for (what, secret) in everywhere {
            assert!(!text.contains(secret), "{what} in {name}");
        }
        if !(name == "issued.html" || name.ends_with("-issued.txt")) {
            assert!(!text.contains(secret_half), "the vault key in {name}");
        }
    }
    assert!(scanned >= 12, "only {scanned} pages and answers scanned");
    assert!(
        !stack.all_logs().contains(secret_half),
        "the vault key in a log"
    );

    if let Some(dir) = std::env::var_os("KEYBRAKE_CONSOLE_SHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "login", "keys", "issued", "key", "spend", "audit", "gateways",
        ] {
            let file = format!("{name}.png");
            std::fs::copy(out.join(&file), Path::new(&dir).join(&file)).unwrap();
        }
    }
}
