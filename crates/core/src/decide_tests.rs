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
    twilio: VaultKey,
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
    let [stripe, revoked, expired, resend, twilio] =
        std::array::from_fn(|_| VaultKey::generate().unwrap());
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
            entry(
                &twilio,
                Vendor::Twilio,
                &["POST /2010-04-01/Accounts/*/Messages.json"],
            ),
        ],
        credentials: vec![
            VendorCredential::Stripe {
                api_key: "sk_test_real".into(),
            },
            VendorCredential::Twilio {
                account_sid: "ACreal".into(),
                auth_token: Some("tok".into()),
                api_key_sid: None,
                api_key_secret: None,
            },
        ],
        rates: vec![],
        prices: Default::default(),
    });
    Fixture {
        index,
        stripe,
        revoked,
        expired,
        resend,
        twilio,
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

/// What the vendor receives for an allowed call, and what logs and audit name.
#[derive(Debug, PartialEq)]
struct Forwarded {
    /// `METHOD :path`, exactly as forwarded.
    request: String,
    /// Replaces the vault key in `Authorization`.
    authorization: String,
    vendor_path: String,
}

const STRIPE_REAL: &str = "Bearer sk_test_real";

fn forward(request: &str, authorization: &str, vendor_path: &str) -> Result<Forwarded, DenyReason> {
    Ok(Forwarded {
        request: request.to_owned(),
        authorization: authorization.to_owned(),
        vendor_path: vendor_path.to_owned(),
    })
}

/// What `decide` made of a request, in the table's terms.
fn outcome(
    method: &str,
    path: &str,
    got: Result<Allowed<'_>, Denied<'_>>,
) -> Result<Forwarded, DenyReason> {
    got.map(|a| Forwarded {
        request: format!(
            "{} {}",
            a.rewrite_method.as_deref().unwrap_or(method),
            a.rewrite_path.as_deref().unwrap_or(path)
        ),
        authorization: a.upstream_authorization.to_owned(),
        vendor_path: a.vendor_path,
    })
    .map_err(|d| d.reason)
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
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let basic = Some(format!("Basic {}", b64(format!("{}:", f.stripe.expose()))));
    let twilio = Some(format!(
        "Basic {}",
        b64(format!("ACplaceholder:{}", f.twilio.expose()))
    ));
    let twilio_real = &format!("Basic {}", b64("ACreal:tok".to_owned()));
    struct Case {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        auth: Option<String>,
        want: Result<Forwarded, DenyReason>,
    }
    let case = |name, method, path, auth: &Option<String>, want| Case {
        name,
        method,
        path,
        auth: auth.clone(),
        want,
    };
    let stripe = bearer(&f.stripe);
    let cases = [
        case(
            "allowed bearer",
            "POST",
            "/stripe/v1/payment_intents",
            &stripe,
            forward(
                "POST /stripe/v1/payment_intents",
                STRIPE_REAL,
                "/v1/payment_intents",
            ),
        ),
        case(
            "allowed basic",
            "POST",
            "/stripe/v1/payment_intents",
            &basic,
            forward(
                "POST /stripe/v1/payment_intents",
                STRIPE_REAL,
                "/v1/payment_intents",
            ),
        ),
        case(
            "allowed wildcard",
            "GET",
            "/stripe/v1/customers/cus_1",
            &stripe,
            forward(
                "GET /stripe/v1/customers/cus_1",
                STRIPE_REAL,
                "/v1/customers/cus_1",
            ),
        ),
        case(
            "lower-case method goes on upper-case",
            "post",
            "/stripe/v1/payment_intents",
            &stripe,
            forward(
                "POST /stripe/v1/payment_intents",
                STRIPE_REAL,
                "/v1/payment_intents",
            ),
        ),
        case(
            "the checked path is the one forwarded",
            "post",
            "/stripe//v1/./payment_intents?expand[]=x",
            &stripe,
            forward(
                "POST /stripe/v1/payment_intents?expand[]=x",
                STRIPE_REAL,
                "/v1/payment_intents",
            ),
        ),
        case(
            "stripe's bare /v1 route",
            "POST",
            "/v1/payment_intents",
            &stripe,
            forward(
                "POST /v1/payment_intents",
                STRIPE_REAL,
                "/v1/payment_intents",
            ),
        ),
        case(
            "twilio's account sid is the real one",
            "POST",
            "/twilio/2010-04-01/Accounts/ACplaceholder/Messages.json?x=1",
            &twilio,
            forward(
                "POST /twilio/2010-04-01/Accounts/ACreal/Messages.json?x=1",
                twilio_real,
                // The log shows what the agent asked for.
                "/2010-04-01/Accounts/ACplaceholder/Messages.json",
            ),
        ),
        case(
            "twilio's real sid stays",
            "POST",
            "/twilio/2010-04-01/Accounts/ACreal/Messages.json",
            &twilio,
            forward(
                "POST /twilio/2010-04-01/Accounts/ACreal/Messages.json",
                twilio_real,
                "/2010-04-01/Accounts/ACreal/Messages.json",
            ),
        ),
        case(
            "stripe's bare route is v1 only",
            "POST",
            "/v2/core/events",
            &stripe,
            Err(DenyReason::BadRequest),
        ),
        case(
            "no authorization",
            "POST",
            "/stripe/v1/payment_intents",
            &None,
            Err(DenyReason::UnknownKey),
        ),
        case(
            "vendor key instead of vault key",
            "POST",
            "/stripe/v1/payment_intents",
            &Some("Bearer sk_test_abc".into()),
            Err(DenyReason::UnknownKey),
        ),
        case(
            "forged secret",
            "POST",
            "/stripe/v1/payment_intents",
            &bearer(&forged),
            Err(DenyReason::UnknownKey),
        ),
        case(
            "revoked",
            "POST",
            "/stripe/v1/payment_intents",
            &bearer(&f.revoked),
            Err(DenyReason::KeyRevoked),
        ),
        case(
            "expired",
            "POST",
            "/stripe/v1/payment_intents",
            &bearer(&f.expired),
            Err(DenyReason::KeyExpired),
        ),
        case(
            "wrong vendor",
            "POST",
            "/stripe/v1/payment_intents",
            &bearer(&f.resend),
            Err(DenyReason::WrongVendor),
        ),
        case(
            "endpoint not allowed",
            "POST",
            "/stripe/v1/refunds",
            &stripe,
            Err(DenyReason::EndpointNotAllowed),
        ),
        case(
            "method not allowed",
            "DELETE",
            "/stripe/v1/customers/cus_1",
            &stripe,
            Err(DenyReason::EndpointNotAllowed),
        ),
        case(
            "dot-dot escape",
            "GET",
            "/stripe/v1/customers/../refunds",
            &stripe,
            Err(DenyReason::EndpointNotAllowed),
        ),
        case(
            "encoded slash",
            "GET",
            "/stripe/v1/customers/a%2Fb",
            &stripe,
            Err(DenyReason::BadRequest),
        ),
        case(
            "unknown vendor prefix",
            "GET",
            "/paypal/v1/x",
            &stripe,
            Err(DenyReason::BadRequest),
        ),
        case(
            "no credential registered",
            "POST",
            "/resend/emails",
            &bearer(&f.resend),
            Err(DenyReason::PolicyUnavailable),
        ),
        case(
            "odd method",
            "PO ST",
            "/stripe/v1/payment_intents",
            &stripe,
            Err(DenyReason::BadRequest),
        ),
    ];
    for c in cases {
        let got = outcome(c.method, c.path, run(&f, c.method, c.path, c.auth));
        assert_eq!(got, c.want, "case {}", c.name);
    }
}

#[test]
fn an_allowed_call_names_its_key_and_rewrites_only_what_differs() {
    let f = fixture();
    let a = run(&f, "POST", "/stripe/v1/payment_intents", bearer(&f.stripe)).unwrap();
    assert_eq!(a.key.key_id, *f.stripe.id());
    assert_eq!(a.rewrite_path, None);
    assert_eq!(a.rewrite_method, None);
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
            globals_version: version,
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
fn the_keys_a_request_presents_are_found_in_every_vendor_form_once() {
    let key = VaultKey::generate().unwrap();
    let id = key.id().clone();
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let forms = [
        (
            "bearer (stripe, resend)",
            format!("Bearer {}", key.expose()),
        ),
        (
            "basic user (stripe)",
            format!("Basic {}", b64(format!("{}:", key.expose()))),
        ),
        (
            "basic password (twilio)",
            format!("Basic {}", b64(format!("AC123:{}", key.expose()))),
        ),
    ];
    for (name, header) in forms {
        assert_eq!(
            presented_key_ids(Some(header.as_bytes())),
            vec![id.clone()],
            "case {name}"
        );
    }
    assert!(presented_key_ids(None).is_empty());
    assert!(presented_key_ids(Some(b"Bearer sk_live_not_a_vault_key")).is_empty());
    // A Basic credential whose user and password are both vault keys names both.
    let other = VaultKey::generate().unwrap();
    let both = format!(
        "Basic {}",
        b64(format!("{}:{}", key.expose(), other.expose()))
    );
    assert_eq!(
        presented_key_ids(Some(both.as_bytes())),
        vec![id, other.id().clone()]
    );
}
