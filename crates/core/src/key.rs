//! Vault keys: `vk_<key id>_<secret>`, where the key id is public and the secret is 256 random
//! bits. Only the SHA-256 of the whole key is ever stored; comparison is constant-time.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Prefix of every vault key, so that a leaked one is recognisable by secret scanners.
pub const VAULT_KEY_PREFIX: &str = "vk_";
/// Prefix of every key id.
pub const KEY_ID_PREFIX: &str = "kid_";
/// Hex digits in a key id and in the id part of a vault key.
pub const ID_HEX_LEN: usize = 16;
/// Hex digits in a vault key's secret (256 bits).
pub const SECRET_HEX_LEN: usize = 64;
/// Bytes in a whole vault key: `vk_` + 16 hex + `_` + 64 hex.
pub const VAULT_KEY_LEN: usize = VAULT_KEY_PREFIX.len() + ID_HEX_LEN + 1 + SECRET_HEX_LEN;

/// The public identifier of a vault key: `kid_` and 16 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultKeyId(String);

/// A vault key as presented by an agent. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultKey {
    id: VaultKeyId,
    full: String,
}

/// SHA-256 of a whole vault key, the only form in which the control plane stores it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a keybrake vault key")]
    Malformed,
    #[error("the system random source failed")]
    Random,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `bytes` random bytes as lower-case hex, from the system's random source (WASI's in Envoy).
pub fn random_hex(bytes: usize) -> Result<String, KeyError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|_| KeyError::Random)?;
    Ok(hex::encode(buf))
}

/// True when `v` holds something of a vault key's shape, `vk_<16 hex>_<64 hex>`, anywhere and
/// in any letter case (a key an agent upper-cased is still a leaked secret). Raw bytes only:
/// callers that must also see percent-encoded keys decode first.
pub fn contains_key_shape(v: &[u8]) -> bool {
    let prefix = VAULT_KEY_PREFIX.as_bytes();
    v.windows(VAULT_KEY_LEN).any(|w| {
        let (head, rest) = w.split_at(prefix.len());
        let (id, rest) = rest.split_at(ID_HEX_LEN);
        head.eq_ignore_ascii_case(prefix)
            && id.iter().all(u8::is_ascii_hexdigit)
            && rest.first() == Some(&b'_')
            && rest[1..].iter().all(u8::is_ascii_hexdigit)
    })
}

// === impl VaultKeyId ===

impl VaultKeyId {
    /// Parses `kid_<16 hex>`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let hex_part = s.strip_prefix(KEY_ID_PREFIX).ok_or(KeyError::Malformed)?;
        if hex_part.len() != ID_HEX_LEN || !is_lower_hex(hex_part) {
            return Err(KeyError::Malformed);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn hex_part(&self) -> &str {
        &self.0[KEY_ID_PREFIX.len()..]
    }
}

impl fmt::Display for VaultKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// === impl VaultKey ===

impl VaultKey {
    /// Draws a new key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut id = [0u8; ID_HEX_LEN / 2];
        let mut secret = [0u8; SECRET_HEX_LEN / 2];
        getrandom::fill(&mut id).map_err(|_| KeyError::Random)?;
        getrandom::fill(&mut secret).map_err(|_| KeyError::Random)?;
        let id_hex = hex::encode(id);
        let full = format!("{VAULT_KEY_PREFIX}{id_hex}_{}", hex::encode(secret));
        Ok(Self {
            id: VaultKeyId(format!("{KEY_ID_PREFIX}{id_hex}")),
            full,
        })
    }

    /// Parses a presented key. Only the shape is checked here; [`KeyHash::verify`] decides
    /// whether it is the real one.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix(VAULT_KEY_PREFIX)
            .ok_or(KeyError::Malformed)?;
        let (id_hex, secret_hex) = rest.split_once('_').ok_or(KeyError::Malformed)?;
        if id_hex.len() != ID_HEX_LEN
            || secret_hex.len() != SECRET_HEX_LEN
            || !is_lower_hex(id_hex)
            || !is_lower_hex(secret_hex)
        {
            return Err(KeyError::Malformed);
        }
        Ok(Self {
            id: VaultKeyId(format!("{KEY_ID_PREFIX}{id_hex}")),
            full: s.to_owned(),
        })
    }

    pub fn id(&self) -> &VaultKeyId {
        &self.id
    }

    /// The 64-hex secret half. Never log it.
    pub fn secret(&self) -> &str {
        &self.full[self.full.len() - SECRET_HEX_LEN..]
    }

    /// The whole secret key. Hand it to the caller once, at issue time; never log it.
    pub fn expose(&self) -> &str {
        &self.full
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.full.as_bytes()).into())
    }

    /// True when `self` belongs to `id` (the id is embedded in the key).
    pub fn belongs_to(&self, id: &VaultKeyId) -> bool {
        self.id.hex_part() == id.hex_part()
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultKey({}, <redacted>)", self.id)
    }
}

// === impl KeyHash ===

impl KeyHash {
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| KeyError::Malformed)?;
        Ok(Self(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time check that `presented` hashes to `self`.
    pub fn verify(&self, presented: &VaultKey) -> bool {
        presented.hash().0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.to_hex())
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
