//! Vendor credential rows, sealed before they get here (see `crate::crypto`).

use super::sqlite::bump_globals;
use super::{to_i64, to_u64, Sqlite, StoreError};
use keybrake_core::Vendor;
use rusqlite::{params, Connection};

/// A vendor credential as stored: ciphertext and nonce, never plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredential {
    pub vendor: Vendor,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub updated_at_ms: u64,
}

impl std::fmt::Debug for SealedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedCredential({}, <sealed>)", self.vendor)
    }
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<SealedCredential>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT vendor, nonce, ciphertext, updated_at_ms FROM vendor_credentials ORDER BY vendor",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let vendor = Vendor::from_name(&name).ok_or_else(|| StoreError::Corrupt {
            table: "vendor_credentials",
            detail: format!("vendor {name:?}"),
        })?;
        out.push(SealedCredential {
            vendor,
            nonce: r.get(1)?,
            ciphertext: r.get(2)?,
            updated_at_ms: to_u64(r.get(3)?, "vendor_credentials")?,
        });
    }
    Ok(out)
}

// === impl Sqlite ===

impl Sqlite {
    /// Stores (or replaces) a vendor's sealed credential and returns the new snapshot version.
    pub async fn set_credential(&self, sealed: SealedCredential) -> Result<u64, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO vendor_credentials (vendor, nonce, ciphertext, updated_at_ms) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (vendor) DO UPDATE SET nonce = excluded.nonce, \
                     ciphertext = excluded.ciphertext, updated_at_ms = excluded.updated_at_ms",
                params![
                    sealed.vendor.as_str(),
                    sealed.nonce,
                    sealed.ciphertext,
                    to_i64(sealed.updated_at_ms)?,
                ],
            )?;
            let version = bump_globals(&tx)?;
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    /// Every stored credential, still sealed.
    pub async fn credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        self.read(|conn| all(conn)).await
    }
}
