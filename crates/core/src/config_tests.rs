use super::*;

#[test]
fn configs_default_and_refuse_unknown_fields() {
    let f: FilterConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(f, FilterConfig::default());
    let s: SyncConfig = serde_json::from_str(r#"{"gateway_id":"gw-1"}"#).unwrap();
    assert_eq!(s.gateway_id, "gw-1");
    assert_eq!(s.cluster, "keybrake_control_plane");
    assert_eq!(s.validate(), Ok(()));
    for (json, names) in [
        (r#"{"gateway":"x"}"#, "unknown field `gateway`"),
        (r#"{"poll_wait_ms":"1s"}"#, "invalid type: string \"1s\""),
    ] {
        let e = serde_json::from_str::<SyncConfig>(json).unwrap_err();
        assert!(e.to_string().contains(names), "{json}: {e}");
    }
    let e = serde_json::from_str::<FilterConfig>(r#"{"lease_timeout":1}"#).unwrap_err();
    assert!(
        e.to_string().contains("unknown field `lease_timeout`"),
        "{e}"
    );
}

#[test]
fn the_access_log_fields_mode_is_each_unless_set() {
    assert_eq!(
        FilterConfig::default().access_log_fields,
        AccessLogFields::Each
    );
    for (json, want) in [
        ("each", AccessLogFields::Each),
        ("record", AccessLogFields::Record),
        ("none", AccessLogFields::None),
    ] {
        let f: FilterConfig =
            serde_json::from_str(&format!(r#"{{"access_log_fields":"{json}"}}"#)).unwrap();
        assert_eq!(f.access_log_fields, want);
    }
    let e = serde_json::from_str::<FilterConfig>(r#"{"access_log_fields":"one"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown variant `one`"), "{e}");
}

#[test]
fn validation_names_the_field() {
    let base = SyncConfig::default;
    let cases = [
        (
            "empty gateway id",
            SyncConfig {
                gateway_id: "".into(),
                ..base()
            },
            "gateway_id",
        ),
        (
            "space",
            SyncConfig {
                gateway_id: "a b".into(),
                ..base()
            },
            "gateway_id",
        ),
        (
            "slash",
            SyncConfig {
                gateway_id: "gw/1".into(),
                ..base()
            },
            "gateway_id",
        ),
        (
            "query",
            SyncConfig {
                gateway_id: "gw?x".into(),
                ..base()
            },
            "gateway_id",
        ),
        (
            "too long",
            SyncConfig {
                gateway_id: "g".repeat(65),
                ..base()
            },
            "gateway_id",
        ),
        (
            "no cluster",
            SyncConfig {
                cluster: "".into(),
                ..base()
            },
            "cluster",
        ),
        (
            "no authority",
            SyncConfig {
                authority: "".into(),
                ..base()
            },
            "authority",
        ),
        (
            "no token env",
            SyncConfig {
                token_env: "".into(),
                ..base()
            },
            "token_env",
        ),
        (
            "no wait",
            SyncConfig {
                poll_wait_ms: 0,
                ..base()
            },
            "poll_wait_ms",
        ),
    ];
    for (name, config, field) in cases {
        assert_eq!(
            config.validate().map_err(|e| e.field),
            Err(field),
            "case {name}"
        );
    }
    let longest = SyncConfig {
        gateway_id: "g".repeat(64),
        ..base()
    };
    assert_eq!(longest.validate(), Ok(()));
}
