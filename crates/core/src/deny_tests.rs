use super::*;

/// Every reason, its HTTP status and the Twilio error code an agent reads: 20003
/// (authentication), 20403 (forbidden), 21000 (invalid request), 20503 (unavailable).
const REASONS: [(DenyReason, u32, u64); 10] = [
    (DenyReason::UnknownKey, 401, 20003),
    (DenyReason::KeyExpired, 401, 20003),
    (DenyReason::KeyRevoked, 401, 20003),
    (DenyReason::WrongVendor, 401, 20003),
    (DenyReason::EndpointNotAllowed, 403, 20403),
    (DenyReason::SpendCapExceeded, 403, 20403),
    (DenyReason::CurrencyNotSupported, 400, 21000),
    (DenyReason::BadRequest, 400, 21000),
    (DenyReason::PolicyUnavailable, 503, 20503),
    (DenyReason::CostNotBounded, 403, 20403),
];

#[test]
fn statuses_follow_design() {
    for (reason, status, _) in REASONS {
        assert_eq!(reason.status(), status, "case {reason}");
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::Value::String(reason.as_str().into())
        );
    }
}

#[test]
fn every_vendor_shape_for_every_reason() {
    for (reason, status, twilio_code) in REASONS {
        for vendor in [Vendor::Stripe, Vendor::Twilio, Vendor::Resend] {
            let r = reason.response(Some(vendor));
            let case = format!("{reason} for {vendor:?}");
            assert_eq!(r.status, status, "{case}");
            assert!(
                r.headers
                    .contains(&(DENY_REASON_HEADER, reason.as_str().into())),
                "{case}"
            );
            assert!(
                r.headers
                    .contains(&("content-type", "application/json".into())),
                "{case}"
            );
            assert_eq!(
                r.headers.contains(&("retry-after", "1".into())),
                status == 503,
                "{case}: only a refusal worth retrying says when"
            );
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let want = match vendor {
                Vendor::Stripe => serde_json::json!({"error": {
                    "type": "invalid_request_error",
                    "code": reason.as_str(),
                    "message": reason.message(),
                }}),
                Vendor::Twilio => serde_json::json!({
                    "code": twilio_code,
                    "message": reason.message(),
                    "more_info": format!("https://github.com/keybrake/keybrake#{reason}"),
                    "status": status,
                }),
                Vendor::Resend => serde_json::json!({
                    "statusCode": status,
                    "message": reason.message(),
                    "name": reason.as_str(),
                }),
            };
            assert_eq!(body, want, "{case}");
            assert_eq!(
                r.headers.contains(&("stripe-should-retry", "false".into())),
                vendor == Vendor::Stripe,
                "{case}"
            );
        }
        assert_eq!(
            reason.response(None),
            reason.response(Some(Vendor::Stripe)),
            "an unknown vendor gets Stripe's shape"
        );
    }
}

#[test]
fn cost_not_bounded_says_what_to_do_in_each_vendor_shape() {
    let advice = Some("name `amount`.");
    let s = DenyReason::CostNotBounded.response_with(Some(Vendor::Stripe), advice);
    let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
    assert_eq!(s.status, 403);
    assert_eq!(body["error"]["code"], "cost_not_bounded");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Name `amount`."));
    let t = DenyReason::CostNotBounded.response_with(Some(Vendor::Twilio), advice);
    let body: serde_json::Value = serde_json::from_str(&t.body).unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["code"].as_u64()),
        (Some(403), Some(20403))
    );
    let r = DenyReason::CostNotBounded.response_with(Some(Vendor::Resend), advice);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["name"], "cost_not_bounded");
    assert!(r
        .headers
        .contains(&(DENY_REASON_HEADER, "cost_not_bounded".into())));
}
