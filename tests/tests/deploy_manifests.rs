//! The deployment files are valid for the systems that read them: every Istio resource in
//! `deploy/istio/` against Istio's CRD schemas (istio/api's file in `tests/data/istio/`), every
//! Envoy fragment there with the real Envoy the way pilot-agent hands it over (`envoy --mode
//! validate -c <bootstrap> --config-yaml <custom_bootstrap.json>`), and `docker-compose.yml`
//! against the compose specification.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::paths;
use keybrake_e2e::process::TempDir;
use std::process::{Command, Output};

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn istio_manifests_match_istio_schemas_and_their_envoy_config_validates() {
    paths::require(&[
        paths::Needed::Python,
        paths::Needed::Envoy,
        paths::Needed::Wasm,
    ]);
    let root = paths::workspace_root();
    let out = TempDir::new("keybrake-istio");

    // Step 1: schemas and invariants; renders each variant's Envoy config.
    let checked = Command::new(paths::python())
        .arg(root.join("tests/python/deploy_manifests.py"))
        .arg("--crds")
        .arg(root.join("tests/data/istio/customresourcedefinitions.gen.yaml"))
        .arg("--base")
        .arg(root.join("tests/data/istio/gateway-bootstrap.yaml"))
        .arg("--wasm")
        .arg(paths::wasm())
        .args(["--version", env!("CARGO_PKG_VERSION"), "--out"])
        .arg(&out.0)
        .arg(root.join("deploy/istio"))
        .output()
        .unwrap();
    assert_ok("deploy_manifests.py", &checked);

    // Step 2: each variant's listener and bootstrap fragment, merged as pilot-agent merges them.
    // Validate mode also starts the HTTP filter's VM with the plugin configuration it is given.
    for variant in ["envoyfilter", "wasmplugin"] {
        let config = out.0.join(format!("{variant}.yaml"));
        let fragment = std::fs::read_to_string(out.0.join(format!("{variant}.override.json")))
            .unwrap_or_else(|e| panic!("{variant}: no bootstrap fragment rendered: {e}"));
        let validated = Command::new(paths::envoy_bin())
            .args(["--mode", "validate", "--disable-hot-restart", "-c"])
            .arg(&config)
            .arg("--config-yaml")
            .arg(fragment)
            .env("KEYBRAKE_DATAPLANE_TOKEN", "validate-only")
            .output()
            .unwrap();
        assert_ok(&format!("envoy --mode validate ({variant})"), &validated);
    }
}

#[test]
fn docker_compose_file_matches_the_compose_spec() {
    // check-jsonschema is in the virtualenv (tests/requirements.txt).
    paths::require(&[paths::Needed::Python]);
    let check = paths::python().with_file_name("check-jsonschema");
    let checked = Command::new(&check)
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(paths::workspace_root().join("docker-compose.yml"))
        .output()
        .unwrap();
    assert_ok("check-jsonschema (compose spec)", &checked);
}
