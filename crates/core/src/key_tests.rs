use super::*;

#[test]
fn generated_keys_parse_back_and_verify_against_their_hash() {
    let key = VaultKey::generate().unwrap();
    let parsed = VaultKey::parse(key.expose()).unwrap();
    assert_eq!(parsed.id(), key.id());
    assert!(key.hash().verify(&parsed));
    assert!(key.expose().starts_with("vk_"));
    assert!(key.id().as_str().starts_with("kid_"));
    assert!(parsed.belongs_to(key.id()));
}

#[test]
fn two_generated_keys_differ() {
    let a = VaultKey::generate().unwrap();
    let b = VaultKey::generate().unwrap();
    assert_ne!(a.expose(), b.expose());
    assert_ne!(a.id(), b.id());
}

#[test]
fn a_key_with_the_right_id_but_wrong_secret_does_not_verify() {
    let key = VaultKey::generate().unwrap();
    let id_hex = &key.id().as_str()[4..];
    let forged = VaultKey::parse(&format!("vk_{id_hex}_{}", "0".repeat(64))).unwrap();
    assert_eq!(forged.id(), key.id());
    assert!(!key.hash().verify(&forged));
}

#[test]
fn malformed_keys_are_refused() {
    let upper = format!("vk_0123456789ABCDEF_{}", "0".repeat(64));
    let short_id = format!("vk_0123_{}", "0".repeat(64));
    let junk = format!("vk_0123456789abcdef_{}x", "0".repeat(64));
    let cases = [
        ("empty", ""),
        ("vendor key", "sk_test_abc"),
        ("no secret", "vk_0123456789abcdef"),
        ("short secret", "vk_0123456789abcdef_00"),
        ("upper-case hex", upper.as_str()),
        ("short id", short_id.as_str()),
        ("trailing junk", junk.as_str()),
    ];
    for (name, input) in cases {
        assert_eq!(
            VaultKey::parse(input),
            Err(KeyError::Malformed),
            "case {name}"
        );
    }
}

#[test]
fn debug_never_prints_the_secret() {
    let key = VaultKey::generate().unwrap();
    let secret = &key.expose()[20..];
    assert!(!format!("{key:?}").contains(secret));
}

#[test]
fn key_ids_parse_only_in_their_own_shape() {
    assert!(VaultKeyId::parse("kid_0123456789abcdef").is_ok());
    for bad in [
        "kid_0123",
        "vk_0123456789abcdef",
        "kid_0123456789ABCDEF",
        "kid_0123456789abcdeg",
    ] {
        assert_eq!(VaultKeyId::parse(bad), Err(KeyError::Malformed), "{bad}");
    }
}

#[test]
fn hash_hex_round_trips() {
    let h = VaultKey::generate().unwrap().hash();
    assert_eq!(KeyHash::from_hex(&h.to_hex()).unwrap(), h);
    for bad in ["zz", &h.to_hex()[2..]] {
        assert_eq!(KeyHash::from_hex(bad), Err(KeyError::Malformed), "{bad}");
    }
}
