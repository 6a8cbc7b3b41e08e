use super::*;

fn path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";
const CALLS: &str = "/2010-04-01/Accounts/AC123/Calls.json";

/// Prices a call the way the filter does: classified, then priced by its rule.
fn price(method: &str, p: &str, body: &str, prices: &TwilioPrices) -> Result<Estimate, CostError> {
    crate::cost::estimate(
        crate::vendor::Vendor::Twilio,
        method,
        &path(p),
        body.as_bytes(),
        &Rates::default(),
        &crate::prices::Prices {
            twilio: prices.clone(),
            ..Default::default()
        },
        crate::cost::Known::default(),
    )
}

fn unbounded(r: Result<Estimate, CostError>) -> bool {
    matches!(r, Err(CostError::Unbounded(_)))
}

#[test]
fn messages_are_bounded_as_twilio_bills_them() {
    let mut p = TwilioPrices::default();
    p.sms_segment.push(crate::prices::PrefixPrice {
        prefix: "44".into(),
        micros: 40_000,
    });
    p.mms_message.push(crate::prices::PrefixPrice {
        prefix: "44".into(),
        micros: 30_000,
    });
    let msg = |body: &str| price("POST", MESSAGES, body, &p);
    let cases: Vec<(&str, String, Result<Estimate, CostError>)> = vec![
        (
            "SendAsMms without media is one MMS",
            "To=%2B15558675310&Body=hi&SendAsMms=true".into(),
            Ok(Estimate::Approximate(22_000)),
        ),
        (
            "153 escape characters are three segments",
            format!("To=%2B15558675310&Body={}", "%5D".repeat(153)),
            Ok(Estimate::Approximate(3 * 8_300)),
        ),
        (
            "an emoji between 66 and 66 Cyrillic letters is three segments",
            format!(
                "To=%2B15558675310&Body={}%F0%9F%98%80{}",
                "%D0%B6".repeat(66),
                "%D0%B6".repeat(66)
            ),
            Ok(Estimate::Approximate(3 * 8_300)),
        ),
        (
            "MMS outside +1 reserves the larger of MMS and the converter's SMS",
            "To=%2B447700900123&Body=hi&MediaUrl=https://x/y.png".into(),
            Ok(Estimate::Approximate(40_000)),
        ),
        (
            "MMS outside +1 with a long text: the SMS segments are larger",
            format!(
                "To=%2B447700900123&Body={}&MediaUrl=https://x/y.png",
                "a".repeat(300)
            ),
            Ok(Estimate::Approximate(3 * 40_000)),
        ),
        (
            "formatting in an E.164 number is ignored",
            "To=%2B44+7700-900.123&Body=hi".into(),
            Ok(Estimate::Approximate(40_000)),
        ),
        (
            "a priced channel",
            "To=whatsapp%3A%2B15558675310&Body=hi".into(),
            Err(CostError::Unbounded("")),
        ),
    ];
    for (name, body, want) in cases {
        let got = msg(&body);
        match want {
            Err(CostError::Unbounded(_)) => assert!(unbounded(got), "case {name}"),
            want => assert_eq!(got, want, "case {name}"),
        }
    }
    for (name, to) in [
        ("national number", "07700900123"),
        ("no plus", "15558675310"),
        ("letters", "%2B1555CALLNOW"),
        ("too short", "%2B1"),
        ("empty", ""),
        ("short code", "12345"),
    ] {
        assert!(unbounded(msg(&format!("To={to}&Body=hi"))), "case {name}");
    }
    p.channel_message.push(crate::prices::ChannelPrice {
        channel: "whatsapp".into(),
        micros: 5_000,
    });
    assert_eq!(
        price("POST", MESSAGES, "To=whatsapp%3A%2B15558675310&Body=hi", &p),
        Ok(Estimate::Approximate(5_000))
    );
}

#[test]
fn call_updates_that_lengthen_a_call_are_priced() {
    let mut p = TwilioPrices::default();
    p.call_minute.push(crate::prices::PrefixPrice {
        prefix: "44".into(),
        micros: 20_000,
    });
    let update = "/2010-04-01/Accounts/AC123/Calls/CA1.json";
    let cases = [
        ("hang up", "Status=completed", Ok(Estimate::Free)),
        (
            "callback change",
            "StatusCallback=https://x",
            Ok(Estimate::Free),
        ),
        (
            "a day-long time limit at the dearest rate",
            "TimeLimit=86400",
            Ok(Estimate::Approximate(1_440 * 20_000)),
        ),
        (
            "new TwiML without a limit: the longest call",
            "Twiml=%3CResponse%3E%3CPause+length%3D%2260%22%2F%3E%3C%2FResponse%3E",
            Ok(Estimate::Approximate(240 * 20_000)),
        ),
        (
            "redirect to a URL",
            "Url=https://x/twiml&TimeLimit=60",
            Ok(Estimate::Approximate(20_000)),
        ),
    ];
    for (name, body, want) in cases {
        assert_eq!(price("POST", update, body, &p), want, "case {name}");
    }
    // A conference dial-out is a call.
    assert_eq!(
        price(
            "POST",
            "/2010-04-01/Accounts/AC123/Conferences/CF1/Participants.json",
            "To=%2B15558675310&From=%2B15005550006&TimeLimit=120",
            &p
        ),
        Ok(Estimate::Approximate(2 * 14_000))
    );
}

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
            "To=%2B15558675310&TimeLimit=soon".into(),
            Err(CostError::Unpriceable(
                "TimeLimit must be a number of seconds",
            )),
        ),
        (
            "body twice",
            "POST",
            MESSAGES,
            "To=%2B15558675310&Body=a&Body=b".into(),
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
            "/2010-04-01/Accounts/AC123/Messages/SM1.json",
            "Body=".into(),
            Ok(Estimate::Free),
        ),
    ];
    for (name, method, p_, body, want) in cases {
        assert_eq!(price(method, p_, &body, &p), want, "case {name}");
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
        let answer = serde_json::from_slice(body.as_bytes()).ok();
        assert_eq!(settle(status, answer.as_ref(), &rates), want, "case {name}");
    }
}

#[test]
fn the_shipped_us_prices_do_not_price_other_countries() {
    let uk = "To=%2B447700900123&Body=hi";
    let call = "To=%2B447700900123&From=%2B15005550006&TimeLimit=60";
    let calls = "/2010-04-01/Accounts/AC123/Calls.json";
    let shipped = TwilioPrices::default();
    assert!(
        unbounded(price("POST", MESSAGES, uk, &shipped)),
        "SMS to +44"
    );
    assert!(
        unbounded(price(
            "POST",
            MESSAGES,
            &format!("{uk}&SendAsMms=true"),
            &shipped
        )),
        "MMS to +44"
    );
    assert!(
        unbounded(price("POST", calls, call, &shipped)),
        "call to +44"
    );
    assert_eq!(
        price("POST", MESSAGES, "To=%2B15558675310&Body=hi", &shipped),
        Ok(Estimate::Approximate(8_300)),
        "+1 keeps the US price"
    );

    let mut listed = TwilioPrices::default();
    listed.sms_segment.push(crate::prices::PrefixPrice {
        prefix: "44".into(),
        micros: 40_000,
    });
    assert_eq!(
        price("POST", MESSAGES, uk, &listed),
        Ok(Estimate::Approximate(40_000))
    );
    let own_default = TwilioPrices {
        sms_segment_default_micros: 60_000,
        sms_segment_default_covers_all: true,
        ..TwilioPrices::default()
    };
    assert_eq!(
        price("POST", MESSAGES, uk, &own_default),
        Ok(Estimate::Approximate(60_000))
    );
}
