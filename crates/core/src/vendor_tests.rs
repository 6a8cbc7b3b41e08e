use super::*;

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", B64.encode(format!("{user}:{pass}")))
}

#[test]
fn presented_key_forms() {
    let k = "vk_x";
    let cases: Vec<(&str, Vendor, String, Option<&str>)> = vec![
        (
            "stripe bearer",
            Vendor::Stripe,
            format!("Bearer {k}"),
            Some(k),
        ),
        (
            "stripe bearer lower-case scheme",
            Vendor::Stripe,
            format!("bearer {k}"),
            Some(k),
        ),
        (
            "stripe bearer extra spaces",
            Vendor::Stripe,
            format!("  Bearer   {k} "),
            Some(k),
        ),
        (
            "stripe basic key as username",
            Vendor::Stripe,
            basic(k, ""),
            Some(k),
        ),
        (
            "stripe basic without colon",
            Vendor::Stripe,
            format!("Basic {}", B64.encode(k)),
            Some(k),
        ),
        (
            "stripe basic empty username",
            Vendor::Stripe,
            basic("", k),
            None,
        ),
        (
            "stripe empty bearer",
            Vendor::Stripe,
            "Bearer ".into(),
            None,
        ),
        (
            "stripe unknown scheme",
            Vendor::Stripe,
            format!("Token {k}"),
            None,
        ),
        (
            "stripe bad base64",
            Vendor::Stripe,
            "Basic %%%".into(),
            None,
        ),
        (
            "resend bearer",
            Vendor::Resend,
            format!("Bearer {k}"),
            Some(k),
        ),
        ("resend basic refused", Vendor::Resend, basic(k, ""), None),
        (
            "twilio basic key as password",
            Vendor::Twilio,
            basic("ACplaceholder", k),
            Some(k),
        ),
        (
            "twilio basic any user",
            Vendor::Twilio,
            basic("", k),
            Some(k),
        ),
        (
            "twilio bearer refused",
            Vendor::Twilio,
            format!("Bearer {k}"),
            None,
        ),
        (
            "twilio key as username refused",
            Vendor::Twilio,
            basic(k, ""),
            None,
        ),
    ];
    for (name, vendor, header, want) in cases {
        assert_eq!(
            vendor.presented_key(header.as_bytes()).as_deref(),
            want,
            "case {name}"
        );
    }
}

#[test]
fn non_utf8_authorization_is_refused_not_panicked() {
    assert_eq!(Vendor::Stripe.presented_key(b"Bearer \xff\xfe"), None);
}

#[test]
fn outgoing_authorization_per_vendor() {
    let stripe = VendorCredential::Stripe {
        api_key: "sk_test_1".into(),
    };
    assert_eq!(stripe.authorization(), "Bearer sk_test_1");
    let resend = VendorCredential::Resend {
        api_key: "re_1".into(),
    };
    assert_eq!(resend.authorization(), "Bearer re_1");
    assert_eq!(resend.secrets(), ["re_1"]);
}

fn twilio(token: Option<&str>, key: Option<(&str, &str)>) -> VendorCredential {
    VendorCredential::Twilio {
        account_sid: "AC1".into(),
        auth_token: token.map(Into::into),
        api_key_sid: key.map(|k| k.0.into()),
        api_key_secret: key.map(|k| k.1.into()),
    }
}

#[test]
fn twilio_auth_token_or_api_key() {
    let cases: [(&str, VendorCredential, String, Vec<&str>); 4] = [
        (
            "auth token",
            twilio(Some("tok"), None),
            basic("AC1", "tok"),
            vec!["tok"],
        ),
        (
            "api key",
            twilio(None, Some(("SK1", "sec"))),
            basic("SK1", "sec"),
            vec!["sec"],
        ),
        (
            "api key wins over a token",
            twilio(Some("tok"), Some(("SK1", "sec"))),
            basic("SK1", "sec"),
            vec!["tok", "sec"],
        ),
        (
            "half an api key falls back to the token",
            VendorCredential::Twilio {
                account_sid: "AC1".into(),
                auth_token: Some("tok".into()),
                api_key_sid: Some("SK1".into()),
                api_key_secret: None,
            },
            basic("AC1", "tok"),
            vec!["tok"],
        ),
    ];
    for (name, cred, auth, secrets) in cases {
        assert_eq!(cred.authorization(), auth, "case {name}");
        assert_eq!(cred.secrets(), secrets, "case {name}");
        assert!(!format!("{cred:?}").contains("sec"), "case {name}");
    }
}

#[test]
fn twilio_credentials_serialize_only_what_is_set() {
    let token = serde_json::to_value(twilio(Some("tok"), None)).unwrap();
    assert_eq!(
        token,
        serde_json::json!({"vendor": "twilio", "account_sid": "AC1", "auth_token": "tok"})
    );
    let key = serde_json::to_value(twilio(None, Some(("SK1", "sec")))).unwrap();
    assert_eq!(
        key,
        serde_json::json!({"vendor": "twilio", "account_sid": "AC1",
                           "api_key_sid": "SK1", "api_key_secret": "sec"})
    );
    // A credential sealed before API keys existed still opens.
    let old: VendorCredential =
        serde_json::from_str(r#"{"vendor":"twilio","account_sid":"AC1","auth_token":"tok"}"#)
            .unwrap();
    assert_eq!(old, twilio(Some("tok"), None));
    let e = serde_json::from_str::<VendorCredential>(
        r#"{"vendor":"twilio","account_sid":"AC1","token":"tok"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `token`"), "{e}");
}

#[test]
fn credential_debug_is_redacted() {
    let c = VendorCredential::Stripe {
        api_key: "sk_test_secret".into(),
    };
    assert!(!format!("{c:?}").contains("sk_test_secret"));
}

#[test]
fn vendor_names_round_trip() {
    for v in Vendor::ALL {
        assert_eq!(Vendor::from_name(v.as_str()), Some(v));
    }
    assert_eq!(Vendor::from_name("paypal"), None);
}
