use super::*;

fn stripe() -> VendorCredential {
    VendorCredential::Stripe {
        api_key: "sk_test_secret_123".into(),
    }
}

#[test]
fn seal_then_open_round_trips_and_hides_the_secret() {
    let key = MasterKey::generate().unwrap();
    let sealed = key.seal(&stripe(), 7).unwrap();
    assert_eq!(sealed.vendor, Vendor::Stripe);
    assert_eq!(sealed.nonce.len(), NONCE_LEN);
    let needle = b"sk_test_secret_123";
    assert!(!sealed.ciphertext.windows(needle.len()).any(|w| w == needle));
    assert_eq!(key.open(&sealed).unwrap(), stripe());
}

#[test]
fn nonces_are_fresh() {
    let key = MasterKey::generate().unwrap();
    let a = key.seal(&stripe(), 0).unwrap();
    let b = key.seal(&stripe(), 0).unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn refuses_wrong_key_moved_rows_and_bad_nonces() {
    let key = MasterKey::generate().unwrap();
    let sealed = key.seal(&stripe(), 0).unwrap();
    let other = MasterKey::generate().unwrap();
    assert!(matches!(other.open(&sealed), Err(CryptoError::Open(_))));
    let moved = SealedCredential {
        vendor: Vendor::Resend,
        ..sealed.clone()
    };
    assert!(matches!(
        key.open(&moved),
        Err(CryptoError::Open(Vendor::Resend))
    ));
    let short = SealedCredential {
        nonce: vec![0; 12],
        ..sealed
    };
    assert!(matches!(
        key.open(&short),
        Err(CryptoError::Open(Vendor::Stripe))
    ));
}

#[test]
fn master_key_parses_hex_and_base64_only_of_32_bytes() {
    let cases = [
        ("hex", "00".repeat(32), true),
        ("hex upper", "AB".repeat(32), true),
        ("base64 padded", "A".repeat(43) + "=", true),
        ("base64 unpadded", "A".repeat(43), true),
        ("too short hex", "00".repeat(31), false),
        ("base64 of 31 bytes", "A".repeat(40) + "AA==", false),
        ("garbage", "not a key".into(), false),
        ("empty", String::new(), false),
    ];
    for (name, input, ok) in cases {
        assert_eq!(MasterKey::parse(&input).is_ok(), ok, "case {name}");
    }
    let key = MasterKey::generate().unwrap();
    assert_eq!(MasterKey::parse(&key.to_hex()).unwrap().0, key.0);
}
