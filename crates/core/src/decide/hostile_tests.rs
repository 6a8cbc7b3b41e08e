//! Requests shaped by an adversary (a prompt-injected agent): paths, methods and credentials
//! that try to reach an endpoint the key does not allow, or to move money uncounted. Each case
//! names the trick; the path cases go through Envoy's normalization first in the gateway, and
//! the same table runs end to end in `tests/tests/hostile_paths.rs`.

use super::*;
use crate::endpoint::EndpointPattern;
use crate::snapshot::{KeyEntry, Snapshot};
use crate::vendor::VendorCredential;
use base64::Engine as _;

const NOW: u64 = 1_800_000_000_000;

fn index(key: &VaultKey) -> PolicyIndex {
    PolicyIndex::build(Snapshot {
        version: 1,
        generated_at_ms: NOW,
        keys: vec![KeyEntry {
            key_id: key.id().to_string(),
            secret_sha256: key.hash().to_hex(),
            vendor: Vendor::Stripe,
            daily_cap_micros: 500_000_000,
            allowed_endpoints: ["POST /v1/payment_intents", "GET /v1/customers/*"]
                .iter()
                .map(|e| EndpointPattern::parse(e).unwrap())
                .collect(),
            expires_at_ms: NOW + 60_000,
            revoked: false,
            label: "hostile/1".into(),
        }],
        credentials: vec![VendorCredential::Stripe {
            api_key: "sk_test_real".into(),
        }],
        rates: vec![],
        prices: Default::default(),
    })
}

#[test]
fn hostile_request_table() {
    let key = VaultKey::generate().unwrap();
    let index = index(&key);
    let bearer = format!("Bearer {}", key.expose());
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let long = format!("/stripe/v1/customers/{}", "a".repeat(5000));
    let cases: Vec<(&str, &str, &str, String, Result<&str, DenyReason>)> = vec![
        // Paths.
        (
            "allowed",
            "GET",
            "/stripe/v1/customers/cus_1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "trailing slash",
            "GET",
            "/stripe/v1/customers/cus_1/",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "duplicate slashes",
            "GET",
            "/stripe//v1///customers/cus_1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "dot segments",
            "GET",
            "/stripe/./v1/customers/./cus_1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "query kept out of the match",
            "GET",
            "/stripe/v1/customers/cus_1?expand[]=x",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "fragment dropped",
            "GET",
            "/stripe/v1/customers/cus_1#top",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "encoded letters",
            "GET",
            "/%73tripe/v1/%63ustomers/cus_1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "dot-dot into a wildcard's sibling",
            "GET",
            "/stripe/v1/customers/cus_1/../../charges/ch_1",
            bearer.clone(),
            Err(DenyReason::EndpointNotAllowed),
        ),
        (
            "encoded dot-dot, mixed case",
            "GET",
            "/stripe/v1/customers/%2E%2e/refunds",
            bearer.clone(),
            Err(DenyReason::EndpointNotAllowed),
        ),
        (
            "dot-dot out of the vendor",
            "GET",
            "/stripe/../resend/v1/customers/cus_1",
            bearer.clone(),
            Err(DenyReason::WrongVendor),
        ),
        (
            "encoded slash in a wildcard",
            "GET",
            "/stripe/v1/customers/cus_1%2F..%2F..%2Frefunds",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "encoded slash, lower case",
            "GET",
            "/stripe/v1%2fcustomers/cus_1",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "semicolon parameter",
            "GET",
            "/stripe/v1/customers/cus_1;jsessionid=x",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "overlong",
            "GET",
            &long,
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "absolute-form target",
            "GET",
            "http://api.stripe.com/stripe/v1/customers/cus_1",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "asterisk-form target",
            "OPTIONS",
            "*",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "no vendor prefix",
            "GET",
            "/v2/customers/cus_1",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        // Methods.
        (
            "lower-case method matches",
            "get",
            "/stripe/v1/customers/cus_1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "method with a space",
            "GET X",
            "/stripe/v1/customers/cus_1",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "overlong method",
            "GETGETGETGETGETGETGET",
            "/stripe/v1/customers/cus_1",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        // Credentials.
        (
            "scheme in odd case",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("bEaReR {}", key.expose()),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "several spaces and a tab",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("Bearer  \t {}", key.expose()),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "two authorization headers, joined by Envoy",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("{bearer},Bearer sk_live_other"),
            Err(DenyReason::BadRequest),
        ),
        (
            "the same key twice, joined",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("{bearer},{bearer}"),
            Err(DenyReason::BadRequest),
        ),
        (
            "basic with the key as user",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("Basic {}", b64(format!("{}:", key.expose()))),
            Ok("/v1/customers/cus_1"),
        ),
        (
            "key with trailing junk",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("{bearer}x"),
            Err(DenyReason::UnknownKey),
        ),
        (
            "upper-cased key",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("Bearer {}", key.expose().to_ascii_uppercase()),
            Err(DenyReason::UnknownKey),
        ),
        (
            "unknown scheme",
            "GET",
            "/stripe/v1/customers/cus_1",
            format!("Token {}", key.expose()),
            Err(DenyReason::UnknownKey),
        ),
        // Money fields in the query of a costed call.
        (
            "expand in the query of a create",
            "POST",
            "/stripe/v1/payment_intents?expand[]=latest_charge",
            bearer.clone(),
            Ok("/v1/payment_intents"),
        ),
        (
            "amount in the query of a create",
            "POST",
            "/stripe/v1/payment_intents?amount=99999999",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "encoded currency in the query",
            "POST",
            "/stripe/v1/payment_intents?%63urrency=jpy",
            bearer.clone(),
            Err(DenyReason::BadRequest),
        ),
        (
            "amount in the query of a free read",
            "GET",
            "/stripe/v1/customers/cus_1?amount=1",
            bearer.clone(),
            Ok("/v1/customers/cus_1"),
        ),
    ];
    for (name, method, path, auth, want) in cases {
        let got = decide(
            &index,
            &RequestFacts {
                method: method.as_bytes(),
                path: path.as_bytes(),
                authorization: Some(auth.as_bytes()),
                now_ms: NOW,
            },
        )
        .map(|a| a.vendor_path)
        .map_err(|d| d.reason);
        assert_eq!(got, want.map(str::to_owned), "case {name}: {method} {path}");
    }
}

#[test]
fn what_is_forwarded_is_what_was_checked() {
    let key = VaultKey::generate().unwrap();
    let index = index(&key);
    let bearer = format!("Bearer {}", key.expose());
    let cases = [
        ("canonical already", "/stripe/v1/customers/cus_1", None),
        (
            "dot segments",
            "/stripe/./v1/x/../customers/cus_1",
            Some("/stripe/v1/customers/cus_1"),
        ),
        (
            "encoded letters",
            "/%73tripe/v1/customers/cus_%31",
            Some("/stripe/v1/customers/cus_1"),
        ),
        (
            "fragment dropped",
            "/stripe/v1/customers/cus_1#x",
            Some("/stripe/v1/customers/cus_1"),
        ),
        (
            "query kept",
            "/stripe//v1/customers/cus_1?expand[]=x",
            Some("/stripe/v1/customers/cus_1?expand[]=x"),
        ),
    ];
    for (name, path, want) in cases {
        let a = decide(
            &index,
            &RequestFacts {
                method: b"GET",
                path: path.as_bytes(),
                authorization: Some(bearer.as_bytes()),
                now_ms: NOW,
            },
        )
        .unwrap();
        assert_eq!(a.rewrite_path.as_deref(), want, "case {name}");
    }
}
