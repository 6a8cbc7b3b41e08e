use super::*;

const KEY: &str =
    "vk_0123456789abcdef_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const OTHER: &str =
    "vk_fedcba9876543210_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (":method".to_owned(), b"POST".to_vec()),
        (":authority".to_owned(), b"gateway".to_vec()),
        (
            "authorization".to_owned(),
            format!("Bearer {KEY}").into_bytes(),
        ),
    ];
    out.extend(
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
    );
    if !out.iter().any(|(n, _)| n == ":path") {
        out.push((":path".to_owned(), b"/stripe/v1/customers/cus_1".to_vec()));
    }
    out
}

#[test]
fn screen_table() {
    let strip = |names: &[&str]| {
        Ok(Screened {
            strip: names.iter().map(|s| (*s).to_owned()).collect(),
        })
    };
    let upper = KEY.to_ascii_uppercase().replace("VK_", "vk_");
    let encoded: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
    let double_encoded = encoded.replace('%', "%25");
    let cases: Vec<(&str, Vec<(String, Vec<u8>)>, Result<Screened, DenyReason>)> = vec![
        (
            "plain call",
            headers(&[("content-type", "application/x-www-form-urlencoded")]),
            strip(&[]),
        ),
        (
            "x-keybrake headers are stripped",
            headers(&[
                ("x-keybrake-deny-reason", "none"),
                ("X-Keybrake-Key-Id", "kid_x"),
            ]),
            strip(&["x-keybrake-deny-reason", "x-keybrake-key-id"]),
        ),
        (
            "a spoofed x-envoy-original-path is stripped",
            headers(&[("x-envoy-original-path", "/stripe/v1/refunds")]),
            strip(&["x-envoy-original-path"]),
        ),
        (
            "every x-envoy-* header is stripped (the router would act on some)",
            headers(&[
                ("x-envoy-retry-on", "5xx"),
                ("X-Envoy-Max-Retries", "10"),
                ("x-envoy-upstream-rq-timeout-ms", "1"),
                ("x-envoy-internal", "true"),
            ]),
            strip(&[
                "x-envoy-retry-on",
                "x-envoy-max-retries",
                "x-envoy-upstream-rq-timeout-ms",
                "x-envoy-internal",
            ]),
        ),
        (
            "x-http-method-override is refused",
            headers(&[("x-http-method-override", "DELETE")]),
            Err(DenyReason::BadRequest),
        ),
        (
            "x-http-method is refused",
            headers(&[("X-HTTP-Method", "DELETE")]),
            Err(DenyReason::BadRequest),
        ),
        (
            "x-method-override is refused",
            headers(&[("x-method-override", "GET")]),
            Err(DenyReason::BadRequest),
        ),
        (
            "a vault key as a path segment",
            headers(&[(":path", &format!("/stripe/v1/customers/{KEY}"))]),
            Err(DenyReason::BadRequest),
        ),
        (
            "a bare 64-hex secret in the path",
            headers(&[(
                ":path",
                &format!("/stripe/v1/customers/{}", "ab".repeat(32)),
            )]),
            Err(DenyReason::BadRequest),
        ),
        (
            "a percent-encoded secret in the path",
            headers(&[(
                ":path",
                &format!(
                    "/stripe/v1/customers/{}",
                    "ab".repeat(32)
                        .bytes()
                        .map(|b| format!("%{b:02x}"))
                        .collect::<String>()
                ),
            )]),
            Err(DenyReason::BadRequest),
        ),
        (
            "two authorization headers",
            headers(&[("authorization", "Bearer sk_live_x")]),
            Err(DenyReason::BadRequest),
        ),
        (
            "vault key in x-api-key",
            headers(&[("x-api-key", KEY)]),
            Err(DenyReason::BadRequest),
        ),
        (
            "another vault key in a header",
            headers(&[("x-forward-this", &format!("token={OTHER}"))]),
            Err(DenyReason::BadRequest),
        ),
        (
            "vault key in the query",
            headers(&[(
                ":path",
                &format!("/stripe/v1/customers/cus_1?api_key={KEY}"),
            )]),
            Err(DenyReason::BadRequest),
        ),
        (
            "percent-encoded vault key in the query",
            headers(&[(":path", &format!("/stripe/v1/customers/cus_1?k={encoded}"))]),
            Err(DenyReason::BadRequest),
        ),
        (
            "double-encoded vault key in the query",
            headers(&[(
                ":path",
                &format!("/stripe/v1/customers/cus_1?k={double_encoded}"),
            )]),
            Err(DenyReason::BadRequest),
        ),
        (
            "upper-case vault key",
            headers(&[("x-api-key", &upper)]),
            Err(DenyReason::BadRequest),
        ),
        (
            "the presented secret alone",
            headers(&[("idempotency-key", SECRET)]),
            Err(DenyReason::BadRequest),
        ),
        (
            "an unrelated 64-hex value is fine",
            headers(&[("idempotency-key", &"ab".repeat(32))]),
            strip(&[]),
        ),
        (
            "a truncated key shape is fine",
            headers(&[("x-note", &KEY[..KEY.len() - 1])]),
            strip(&[]),
        ),
        (
            "non-UTF-8 values are screened as bytes",
            vec![
                (
                    "authorization".to_owned(),
                    format!("Bearer {KEY}").into_bytes(),
                ),
                (
                    "x-bin".to_owned(),
                    [&[0xff_u8, 0xfe][..], KEY.as_bytes()].concat(),
                ),
            ],
            Err(DenyReason::BadRequest),
        ),
        (
            "a stray percent sign is fine",
            headers(&[("x-note", "100%"), ("x-more", "%zz%4")]),
            strip(&[]),
        ),
    ];
    for (name, hs, want) in cases {
        assert_eq!(screen_headers(Vendor::Stripe, &hs), want, "case {name}");
    }
}

#[test]
fn joined_authorization_is_refused() {
    let hs = vec![(
        "authorization".to_owned(),
        format!("Bearer {KEY},Bearer {KEY}").into_bytes(),
    )];
    assert_eq!(
        screen_headers(Vendor::Stripe, &hs),
        Err(DenyReason::BadRequest)
    );
}

#[test]
fn twilio_basic_secret_is_found_elsewhere() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC1:{KEY}"));
    let hs = vec![
        (
            "authorization".to_owned(),
            format!("Basic {basic}").into_bytes(),
        ),
        ("x-token".to_owned(), SECRET.as_bytes().to_vec()),
    ];
    assert_eq!(
        screen_headers(Vendor::Twilio, &hs),
        Err(DenyReason::BadRequest)
    );
}
