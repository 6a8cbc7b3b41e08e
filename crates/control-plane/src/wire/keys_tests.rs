use super::*;

fn parse(body: &str) -> Result<IssueSpec, FieldError> {
    let req: IssueKeyRequest = serde_json::from_str(body).unwrap();
    IssueSpec::try_from(req)
}

fn body(field: &str, value: &str) -> String {
    let mut fields = vec![
        ("vendor", r#""stripe""#.to_owned()),
        ("daily_usd_cap", "500".to_owned()),
        (
            "allowed_endpoints",
            r#"["POST /v1/payment_intents"]"#.to_owned(),
        ),
        ("expires_in", r#""30m""#.to_owned()),
        ("agent_run_label", r#""billing-agent/42""#.to_owned()),
    ];
    for (name, v) in &mut fields {
        if *name == field {
            *v = value.to_owned();
        }
    }
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

#[test]
fn a_good_request_validates() {
    let spec = parse(&body("", "")).unwrap();
    assert_eq!(spec.vendor, Vendor::Stripe);
    assert_eq!(spec.daily_cap_micros, 500_000_000);
    assert_eq!(
        spec.allowed_endpoints[0].to_string(),
        "POST /v1/payment_intents"
    );
    assert_eq!(spec.expires_in, Duration::from_secs(1800));
    assert_eq!(spec.label, "billing-agent/42");
}

#[test]
fn caps_round_to_the_nearest_micro() {
    let cases = [
        ("cents", "0.29", 290_000),
        ("float noise", "0.1", 100_000),
        ("half micro rounds up", "0.0000015", 2),
        ("one micro", "0.000001", 1),
        ("integer", "7", 7_000_000),
        ("max", "1e9", 1_000_000_000_000_000),
    ];
    for (name, cap, want) in cases {
        let spec = parse(&body("daily_usd_cap", cap)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(spec.daily_cap_micros, want, "case {name}");
    }
}

#[test]
fn each_bad_field_is_named() {
    let cases = [
        ("missing vendor", "vendor", "null"),
        ("unknown vendor", "vendor", r#""paypal""#),
        ("vendor not a string", "vendor", "1"),
        ("zero cap", "daily_usd_cap", "0"),
        ("negative cap", "daily_usd_cap", "-1"),
        ("string cap", "daily_usd_cap", r#""500""#),
        ("huge cap", "daily_usd_cap", "1e12"),
        ("out of range cap", "daily_usd_cap", "1e400"),
        ("sub-micro cap", "daily_usd_cap", "0.0000004"),
        ("empty allowlist", "allowed_endpoints", "[]"),
        (
            "allowlist not an array",
            "allowed_endpoints",
            r#""POST /v1/x""#,
        ),
        (
            "malformed pattern",
            "allowed_endpoints",
            r#"["POST /v1/x", "FETCH /v1"]"#,
        ),
        ("pattern not a string", "allowed_endpoints", "[1]"),
        ("zero expiry", "expires_in", "0"),
        ("negative expiry", "expires_in", "-60"),
        ("fractional expiry", "expires_in", "1.5"),
        ("word expiry", "expires_in", r#""later""#),
        ("bool expiry", "expires_in", "true"),
        ("empty label", "agent_run_label", r#""""#),
        (
            "long label",
            "agent_run_label",
            &format!("\"{}\"", "x".repeat(201)),
        ),
        ("control char label", "agent_run_label", r#""a\nb""#),
    ];
    for (name, field, value) in cases {
        let err = parse(&body(field, value)).expect_err(name);
        assert_eq!(err.field, field, "case {name}: {err}");
    }
    let err = parse(&body("allowed_endpoints", r#"["POST /v1/x", "FETCH /v1"]"#)).unwrap_err();
    assert!(err.message.contains("allowed_endpoints[1]"), "{err}");
}
