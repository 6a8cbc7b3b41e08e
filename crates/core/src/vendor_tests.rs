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
    let twilio = VendorCredential::Twilio {
        account_sid: "AC1".into(),
        auth_token: "tok".into(),
    };
    assert_eq!(twilio.authorization(), basic("AC1", "tok"));
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
