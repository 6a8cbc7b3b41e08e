use super::*;

fn parse(vendor: Vendor, body: &str) -> Result<VendorCredential, FieldError> {
    let req: CredentialsRequest = serde_json::from_str(body).unwrap();
    req.for_vendor(vendor)
}

#[test]
fn credentials_validate_per_vendor() {
    assert_eq!(
        parse(Vendor::Resend, r#"{"api_key":"re_123"}"#).unwrap(),
        VendorCredential::Resend {
            api_key: "re_123".into()
        }
    );
    assert!(parse(Vendor::Twilio, r#"{"account_sid":"AC1","auth_token":"t"}"#).is_ok());
    let long = format!(r#"{{"api_key":"{}"}}"#, "k".repeat(513));
    let cases = [
        ("stripe without key", Vendor::Stripe, "{}", "api_key"),
        (
            "stripe with sid",
            Vendor::Stripe,
            r#"{"api_key":"k","account_sid":"AC1"}"#,
            "account_sid",
        ),
        ("empty key", Vendor::Stripe, r#"{"api_key":""}"#, "api_key"),
        (
            "key with space",
            Vendor::Resend,
            r#"{"api_key":"a b"}"#,
            "api_key",
        ),
        (
            "key not a string",
            Vendor::Resend,
            r#"{"api_key":5}"#,
            "api_key",
        ),
        ("key too long", Vendor::Stripe, long.as_str(), "api_key"),
        (
            "twilio without token",
            Vendor::Twilio,
            r#"{"account_sid":"AC1"}"#,
            "auth_token",
        ),
        (
            "twilio with api_key",
            Vendor::Twilio,
            r#"{"api_key":"k"}"#,
            "api_key",
        ),
    ];
    for (name, vendor, body, field) in cases {
        let err = parse(vendor, body).expect_err(name);
        assert_eq!(err.field, field, "case {name}: {err}");
    }
}
