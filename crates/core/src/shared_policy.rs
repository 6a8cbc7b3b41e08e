//! The policy as the sync service keeps it in Envoy's shared data, and how a worker reads it
//! (data plane v2).
//!
//! - Key policies live in [`SLOTS`] fixed entries (`keybrake/keys/<slot>`), each a JSON array
//!   of the [`KeyEntry`]s whose key id hashes to it. A change rewrites the one slot it touches,
//!   so a change costs the workers nothing, and a worker reads only the slot of the key a
//!   request presents — again only when the status version moved since it last checked, and
//!   parses it only when the slot's CAS moved. Envoy's shared data has no delete (see
//!   `counted`), so per-key entries would grow with every key ever issued; fixed slots keep
//!   memory at the live keys plus at most [`SLOTS`] small entries.
//! - What is not per key (vendor credentials, conversion rates, prices) lives in one
//!   [`GLOBALS_KEY`] entry; [`SyncStatus::globals_version`] tells a worker when to re-read it.
//! - [`SHARED_STATUS_KEY`] is written last, so a worker that sees a version finds every slot
//!   and budget record of that version.
//!
//! The control plane answers a poll with a [`PolicyUpdate`]: the whole snapshot, or (with
//! `delta=1` and a base version it can build from) the keys changed since then.

use crate::currency::{RateEntry, Rates};
use crate::key::VaultKeyId;
use crate::ledger::{self, SharedData};
use crate::prices::Prices;
use crate::snapshot::{IndexedKey, KeyEntry, PolicyIndex, SyncStatus};
use crate::vendor::VendorCredential;
use serde::{Deserialize, Serialize};

/// Shared-data key of the [`Globals`] entry.
pub const GLOBALS_KEY: &str = "keybrake/globals";
/// Shared-data key prefix of the key slots.
pub const SLOT_PREFIX: &str = "keybrake/keys/";
/// Number of key slots: with 100,000 keys about 1.5 keys (~450 bytes) per slot read.
pub const SLOTS: u32 = 65_536;
/// Keys a worker keeps parsed; past this the cache starts over (each entry ~400 bytes).
pub const MAX_CACHED_KEYS: usize = 16_384;
/// Keys stay in the policy this long past their expiry, so that a gateway refuses them as
/// expired (or revoked) rather than unknown; then they leave the slots (and the control
/// plane's snapshots).
pub const RETAIN_AFTER_EXPIRY_MS: u64 = 24 * 3_600_000;
/// A slot holding no key.
const EMPTY_SLOT: &[u8] = b"[]";

/// What the control plane answers a snapshot poll with. A full snapshot has no `base` and
/// every field; a delta has `base` (the version it applies to), the keys issued or revoked
/// since, and credentials, rates and prices only when one of them changed since `base`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyUpdate {
    pub version: u64,
    pub generated_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u64>,
    pub keys: Vec<KeyEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<VendorCredential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<Vec<RateEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
}

/// Credentials, rates and prices: the part of the policy every key shares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Globals {
    pub credentials: Vec<VendorCredential>,
    #[serde(default)]
    pub rates: Vec<RateEntry>,
    #[serde(default)]
    pub prices: Prices,
}

/// A failure to publish an update; the sync service then asks for a full snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("unreadable policy update: {0}")]
    Unreadable(String),
    #[error("shared data refused the write of {0}")]
    Write(String),
    #[error("cannot encode {0}: {1}")]
    Encode(&'static str, String),
}

/// The sync service's side: which slots hold keys, and where the sweep of retired keys is.
#[derive(Debug)]
pub struct Publisher {
    /// One bit per slot written with at least one key.
    occupied: Vec<u64>,
    /// The next slot the sweep looks at.
    sweep_next: u32,
}

/// What [`Publisher::apply_json`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The version the update brings the gateway to.
    pub version: u64,
    /// `None`: a full snapshot; `Some(v)`: a delta from `v`.
    pub base: Option<u64>,
    /// Keys written (changed or, for a full snapshot, all).
    pub keys: usize,
    /// Slots written (a slot is written once per key it receives).
    pub slots: usize,
    /// Whether credentials, rates and prices were rewritten.
    pub globals: bool,
}

/// The slot of a key id: FNV-1a (64-bit) of the id modulo [`SLOTS`], stable across processes.
pub fn slot_of(key_id: &str) -> u32 {
    let hash = key_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    u32::try_from(hash % u64::from(SLOTS)).unwrap_or(0)
}

/// The shared-data key of slot `slot`.
pub fn slot_key(slot: u32) -> String {
    format!("{SLOT_PREFIX}{slot}")
}

// === impl Publisher ===

impl Default for Publisher {
    fn default() -> Self {
        Self {
            occupied: slot_bits(),
            sweep_next: 0,
        }
    }
}

impl Publisher {
    fn is_occupied(&self, slot: u32) -> bool {
        bit(&self.occupied, slot)
    }

    fn mark(&mut self, slot: u32, occupied: bool) {
        set_bit(&mut self.occupied, slot, occupied);
    }

    /// Slots holding keys now.
    pub fn occupied_slots(&self) -> usize {
        self.occupied
            .iter()
            .map(|w| usize::try_from(w.count_ones()).unwrap_or(0))
            .sum()
    }

    /// Writes `update` into shared data ([`Publisher::apply_json`] of its JSON).
    pub fn apply<H: SharedData + ?Sized>(
        &mut self,
        host: &H,
        update: &PolicyUpdate,
        held_version: u64,
        now_ms: u64,
        retain_ms: u64,
    ) -> Result<Applied, PublishError> {
        let json = serde_json::to_vec(update)
            .map_err(|e| PublishError::Encode("update", e.to_string()))?;
        self.apply_json(host, json.as_slice(), held_version, now_ms, retain_ms)
    }

    /// Reads a [`PolicyUpdate`] from `reader` (the control plane's answer, straight from
    /// Envoy's buffer) and writes it into shared data key by key as it is parsed, so memory
    /// stays flat however many keys a full snapshot holds: for each key its budget record (if
    /// it can be used, so a worker that finds a key finds its record), then its slot; after the
    /// keys, the globals. The caller writes the status afterwards.
    ///
    /// A full snapshot replaces every slot (slots it does not name are emptied); a delta must
    /// apply to `held_version` and replaces only the keys it names. Keys expired more than
    /// `retain_ms` ago are dropped from the slots they share. On an error part of the update
    /// may be written; the caller then asks for a full snapshot.
    pub fn apply_json<H: SharedData + ?Sized, R: std::io::Read>(
        &mut self,
        host: &H,
        reader: R,
        held_version: u64,
        now_ms: u64,
        retain_ms: u64,
    ) -> Result<Applied, PublishError> {
        use serde::de::Deserializer as _;
        let mut de = serde_json::Deserializer::from_reader(reader);
        let visitor = stream::UpdateVisitor {
            publisher: self,
            host,
            held_version,
            now_ms,
            retain_ms,
        };
        let applied = de
            .deserialize_map(visitor)
            .map_err(|e| PublishError::Unreadable(e.to_string()))?;
        de.end()
            .map_err(|e| PublishError::Unreadable(e.to_string()))?;
        Ok(applied)
    }

    /// Writes one key of an update into its slot. `fresh` is the set of slots a full snapshot
    /// has written so far (`None` for a delta): a slot's first key in a full snapshot replaces
    /// whatever the slot held.
    fn put<H: SharedData + ?Sized>(
        &mut self,
        host: &H,
        entry: KeyEntry,
        fresh: Option<&mut Vec<u64>>,
        now_ms: u64,
        retain_ms: u64,
    ) -> Result<(), PublishError> {
        if !entry.revoked && now_ms < entry.expires_at_ms {
            ledger::ensure_record(host, &entry.key_id, ledger::day_of(now_ms))
                .map_err(|_| PublishError::Write(ledger::budget_key(&entry.key_id)))?;
        }
        let slot = slot_of(&entry.key_id);
        let mut entries = match fresh {
            Some(seen) if !bit(seen, slot) => {
                set_bit(seen, slot, true);
                Vec::new()
            }
            _ => read_slot(host, slot),
        };
        entries.retain(|e| e.key_id != entry.key_id && !retired(e, now_ms, retain_ms));
        if !retired(&entry, now_ms, retain_ms) {
            entries.push(entry);
        }
        self.write_slot(host, slot, &entries)
    }

    fn write_slot<H: SharedData + ?Sized>(
        &mut self,
        host: &H,
        slot: u32,
        entries: &[KeyEntry],
    ) -> Result<(), PublishError> {
        let bytes = if entries.is_empty() {
            EMPTY_SLOT.to_vec()
        } else {
            serde_json::to_vec(entries).map_err(|e| PublishError::Encode("keys", e.to_string()))?
        };
        let key = slot_key(slot);
        host.set(&key, &bytes, 0)
            .map_err(|_| PublishError::Write(key))?;
        self.mark(slot, !entries.is_empty());
        Ok(())
    }

    /// Looks at up to `max_slots` occupied slots, from where the last sweep stopped, and drops
    /// keys expired more than `retain_ms` ago; returns how many keys it dropped. Only the
    /// sync service writes slots, so no CAS is needed.
    pub fn sweep<H: SharedData + ?Sized>(
        &mut self,
        host: &H,
        now_ms: u64,
        retain_ms: u64,
        max_slots: usize,
    ) -> usize {
        let mut looked = 0;
        let mut dropped = 0;
        let mut steps = 0;
        while looked < max_slots && steps < SLOTS {
            let slot = self.sweep_next;
            self.sweep_next = (self.sweep_next + 1) % SLOTS;
            steps += 1;
            if !self.is_occupied(slot) {
                continue;
            }
            looked += 1;
            let mut entries = read_slot(host, slot);
            let before = entries.len();
            entries.retain(|e| !retired(e, now_ms, retain_ms));
            if entries.len() != before && self.write_slot(host, slot, &entries).is_ok() {
                dropped += before - entries.len();
            }
        }
        dropped
    }
}

/// An empty slot bitset (one bit per slot).
fn slot_bits() -> Vec<u64> {
    vec![0; usize::try_from(SLOTS / 64).unwrap_or(1024)]
}

fn bit(bits: &[u64], slot: u32) -> bool {
    let (word, b) = (usize::try_from(slot / 64).unwrap_or(0), slot % 64);
    bits.get(word).is_some_and(|w| w & (1 << b) != 0)
}

fn set_bit(bits: &mut [u64], slot: u32, on: bool) {
    let (word, b) = (usize::try_from(slot / 64).unwrap_or(0), slot % 64);
    if let Some(w) = bits.get_mut(word) {
        if on {
            *w |= 1 << b;
        } else {
            *w &= !(1 << b);
        }
    }
}

/// Whether a key expired more than `retain_ms` ago: gateways no longer need it (until then a
/// call with it is refused as expired, not unknown).
fn retired(e: &KeyEntry, now_ms: u64, retain_ms: u64) -> bool {
    e.expires_at_ms.saturating_add(retain_ms) < now_ms
}

/// A slot's keys; an absent or unreadable slot holds none.
fn read_slot<H: SharedData + ?Sized>(host: &H, slot: u32) -> Vec<KeyEntry> {
    host.get(&slot_key(slot))
        .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

// === impl PolicyIndex (the worker's side) ===

impl PolicyIndex {
    /// Brings the index up to `status` for a request presenting `key_id` (if any): re-reads
    /// the globals when their version moved, and the key's slot when the status version moved
    /// since this key was last checked, parsing it only when the slot changed. Host reads in
    /// steady state: none.
    ///
    /// Errors when the globals are missing or unreadable (the caller refuses the call
    /// `policy_unavailable`); an unreadable slot leaves the key unknown.
    pub fn refresh<H: SharedData + ?Sized>(
        &mut self,
        host: &H,
        status: SyncStatus,
        key_id: Option<&VaultKeyId>,
    ) -> Result<(), String> {
        if self.globals_version != status.globals_version || self.globals_version == 0 {
            let (bytes, _) = host
                .get(GLOBALS_KEY)
                .ok_or_else(|| "no policy in shared data yet".to_owned())?;
            let globals: Globals = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the shared policy is unreadable: {e}"))?;
            self.set_globals(globals, status.globals_version);
        }
        self.version = status.version;
        let Some(id) = key_id else {
            return Ok(());
        };
        if self
            .cached(id.as_str())
            .is_some_and(|c| c.checked_at == status.version)
        {
            return Ok(());
        }
        let slot = host.get(&slot_key(slot_of(id.as_str())));
        let cas = slot.as_ref().map_or(0, |(_, cas)| *cas);
        if let Some(c) = self.cached_mut(id.as_str()) {
            if c.cas == cas && cas != 0 {
                c.checked_at = status.version;
                return Ok(());
            }
        }
        let key = slot
            .and_then(|(bytes, _)| serde_json::from_slice::<Vec<KeyEntry>>(&bytes).ok())
            .and_then(|entries| entries.into_iter().find(|e| e.key_id == id.as_str()))
            .and_then(|e| IndexedKey::try_from(e).ok());
        self.cache_key(id.as_str(), key, status.version, cas);
        Ok(())
    }

    fn set_globals(&mut self, globals: Globals, version: u64) {
        self.upstream_auth = globals
            .credentials
            .iter()
            .map(|c| (c.vendor(), c.authorization()))
            .collect();
        self.twilio_account_sid = globals.credentials.iter().find_map(|c| match c {
            VendorCredential::Twilio { account_sid, .. } => Some(account_sid.clone()),
            _ => None,
        });
        self.rates = Rates::new(&globals.rates);
        self.prices = globals.prices;
        self.globals_version = version;
    }
}

/// The streaming parse of an update: serde visitors that hand each key to
/// [`Publisher::put`] as soon as it is read.
mod stream {
    use super::*;
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    pub(super) struct UpdateVisitor<'a, H: ?Sized> {
        pub(super) publisher: &'a mut Publisher,
        pub(super) host: &'a H,
        pub(super) held_version: u64,
        pub(super) now_ms: u64,
        pub(super) retain_ms: u64,
    }

    struct KeysSeed<'a, 'b, H: ?Sized> {
        parent: &'b mut UpdateVisitor<'a, H>,
        fresh: Option<&'b mut Vec<u64>>,
        written: &'b mut usize,
    }

    impl<'de, H: SharedData + ?Sized> Visitor<'de> for UpdateVisitor<'_, H> {
        type Value = Applied;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a policy snapshot or delta (a JSON object)")
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Applied, A::Error> {
            let mut applied = Applied::default();
            let mut version = None;
            let mut keys_seen = false;
            let mut fresh: Option<Vec<u64>> = None;
            let mut credentials: Option<Vec<VendorCredential>> = None;
            let mut rates: Option<Vec<RateEntry>> = None;
            let mut prices: Option<Prices> = None;
            while let Some(field) = map.next_key::<String>()? {
                match field.as_str() {
                    "version" => version = Some(map.next_value::<u64>()?),
                    "base" => {
                        if keys_seen {
                            return Err(de::Error::custom("`base` after `keys`"));
                        }
                        applied.base = map.next_value::<Option<u64>>()?;
                        if let Some(base) = applied.base.filter(|b| *b != self.held_version) {
                            return Err(de::Error::custom(format!(
                                "a delta from version {base} while holding {}",
                                self.held_version
                            )));
                        }
                    }
                    "keys" => {
                        if keys_seen {
                            return Err(de::Error::custom("`keys` twice"));
                        }
                        keys_seen = true;
                        if applied.base.is_none() {
                            fresh = Some(slot_bits());
                        }
                        let mut written = 0;
                        map.next_value_seed(KeysSeed {
                            parent: &mut self,
                            fresh: fresh.as_mut(),
                            written: &mut written,
                        })?;
                        applied.keys = written;
                        applied.slots = written;
                    }
                    "credentials" => credentials = map.next_value()?,
                    "rates" => rates = map.next_value()?,
                    "prices" => prices = map.next_value()?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            applied.version = version.ok_or_else(|| de::Error::missing_field("version"))?;
            if !keys_seen {
                return Err(de::Error::missing_field("keys"));
            }
            if let Some(fresh) = fresh {
                // A full snapshot: slots it did not name hold no key any more.
                for slot in 0..SLOTS {
                    if self.publisher.is_occupied(slot) && !bit(&fresh, slot) {
                        self.publisher
                            .write_slot(self.host, slot, &[])
                            .map_err(de::Error::custom)?;
                        applied.slots += 1;
                    }
                }
            }
            if let Some(credentials) = credentials {
                let globals = Globals {
                    credentials,
                    rates: rates.unwrap_or_default(),
                    prices: prices.unwrap_or_default(),
                };
                let bytes = serde_json::to_vec(&globals).map_err(de::Error::custom)?;
                self.host
                    .set(GLOBALS_KEY, &bytes, 0)
                    .map_err(|_| de::Error::custom(PublishError::Write(GLOBALS_KEY.to_owned())))?;
                applied.globals = true;
            } else if applied.base.is_none() {
                return Err(de::Error::missing_field("credentials"));
            }
            Ok(applied)
        }
    }

    impl<'de, H: SharedData + ?Sized> DeserializeSeed<'de> for KeysSeed<'_, '_, H> {
        type Value = ();

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, H: SharedData + ?Sized> Visitor<'de> for KeysSeed<'_, '_, H> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of key policies")
        }

        fn visit_seq<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<(), S::Error> {
            while let Some(entry) = seq.next_element::<KeyEntry>()? {
                let p = &mut *self.parent;
                p.publisher
                    .put(
                        p.host,
                        entry,
                        self.fresh.as_deref_mut(),
                        p.now_ms,
                        p.retain_ms,
                    )
                    .map_err(de::Error::custom)?;
                *self.written += 1;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "shared_policy_tests.rs"]
mod tests;
