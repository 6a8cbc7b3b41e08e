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
            // The one entry of `access_log_fields: record`.
            "keybrake",
        ] {
            assert!(
                text.contains(&format!("%FILTER_STATE(wasm.{field}:PLAIN)%")),
                "{name} does not log {field}"
            );
        }
    }
}

/// `KEYBRAKE_ACCESS_LOG_FIELDS=record make run`: the rendered config sets the filter's
/// `access_log_fields` and Envoy accepts it; a value the filter does not know stops the render.
#[test]
fn make_run_renders_the_access_log_fields_setting() {
    paths::require(&[paths::Needed::Envoy, paths::Needed::Wasm]);
    let script = paths::workspace_root().join("scripts/render-envoy-config.sh");
    let dir = keybrake_e2e::process::TempDir::new("keybrake-render");
    let out_file = dir.0.join("envoy.yaml");
    let out = Command::new(&script)
        .arg(&out_file)
        .env("KEYBRAKE_ACCESS_LOG_FIELDS", "record")
        .env("WASM_PATH", paths::wasm())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(
        rendered
            .matches(r#"'{"max_snapshot_age_ms":60000,"access_log_fields":"record"}'"#)
            .count(),
        1,
        "the filter's configuration, once"
    );
    validate("record.yaml", &rendered);

    let bad = Command::new(&script)
        .arg(dir.0.join("bad.yaml"))
        .env("KEYBRAKE_ACCESS_LOG_FIELDS", "one")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("must be each, record or none"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!dir.0.join("bad.yaml").exists(), "nothing rendered");
}
