use super::*;

/// Sets a token variable of this test's own (tests run in parallel in one process).
fn token_env(name: &str, value: Option<&str>) -> String {
    let var = format!("KEYBRAKE_FILTER_TEST_{name}");
    match value {
        Some(v) => std::env::set_var(&var, v),
        None => std::env::remove_var(&var),
    }
    var
}

fn configure(json: &str) -> Result<SyncService, String> {
    SyncService::configure(json.as_bytes())
}

#[test]
fn a_configured_service_carries_its_gateway_token_and_a_fresh_instance() {
    let var = token_env("OK", Some("kbt_secret"));
    let raw = format!(r#"{{"gateway_id":"gw-7","token_env":"{var}"}}"#);
    let a = configure(&raw).unwrap();
    assert_eq!(a.info.gateway, "gw-7");
    assert_eq!(a.info.token, "kbt_secret");
    assert_eq!(a.info.cluster, "keybrake_control_plane");
    assert_eq!(a.info.instance.len(), 16, "{}", a.info.instance);
    assert!(a.info.instance.bytes().all(|b| b.is_ascii_hexdigit()));
    // Envoy configures the singleton twice at start; the second must not replace the first.
    let b = configure(&raw).unwrap();
    assert!(a.same_config(&b));
    assert_ne!(
        a.info.instance, b.info.instance,
        "each process is a new instance"
    );
    let other = configure(&format!(r#"{{"gateway_id":"gw-8","token_env":"{var}"}}"#)).unwrap();
    assert!(!a.same_config(&other));
}

#[test]
fn refusals_say_what_to_fix() {
    let missing = token_env("MISSING", None);
    let empty = token_env("EMPTY", Some(""));
    let good = token_env("GOOD", Some("kbt_x"));
    let cases = [
        (
            "no token",
            format!(r#"{{"token_env":"{missing}"}}"#),
            format!("set {missing} in Envoy's environment and list it in vm_config.environment_variables.host_env_keys"),
        ),
        (
            "empty token",
            format!(r#"{{"token_env":"{empty}"}}"#),
            format!("set {empty} in Envoy's environment"),
        ),
        (
            "bad gateway id",
            format!(r#"{{"gateway_id":"gw/1","token_env":"{good}"}}"#),
            "gateway_id must be 1-64 letters".to_owned(),
        ),
        (
            "no wait",
            format!(r#"{{"poll_wait_ms":0,"token_env":"{good}"}}"#),
            "poll_wait_ms must be greater than zero".to_owned(),
        ),
        (
            "unknown field",
            format!(r#"{{"gateway":"gw","token_env":"{good}"}}"#),
            "unknown field `gateway`".to_owned(),
        ),
    ];
    for (name, raw, says) in cases {
        let e = configure(&raw)
            .err()
            .unwrap_or_else(|| panic!("case {name}: accepted"));
        assert!(e.contains(&says), "case {name}: {e}");
        assert!(!e.contains("kbt_x"), "case {name}: the token leaked: {e}");
    }
}
