use super::*;

fn parse(vendor: Vendor, body: &str) -> Result<PriceOverrides, FieldError> {
    let req: SetPricesRequest = serde_json::from_str(body).unwrap();
    req.for_vendor(vendor)
}

#[test]
fn prices_validate_per_vendor() {
    let o = parse(
        Vendor::Twilio,
        r#"{"sms_segment_usd":0.0083,"sms_segment_by_prefix":{"447":0.045,"44":0.04},"call_max_minutes":240}"#,
    )
    .unwrap();
    let PriceOverrides::Twilio(t) = o else {
        panic!("not twilio: {o:?}")
    };
    assert_eq!(t.sms_segment_micros, Some(8_300));
    assert_eq!(
        t.sms_segment_by_prefix,
        Some(vec![
            PrefixPrice {
                prefix: "44".into(),
                micros: 40_000
            },
            PrefixPrice {
                prefix: "447".into(),
                micros: 45_000
            },
        ])
    );
    assert_eq!(
        (t.call_max_minutes, t.mms_message_micros),
        (Some(240), None)
    );
    assert_eq!(
        parse(Vendor::Resend, r#"{"email_usd":0}"#),
        Ok(PriceOverrides::Resend(ResendOverrides {
            email_micros: Some(0)
        }))
    );
    assert_eq!(
        parse(Vendor::Resend, r#"{"email_usd":null}"#),
        Ok(PriceOverrides::Resend(ResendOverrides::default()))
    );
    let many: String = (0..1001)
        .map(|i| format!("\"{}\":0.01", 1000 + i))
        .collect::<Vec<_>>()
        .join(",");
    let too_many = format!(r#"{{"sms_segment_by_prefix":{{{many}}}}}"#);
    let cases = [
        (
            "string price",
            Vendor::Twilio,
            r#"{"sms_segment_usd":"0.01"}"#,
            "sms_segment_usd",
        ),
        (
            "negative",
            Vendor::Twilio,
            r#"{"mms_message_usd":-0.01}"#,
            "mms_message_usd",
        ),
        (
            "over 100",
            Vendor::Twilio,
            r#"{"call_minute_usd":100.01}"#,
            "call_minute_usd",
        ),
        (
            "huge",
            Vendor::Resend,
            r#"{"email_usd":1e400}"#,
            "email_usd",
        ),
        (
            "table not an object",
            Vendor::Twilio,
            r#"{"sms_segment_by_prefix":[1]}"#,
            "sms_segment_by_prefix",
        ),
        (
            "prefix with plus",
            Vendor::Twilio,
            r#"{"sms_segment_by_prefix":{"+44":0.04}}"#,
            "sms_segment_by_prefix",
        ),
        (
            "empty prefix",
            Vendor::Twilio,
            r#"{"call_minute_by_prefix":{"":0.04}}"#,
            "call_minute_by_prefix",
        ),
        (
            "16 digits",
            Vendor::Twilio,
            r#"{"mms_message_by_prefix":{"1234567890123456":0.04}}"#,
            "mms_message_by_prefix",
        ),
        (
            "bad prefix price",
            Vendor::Twilio,
            r#"{"sms_segment_by_prefix":{"44":-1}}"#,
            "sms_segment_by_prefix.44",
        ),
        (
            "too many prefixes",
            Vendor::Twilio,
            too_many.as_str(),
            "sms_segment_by_prefix",
        ),
        (
            "zero minutes",
            Vendor::Twilio,
            r#"{"call_max_minutes":0}"#,
            "call_max_minutes",
        ),
        (
            "a day and a minute",
            Vendor::Twilio,
            r#"{"call_max_minutes":1441}"#,
            "call_max_minutes",
        ),
        (
            "fractional minutes",
            Vendor::Twilio,
            r#"{"call_max_minutes":1.5}"#,
            "call_max_minutes",
        ),
        (
            "channel with its colon",
            Vendor::Twilio,
            r#"{"message_by_channel":{"whatsapp:":0.005}}"#,
            "message_by_channel",
        ),
        (
            "channel not letters",
            Vendor::Twilio,
            r#"{"call_minute_by_channel":{"sip2":0.004}}"#,
            "call_minute_by_channel",
        ),
        (
            "channel twice in two cases",
            Vendor::Twilio,
            r#"{"message_by_channel":{"whatsapp":0.005,"WhatsApp":0.006}}"#,
            "message_by_channel",
        ),
        (
            "channel table not an object",
            Vendor::Twilio,
            r#"{"message_by_channel":["whatsapp"]}"#,
            "message_by_channel",
        ),
        (
            "bad channel price",
            Vendor::Twilio,
            r#"{"message_by_channel":{"whatsapp":"5 cents"}}"#,
            "message_by_channel.whatsapp",
        ),
        (
            "channels on resend",
            Vendor::Resend,
            r#"{"message_by_channel":{"whatsapp":0.005}}"#,
            "message_by_channel",
        ),
        (
            "email on twilio",
            Vendor::Twilio,
            r#"{"email_usd":0.001}"#,
            "email_usd",
        ),
        (
            "sms on resend",
            Vendor::Resend,
            r#"{"sms_segment_usd":0.001}"#,
            "sms_segment_usd",
        ),
    ];
    for (name, vendor, body, field) in cases {
        let err = parse(vendor, body).expect_err(name);
        assert_eq!(err.field, field, "case {name}: {err}");
    }
    let e = serde_json::from_str::<SetPricesRequest>(r#"{"sms_usd":1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `sms_usd`"), "{e}");
}

#[test]
fn channel_prices_are_lower_case_and_sorted() {
    let o = parse(
        Vendor::Twilio,
        r#"{"message_by_channel":{"WhatsApp":0.005,"messenger":0.004},"call_minute_by_channel":{"client":0.0025}}"#,
    )
    .unwrap();
    let PriceOverrides::Twilio(t) = &o else {
        panic!("not twilio: {o:?}")
    };
    let channel = |name: &str, micros| ChannelPrice {
        channel: name.into(),
        micros,
    };
    assert_eq!(
        t.message_by_channel,
        Some(vec![
            channel("messenger", 4_000),
            channel("whatsapp", 5_000)
        ])
    );
    assert_eq!(
        t.call_minute_by_channel,
        Some(vec![channel("client", 2_500)])
    );
    let v = serde_json::to_value(PriceView::new(&o, Some(0))).unwrap();
    assert_eq!(
        v["prices"]["message_by_channel"],
        serde_json::json!({"messenger": 0.004, "whatsapp": 0.005})
    );
    assert_eq!(v["default"]["message_by_channel"], false);
    assert_eq!(v["default"]["sms_segment_usd"], true);
}

#[test]
fn views_show_effective_prices_and_which_are_defaults() {
    let o = parse(Vendor::Twilio, r#"{"sms_segment_by_prefix":{"44":0.04}}"#).unwrap();
    let v = serde_json::to_value(PriceView::new(&o, Some(0))).unwrap();
    assert_eq!(v["prices"]["sms_segment_usd"], 0.0083);
    assert_eq!(v["prices"]["sms_segment_by_prefix"]["44"], 0.04);
    assert_eq!(v["prices"]["call_max_minutes"], 240);
    assert_eq!(v["default"]["sms_segment_usd"], true);
    assert_eq!(v["default"]["sms_segment_by_prefix"], false);
    assert_eq!(v["default"].as_object().unwrap().len(), 9);
    assert_eq!(v["prices"]["message_by_channel"], serde_json::json!({}));
    // The view's prices are a valid PUT body.
    let back: SetPricesRequest = serde_json::from_value(v["prices"].clone()).unwrap();
    assert!(back.for_vendor(Vendor::Twilio).is_ok());
    assert_eq!(
        priced_vendor_from_path("stripe").unwrap_err().field,
        "vendor"
    );
}
