//! Every shipped Envoy configuration is accepted by the real Envoy binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::paths;
use std::process::Command;

fn validate(name: &str, config: &str) {
    let dir = keybrake_e2e::process::TempDir::new("keybrake-validate");
    let file = dir.0.join(name);
    std::fs::write(&file, config).unwrap();
    let out = Command::new(paths::envoy_bin())
        .args(["--mode", "validate", "--disable-hot-restart", "-c"])
        .arg(&file)
        .env("KEYBRAKE_DATAPLANE_TOKEN", "validate-only")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "envoy rejected {name}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shipped_configs_validate_with_real_envoy() {
    paths::require(&[paths::Needed::Envoy, paths::Needed::Wasm]);
    let root = paths::workspace_root();
    let wasm = paths::wasm().display().to_string();

    let production = std::fs::read_to_string(root.join("envoy/envoy.yaml")).unwrap();
    assert!(production.contains("/etc/envoy/keybrake_filter.wasm"));
    validate(
        "envoy.yaml",
        &production.replace("/etc/envoy/keybrake_filter.wasm", &wasm),
    );

    let template = std::fs::read_to_string(root.join("envoy/local.yaml.tmpl")).unwrap();
    let local = [
        ("{{LISTEN_PORT}}", "10000"),
        ("{{ADMIN_PORT}}", "9901"),
        ("{{CONTROL_PLANE_PORT}}", "8484"),
        ("{{CONTROL_PLANE_PORT_B}}", "8485"),
        ("{{STRIPE_PORT}}", "12111"),
        ("{{TWILIO_PORT}}", "12112"),
        ("{{RESEND_PORT}}", "12113"),
        ("{{WASM_PATH}}", wasm.as_str()),
        ("{{ACCESS_LOG_PATH}}", "/dev/null"),
        ("{{GATEWAY_ID}}", "validate"),
    ]
    .iter()
    .fold(template, |t, (k, v)| t.replace(k, v));
    assert!(!local.contains("{{"), "unrendered placeholder");
    validate("local.yaml", &local);

    // The access log never prints the Authorization header: after the swap it holds the real key.
    for (name, text) in [("envoy.yaml", &production), ("local.yaml.tmpl", &local)] {
        assert!(
            !text.to_ascii_uppercase().contains("%REQ(AUTHORIZATION)%"),
            "{name} logs Authorization"
        );
        for field in [
            "keybrake_key_id",
            "keybrake_label",
            "keybrake_vendor",
            "keybrake_decision",
            "keybrake_cost_usd",
            "keybrake_cost_source",
            "keybrake_spend_usd",
            "keybrake_cap_usd",
        ] {
            assert!(
                text.contains(&format!("%FILTER_STATE(wasm.{field}:PLAIN)%")),
                "{name} does not log {field}"
            );
        }
    }
}
