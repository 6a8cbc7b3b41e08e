use super::*;
use serde_json::json;

fn segs(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn endpoints_whose_answers_carry_a_credential() {
    let cases = [
        (
            "the account",
            Vendor::Twilio,
            "GET",
            "/2010-04-01/Accounts/AC1.json",
            true,
        ),
        (
            "an account update",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1.json",
            true,
        ),
        (
            "the account list",
            Vendor::Twilio,
            "GET",
            "/2010-04-01/Accounts.json",
            true,
        ),
        (
            "a subaccount",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts.json",
            true,
        ),
        (
            "a new API key",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1/Keys.json",
            true,
        ),
        (
            "a new signing key",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1/SigningKeys.json",
            true,
        ),
        (
            "a TURN token",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1/Tokens.json",
            true,
        ),
        (
            "listing API keys (no secret)",
            Vendor::Twilio,
            "GET",
            "/2010-04-01/Accounts/AC1/Keys.json",
            false,
        ),
        (
            "a new Resend key",
            Vendor::Resend,
            "POST",
            "/api-keys",
            true,
        ),
        (
            "Resend keys listed (no token)",
            Vendor::Resend,
            "GET",
            "/api-keys",
            false,
        ),
        (
            "a Stripe ephemeral key",
            Vendor::Stripe,
            "POST",
            "/v1/ephemeral_keys",
            true,
        ),
        (
            "a Stripe webhook endpoint",
            Vendor::Stripe,
            "POST",
            "/v1/webhook_endpoints",
            true,
        ),
        (
            "messages",
            Vendor::Twilio,
            "GET",
            "/2010-04-01/Accounts/AC1/Messages.json",
            false,
        ),
        (
            "a message",
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1/Messages.json",
            false,
        ),
        (
            "a Stripe path of the same shape",
            Vendor::Stripe,
            "GET",
            "/2010-04-01/Accounts/AC1.json",
            false,
        ),
        (
            "Stripe's account",
            Vendor::Stripe,
            "GET",
            "/v1/account",
            false,
        ),
    ];
    for (name, vendor, method, path, carries) in cases {
        assert_eq!(
            credential_fields(vendor, method, &segs(path)).is_some(),
            carries,
            "{name}"
        );
    }
}

#[test]
fn credentials_are_withheld_at_any_depth() {
    let account = json!({"sid": "AC1", "status": "active", "auth_token": "tok_real",
                         "subresource_uris": {"calls": "/x"}});
    let list = json!({"accounts": [account.clone(), {"sid": "AC2", "auth_token": null}],
                      "page": 0});
    let out = |v: &Value| {
        serde_json::from_slice::<Value>(&withhold_credentials(
            v.to_string().as_bytes(),
            None,
            TWILIO_ACCOUNT_FIELDS,
        ))
        .unwrap()
    };
    let one = out(&account);
    assert_eq!(one["auth_token"], REDACTED);
    assert_eq!(one["status"], "active", "everything else is kept");
    assert_eq!(one["subresource_uris"]["calls"], "/x");
    let many = out(&list);
    assert_eq!(many["accounts"][0]["auth_token"], REDACTED);
    assert_eq!(many["accounts"][1]["auth_token"], Value::Null);
    assert!(!many.to_string().contains("tok_real"));
    let turn = json!({"username": "u", "password": "p_real",
                      "ice_servers": [{"url": "turn:x", "credential": "c_real", "username": "u"}]});
    let out_turn = withhold_credentials(turn.to_string().as_bytes(), None, TWILIO_TOKEN_FIELDS);
    let text = String::from_utf8(out_turn).unwrap();
    assert!(
        !text.contains("p_real") && !text.contains("c_real"),
        "{text}"
    );
    assert!(text.contains("turn:x"));
}

#[test]
fn answers_that_cannot_be_checked_are_withheld() {
    let fields = TWILIO_ACCOUNT_FIELDS;
    let gz = withhold_credentials(b"\x1f\x8b\x08rest", Some(b"gzip"), fields);
    assert_eq!(gz, WITHHELD.as_bytes());
    let text = withhold_credentials(b"auth_token=tok_real", None, fields);
    assert_eq!(text, WITHHELD.as_bytes());
    let truncated = withhold_credentials(br#"{"auth_token": "tok_re"#, Some(b"identity"), fields);
    assert_eq!(truncated, WITHHELD.as_bytes());
    assert!(withhold_credentials(b"", None, fields).is_empty());
}
