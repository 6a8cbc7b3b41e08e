use super::*;

#[test]
fn object_ids_come_from_id_or_sid() {
    let cases: [(&str, &[u8], Option<&str>); 8] = [
        (
            "stripe",
            br#"{"id":"pi_123","object":"payment_intent"}"#,
            Some("pi_123"),
        ),
        (
            "twilio",
            br#"{"sid":"SM0123","status":"queued"}"#,
            Some("SM0123"),
        ),
        ("id wins over sid", br#"{"id":"a","sid":"b"}"#, Some("a")),
        (
            "resend",
            br#"{"id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}"#,
            Some("4ef9a417-02e9-4d39-ad75-9611e0fcc33c"),
        ),
        ("no id", br#"{"object":"list"}"#, None),
        ("not json", b"<html>", None),
        ("id with a newline", br#"{"id":"pi_1\nx"}"#, None),
        ("id not a string", br#"{"id":7}"#, None),
    ];
    for (name, body, want) in cases {
        assert_eq!(object_id(body).as_deref(), want, "case {name}");
    }
}

#[test]
fn printable_ids_are_short_visible_ascii() {
    assert_eq!(printable_id(b"req_abc").as_deref(), Some("req_abc"));
    assert_eq!(printable_id(&[b'a'; 128]).map(|s| s.len()), Some(128));
    for bad in [
        &b""[..],
        &[b'a'; 129],
        b"has space",
        b"tab\t",
        b"caf\xc3\xa9",
        b"\x7f",
    ] {
        assert_eq!(printable_id(bad), None, "{bad:?}");
    }
}
