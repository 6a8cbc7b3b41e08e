use super::*;

fn segs(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

fn class(vendor: Vendor, method: &str, path: &str) -> Class {
    classify(vendor, method, &segs(path))
}

fn kind(c: Class) -> &'static str {
    match c {
        Free => "free",
        Priced(_) => "priced",
        Unbounded(_) => "unbounded",
    }
}

#[test]
fn every_sdk_endpoint_has_an_explicit_class() {
    let mut missing = Vec::new();
    for vendor in Vendor::ALL {
        let mut n = 0;
        for ep in sdk_endpoints(vendor) {
            n += 1;
            if classify_explicit(vendor, ep.method, &ep.segments()).is_none() {
                missing.push(format!("{vendor} {ep}"));
            }
        }
        assert!(n > 100, "{vendor}: only {n} SDK endpoints listed");
    }
    assert!(
        missing.is_empty(),
        "SDK endpoints with no class in crates/core/src/cost/catalog.rs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn sdk_lists_hold_the_endpoints_the_issue_names() {
    let stripe_posts = sdk_endpoints(Vendor::Stripe)
        .filter(|e| e.method == "POST")
        .count();
    assert!(stripe_posts >= 300, "{stripe_posts}");
    for (vendor, line) in [
        (
            Vendor::Stripe,
            "POST /v1/payment_intents/*/increment_authorization",
        ),
        (
            Vendor::Stripe,
            "POST /v2/money_management/outbound_payments",
        ),
        (Vendor::Twilio, "POST /2010-04-01/Accounts/*/Calls/*.json"),
        (Vendor::Resend, "POST /emails/batch"),
    ] {
        assert!(
            sdk_endpoints(vendor).any(|e| e.to_string() == line),
            "{vendor} {line}"
        );
    }
}

#[test]
fn classes_of_the_endpoints_that_move_money() {
    use Vendor::{Resend as R, Stripe as S, Twilio as T};
    let cases = [
        // Stripe: what names its amount is priced; follow-ups are priced, never free.
        ("intent create", S, "POST", "/v1/payment_intents", "priced"),
        (
            "intent update",
            S,
            "POST",
            "/v1/payment_intents/pi_1",
            "priced",
        ),
        (
            "intent confirm",
            S,
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            "priced",
        ),
        (
            "intent capture",
            S,
            "POST",
            "/v1/payment_intents/pi_1/capture",
            "priced",
        ),
        (
            "increment authorization",
            S,
            "POST",
            "/v1/payment_intents/pi_1/increment_authorization",
            "priced",
        ),
        (
            "intent cancel",
            S,
            "POST",
            "/v1/payment_intents/pi_1/cancel",
            "free",
        ),
        (
            "charge capture",
            S,
            "POST",
            "/v1/charges/ch_1/capture",
            "priced",
        ),
        ("refund", S, "POST", "/v1/refunds", "priced"),
        (
            "transfer reversal",
            S,
            "POST",
            "/v1/transfers/tr_1/reversals",
            "priced",
        ),
        ("top-up", S, "POST", "/v1/topups", "priced"),
        ("credit note", S, "POST", "/v1/credit_notes", "priced"),
        ("subscription", S, "POST", "/v1/subscriptions", "unbounded"),
        (
            "subscription update",
            S,
            "POST",
            "/v1/subscriptions/sub_1",
            "unbounded",
        ),
        (
            "subscription cancel",
            S,
            "DELETE",
            "/v1/subscriptions/sub_1",
            "priced",
        ),
        (
            "invoice pay",
            S,
            "POST",
            "/v1/invoices/in_1/pay",
            "unbounded",
        ),
        ("invoice draft", S, "POST", "/v1/invoices", "priced"),
        (
            "payout reverse",
            S,
            "POST",
            "/v1/payouts/po_1/reverse",
            "unbounded",
        ),
        (
            "v2 outbound payment",
            S,
            "POST",
            "/v2/money_management/outbound_payments",
            "priced",
        ),
        ("customer", S, "POST", "/v1/customers", "free"),
        ("read", S, "GET", "/v1/charges/ch_1", "free"),
        (
            "test helper",
            S,
            "POST",
            "/v1/test_helpers/test_clocks",
            "free",
        ),
        (
            "unknown write",
            S,
            "POST",
            "/v1/brand_new_money_thing",
            "unbounded",
        ),
        (
            "unknown read",
            S,
            "GET",
            "/v1/brand_new_money_thing",
            "free",
        ),
        (
            "unknown method",
            S,
            "PUT",
            "/v1/customers/cus_1",
            "unbounded",
        ),
        // Twilio.
        (
            "message",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Messages.json",
            "priced",
        ),
        (
            "call",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Calls.json",
            "priced",
        ),
        (
            "call update",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Calls/CA1.json",
            "priced",
        ),
        (
            "conference dial-out",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Conferences/CF1/Participants.json",
            "priced",
        ),
        (
            "message redact",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Messages/SM1.json",
            "free",
        ),
        (
            "buy a number",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json",
            "unbounded",
        ),
        (
            "call recording",
            T,
            "POST",
            "/2010-04-01/Accounts/AC1/Calls/CA1/Recordings.json",
            "unbounded",
        ),
        (
            "another domain",
            T,
            "POST",
            "/v2/Services/VA1/Verifications",
            "unbounded",
        ),
        (
            "call delete",
            T,
            "DELETE",
            "/2010-04-01/Accounts/AC1/Calls/CA1.json",
            "free",
        ),
        // Resend.
        ("email", R, "POST", "/emails", "priced"),
        ("batch", R, "POST", "/emails/batch", "priced"),
        ("reschedule", R, "PATCH", "/emails/e1", "free"),
        (
            "broadcast send",
            R,
            "POST",
            "/broadcasts/b1/send",
            "unbounded",
        ),
        ("event send", R, "POST", "/events/send", "unbounded"),
        ("contact", R, "POST", "/contacts", "free"),
    ];
    for (name, vendor, method, path, want) in cases {
        assert_eq!(kind(class(vendor, method, path)), want, "case {name}");
    }
}

#[test]
fn unknown_paths_fail_closed() {
    assert!(matches!(default_class("POST"), Unbounded(_)));
    assert!(matches!(default_class("DELETE"), Unbounded(_)));
    assert_eq!(default_class("get"), Free);
    // A Twilio path that is not api.twilio.com's is another product: refused for writes.
    assert!(matches!(
        class(
            Vendor::Twilio,
            "POST",
            "/2010-04-01/Accounts/AC1/Something/New.json"
        ),
        Unbounded(_)
    ));
}

#[test]
fn patterns_match_segments() {
    let cases = [
        ("/v1/charges", "/v1/charges", true),
        ("/v1/charges", "/v1/charges/ch_1", false),
        ("/v1/charges/*", "/v1/charges/ch_1", true),
        ("/v1/charges/*", "/v1/charges", false),
        ("/v1/tax/**", "/v1/tax", true),
        ("/v1/tax/**", "/v1/tax/a/b/c", true),
        ("/a/*.json", "/a/CA1.json", true),
        ("/a/*.json", "/a/.json", false),
        ("/a/*.json", "/a/CA1", false),
    ];
    for (pattern, path, want) in cases {
        assert_eq!(
            pattern_matches(pattern, &segs(path)),
            want,
            "{pattern} {path}"
        );
    }
}

#[test]
fn reach_of_allowlist_patterns() {
    let p = |s: &str| EndpointPattern::parse(s).unwrap();
    // Only unbounded endpoints: nothing callable.
    let r = reach(Vendor::Stripe, &p("POST /v1/subscriptions"));
    assert!(r.callable.is_empty());
    assert_eq!(r.never, vec!["POST /v1/subscriptions".to_owned()]);
    let r = reach(Vendor::Stripe, &p("POST /v1/invoices/*/pay"));
    assert!(r.callable.is_empty(), "{r:?}");
    // A broad pattern: some of each.
    let r = reach(Vendor::Stripe, &p("POST /v1/*"));
    assert!(r.callable.contains(&"POST /v1/payment_intents".to_owned()));
    assert!(
        r.never.contains(&"POST /v1/subscriptions".to_owned()),
        "{r:?}"
    );
    // A literal id is covered by the SDK's `*`.
    let r = reach(
        Vendor::Stripe,
        &p("POST /v1/payment_intents/pi_123/capture"),
    );
    assert_eq!(
        r.callable,
        vec!["POST /v1/payment_intents/*/capture".to_owned()]
    );
    // Twilio: `*` in a pattern covers the SDK's `*.json`.
    let r = reach(Vendor::Twilio, &p("POST /2010-04-01/Accounts/*/Calls/*"));
    assert!(r
        .callable
        .contains(&"POST /2010-04-01/Accounts/*/Calls/*.json".to_owned()));
    // No SDK endpoint: the pattern is classified itself.
    let r = reach(Vendor::Stripe, &p("POST /v1/not_a_thing"));
    assert_eq!(r.never, vec!["POST /v1/not_a_thing".to_owned()]);
    let r = reach(Vendor::Stripe, &p("GET /v1/not_a_thing"));
    assert_eq!(r.callable, vec!["GET /v1/not_a_thing".to_owned()]);
}

#[test]
fn the_readme_table_is_the_catalog() {
    let readme = include_str!("../../../../README.md");
    let (begin, end) = ("<!-- cost-table:begin -->\n", "<!-- cost-table:end -->");
    let start = readme
        .find(begin)
        .expect("README has the cost table markers")
        + begin.len();
    let stop = readme[start..]
        .find(end)
        .expect("README closes the cost table")
        + start;
    let want = readme_table();
    assert!(
        readme[start..stop] == want,
        "README's \"What costs what\" table differs from the catalog; replace it with:\n{want}"
    );
}
