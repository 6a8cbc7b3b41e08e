use super::*;
use crate::key::VaultKey;

pub(crate) fn entry(key: &VaultKey, vendor: Vendor, endpoints: &[&str]) -> KeyEntry {
    KeyEntry {
        key_id: key.id().to_string(),
        secret_sha256: key.hash().to_hex(),
        vendor,
        daily_cap_micros: 500_000_000,
        allowed_endpoints: endpoints
            .iter()
            .map(|e| EndpointPattern::parse(e).unwrap())
            .collect(),
        expires_at_ms: u64::MAX,
        revoked: false,
        label: "run-1".into(),
    }
}

#[test]
fn index_looks_up_keys_and_precomputes_upstream_auth() {
    let key = VaultKey::generate().unwrap();
    let snap = Snapshot {
        version: 7,
        generated_at_ms: 1,
        keys: vec![entry(&key, Vendor::Stripe, &["POST /v1/payment_intents"])],
        credentials: vec![VendorCredential::Stripe {
            api_key: "sk_test_x".into(),
        }],
        rates: vec![],
        prices: Default::default(),
    };
    let index = PolicyIndex::build(snap);
    assert_eq!(index.version, 7);
    assert_eq!(index.key(key.id()).unwrap().label, "run-1");
    assert_eq!(
        index.upstream_authorization(Vendor::Stripe),
        Some("Bearer sk_test_x")
    );
    assert_eq!(index.upstream_authorization(Vendor::Twilio), None);
}

#[test]
fn invalid_entries_are_skipped_not_fatal() {
    let good = VaultKey::generate().unwrap();
    let bad = VaultKey::generate().unwrap();
    let mut bad_entry = entry(&bad, Vendor::Stripe, &["GET /v1/customers"]);
    bad_entry.secret_sha256 = "nothex".into();
    let mut empty = entry(
        &VaultKey::generate().unwrap(),
        Vendor::Stripe,
        &["GET /v1/x"],
    );
    empty.allowed_endpoints.clear();
    let index = PolicyIndex::build(Snapshot {
        version: 1,
        generated_at_ms: 0,
        keys: vec![
            entry(&good, Vendor::Stripe, &["GET /v1/customers"]),
            bad_entry,
            empty,
        ],
        credentials: vec![],
        rates: vec![],
        prices: Default::default(),
    });
    assert_eq!(index.len(), 1);
    assert_eq!(index.skipped, 2);
    assert!(index.key(bad.id()).is_none());
}

#[test]
fn snapshot_json_round_trips_and_tolerates_new_fields() {
    let key = VaultKey::generate().unwrap();
    let snap = Snapshot {
        version: 3,
        generated_at_ms: 9,
        keys: vec![entry(&key, Vendor::Stripe, &["GET /v1/customers/*"])],
        credentials: vec![],
        rates: vec![],
        prices: Default::default(),
    };
    let mut json = serde_json::to_value(&snap).unwrap();
    json["future_field"] = serde_json::json!(true);
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snap);
}

#[test]
fn sync_status_encoding_and_freshness() {
    let s = SyncStatus {
        version: 42,
        confirmed_at_ms: 1_000,
        globals_version: 40,
    };
    assert_eq!(SyncStatus::decode(&s.encode()), Some(s));
    assert_eq!(SyncStatus::decode(&[1, 2, 3]), None);
    assert_eq!(
        SyncStatus::decode(&s.encode()[..16]),
        None,
        "a status without the globals version is not read as one with version 0"
    );
    assert!(s.is_fresh(1_500, 500));
    assert!(!s.is_fresh(1_501, 500));
    assert!(s.is_fresh(0, 0), "a clock behind the record is not stale");
}
