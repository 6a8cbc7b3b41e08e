use super::*;
use crate::endpoint::EndpointPattern;
use crate::snapshot::{KeyEntry, Snapshot};
use crate::vendor::VendorCredential;
use base64::Engine as _;

const NOW: u64 = 1_800_000_000_000;

struct Fixture {
    index: PolicyIndex,
    stripe: VaultKey,
    revoked: VaultKey,
    expired: VaultKey,
    resend: VaultKey,
}

fn entry(key: &VaultKey, vendor: Vendor, endpoints: &[&str]) -> KeyEntry {
    KeyEntry {
        key_id: key.id().to_string(),
        secret_sha256: key.hash().to_hex(),
        vendor,
        daily_cap_micros: 500_000_000,
        allowed_endpoints: endpoints
            .iter()
            .map(|e| EndpointPattern::parse(e).unwrap())
            .collect(),
        expires_at_ms: NOW + 60_000,
        revoked: false,
        label: "billing/1".into(),
    }
}

fn fixture() -> Fixture {
    let [stripe, revoked, expired, resend] = std::array::from_fn(|_| VaultKey::generate().unwrap());
    let allow = ["POST /v1/payment_intents", "GET /v1/customers/*"];
    let mut r = entry(&revoked, Vendor::Stripe, &allow);
    r.revoked = true;
    let mut e = entry(&expired, Vendor::Stripe, &allow);
    e.expires_at_ms = NOW;
    let index = PolicyIndex::build(Snapshot {
        version: 1,
        generated_at_ms: NOW,
        keys: vec![
            entry(&stripe, Vendor::Stripe, &allow),
            r,
            e,
            entry(&resend, Vendor::Resend, &["POST /emails"]),
        ],
        credentials: vec![VendorCredential::Stripe {
            api_key: "sk_test_real".into(),
        }],
        rates: vec![],
        prices: Default::default(),
    });
    Fixture {
        index,
        stripe,
        revoked,
        expired,
        resend,
    }
}

fn run<'i>(
    f: &'i Fixture,
    method: &str,
    path: &str,
    auth: Option<String>,
) -> Result<Allowed<'i>, Denied<'i>> {
    decide(
        &f.index,
        &RequestFacts {
            method: method.as_bytes(),
            path: path.as_bytes(),
            authorization: auth.as_deref().map(str::as_bytes),
            now_ms: NOW,
        },
    )
}

fn bearer(k: &VaultKey) -> Option<String> {
    Some(format!("Bearer {}", k.expose()))
}

#[test]
fn decision_table() {
    let f = fixture();
    let forged = VaultKey::parse(&format!(
        "vk_{}_{}",
        &f.stripe.id().as_str()[4..],
        "a".repeat(64)
    ))
    .unwrap();
    let basic = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", f.stripe.expose()))
    ));
    let cases: Vec<(&str, &str, &str, Option<String>, Result<(), DenyReason>)> = vec![
        (
            "allowed bearer",
            "POST",
            "/stripe/v1/payment_intents",
            bearer(&f.stripe),
            Ok(()),
        ),
        (
            "allowed basic",
            "POST",
            "/stripe/v1/payment_intents",
            basic,
            Ok(()),
        ),
        (
            "allowed wildcard",
            "GET",
            "/stripe/v1/customers/cus_1",
            bearer(&f.stripe),
            Ok(()),
        ),
        (
            "lower-case method still matches",
            "post",
            "/stripe/v1/payment_intents",
            bearer(&f.stripe),
            Ok(()),
        ),
        (
            "no authorization",
            "POST",
            "/stripe/v1/payment_intents",
            None,
            Err(DenyReason::UnknownKey),
        ),
        (
            "vendor key instead of vault key",
            "POST",
            "/stripe/v1/payment_intents",
            Some("Bearer sk_test_abc".into()),
            Err(DenyReason::UnknownKey),
        ),
        (
            "forged secret",
            "POST",
            "/stripe/v1/payment_intents",
            bearer(&forged),
            Err(DenyReason::UnknownKey),
        ),
        (
            "revoked",
            "POST",
            "/stripe/v1/payment_intents",
            bearer(&f.revoked),
            Err(DenyReason::KeyRevoked),
        ),
        (
            "expired",
            "POST",
            "/stripe/v1/payment_intents",
            bearer(&f.expired),
            Err(DenyReason::KeyExpired),
        ),
        (
            "wrong vendor",
            "POST",
            "/stripe/v1/payment_intents",
            bearer(&f.resend),
            Err(DenyReason::WrongVendor),
        ),
        (
            "endpoint not allowed",
            "POST",
            "/stripe/v1/refunds",
            bearer(&f.stripe),
            Err(DenyReason::EndpointNotAllowed),
        ),
        (
            "method not allowed",
            "DELETE",
            "/stripe/v1/customers/cus_1",
            bearer(&f.stripe),
            Err(DenyReason::EndpointNotAllowed),
        ),
        (
            "dot-dot escape",
            "GET",
            "/stripe/v1/customers/../refunds",
            bearer(&f.stripe),
            Err(DenyReason::EndpointNotAllowed),
        ),
        (
            "encoded slash",
            "GET",
            "/stripe/v1/customers/a%2Fb",
            bearer(&f.stripe),
            Err(DenyReason::BadRequest),
        ),
        (
            "unknown vendor prefix",
            "GET",
            "/paypal/v1/x",
            bearer(&f.stripe),
            Err(DenyReason::BadRequest),
        ),
        (
            "no credential registered",
            "POST",
            "/resend/emails",
            bearer(&f.resend),
            Err(DenyReason::PolicyUnavailable),
        ),
        (
            "odd method",
            "PO ST",
            "/stripe/v1/payment_intents",
            bearer(&f.stripe),
            Err(DenyReason::BadRequest),
        ),
    ];
    for (name, method, path, auth, want) in cases {
        let got = run(&f, method, path, auth)
            .map(|_| ())
            .map_err(|d| d.reason);
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn allowed_call_carries_the_real_credential_and_canonical_target() {
    let f = fixture();
    let a = run(
        &f,
        "post",
        "/stripe//v1/./payment_intents?expand[]=x",
        bearer(&f.stripe),
    )
    .unwrap();
    assert_eq!(a.upstream_authorization, "Bearer sk_test_real");
    assert_eq!(
        a.rewrite_path.as_deref(),
        Some("/stripe/v1/payment_intents?expand[]=x")
    );
    assert_eq!(a.rewrite_method.as_deref(), Some("POST"));
    assert_eq!(a.vendor_path, "/v1/payment_intents");
    assert_eq!(a.key.key_id, *f.stripe.id());

    let b = run(&f, "POST", "/stripe/v1/payment_intents", bearer(&f.stripe)).unwrap();
    assert_eq!(b.rewrite_path, None);
    assert_eq!(b.rewrite_method, None);
}

#[test]
fn denials_after_key_lookup_name_the_key() {
    let f = fixture();
    let d = run(&f, "POST", "/stripe/v1/refunds", bearer(&f.stripe)).unwrap_err();
    assert_eq!(d.key.map(|k| k.label.as_str()), Some("billing/1"));
    assert_eq!(d.vendor, Some(Vendor::Stripe));
}

#[test]
fn policy_availability() {
    let s = |version, at| {
        Some(SyncStatus {
            version,
            confirmed_at_ms: at,
        })
    };
    assert!(!policy_available(None, NOW, 1000), "no snapshot yet");
    assert!(
        !policy_available(s(0, NOW), NOW, 1000),
        "version zero is no snapshot"
    );
    assert!(policy_available(s(1, NOW - 1000), NOW, 1000));
    assert!(!policy_available(s(1, NOW - 1001), NOW, 1000), "stale");
}

#[test]
fn vendor_hint_reads_the_first_segment() {
    assert_eq!(vendor_hint(b"/stripe/v1/x"), Some(Vendor::Stripe));
    assert_eq!(vendor_hint(b"/resend?x"), Some(Vendor::Resend));
    assert_eq!(vendor_hint(b"/twilio"), Some(Vendor::Twilio));
    assert_eq!(vendor_hint(b"/paypal/v1"), None);
    assert_eq!(vendor_hint(b"stripe/v1"), None);
}

#[test]
fn twilio_paths_get_the_real_account_sid_and_stripe_v1_routes_unprefixed() {
    let twilio = VaultKey::generate().unwrap();
    let stripe = VaultKey::generate().unwrap();
    let index = PolicyIndex::build(Snapshot {
        version: 1,
        generated_at_ms: NOW,
        keys: vec![
            entry(
                &twilio,
                Vendor::Twilio,
                &["POST /2010-04-01/Accounts/*/Messages.json"],
            ),
            entry(&stripe, Vendor::Stripe, &["POST /v1/payment_intents"]),
        ],
        credentials: vec![
            VendorCredential::Twilio {
                account_sid: "ACreal".into(),
                auth_token: Some("tok".into()),
                api_key_sid: None,
                api_key_secret: None,
            },
            VendorCredential::Stripe {
                api_key: "sk_test_real".into(),
            },
        ],
        rates: vec![],
        prices: Default::default(),
    });
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("ACplaceholder:{}", twilio.expose()))
    );
    let facts = |method: &'static str, path: &'static str, auth: &str| {
        let auth = auth.to_owned();
        move |index: &PolicyIndex| {
            decide(
                index,
                &RequestFacts {
                    method: method.as_bytes(),
                    path: path.as_bytes(),
                    authorization: Some(auth.as_bytes()),
                    now_ms: NOW,
                },
            )
            .map(|a| {
                (
                    a.rewrite_path,
                    a.vendor_path,
                    a.upstream_authorization.to_owned(),
                )
            })
            .map_err(|d| d.reason)
        }
    };
    let got = facts(
        "POST",
        "/twilio/2010-04-01/Accounts/ACplaceholder/Messages.json?x=1",
        &basic,
    )(&index)
    .unwrap();
    assert_eq!(
        got.0.as_deref(),
        Some("/twilio/2010-04-01/Accounts/ACreal/Messages.json?x=1")
    );
    assert_eq!(
        got.1, "/2010-04-01/Accounts/ACplaceholder/Messages.json",
        "the log shows what the agent asked for"
    );
    let real = facts(
        "POST",
        "/twilio/2010-04-01/Accounts/ACreal/Messages.json",
        &basic,
    )(&index)
    .unwrap();
    assert_eq!(real.0, None, "nothing to rewrite");

    let bearer = format!("Bearer {}", stripe.expose());
    let v1 = facts("POST", "/v1/payment_intents", &bearer)(&index).unwrap();
    assert_eq!(v1.0, None);
    assert_eq!(v1.1, "/v1/payment_intents");
    assert_eq!(v1.2, "Bearer sk_test_real");
    assert_eq!(
        facts("POST", "/v2/core/events", &bearer)(&index).unwrap_err(),
        DenyReason::BadRequest
    );
}
