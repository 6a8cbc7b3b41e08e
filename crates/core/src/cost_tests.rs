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
            Err(CostError::Unpriceable("amount is required")),
        ),
        (
            "refund with amount",
            "POST",
            "/v1/refunds",
            "payment_intent=pi_1&amount=300&currency=usd",
            Ok(Estimate::Reserve(3_000_000)),
        ),
        (
            "refund without amount",
            "POST",
            "/v1/refunds",
            "payment_intent=pi_1",
            Ok(Estimate::HoldRemaining),
        ),
        (
            "refund amount without currency",
            "POST",
            "/v1/refunds",
            "charge=ch_1&amount=300",
            Ok(Estimate::HoldRemaining),
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
            Err(CostError::Unpriceable("amount is required")),
        ),
        (
            "missing currency",
            "POST",
            "/v1/payment_intents",
            "amount=1000",
            Err(CostError::Unpriceable("currency is required")),
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
            "confirm is counted at creation",
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            "",
            Ok(Estimate::Free),
        ),
    ];
    for (name, method, p, body, want) in cases {
        assert_eq!(
            estimate(
                Vendor::Stripe,
                method,
                &path(p),
                body.as_bytes(),
                &rates(),
                &Prices::default()
            ),
            want,
            "case {name}"
        );
    }
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
    assert!(!is_costed(
        Vendor::Stripe,
        "POST",
        &path("/v1/payment_intents/pi_1")
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
            (40, CostSource::Response),
        ),
        (
            "vendor error",
            100,
            true,
            Settlement::NoCharge,
            (0, CostSource::Response),
        ),
        (
            "unknown keeps the request's amount",
            100,
            true,
            Settlement::Unknown,
            (100, CostSource::Request),
        ),
        (
            "unknown keeps an estimate",
            100,
            false,
            Settlement::Unknown,
            (100, CostSource::Estimate),
        ),
    ];
    for (name, reserved, exact, settlement, want) in cases {
        assert_eq!(
            final_charge(reserved, exact, settlement),
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
        let got = request_body(vendor, ct, ce, body, 64);
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
