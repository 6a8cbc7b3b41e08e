use super::*;

fn nanos(body: &str) -> Result<u64, FieldError> {
    let req: SetRateRequest = serde_json::from_str(body).unwrap();
    req.nanos_per_unit()
}

#[test]
fn rates_validate() {
    let ok = [
        ("yen", r#"{"usd_per_unit":0.0067}"#, 6_700_000),
        ("euro", r#"{"usd_per_unit":1.08}"#, 1_080_000_000),
        ("integer", r#"{"usd_per_unit":3}"#, 3_000_000_000),
        ("rounds to nearest", r#"{"usd_per_unit":0.0000000016}"#, 2),
        (
            "the maximum",
            r#"{"usd_per_unit":1000000}"#,
            1_000_000_000_000_000,
        ),
    ];
    for (name, body, want) in ok {
        assert_eq!(nanos(body), Ok(want), "case {name}");
    }
    let bad = [
        ("missing", "{}"),
        ("null", r#"{"usd_per_unit":null}"#),
        ("string", r#"{"usd_per_unit":"0.0067"}"#),
        ("zero", r#"{"usd_per_unit":0}"#),
        ("negative", r#"{"usd_per_unit":-1}"#),
        ("too large", r#"{"usd_per_unit":1000001}"#),
        ("below a nano", r#"{"usd_per_unit":0.0000000001}"#),
        ("out of f64 range", r#"{"usd_per_unit":1e400}"#),
    ];
    for (name, body) in bad {
        let e = nanos(body).expect_err(name);
        assert_eq!(e.field, "usd_per_unit", "case {name}");
    }
    let e = serde_json::from_str::<SetRateRequest>(r#"{"usd_per_unit":1,"x":1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `x`"), "{e}");
}

#[test]
fn currencies_in_paths() {
    assert_eq!(currency_from_path("JPY"), Ok("jpy".to_owned()));
    for bad in ["usd", "USD", "jp", "j1y", "jpyy", ""] {
        let e = currency_from_path(bad).expect_err(bad);
        assert_eq!(e.field, "currency", "{bad}");
    }
}
