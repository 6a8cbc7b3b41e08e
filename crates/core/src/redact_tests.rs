use super::*;

const ID: &str = "0123456789abcdef";
const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn key() -> String {
    format!("vk_{ID}_{SECRET}")
}

fn encoded(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn redaction_table() {
    let kept = format!("vk_{ID}_{REDACTED}");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("an ordinary path", "/v1/customers/cus_123".into(), None),
        (
            "a Twilio SID (32 hex) is not a secret",
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json".into(),
            None,
        ),
        (
            "63 hex digits are not a secret",
            format!("/v1/x/{}", &SECRET[..63]),
            None,
        ),
        (
            "a vault key in the path keeps its public id",
            format!("/v1/customers/{}", key()),
            Some(format!("/v1/customers/{kept}")),
        ),
        (
            "a vault key in the query",
            format!("/v1/charges?api_key={}&limit=3", key()),
            Some(format!("/v1/charges?api_key={kept}&limit=3")),
        ),
        (
            "the secret half alone",
            format!("/v1/{SECRET}"),
            Some(format!("/v1/{REDACTED}")),
        ),
        (
            "an upper-cased key",
            format!("/v1/{}", key().to_ascii_uppercase()),
            Some(format!("/v1/VK_{}_{REDACTED}", ID.to_ascii_uppercase())),
        ),
        (
            "a percent-encoded key is decoded and redacted",
            format!("/v1/customers/{}", encoded(&key())),
            Some(format!("/v1/customers/{kept}")),
        ),
        (
            "a double-encoded key",
            format!("/v1/customers/{}", encoded(&key()).replace('%', "%25")),
            Some(format!("/v1/customers/{kept}")),
        ),
        (
            "only the secret's digits encoded, beside a raw one",
            format!("/v1/{}/{}", encoded(SECRET), key()),
            Some(format!("/v1/{REDACTED}/{kept}")),
        ),
        (
            "a longer run is redacted whole",
            format!("x{SECRET}{SECRET}y"),
            Some(format!("x{REDACTED}y")),
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(redact(input.as_bytes()), want, "{name}");
        let out = redacted_or_same(&input);
        assert!(!has_secret_run(out.as_bytes()), "{name}: {out}");
        assert!(
            !out.to_ascii_lowercase().contains(SECRET),
            "{name}: the secret survived in {out}"
        );
    }
}

#[test]
fn non_utf8_input_is_redacted_lossily() {
    let mut raw = b"/v1/\xff/".to_vec();
    raw.extend_from_slice(key().as_bytes());
    let out = redact(&raw).unwrap_or_default();
    assert!(out.ends_with(REDACTED), "{out}");
    assert!(!out.contains(SECRET));
}

#[test]
fn headers_holding_a_secret_are_listed_with_their_replacement() {
    let headers: Vec<(String, Vec<u8>)> = vec![
        (
            ":path".into(),
            format!("/stripe/v1/customers/{}", key()).into_bytes(),
        ),
        (
            "authorization".into(),
            format!("Bearer {}", key()).into_bytes(),
        ),
        ("x-request-id".into(), SECRET.as_bytes().to_vec()),
        ("X-Note".into(), encoded(&key()).into_bytes()),
        ("content-type".into(), b"application/json".to_vec()),
    ];
    assert_eq!(
        headers_to_redact(&headers),
        vec![
            (
                ":path".to_owned(),
                format!("/stripe/v1/customers/vk_{ID}_{REDACTED}")
            ),
            ("x-request-id".to_owned(), REDACTED.to_owned()),
            ("x-note".to_owned(), format!("vk_{ID}_{REDACTED}")),
        ]
    );
}
