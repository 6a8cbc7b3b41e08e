use super::*;
use crate::currency::RateEntry;

fn path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn rates() -> Rates {
    Rates::new(&[RateEntry {
        currency: "jpy".into(),
        usd_nanos_per_unit: 6_700_000,
    }])
}

#[test]
fn stripe_estimates() {
    let cases: Vec<(&str, &str, &str, &str, Result<Estimate, CostError>)> = vec![
        (
            "payment intent",
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd",
            Ok(Estimate::Reserve(10_000_000)),
        ),
        (
            "charge",
            "POST",
            "/v1/charges",
            "currency=usd&amount=250&source=tok_visa",
            Ok(Estimate::Reserve(2_500_000)),
        ),
        (
            "transfer",
            "POST",
            "/v1/transfers",
            "amount=100&currency=usd&destination=acct_1",
            Ok(Estimate::Reserve(1_000_000)),
        ),
        (
            "payout",
            "POST",
            "/v1/payouts",
            "amount=5&currency=usd",
            Ok(Estimate::Reserve(50_000)),
        ),
        (
            "zero-decimal yen",
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=jpy",
            Ok(Estimate::Reserve(6_700_000)),
        ),
        (
            "upper-case currency",
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=USD",
            Ok(Estimate::Reserve(10_000_000)),
        ),
        (
            "raw brackets around",
            "POST",
            "/v1/payment_intents",
            "metadata[a]=1&amount=1000&currency=usd&payment_method_types[0]=card",
            Ok(Estimate::Reserve(10_000_000)),
        ),
        (
            "encoded brackets around",
            "POST",
            "/v1/payment_intents",
            "metadata%5Bamount%5D=9&amount=1000&currency=usd",
            Ok(Estimate::Reserve(10_000_000)),
        ),
        (
            "nested amount is not the amount",
            "POST",
            "/v1/payment_intents",
            "metadata[amount]=1&currency=usd",
            Err(CostError::Unbounded("")),
        ),
        (
            "refund with amount",
            "POST",
            "/v1/refunds",
            "payment_intent=pi_1&amount=300&currency=usd",
            // The refund is in the charge's currency, which the request does not state: at
            // the ceiling of two cents per minor unit, until the response settles it.
            Ok(Estimate::Reserve(6_000_000)),
        ),
        (
            "refund without amount",
            "POST",
            "/v1/refunds",
            "payment_intent=pi_1",
            Err(CostError::Unbounded("")),
        ),
        (
            "refund amount without currency",
            "POST",
            "/v1/refunds",
            "charge=ch_1&amount=300",
            Ok(Estimate::Reserve(6_000_000)),
        ),
        (
            "refund with a bad amount",
            "POST",
            "/v1/refunds",
            "charge=ch_1&amount=-3",
            Err(CostError::Unpriceable(
                "amount must be a non-negative integer",
            )),
        ),
        (
            "missing amount",
            "POST",
            "/v1/payment_intents",
            "currency=usd",
            Err(CostError::Unbounded("")),
        ),
        (
            "missing currency",
            "POST",
            "/v1/payment_intents",
            "amount=1000",
            Err(CostError::Unbounded("")),
        ),
        (
            "negative amount",
            "POST",
            "/v1/payment_intents",
            "amount=-1000&currency=usd",
            Err(CostError::Unpriceable(
                "amount must be a non-negative integer",
            )),
        ),
        (
            "decimal amount",
            "POST",
            "/v1/payment_intents",
            "amount=10.5&currency=usd",
            Err(CostError::Unpriceable(
                "amount must be a non-negative integer",
            )),
        ),
        (
            "huge amount",
            "POST",
            "/v1/payment_intents",
            "amount=99999999999999999999999&currency=usd",
            Err(CostError::Unpriceable(
                "amount must be a non-negative integer",
            )),
        ),
        (
            "amount twice",
            "POST",
            "/v1/payment_intents",
            "amount=1&amount=100000&currency=usd",
            Err(CostError::Unpriceable(
                "a priced field is sent more than once",
            )),
        ),
        (
            "currency without a rate",
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=chf",
            Err(CostError::Currency(CurrencyError::NoRate("chf".into()))),
        ),
        (
            "not a currency",
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=dollars",
            Err(CostError::Currency(CurrencyError::NotACurrency(
                "dollars".into(),
            ))),
        ),
        (
            "customer is free",
            "POST",
            "/v1/customers",
            "email=a@b.c",
            Ok(Estimate::Free),
        ),
        (
            "read is free",
            "GET",
            "/v1/payment_intents",
            "",
            Ok(Estimate::Free),
        ),
        (
            "confirm of an intent this gateway did not count",
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            "",
            Err(CostError::Unbounded("")),
        ),
    ];
    for (name, method, p, body, want) in cases {
        let got = estimate(
            Vendor::Stripe,
            method,
            &path(p),
            body.as_bytes(),
            &rates(),
            &Prices::default(),
            Known::default(),
        );
        assert_same(got, want, name);
    }
}

/// `Err(Unbounded(""))` in a table stands for any unbounded refusal (the advice is prose).
fn assert_same(got: Result<Estimate, CostError>, want: Result<Estimate, CostError>, name: &str) {
    match (&got, &want) {
        (Err(CostError::Unbounded(advice)), Err(CostError::Unbounded(""))) => {
            assert!(!advice.is_empty(), "case {name}: no advice");
        }
        _ => assert_eq!(got, want, "case {name}"),
    }
}

#[test]
fn stripe_follow_ups_are_bounded_and_counted_once() {
    let mine = Counted {
        key_id: "kid_a".into(),
        amount: 1000,
        currency: "usd".into(),
    };
    let theirs = Counted {
        key_id: "kid_b".into(),
        ..mine.clone()
    };
    let yen = Counted {
        currency: "jpy".into(),
        ..mine.clone()
    };
    let capture = "/v1/payment_intents/pi_1/capture";
    let confirm = "/v1/payment_intents/pi_1/confirm";
    let update = "/v1/payment_intents/pi_1";
    let increment = "/v1/payment_intents/pi_1/increment_authorization";
    let cases: Vec<(
        &str,
        &str,
        &str,
        Option<&Counted>,
        Result<Estimate, CostError>,
    )> = vec![
        (
            "capture of my counted intent",
            capture,
            "",
            Some(&mine),
            Ok(Estimate::Free),
        ),
        (
            "capture up to what I counted",
            capture,
            "amount_to_capture=1000",
            Some(&mine),
            Ok(Estimate::Free),
        ),
        (
            "overcapture is priced in full",
            capture,
            "amount_to_capture=5000000",
            Some(&mine),
            Ok(Estimate::Reserve(50_000_000_000)),
        ),
        (
            "capture of an intent another key counted",
            capture,
            "",
            Some(&theirs),
            Err(CostError::Unbounded("")),
        ),
        (
            "capture with amount of another key's intent, in its currency",
            capture,
            "amount_to_capture=500",
            Some(&theirs),
            Ok(Estimate::Reserve(5_000_000)),
        ),
        (
            "capture of an intent no one counted",
            capture,
            "",
            None,
            Err(CostError::Unbounded("")),
        ),
        (
            "capture with amount, currency unknown: the ceiling",
            capture,
            "amount_to_capture=5000000",
            None,
            Ok(Estimate::Reserve(100_000_000_000)),
        ),
        (
            "confirm of my counted intent",
            confirm,
            "payment_method=pm_card_visa",
            Some(&mine),
            Ok(Estimate::Free),
        ),
        (
            "confirm naming a larger amount",
            confirm,
            "amount_to_confirm=2000",
            Some(&mine),
            Ok(Estimate::Reserve(20_000_000)),
        ),
        (
            "update without money fields",
            update,
            "description=x",
            None,
            Ok(Estimate::Free),
        ),
        (
            "update with amount and currency",
            update,
            "amount=5000000&currency=usd",
            None,
            Ok(Estimate::Reserve(50_000_000_000)),
        ),
        (
            "update with amount in the counted currency",
            update,
            "amount=1000",
            Some(&yen),
            Ok(Estimate::Reserve(6_700_000)),
        ),
        (
            "update of currency alone",
            update,
            "currency=usd",
            Some(&mine),
            Err(CostError::Unbounded("")),
        ),
        (
            "increment authorization prices the new total",
            increment,
            "amount=5000000",
            Some(&mine),
            Ok(Estimate::Reserve(50_000_000_000)),
        ),
        (
            "charge capture without amount of my counted charge",
            "/v1/charges/ch_1/capture",
            "",
            Some(&mine),
            Ok(Estimate::Free),
        ),
        (
            "refund in the counted charge's currency",
            "/v1/refunds",
            "charge=ch_1&amount=300",
            Some(&yen),
            Ok(Estimate::Reserve(2_010_000)),
        ),
        (
            "transfer reversal without amount",
            "/v1/transfers/tr_1/reversals",
            "",
            None,
            Err(CostError::Unbounded("")),
        ),
        (
            "transfer reversal with amount",
            "/v1/transfers/tr_1/reversals",
            "amount=100",
            None,
            Ok(Estimate::Reserve(2_000_000)),
        ),
        (
            "top-up",
            "/v1/topups",
            "amount=100&currency=usd",
            None,
            Ok(Estimate::Reserve(1_000_000)),
        ),
        (
            "credit note without amount",
            "/v1/credit_notes",
            "invoice=in_1",
            None,
            Err(CostError::Unbounded("")),
        ),
        (
            "customer balance credit counts its magnitude",
            "/v1/customers/cus_1/balance_transactions",
            "amount=-500&currency=usd",
            None,
            Ok(Estimate::Reserve(5_000_000)),
        ),
        (
            "invoice draft",
            "/v1/invoices",
            "customer=cus_1",
            None,
            Ok(Estimate::Free),
        ),
        (
            "invoice that advances itself",
            "/v1/invoices",
            "customer=cus_1&auto_advance=true",
            None,
            Err(CostError::Unbounded("")),
        ),
        (
            "virtual card",
            "/v1/issuing/cards",
            "type=virtual&currency=usd",
            None,
            Ok(Estimate::Free),
        ),
        (
            "physical card",
            "/v1/issuing/cards",
            "type=physical&currency=usd",
            None,
            Err(CostError::Unbounded("")),
        ),
    ];
    for (name, p, body, counted, want) in cases {
        let got = estimate(
            Vendor::Stripe,
            "POST",
            &path(p),
            body.as_bytes(),
            &rates(),
            &Prices::default(),
            Known {
                key_id: "kid_a",
                counted,
            },
        );
        assert_same(got, want, name);
    }
    let cancel = |body: &str| {
        estimate(
            Vendor::Stripe,
            "DELETE",
            &path("/v1/subscriptions/sub_1"),
            body.as_bytes(),
            &rates(),
            &Prices::default(),
            Known::default(),
        )
    };
    assert_eq!(cancel(""), Ok(Estimate::Free));
    assert_same(
        cancel("invoice_now=true"),
        Err(CostError::Unbounded("")),
        "invoice now",
    );
}

#[test]
fn stripe_v2_money_movements_read_their_json_amount() {
    let outbound = path("/v2/money_management/outbound_payments");
    let est = |body: &str| {
        estimate(
            Vendor::Stripe,
            "POST",
            &outbound,
            body.as_bytes(),
            &rates(),
            &Prices::default(),
            Known::default(),
        )
    };
    assert_eq!(
        est(r#"{"amount":{"value":1000,"currency":"usd"},"to":{"recipient":"acct_1"}}"#),
        Ok(Estimate::Reserve(10_000_000))
    );
    assert_same(
        est(r#"{"to":{"recipient":"acct_1"}}"#),
        Err(CostError::Unbounded("")),
        "no amount",
    );
    assert!(matches!(
        est(r#"{"amount":{"value":1,"currency":"usd"},"amount":{"value":9,"currency":"usd"}}"#),
        Err(CostError::Unpriceable(_))
    ));
}

#[test]
fn what_is_remembered_for_follow_ups() {
    let cases = [
        (
            "manual-capture intent",
            r#"{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"USD","status":"requires_capture"}"#,
            Some(("pi_1", 1000, "usd")),
        ),
        (
            "succeeded intent has nothing left to move",
            r#"{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"usd","status":"succeeded"}"#,
            None,
        ),
        (
            "uncaptured charge",
            r#"{"id":"ch_1","object":"charge","amount":700,"currency":"eur","captured":false}"#,
            Some(("ch_1", 700, "eur")),
        ),
        (
            "captured charge",
            r#"{"id":"ch_1","object":"charge","amount":700,"currency":"eur","captured":true}"#,
            None,
        ),
        (
            "refund",
            r#"{"id":"re_1","object":"refund","amount":700,"currency":"eur"}"#,
            None,
        ),
    ];
    for (name, body, want) in cases {
        let got = counted::to_remember(Vendor::Stripe, "kid_a", 200, body.as_bytes());
        assert_eq!(
            got.as_ref()
                .map(|(id, c)| (id.as_str(), c.amount, c.currency.as_str())),
            want,
            "case {name}"
        );
        if let Some((_, c)) = got {
            assert_eq!(c.key_id, "kid_a");
            assert_eq!(Counted::decode(&c.encode()), Some(c));
        }
    }
    assert_eq!(
        counted::to_remember(Vendor::Stripe, "k", 402, cases[0].1.as_bytes()),
        None
    );
    assert_eq!(
        counted::follow_up_object(
            Vendor::Stripe,
            &path("/v1/refunds"),
            b"charge=ch_9&amount=1"
        ),
        Some("ch_9".to_owned())
    );
    assert_eq!(
        counted::follow_up_object(
            Vendor::Stripe,
            &path("/v1/payment_intents/pi_7/capture"),
            b""
        ),
        Some("pi_7".to_owned())
    );
    assert_eq!(
        counted::follow_up_object(Vendor::Stripe, &path("/v1/payment_intents"), b"amount=1"),
        None
    );
}

#[test]
fn cost_errors_map_to_deny_reasons() {
    let no_rate = CostError::Currency(CurrencyError::NoRate("chf".into()));
    assert_eq!(no_rate.deny_reason(), DenyReason::CurrencyNotSupported);
    assert_eq!(
        CostError::Unpriceable("x").deny_reason(),
        DenyReason::BadRequest
    );
}

#[test]
fn stripe_settlements() {
    let pi = path("/v1/payment_intents");
    let ok = br#"{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"usd","status":"succeeded"}"#;
    let refund = br#"{"id":"re_1","object":"refund","amount":4200,"currency":"usd"}"#;
    let cases: Vec<(&str, u32, bool, &[u8], Settlement)> = vec![
        (
            "success reports the amount",
            200,
            false,
            ok,
            Settlement::Actual(10_000_000),
        ),
        (
            "refund reports its full amount",
            200,
            false,
            refund,
            Settlement::Actual(42_000_000),
        ),
        (
            "replay is not charged again",
            200,
            true,
            ok,
            Settlement::NoCharge,
        ),
        (
            "card declined moves nothing",
            402,
            false,
            br#"{"error":{"type":"card_error"}}"#,
            Settlement::NoCharge,
        ),
        (
            "bad request moves nothing",
            400,
            false,
            b"{}",
            Settlement::NoCharge,
        ),
        (
            "server error is unknown",
            500,
            false,
            b"{}",
            Settlement::Unknown,
        ),
        ("no answer is unknown", 0, false, b"", Settlement::Unknown),
        (
            "unreadable success is unknown",
            200,
            false,
            b"<html>",
            Settlement::Unknown,
        ),
        (
            "success without amount is unknown",
            200,
            false,
            br#"{"id":"pi_1"}"#,
            Settlement::Unknown,
        ),
    ];
    for (name, status, replayed, body, want) in cases {
        assert_eq!(
            settle(Vendor::Stripe, &pi, status, replayed, body, &rates()),
            want,
            "case {name}"
        );
    }
}

#[test]
fn stripe_follow_ups_settle_to_what_they_moved() {
    // An intent of $37 confirmed for $14.07 (`amount_to_confirm`): what it moved, not `amount`.
    let confirmed = br#"{"id":"pi_1","object":"payment_intent","amount":3700,"amount_received":1407,"amount_capturable":0,"currency":"usd","status":"succeeded"}"#;
    let authorized = br#"{"id":"pi_1","object":"payment_intent","amount":3700,"amount_received":0,"amount_capturable":1407,"currency":"usd","status":"requires_capture"}"#;
    let captured = br#"{"id":"pi_1","object":"payment_intent","amount":3700,"amount_received":1200,"amount_capturable":0,"currency":"usd","status":"succeeded"}"#;
    let charge =
        br#"{"id":"ch_1","object":"charge","amount":800,"amount_captured":500,"currency":"usd"}"#;
    let v2 = br#"{"id":"obp_1","amount":{"value":250,"currency":"usd"}}"#;
    let cases: Vec<(&str, &str, &[u8], Settlement)> = vec![
        (
            "confirm, captured",
            "/v1/payment_intents/pi_1/confirm",
            confirmed,
            Settlement::Actual(14_070_000),
        ),
        (
            "confirm, authorized",
            "/v1/payment_intents/pi_1/confirm",
            authorized,
            Settlement::Actual(14_070_000),
        ),
        (
            "intent capture",
            "/v1/payment_intents/pi_1/capture",
            captured,
            Settlement::Actual(12_000_000),
        ),
        (
            "charge capture",
            "/v1/charges/ch_1/capture",
            charge,
            Settlement::Actual(5_000_000),
        ),
        (
            "update",
            "/v1/payment_intents/pi_1",
            captured,
            Settlement::Actual(37_000_000),
        ),
        (
            "v2 amount",
            "/v2/money_management/outbound_payments",
            v2,
            Settlement::Actual(2_500_000),
        ),
        (
            "confirm without its fields",
            "/v1/payment_intents/pi_1/confirm",
            br#"{"amount":1,"currency":"usd"}"#,
            Settlement::Unknown,
        ),
    ];
    for (name, p, body, want) in cases {
        assert_eq!(
            settle(Vendor::Stripe, &path(p), 200, false, body, &rates()),
            want,
            "case {name}"
        );
    }
}

#[test]
fn only_money_moving_stripe_calls_are_costed() {
    assert!(is_costed(
        Vendor::Stripe,
        "POST",
        &path("/v1/payment_intents")
    ));
    assert!(is_costed(Vendor::Stripe, "POST", &path("/v1/refunds")));
    assert!(!is_costed(
        Vendor::Stripe,
        "GET",
        &path("/v1/payment_intents")
    ));
    assert!(!is_costed(Vendor::Stripe, "POST", &path("/v1/customers")));
    // Follow-ups are priced, never free.
    assert!(is_costed(
        Vendor::Stripe,
        "POST",
        &path("/v1/payment_intents/pi_1")
    ));
    assert!(is_costed(
        Vendor::Stripe,
        "POST",
        &path("/v1/payment_intents/pi_1/capture")
    ));
    // Unbounded calls are refused before their body is read.
    assert!(!is_costed(
        Vendor::Stripe,
        "POST",
        &path("/v1/subscriptions")
    ));
}

#[test]
fn final_charge_table() {
    let cases = [
        (
            "response says",
            100,
            true,
            Settlement::Actual(40),
            (40, CostSource::Response, 0),
        ),
        (
            "vendor error",
            100,
            true,
            Settlement::NoCharge,
            (0, CostSource::Response, 0),
        ),
        (
            "unknown keeps the request's amount",
            100,
            true,
            Settlement::Unknown,
            (100, CostSource::Request, 0),
        ),
        (
            "unknown keeps an estimate",
            100,
            false,
            Settlement::Unknown,
            (100, CostSource::Estimate, 0),
        ),
        (
            "more than was held is charged and counted",
            100,
            true,
            Settlement::Actual(400),
            (400, CostSource::Response, 300),
        ),
    ];
    for (name, reserved, exact, settlement, want) in cases {
        let c = final_charge(reserved, exact, settlement);
        assert_eq!(
            (c.micros, c.source, c.over_reserved_micros),
            want,
            "case {name}"
        );
    }
}

#[test]
fn costed_request_bodies_must_be_what_the_vendor_parses() {
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    let body: &[u8] = b"amount=1&currency=usd";
    let cases: Vec<(&str, Vendor, Option<&[u8]>, Option<&[u8]>, &[u8], bool)> = vec![
        ("stripe form", Vendor::Stripe, Some(FORM), None, body, true),
        (
            "form with charset, any case",
            Vendor::Stripe,
            Some(b"Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            None,
            body,
            true,
        ),
        (
            "identity encoding",
            Vendor::Twilio,
            Some(FORM),
            Some(b"identity"),
            body,
            true,
        ),
        (
            "empty body needs no type",
            Vendor::Stripe,
            None,
            None,
            b"",
            true,
        ),
        ("no content type", Vendor::Stripe, None, None, body, false),
        (
            "multipart hides fields from a form parser",
            Vendor::Stripe,
            Some(b"multipart/form-data; boundary=X"),
            None,
            body,
            false,
        ),
        (
            "json to stripe",
            Vendor::Stripe,
            Some(b"application/json"),
            None,
            body,
            false,
        ),
        (
            "gzip",
            Vendor::Stripe,
            Some(FORM),
            Some(b"gzip"),
            body,
            false,
        ),
        (
            "deflate",
            Vendor::Twilio,
            Some(FORM),
            Some(b"deflate"),
            body,
            false,
        ),
        (
            "stacked encodings",
            Vendor::Stripe,
            Some(FORM),
            Some(b"identity, gzip"),
            body,
            false,
        ),
        (
            "resend json",
            Vendor::Resend,
            Some(b"application/json"),
            None,
            b"{}",
            true,
        ),
        (
            "resend form",
            Vendor::Resend,
            Some(FORM),
            None,
            b"{}",
            false,
        ),
        (
            "text/plain",
            Vendor::Resend,
            Some(b"text/plain"),
            None,
            b"{}",
            false,
        ),
        (
            "too large",
            Vendor::Stripe,
            Some(FORM),
            None,
            &[b'a'; 65],
            false,
        ),
    ];
    for (name, vendor, ct, ce, body, ok) in cases {
        let got = request_body(vendor, &path("/v1/charges"), ct, ce, body, 64);
        assert_eq!(got.is_ok(), ok, "case {name}: {got:?}");
        if let Err(e) = got {
            assert_eq!(e.deny_reason(), DenyReason::BadRequest, "case {name}");
        }
    }
}

#[test]
fn priced_fields_in_the_query_are_spotted() {
    let cases = [
        ("expand is fine", Vendor::Stripe, "expand[]=customer", false),
        ("amount", Vendor::Stripe, "amount=100000", true),
        ("encoded amount", Vendor::Stripe, "%61mount=1", true),
        ("amount as array", Vendor::Stripe, "amount[]=1", true),
        ("currency any case", Vendor::Stripe, "Currency=jpy", true),
        ("twilio body", Vendor::Twilio, "Body=hello", true),
        (
            "twilio media",
            Vendor::Twilio,
            "x=1&MediaUrl=https://x",
            true,
        ),
        ("twilio other", Vendor::Twilio, "PageSize=1", false),
        ("resend bcc", Vendor::Resend, "bcc=a@x.y", true),
        ("empty", Vendor::Stripe, "", false),
    ];
    for (name, vendor, query, want) in cases {
        assert_eq!(query_names_priced_field(vendor, query), want, "case {name}");
    }
}

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
        assert_eq!(
            Answer::parse(body).object_id().as_deref(),
            want,
            "case {name}"
        );
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

#[test]
fn only_a_fresh_success_needs_its_body_read() {
    for (status, replayed, want) in [
        (200, false, true),
        (201, false, true),
        (200, true, false),
        (402, false, false),
        (500, false, false),
        (0, false, false),
    ] {
        assert_eq!(needs_body(status, replayed), want, "{status} {replayed}");
    }
}

#[test]
fn refusals_say_what_the_agent_can_change() {
    // A currency without a rate is named, with how an operator sets one.
    let e = CostError::Currency(CurrencyError::NoRate("eur".into()));
    let advice = e.advice().unwrap();
    assert!(
        advice.contains("EUR") && advice.contains("keybrake rates set eur"),
        "{advice}"
    );
    // A Twilio call without TimeLimit is reserved for the longest call: a cap refusal says so.
    let calls = path("/2010-04-01/Accounts/AC123/Calls.json");
    let no_limit = b"To=%2B15558675310&From=%2B15017122661&Url=https%3A%2F%2Fx.test%2Ft";
    let advice = cap_advice(Vendor::Twilio, "POST", &calls, no_limit).unwrap();
    assert!(advice.contains("set TimeLimit"), "{advice}");
    let limited =
        b"To=%2B15558675310&From=%2B15017122661&Url=https%3A%2F%2Fx.test%2Ft&TimeLimit=60";
    assert_eq!(cap_advice(Vendor::Twilio, "POST", &calls, limited), None);
    let messages = path("/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(
        cap_advice(Vendor::Twilio, "POST", &messages, b"To=%2B1555&Body=hi"),
        None
    );
    let intents = path("/v1/payment_intents");
    assert_eq!(
        cap_advice(Vendor::Stripe, "POST", &intents, b"amount=1&currency=usd"),
        None
    );
}
