//! The policy snapshot the control plane delivers to every gateway, and the per-VM index a
//! worker keeps of it (filled key by key from shared data: [`crate::shared_policy`]).
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

/// Shared-data key holding the [`SyncStatus`] record. Written after the policy it describes, so
/// a reader that sees a new version always finds that policy (or a newer one).
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

/// A worker's lookups: key id to policy (the keys requests presented, at most
/// [`crate::shared_policy::MAX_CACHED_KEYS`]), vendor to the `Authorization` value that replaces
/// the vault key, rates and prices.
#[derive(Clone, Debug, Default)]
pub struct PolicyIndex {
    /// The status version the index was last brought up to.
    pub version: u64,
    /// The version of the credentials, rates and prices held.
    pub(crate) globals_version: u64,
    keys: HashMap<String, CachedKey>,
    pub(crate) upstream_auth: HashMap<Vendor, String>,
    pub(crate) twilio_account_sid: Option<String>,
    pub rates: Rates,
    pub prices: Prices,
    /// Entries dropped because they did not validate; each such key is refused as unknown.
    pub skipped: usize,
}

/// One key as a worker last found it in its shared-data slot (`None`: not there).
#[derive(Clone, Debug)]
pub(crate) struct CachedKey {
    pub(crate) key: Option<IndexedKey>,
    /// Status version at which the slot was last checked.
    pub(crate) checked_at: u64,
    /// The slot's CAS token then (0: absent).
    pub(crate) cas: u32,
}

/// Freshness record the sync service writes after every answer from the control plane:
/// the snapshot version it holds, when the control plane last confirmed it, and the version
/// of the credentials, rates and prices in shared data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    pub version: u64,
    pub confirmed_at_ms: u64,
    pub globals_version: u64,
}

// === impl PolicyIndex ===

impl PolicyIndex {
    /// The index of a whole snapshot, every key cached (tests and tools).
    pub fn build(snapshot: Snapshot) -> Self {
        let mut skipped = 0;
        let mut keys = HashMap::with_capacity(snapshot.keys.len());
        for entry in snapshot.keys {
            match IndexedKey::try_from(entry) {
                Ok(k) => {
                    let id = k.key_id.as_str().to_owned();
                    let cached = CachedKey {
                        key: Some(k),
                        checked_at: snapshot.version,
                        cas: 0,
                    };
                    keys.insert(id, cached);
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
            globals_version: snapshot.version,
            keys,
            upstream_auth,
            twilio_account_sid,
            rates: Rates::new(&snapshot.rates),
            prices: snapshot.prices,
            skipped,
        }
    }

    /// The key's policy, if the key was found when last checked and that check was at the
    /// index's current version (a key not brought up to date is unknown, never stale).
    pub fn key(&self, id: &VaultKeyId) -> Option<&IndexedKey> {
        self.keys
            .get(id.as_str())
            .filter(|c| c.checked_at == self.version)
            .and_then(|c| c.key.as_ref())
    }

    pub(crate) fn cached(&self, id: &str) -> Option<&CachedKey> {
        self.keys.get(id)
    }

    pub(crate) fn cached_mut(&mut self, id: &str) -> Option<&mut CachedKey> {
        self.keys.get_mut(id)
    }

    /// Remembers what the slot said about `id`; the cache starts over when full.
    pub(crate) fn cache_key(&mut self, id: &str, key: Option<IndexedKey>, version: u64, cas: u32) {
        if self.keys.len() >= crate::shared_policy::MAX_CACHED_KEYS && !self.keys.contains_key(id) {
            self.keys.clear();
        }
        self.keys.insert(
            id.to_owned(),
            CachedKey {
                key,
                checked_at: version,
                cas,
            },
        );
    }

    /// The real Twilio account SID, which replaces whatever SID an agent puts in the path.
    pub fn twilio_account_sid(&self) -> Option<&str> {
        self.twilio_account_sid.as_deref()
    }

    pub fn upstream_authorization(&self, vendor: Vendor) -> Option<&str> {
        self.upstream_auth.get(&vendor).map(String::as_str)
    }

    /// Keys cached (found or not).
    pub fn cached_len(&self) -> usize {
        self.keys.len()
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
    /// Three little-endian `u64`s: version, confirmed at, globals version.
    pub const ENCODED_LEN: usize = 24;

    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.version.to_le_bytes());
        out[8..16].copy_from_slice(&self.confirmed_at_ms.to_le_bytes());
        out[16..].copy_from_slice(&self.globals_version.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let version = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let confirmed_at_ms = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let globals_version = u64::from_le_bytes(bytes.get(16..24)?.try_into().ok()?);
        Some(Self {
            version,
            confirmed_at_ms,
            globals_version,
        })
    }

    /// True when the control plane confirmed this snapshot within `max_age_ms` of `now_ms`.
    pub fn is_fresh(&self, now_ms: u64, max_age_ms: u64) -> bool {
        now_ms.saturating_sub(self.confirmed_at_ms) <= max_age_ms
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
pub(crate) mod tests;
