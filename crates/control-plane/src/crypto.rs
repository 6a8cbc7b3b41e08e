//! Vendor credentials sealed at rest with XChaCha20-Poly1305 under the master key.
//!
//! Each credential gets a fresh random 24-byte nonce, stored beside its ciphertext; the vendor
//! name is the associated data, so a sealed row moved to another vendor fails to open.

use crate::store::SealedCredential;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use keybrake_core::{Vendor, VendorCredential};

const NONCE_LEN: usize = 24;

/// The 256-bit key that seals vendor credentials. Its `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key must be 64 hex digits or the base64 of 32 bytes")]
    BadMasterKey,
    #[error("the system random source failed")]
    Random,
    #[error("sealing failed")]
    Seal,
    #[error("a stored credential for {0} does not open with this master key")]
    Open(Vendor),
}

fn aad(vendor: Vendor) -> Vec<u8> {
    format!("keybrake/vendor_credentials/{vendor}").into_bytes()
}

// === impl MasterKey ===

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| CryptoError::Random)?;
        Ok(Self(key))
    }

    /// Parses 64 hex digits or standard base64 (padded or not) of exactly 32 bytes.
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let s = s.trim();
        let mut key = [0u8; 32];
        if s.len() == 64 && hex::decode_to_slice(s, &mut key).is_ok() {
            return Ok(Self(key));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
            .map_err(|_| CryptoError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self(key))
    }

    /// The form written to `master.key`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `credential` with a fresh nonce.
    pub fn seal(
        &self,
        credential: &VendorCredential,
        updated_at_ms: u64,
    ) -> Result<SealedCredential, CryptoError> {
        let vendor = credential.vendor();
        let plaintext = serde_json::to_vec(credential).map_err(|_| CryptoError::Seal)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad(vendor),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        Ok(SealedCredential {
            vendor,
            nonce: nonce.to_vec(),
            ciphertext,
            updated_at_ms,
        })
    }

    /// Opens a sealed credential, checking that it belongs to the vendor it is stored under.
    pub fn open(&self, sealed: &SealedCredential) -> Result<VendorCredential, CryptoError> {
        let vendor = sealed.vendor;
        if sealed.nonce.len() != NONCE_LEN {
            return Err(CryptoError::Open(vendor));
        }
        let plaintext = self
            .cipher()
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad(vendor),
                },
            )
            .map_err(|_| CryptoError::Open(vendor))?;
        let credential: VendorCredential =
            serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Open(vendor))?;
        if credential.vendor() != vendor {
            return Err(CryptoError::Open(vendor));
        }
        Ok(credential)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
