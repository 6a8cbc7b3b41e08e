//! The policy snapshot the control plane delivers to every gateway, and the per-VM index the
//! filter builds from it once per version.
//!
//! The snapshot carries what every gateway must agree on: keys (as hashes), their policies and
//! the vendors' real credentials. Budget leases are per gateway and change with every call, so
//! they travel apart (the lease channel of the ledger) and never force a snapshot re-parse.

use crate::currency::{RateEntry, Rates};
use crate::endpoint::EndpointPattern;
use crate::key::{KeyHash, VaultKeyId};
use crate::prices::Prices;
use crate::vendor::{Vendor, VendorCredential};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Shared-data key holding the newest snapshot's JSON. Written by the sync service only.
pub const SHARED_SNAPSHOT_KEY: &str = "keybrake/snapshot";
/// Shared-data key holding the [`SyncStatus`] record. Written after the snapshot, so a reader
/// that sees a new version always finds that snapshot (or a newer one).
pub const SHARED_STATUS_KEY: &str = "keybrake/status";

/// Everything a gateway needs to decide a call, as delivered by the control plane.
/// Unknown fields are ignored, so a newer control plane can add some.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Grows with every change on the control plane.
    pub version: u64,
    pub generated_at_ms: u64,
    pub keys: Vec<KeyEntry>,
    pub credentials: Vec<VendorCredential>,
    /// Operator-set conversion rates to USD; USD itself is implied.
    #[serde(default)]
    pub rates: Vec<RateEntry>,
    /// What Twilio and Resend calls cost; defaults apply to whatever is not set.
    #[serde(default)]
    pub prices: Prices,
}

/// One vault key's policy. The key itself is never here, only its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub key_id: String,
    /// Hex SHA-256 of the whole vault key.
    pub secret_sha256: String,
    pub vendor: Vendor,
    /// Daily cap in micro-USD. Must be greater than zero.
    pub daily_cap_micros: u64,
    /// Must not be empty.
    pub allowed_endpoints: Vec<EndpointPattern>,
    /// Unix milliseconds after which the key is refused.
    pub expires_at_ms: u64,
    pub revoked: bool,
    pub label: String,
}

/// The filter's view of a key, validated once per snapshot version.
#[derive(Clone, Debug)]
pub struct IndexedKey {
    pub key_id: VaultKeyId,
    pub hash: KeyHash,
    pub vendor: Vendor,
    pub daily_cap_micros: u64,
    pub allowed_endpoints: Vec<EndpointPattern>,
    pub expires_at_ms: u64,
    pub revoked: bool,
    pub label: String,
}

/// A snapshot turned into lookups: key id to policy, vendor to the `Authorization` value that
/// replaces the vault key.
#[derive(Clone, Debug, Default)]
pub struct PolicyIndex {
    pub version: u64,
    keys: HashMap<String, IndexedKey>,
    upstream_auth: HashMap<Vendor, String>,
    twilio_account_sid: Option<String>,
    pub rates: Rates,
    pub prices: Prices,
    /// Entries dropped because they did not validate; each such key is refused as unknown.
    pub skipped: usize,
}

/// Freshness record the sync service writes after every answer from the control plane:
/// the snapshot version it holds and when the control plane last confirmed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    pub version: u64,
    pub confirmed_at_ms: u64,
}

// === impl PolicyIndex ===

impl PolicyIndex {
    pub fn build(snapshot: Snapshot) -> Self {
        let mut skipped = 0;
        let mut keys = HashMap::with_capacity(snapshot.keys.len());
        for entry in snapshot.keys {
            match IndexedKey::try_from(entry) {
                Ok(k) => {
                    keys.insert(k.key_id.as_str().to_owned(), k);
                }
                Err(()) => skipped += 1,
            }
        }
        let upstream_auth = snapshot
            .credentials
            .iter()
            .map(|c| (c.vendor(), c.authorization()))
            .collect();
        let twilio_account_sid = snapshot.credentials.iter().find_map(|c| match c {
            VendorCredential::Twilio { account_sid, .. } => Some(account_sid.clone()),
            _ => None,
        });
        Self {
            version: snapshot.version,
            keys,
            upstream_auth,
            twilio_account_sid,
            rates: Rates::new(&snapshot.rates),
            prices: snapshot.prices,
            skipped,
        }
    }

    pub fn key(&self, id: &VaultKeyId) -> Option<&IndexedKey> {
        self.keys.get(id.as_str())
    }

    /// The real Twilio account SID, which replaces whatever SID an agent puts in the path.
    pub fn twilio_account_sid(&self) -> Option<&str> {
        self.twilio_account_sid.as_deref()
    }

    pub fn upstream_authorization(&self, vendor: Vendor) -> Option<&str> {
        self.upstream_auth.get(&vendor).map(String::as_str)
    }

    /// Every key id in the index (the sync service creates their budget records).
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl TryFrom<KeyEntry> for IndexedKey {
    type Error = ();
    fn try_from(e: KeyEntry) -> Result<Self, ()> {
        if e.allowed_endpoints.is_empty() || e.daily_cap_micros == 0 {
            return Err(());
        }
        Ok(Self {
            key_id: VaultKeyId::parse(&e.key_id).map_err(|_| ())?,
            hash: KeyHash::from_hex(&e.secret_sha256).map_err(|_| ())?,
            vendor: e.vendor,
            daily_cap_micros: e.daily_cap_micros,
            allowed_endpoints: e.allowed_endpoints,
            expires_at_ms: e.expires_at_ms,
            revoked: e.revoked,
            label: e.label,
        })
    }
}

// === impl SyncStatus ===

impl SyncStatus {
    pub const ENCODED_LEN: usize = 16;

    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.version.to_le_bytes());
        out[8..].copy_from_slice(&self.confirmed_at_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let version = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let confirmed_at_ms = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        Some(Self {
            version,
            confirmed_at_ms,
        })
    }

    /// True when the control plane confirmed this snapshot within `max_age_ms` of `now_ms`.
    pub fn is_fresh(&self, now_ms: u64, max_age_ms: u64) -> bool {
        now_ms.saturating_sub(self.confirmed_at_ms) <= max_age_ms
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
