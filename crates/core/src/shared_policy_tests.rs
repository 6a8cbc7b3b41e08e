use super::*;
use crate::key::VaultKey;
use crate::ledger::MemoryHost;
use crate::snapshot::tests::entry;
use crate::snapshot::Snapshot;
use crate::vendor::Vendor;

const RETAIN: u64 = 86_400_000;
const NOW: u64 = 1_700_000_000_000;

/// A whole snapshot, as an update.
fn full(version: u64, keys: Vec<KeyEntry>) -> PolicyUpdate {
    PolicyUpdate {
        version,
        generated_at_ms: NOW,
        base: None,
        keys,
        credentials: Some(vec![VendorCredential::Stripe {
            api_key: "sk_test_x".into(),
        }]),
        rates: Some(vec![]),
        prices: Some(Default::default()),
    }
}

fn delta(base: u64, version: u64, keys: Vec<KeyEntry>) -> PolicyUpdate {
    PolicyUpdate {
        version,
        generated_at_ms: NOW,
        base: Some(base),
        keys,
        credentials: None,
        rates: None,
        prices: None,
    }
}

fn status(version: u64, globals_version: u64) -> SyncStatus {
    SyncStatus {
        version,
        confirmed_at_ms: NOW,
        globals_version,
    }
}

/// Counts the host reads a worker makes.
#[derive(Default)]
struct Counting {
    inner: MemoryHost,
    reads: std::cell::Cell<usize>,
}

impl SharedData for Counting {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), ledger::SetError> {
        self.inner.set(key, value, cas)
    }
}

/// Applies an update on the version it is for (a delta's base; nothing for a full snapshot).
fn publish<H: SharedData + ?Sized>(
    p: &mut Publisher,
    host: &H,
    u: &PolicyUpdate,
) -> Result<Applied, PublishError> {
    p.apply(host, u, u.base.unwrap_or_default(), NOW, RETAIN)
}

fn stripe_key() -> (VaultKey, KeyEntry) {
    let k = VaultKey::generate().unwrap();
    let e = entry(&k, Vendor::Stripe, &["POST /v1/payment_intents"]);
    (k, e)
}

#[test]
fn a_worker_reads_the_slot_of_the_presented_key_once_per_version_and_sees_a_revocation() {
    let host = Counting::default();
    let mut publisher = Publisher::default();
    let (a, ea) = stripe_key();
    let (b, eb) = stripe_key();
    publish(&mut publisher, &host, &full(5, vec![ea.clone(), eb])).unwrap();
    assert!(
        ledger::read(&host, a.id().as_str()).is_ok(),
        "budget record created"
    );

    let mut index = PolicyIndex::default();
    host.reads.set(0);
    index.refresh(&host, status(5, 5), Some(a.id())).unwrap();
    assert_eq!(host.reads.get(), 2, "globals and one slot");
    assert_eq!(index.key(a.id()).unwrap().label, "run-1");
    assert_eq!(
        index.upstream_authorization(Vendor::Stripe),
        Some("Bearer sk_test_x")
    );

    host.reads.set(0);
    index.refresh(&host, status(5, 5), Some(a.id())).unwrap();
    assert_eq!(host.reads.get(), 0, "steady state: no host read");

    // Another key changes: the worker re-checks a's slot once, and keeps its parse when the
    // slot did not change.
    let (_, ec) = stripe_key();
    publish(&mut publisher, &host, &delta(5, 6, vec![ec])).unwrap();
    host.reads.set(0);
    index.refresh(&host, status(6, 5), Some(a.id())).unwrap();
    assert_eq!(host.reads.get(), 1, "one slot read, no globals read");
    assert!(index.key(a.id()).is_some());

    let mut revoked = ea;
    revoked.revoked = true;
    publish(&mut publisher, &host, &delta(6, 7, vec![revoked])).unwrap();
    index.refresh(&host, status(7, 5), Some(a.id())).unwrap();
    assert!(index.key(a.id()).unwrap().revoked, "the revocation bites");
    index.refresh(&host, status(7, 5), Some(b.id())).unwrap();
    assert!(index.key(b.id()).is_some(), "b untouched");
}

#[test]
fn a_key_issued_after_the_worker_looked_is_found_on_the_next_version() {
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    publish(&mut publisher, &host, &full(1, vec![])).unwrap();
    let (a, ea) = stripe_key();
    let mut index = PolicyIndex::default();
    index.refresh(&host, status(1, 1), Some(a.id())).unwrap();
    assert!(index.key(a.id()).is_none(), "unknown at version 1");
    publish(&mut publisher, &host, &delta(1, 2, vec![ea])).unwrap();
    index.refresh(&host, status(2, 1), Some(a.id())).unwrap();
    assert!(index.key(a.id()).is_some(), "known at version 2");
}

#[test]
fn globals_are_re_read_only_when_their_version_moves() {
    let host = Counting::default();
    let mut publisher = Publisher::default();
    publish(&mut publisher, &host, &full(3, vec![])).unwrap();
    let mut index = PolicyIndex::default();
    index.refresh(&host, status(3, 3), None).unwrap();
    let mut update = delta(3, 4, vec![]);
    update.credentials = Some(vec![VendorCredential::Stripe {
        api_key: "sk_test_rotated".into(),
    }]);
    publish(&mut publisher, &host, &update).unwrap();
    host.reads.set(0);
    index.refresh(&host, status(4, 3), None).unwrap();
    assert_eq!(host.reads.get(), 0);
    index.refresh(&host, status(4, 4), None).unwrap();
    assert_eq!(host.reads.get(), 1);
    assert_eq!(
        index.upstream_authorization(Vendor::Stripe),
        Some("Bearer sk_test_rotated")
    );
}

#[test]
fn no_globals_in_shared_data_is_an_error_not_an_empty_policy() {
    let host = MemoryHost::default();
    let mut index = PolicyIndex::default();
    assert!(index.refresh(&host, status(1, 1), None).is_err());
    host.set(GLOBALS_KEY, b"{not json", 0).unwrap();
    assert!(index.refresh(&host, status(1, 1), None).is_err());
}

#[test]
fn a_full_snapshot_empties_the_slots_of_keys_it_no_longer_names() {
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    let (a, ea) = stripe_key();
    publish(&mut publisher, &host, &full(1, vec![ea])).unwrap();
    assert_eq!(publisher.occupied_slots(), 1);
    publish(&mut publisher, &host, &full(9, vec![])).unwrap();
    assert_eq!(publisher.occupied_slots(), 0);
    let mut index = PolicyIndex::default();
    index.refresh(&host, status(9, 9), Some(a.id())).unwrap();
    assert!(index.key(a.id()).is_none());
}

#[test]
fn retired_keys_leave_their_slots_on_the_next_write_or_sweep() {
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    let (a, mut ea) = stripe_key();
    ea.expires_at_ms = NOW + 1_000;
    publish(&mut publisher, &host, &full(1, vec![ea])).unwrap();
    // Expired but within the retention: still there, refused as expired by `decide`.
    assert_eq!(publisher.sweep(&host, NOW + 2_000, RETAIN, 10), 0);
    let later = NOW + 1_000 + RETAIN + 1;
    assert_eq!(publisher.sweep(&host, later, RETAIN, SLOTS as usize), 1);
    assert_eq!(publisher.occupied_slots(), 0);
    let mut index = PolicyIndex::default();
    index.refresh(&host, status(1, 1), Some(a.id())).unwrap();
    assert!(index.key(a.id()).is_none());
}

#[test]
fn keys_sharing_a_slot_are_kept_apart() {
    // Find two key ids in one slot (the birthday bound makes this quick).
    let mut by_slot: std::collections::HashMap<u32, (VaultKey, KeyEntry)> = Default::default();
    let (first, second) = loop {
        let (k, e) = stripe_key();
        let slot = slot_of(k.id().as_str());
        if let Some(prev) = by_slot.remove(&slot) {
            break (prev, (k, e));
        }
        by_slot.insert(slot, (k, e));
    };
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    publish(&mut publisher, &host, &full(1, vec![first.1.clone()])).unwrap();
    publish(&mut publisher, &host, &delta(1, 2, vec![second.1.clone()])).unwrap();
    let mut revoked = first.1;
    revoked.revoked = true;
    publish(&mut publisher, &host, &delta(2, 3, vec![revoked])).unwrap();
    let mut index = PolicyIndex::default();
    index
        .refresh(&host, status(3, 1), Some(first.0.id()))
        .unwrap();
    index
        .refresh(&host, status(3, 1), Some(second.0.id()))
        .unwrap();
    assert!(index.key(first.0.id()).unwrap().revoked);
    assert!(!index.key(second.0.id()).unwrap().revoked);
}

#[test]
fn the_worker_cache_is_bounded() {
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    publish(&mut publisher, &host, &full(1, vec![])).unwrap();
    let mut index = PolicyIndex::default();
    for _ in 0..MAX_CACHED_KEYS + 10 {
        let k = VaultKey::generate().unwrap();
        index.refresh(&host, status(1, 1), Some(k.id())).unwrap();
    }
    assert!(index.cached_len() <= MAX_CACHED_KEYS);
}

#[test]
fn update_wire_shapes() {
    // A full snapshot (as old gateways get it) reads as an update without a base.
    let snap = serde_json::to_vec(&Snapshot {
        version: 3,
        generated_at_ms: 1,
        keys: vec![],
        credentials: vec![],
        rates: vec![],
        prices: Default::default(),
    })
    .unwrap();
    let u: PolicyUpdate = serde_json::from_slice(&snap).unwrap();
    assert_eq!((u.base, u.credentials.is_some()), (None, true));
    let d = serde_json::to_value(delta(3, 4, vec![])).unwrap();
    assert_eq!(d["base"], 3);
    assert!(d.get("credentials").is_none(), "{d}");
    let back: PolicyUpdate = serde_json::from_value(d).unwrap();
    assert!(back.credentials.is_none());
}

#[test]
fn a_full_snapshot_streams_into_slots_with_flat_memory_and_every_key_findable() {
    // 3,000 keys through the streaming reader in 7-byte reads: the parse never holds the body.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let keys: Vec<(VaultKey, KeyEntry)> = (0..3_000).map(|_| stripe_key()).collect();
    let body = serde_json::to_vec(&full(8, keys.iter().map(|(_, e)| e.clone()).collect())).unwrap();
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    let applied = publisher
        .apply_json(&host, Trickle(&body), 0, NOW, RETAIN)
        .unwrap();
    assert_eq!(
        (applied.version, applied.base, applied.keys, applied.globals),
        (8, None, 3_000, true)
    );
    let mut index = PolicyIndex::default();
    for (k, _) in &keys {
        index.refresh(&host, status(8, 8), Some(k.id())).unwrap();
        assert!(index.key(k.id()).is_some());
    }
}

#[test]
fn a_delta_for_another_base_writes_nothing() {
    let host = MemoryHost::default();
    let mut publisher = Publisher::default();
    publish(&mut publisher, &host, &full(1, vec![])).unwrap();
    let (a, ea) = stripe_key();
    let err = publisher
        .apply(&host, &delta(2, 3, vec![ea]), 1, NOW, RETAIN)
        .unwrap_err();
    assert!(
        err.to_string().contains("from version 2 while holding 1"),
        "{err}"
    );
    let mut index = PolicyIndex::default();
    index.refresh(&host, status(1, 1), Some(a.id())).unwrap();
    assert!(index.key(a.id()).is_none());
}
