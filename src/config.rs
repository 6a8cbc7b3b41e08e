//! The plugin configuration of either role, as Envoy hands it over (`configuration` in the
//! plugin config; empty when none is set).

use serde::de::DeserializeOwned;

/// Parses a role's configuration: empty means every default; unknown fields and wrong types are
/// refused with serde's message, which names the field.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    let raw = if raw.is_empty() {
        b"{}".as_slice()
    } else {
        raw
    };
    serde_json::from_slice(raw).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keybrake_core::config::{FilterConfig, SyncConfig};

    #[test]
    fn empty_means_defaults() {
        assert_eq!(parse::<FilterConfig>(b""), Ok(FilterConfig::default()));
        assert_eq!(parse::<FilterConfig>(b"{}"), Ok(FilterConfig::default()));
        assert_eq!(parse::<SyncConfig>(b""), Ok(SyncConfig::default()));
        let set = parse::<FilterConfig>(br#"{"lease_timeout_ms":10}"#).unwrap();
        assert_eq!(set.lease_timeout_ms, 10);
        assert_eq!(
            set.max_snapshot_age_ms,
            FilterConfig::default().max_snapshot_age_ms,
            "what is not set keeps its default"
        );
    }

    #[test]
    fn bad_configuration_names_the_field() {
        let cases = [
            (r#"{"lease_timeout":1}"#, "unknown field `lease_timeout`"),
            (
                r#"{"max_request_body_bytes":-1}"#,
                "invalid value: integer `-1`",
            ),
            (
                r#"{"max_snapshot_age_ms":"60s"}"#,
                "invalid type: string \"60s\"",
            ),
            ("max_snapshot_age_ms: 1", "expected value"),
        ];
        for (raw, names) in cases {
            let e = parse::<FilterConfig>(raw.as_bytes()).unwrap_err();
            assert!(e.contains(names), "{raw}: {e}");
        }
    }
}
