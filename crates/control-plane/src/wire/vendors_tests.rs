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
    assert_eq!(
        parse(Vendor::Twilio, r#"{"account_sid":"AC1","auth_token":"t"}"#).unwrap(),
        VendorCredential::Twilio {
            account_sid: "AC1".into(),
            auth_token: Some("t".into()),
            api_key_sid: None,
            api_key_secret: None,
        }
    );
    assert_eq!(
        parse(
            Vendor::Twilio,
            r#"{"account_sid":"AC1","api_key_sid":"SK1","api_key_secret":"s"}"#
        )
        .unwrap(),
        VendorCredential::Twilio {
            account_sid: "AC1".into(),
            auth_token: None,
            api_key_sid: Some("SK1".into()),
            api_key_secret: Some("s".into()),
        }
    );
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
        (
            "twilio with neither form",
            Vendor::Twilio,
            r#"{"account_sid":"AC1"}"#,
            "auth_token",
        ),
        (
            "twilio with both forms",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","auth_token":"t","api_key_sid":"SK1","api_key_secret":"s"}"#,
            "api_key_sid",
        ),
        (
            "token and a secret",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","auth_token":"t","api_key_secret":"s"}"#,
            "api_key_secret",
        ),
        (
            "api key without secret",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","api_key_sid":"SK1"}"#,
            "api_key_secret",
        ),
        (
            "api key secret without sid",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","api_key_secret":"s"}"#,
            "api_key_sid",
        ),
        (
            "api key sid not SK",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","api_key_sid":"AC2","api_key_secret":"s"}"#,
            "api_key_sid",
        ),
        (
            "api key secret empty",
            Vendor::Twilio,
            r#"{"account_sid":"AC1","api_key_sid":"SK1","api_key_secret":""}"#,
            "api_key_secret",
        ),
        (
            "api key on stripe",
            Vendor::Stripe,
            r#"{"api_key":"k","api_key_sid":"SK1"}"#,
            "api_key_sid",
        ),
    ];
    for (name, vendor, body, field) in cases {
        let err = parse(vendor, body).expect_err(name);
        assert_eq!(err.field, field, "case {name}: {err}");
    }
}
