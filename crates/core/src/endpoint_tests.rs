use super::*;

fn segs(path: &str) -> Result<Vec<String>, PathError> {
    NormalizedPath::parse(path.as_bytes()).map(|p| p.segments().to_vec())
}

#[test]
fn normalization_table() {
    let overlong = format!("/{}", "a".repeat(MAX_PATH_LEN));
    let ok = |s: &[&str]| Ok(s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cases: Vec<(&str, &str, Result<Vec<String>, PathError>)> = vec![
        (
            "plain",
            "/stripe/v1/payment_intents",
            ok(&["stripe", "v1", "payment_intents"]),
        ),
        (
            "query kept apart",
            "/stripe/v1/customers?limit=3",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "fragment dropped",
            "/stripe/v1/customers#x",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "duplicate slashes",
            "//stripe///v1//customers",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "trailing slash",
            "/stripe/v1/customers/",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "dot segment",
            "/stripe/./v1/customers",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "dot-dot segment",
            "/stripe/v1/charges/../customers",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "encoded letters",
            "/stripe/v1/%63ustomers",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "encoded dot-dot",
            "/stripe/v1/charges/%2e%2E/customers",
            ok(&["stripe", "v1", "customers"]),
        ),
        (
            "encoded slash",
            "/stripe/v1%2fcustomers",
            Err(PathError::ForbiddenChar),
        ),
        (
            "encoded backslash",
            "/stripe/v1%5Ccustomers",
            Err(PathError::ForbiddenChar),
        ),
        (
            "raw backslash",
            "/stripe/v1\\customers",
            Err(PathError::ForbiddenChar),
        ),
        (
            "semicolon parameter",
            "/stripe/v1/customers;x=1",
            Err(PathError::ForbiddenChar),
        ),
        (
            "encoded semicolon",
            "/stripe/v1/customers%3Bx",
            Err(PathError::ForbiddenChar),
        ),
        (
            "double encoding",
            "/stripe/v1/%252e%252e",
            Err(PathError::ForbiddenChar),
        ),
        (
            "nul byte",
            "/stripe/v1/a%00b",
            Err(PathError::ForbiddenChar),
        ),
        ("space", "/stripe/v1/a%20b", Err(PathError::ForbiddenChar)),
        (
            "non-ascii",
            "/stripe/v1/caf%C3%A9",
            Err(PathError::ForbiddenChar),
        ),
        ("bad escape", "/stripe/v1/%zz", Err(PathError::BadEscape)),
        (
            "truncated escape",
            "/stripe/v1/%2",
            Err(PathError::BadEscape),
        ),
        ("above root", "/stripe/../../v1", Err(PathError::AboveRoot)),
        ("relative", "stripe/v1", Err(PathError::NotAbsolute)),
        (
            "absolute form",
            "http://api.stripe.com/v1",
            Err(PathError::NotAbsolute),
        ),
        ("empty", "", Err(PathError::NotAbsolute)),
        ("overlong", &overlong, Err(PathError::TooLong)),
    ];
    for (name, input, want) in cases {
        assert_eq!(segs(input), want, "case {name}: {input}");
    }
}

#[test]
fn request_target_is_canonical_and_keeps_the_query() {
    let p =
        NormalizedPath::parse(b"//stripe/v1/./customers/?limit=3&starting_after=cus_1").unwrap();
    assert_eq!(
        p.to_request_target(),
        "/stripe/v1/customers?limit=3&starting_after=cus_1"
    );
    assert_eq!(
        NormalizedPath::parse(b"/").unwrap().to_request_target(),
        "/"
    );
}

#[test]
fn pattern_parse_table() {
    let cases: Vec<(&str, &str, Result<&str, PatternError>)> = vec![
        (
            "plain",
            "POST /v1/payment_intents",
            Ok("POST /v1/payment_intents"),
        ),
        ("wildcard", "GET /v1/customers/*", Ok("GET /v1/customers/*")),
        (
            "lower-case method",
            "get /v1/customers",
            Ok("GET /v1/customers"),
        ),
        (
            "trailing slash",
            "GET /v1/customers/",
            Ok("GET /v1/customers"),
        ),
        (
            "twilio json suffix",
            "POST /2010-04-01/Accounts/*/Messages.json",
            Ok("POST /2010-04-01/Accounts/*/Messages.json"),
        ),
        ("empty", "", Err(PatternError::Shape)),
        ("no path", "POST", Err(PatternError::Shape)),
        (
            "unknown method",
            "FETCH /v1/x",
            Err(PatternError::Method("FETCH".into())),
        ),
        ("no leading slash", "GET v1/x", Err(PatternError::Path)),
        ("root only", "GET /", Err(PatternError::Path)),
        (
            "empty segment",
            "GET /v1//x",
            Err(PatternError::Segment("".into())),
        ),
        (
            "dot-dot",
            "GET /v1/../x",
            Err(PatternError::Segment("..".into())),
        ),
        (
            "percent",
            "GET /v1/%2F",
            Err(PatternError::Segment("%2F".into())),
        ),
        (
            "partial wildcard",
            "GET /v1/cus_*",
            Err(PatternError::Segment("cus_*".into())),
        ),
        (
            "query",
            "GET /v1/x?y=1",
            Err(PatternError::Segment("x?y=1".into())),
        ),
        (
            "two spaces in path",
            "GET /v1/x /y",
            Err(PatternError::Shape),
        ),
    ];
    for (name, input, want) in cases {
        let got = EndpointPattern::parse(input).map(|p| p.to_string());
        assert_eq!(got, want.map(str::to_owned), "case {name}");
    }
}

#[test]
fn pattern_matching_table() {
    let cases = [
        (
            "exact",
            "POST /v1/payment_intents",
            "POST",
            "/v1/payment_intents",
            true,
        ),
        (
            "other method",
            "POST /v1/payment_intents",
            "GET",
            "/v1/payment_intents",
            false,
        ),
        (
            "lower-case request method",
            "POST /v1/payment_intents",
            "post",
            "/v1/payment_intents",
            true,
        ),
        (
            "wildcard one segment",
            "GET /v1/customers/*",
            "GET",
            "/v1/customers/cus_1",
            true,
        ),
        (
            "wildcard not zero segments",
            "GET /v1/customers/*",
            "GET",
            "/v1/customers",
            false,
        ),
        (
            "wildcard not two segments",
            "GET /v1/customers/*",
            "GET",
            "/v1/customers/cus_1/x",
            false,
        ),
        (
            "prefix is not a match",
            "POST /v1/payment_intents",
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            false,
        ),
        (
            "case-sensitive literal",
            "POST /v1/payment_intents",
            "POST",
            "/v1/Payment_Intents",
            false,
        ),
        (
            "dot-dot cannot escape",
            "GET /v1/customers/*",
            "GET",
            "/v1/customers/../charges",
            false,
        ),
        (
            "encoded dot-dot cannot escape",
            "GET /v1/customers/*",
            "GET",
            "/v1/customers/%2e%2e/charges",
            false,
        ),
        (
            "duplicate slashes match",
            "POST /v1/payment_intents",
            "POST",
            "//v1//payment_intents",
            true,
        ),
    ];
    for (name, pattern, method, path, want) in cases {
        let p = EndpointPattern::parse(pattern).unwrap();
        let n = NormalizedPath::parse(path.as_bytes()).unwrap();
        assert_eq!(p.matches(method, n.segments()), want, "case {name}");
    }
}

#[test]
fn patterns_serialize_as_strings() {
    let p: EndpointPattern = serde_json::from_str("\"post /v1/refunds\"").unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"POST /v1/refunds\"");
    let e = serde_json::from_str::<EndpointPattern>("\"nonsense\"").unwrap_err();
    assert!(
        e.to_string().starts_with(&PatternError::Shape.to_string()),
        "{e}"
    );
}
