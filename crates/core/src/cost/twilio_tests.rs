use super::*;

fn path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";
const CALLS: &str = "/2010-04-01/Accounts/AC123/Calls.json";

#[test]
fn estimates() {
    let p = TwilioPrices::default();
    let long = format!(
        "To=%2B15558675310&From=%2B15005550006&Body={}",
        "a".repeat(161)
    );
    let cases: Vec<(&str, &str, &str, String, Result<Estimate, CostError>)> = vec![
        (
            "one segment",
            "POST",
            MESSAGES,
            "To=%2B15558675310&From=%2B15005550006&Body=Hello".into(),
            Ok(Estimate::Approximate(8_300)),
        ),
        (
            "two segments",
            "POST",
            MESSAGES,
            long,
            Ok(Estimate::Approximate(16_600)),
        ),
        (
            "ucs2",
            "POST",
            MESSAGES,
            format!("To=%2B15558675310&Body={}", "%D0%B6".repeat(71)),
            Ok(Estimate::Approximate(16_600)),
        ),
        (
            "media is one mms",
            "POST",
            MESSAGES,
            "To=%2B15558675310&MediaUrl=https://x/y.png&MediaUrl=https://x/z.png".into(),
            Ok(Estimate::Approximate(22_000)),
        ),
        (
            "template without body",
            "POST",
            MESSAGES,
            "To=%2B15558675310&ContentSid=HX1".into(),
            Ok(Estimate::Approximate(24 * 8_300)),
        ),
        (
            "call with time limit",
            "POST",
            CALLS,
            "To=%2B15558675310&From=%2B15005550006&Url=https://x&TimeLimit=61".into(),
            Ok(Estimate::Approximate(2 * 14_000)),
        ),
        (
            "call without time limit",
            "POST",
            CALLS,
            "To=%2B15558675310&Url=https://x".into(),
            Ok(Estimate::Approximate(240 * 14_000)),
        ),
        (
            "bad time limit",
            "POST",
            CALLS,
            "To=%2B1&TimeLimit=soon".into(),
            Err(CostError::Unpriceable(
                "TimeLimit must be a number of seconds",
            )),
        ),
        (
            "body twice",
            "POST",
            MESSAGES,
            "To=%2B1&Body=a&Body=b".into(),
            Err(CostError::Unpriceable(
                "a priced field is sent more than once",
            )),
        ),
        (
            "read is free",
            "GET",
            MESSAGES,
            String::new(),
            Ok(Estimate::Free),
        ),
        (
            "other resources are free",
            "POST",
            "/2010-04-01/Accounts/AC123/IncomingPhoneNumbers.json",
            String::new(),
            Ok(Estimate::Free),
        ),
    ];
    for (name, method, p_, body, want) in cases {
        assert_eq!(
            estimate(method, &path(p_), body.as_bytes(), &p),
            want,
            "case {name}"
        );
    }
}

#[test]
fn settlements() {
    let rates = Rates::default();
    let cases: Vec<(&str, u32, &str, Settlement)> = vec![
        (
            "price null at creation",
            201,
            r#"{"sid":"SM1","price":null,"price_unit":"USD"}"#,
            Settlement::Unknown,
        ),
        (
            "price reported",
            201,
            r#"{"sid":"SM1","price":"-0.00830","price_unit":"USD"}"#,
            Settlement::Actual(8_300),
        ),
        (
            "sub-micro rounds up",
            201,
            r#"{"price":"-0.0000001","price_unit":"USD"}"#,
            Settlement::Actual(1),
        ),
        (
            "garbage price",
            201,
            r#"{"price":"free","price_unit":"USD"}"#,
            Settlement::Unknown,
        ),
        (
            "unknown unit",
            201,
            r#"{"price":"-1.0","price_unit":"XYZ"}"#,
            Settlement::Unknown,
        ),
        (
            "twilio error",
            400,
            r#"{"code":21211}"#,
            Settlement::NoCharge,
        ),
        ("server error", 503, "", Settlement::Unknown),
    ];
    for (name, status, body, want) in cases {
        assert_eq!(settle(status, body.as_bytes(), &rates), want, "case {name}");
    }
}
