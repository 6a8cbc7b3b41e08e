use super::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DAY: u32 = 20_000;
const KEY: &str = "kid_0123456789abcdef";

fn host_with(lease: u64) -> MemoryHost {
    let host = MemoryHost::default();
    ensure_record(&host, KEY, DAY).unwrap();
    apply_grant(&host, KEY, DAY, lease, 1).unwrap();
    host
}

#[test]
fn memory_host_copies_envoy_semantics() {
    let h = MemoryHost::default();
    assert_eq!(h.get("k"), None);
    assert_eq!(
        h.set("k", b"a", 12345),
        Ok(()),
        "a write to an absent key succeeds whatever its CAS"
    );
    let (_, cas) = h.get("k").unwrap();
    assert_ne!(cas, 0);
    assert_eq!(
        h.set("k", b"b", cas.wrapping_add(1)),
        Err(SetError::CasMismatch)
    );
    assert_eq!(h.set("k", b"c", cas), Ok(()));
    assert_eq!(
        h.set("k", b"d", cas),
        Err(SetError::CasMismatch),
        "the token moved on"
    );
    assert_eq!(h.set("k", b"e", 0), Ok(()), "CAS 0 is unconditional");
    assert_eq!(h.get("k").unwrap().0, b"e");
}

#[test]
fn reserve_and_settle_table() {
    struct Case {
        name: &'static str,
        lease: u64,
        reserve: u64,
        actual: Option<u64>,
        want_reserved: bool,
        want_spent: u64,
    }
    let cases = [
        Case {
            name: "fits",
            lease: 500,
            reserve: 100,
            actual: Some(100),
            want_reserved: true,
            want_spent: 100,
        },
        Case {
            name: "exactly the lease",
            lease: 500,
            reserve: 500,
            actual: Some(500),
            want_reserved: true,
            want_spent: 500,
        },
        Case {
            name: "one over the lease",
            lease: 500,
            reserve: 501,
            actual: None,
            want_reserved: false,
            want_spent: 0,
        },
        Case {
            name: "vendor error settles to zero",
            lease: 500,
            reserve: 100,
            actual: Some(0),
            want_reserved: true,
            want_spent: 0,
        },
        Case {
            name: "actual below the estimate",
            lease: 500,
            reserve: 100,
            actual: Some(40),
            want_reserved: true,
            want_spent: 40,
        },
        Case {
            name: "zero-cost reservation",
            lease: 0,
            reserve: 0,
            actual: Some(0),
            want_reserved: true,
            want_spent: 0,
        },
    ];
    for c in cases {
        let h = host_with(c.lease);
        let r = reserve(&h, KEY, DAY, c.reserve).unwrap();
        assert_eq!(
            matches!(r, Reservation::Reserved { .. }),
            c.want_reserved,
            "case {}",
            c.name
        );
        if let Reservation::Short { shortfall } = r {
            assert_eq!(shortfall, c.reserve - c.lease, "case {}", c.name);
        }
        if let Some(actual) = c.actual {
            settle(&h, KEY, c.reserve, actual).unwrap();
        }
        let rec = read(&h, KEY).unwrap();
        assert_eq!(rec.spent, c.want_spent, "case {}", c.name);
        assert_eq!(rec.reserved, 0, "case {}: nothing left reserved", c.name);
    }
}

#[test]
fn reservations_hold_room_until_settled() {
    let h = host_with(100);
    assert!(matches!(
        reserve(&h, KEY, DAY, 60).unwrap(),
        Reservation::Reserved { .. }
    ));
    assert_eq!(
        reserve(&h, KEY, DAY, 60).unwrap(),
        Reservation::Short { shortfall: 20 }
    );
    settle(&h, KEY, 60, 10).unwrap();
    assert!(matches!(
        reserve(&h, KEY, DAY, 60).unwrap(),
        Reservation::Reserved { .. }
    ));
}

#[test]
fn no_record_and_corrupt_records_fail_closed() {
    let h = MemoryHost::default();
    assert_eq!(reserve(&h, KEY, DAY, 1), Err(LedgerError::NoRecord));
    h.set(&budget_key(KEY), b"garbage", 0).unwrap();
    assert_eq!(reserve(&h, KEY, DAY, 1), Err(LedgerError::Corrupt));
}

#[test]
fn a_record_of_yesterday_has_no_room_today_until_a_grant_rolls_it_over() {
    let h = host_with(500);
    reserve(&h, KEY, DAY, 200).unwrap();
    settle(&h, KEY, 200, 200).unwrap();
    reserve(&h, KEY, DAY, 100).unwrap(); // in flight across midnight
    assert_eq!(
        reserve(&h, KEY, DAY + 1, 1).unwrap(),
        Reservation::Short { shortfall: 1 }
    );
    let rolled = apply_grant(&h, KEY, DAY + 1, 500, 1).unwrap();
    assert_eq!(
        (rolled.day, rolled.spent, rolled.reserved, rolled.lease),
        (DAY + 1, 0, 100, 500)
    );
    settle(&h, KEY, 100, 100).unwrap();
    assert_eq!(read(&h, KEY).unwrap().room(), 400);
}

#[test]
fn grants_apply_in_sequence_order_only() {
    let h = host_with(100);
    assert_eq!(apply_grant(&h, KEY, DAY, 300, 3).unwrap().lease, 300);
    assert_eq!(
        apply_grant(&h, KEY, DAY, 200, 2).unwrap().lease,
        300,
        "an older grant arriving late is ignored"
    );
    assert_eq!(
        apply_grant(&h, KEY, DAY - 1, 900, 9).unwrap().lease,
        300,
        "a grant for yesterday is ignored"
    );
}

#[test]
fn release_gives_back_only_what_is_unused() {
    let h = host_with(500);
    reserve(&h, KEY, DAY, 100).unwrap();
    settle(&h, KEY, 100, 100).unwrap();
    reserve(&h, KEY, DAY, 50).unwrap();
    let after = release(&h, KEY, 10).unwrap().unwrap();
    assert_eq!(after.lease, 160, "spent 100 + reserved 50 + keep 10");
    assert_eq!(
        release(&h, KEY, 10).unwrap(),
        None,
        "nothing more to give back"
    );
}

#[test]
fn ensure_record_never_overwrites() {
    let h = host_with(500);
    reserve(&h, KEY, DAY, 100).unwrap();
    let again = ensure_record(&h, KEY, DAY).unwrap();
    assert_eq!(again.reserved, 100, "a second ensure keeps the live record");
}

/// A settlement that meets contention is kept and retried (the filter retries it on the
/// worker's next request); it must land eventually and exactly once.
fn settle_eventually(host: &MemoryHost, reserved: u64, actual: u64) {
    loop {
        match settle(host, KEY, reserved, actual) {
            Ok(_) => return,
            Err(LedgerError::Contended) => std::thread::yield_now(),
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

/// Many threads race to reserve and settle against one lease: no interleaving may admit more
/// than the lease, and a lease with room for every call refuses none of them.
#[test]
fn concurrent_reservations_never_overshoot_the_lease() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 400;
    const PRICE: u64 = 10;
    // Every other call is charged; the rest settle to zero. With one reservation in flight per
    // thread at most, a lease of every charged call plus `THREADS` reservations never runs short.
    const CHARGED: u64 = THREADS * CALLS / 2 * PRICE;
    const ROOMY: u64 = CHARGED + THREADS * PRICE;
    for lease in [0u64, 5, 500, 1_000, ROOMY] {
        let host = Arc::new(host_with(lease));
        let admitted = Arc::new(AtomicU64::new(0));
        let short = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (host, admitted, short) =
                    (Arc::clone(&host), Arc::clone(&admitted), Arc::clone(&short));
                std::thread::spawn(move || {
                    for i in 0..CALLS {
                        match reserve(&*host, KEY, DAY, PRICE) {
                            Ok(Reservation::Reserved { .. }) => {
                                admitted.fetch_add(1, Ordering::SeqCst);
                                // Half the calls cost less than reserved, as a vendor error would.
                                let actual = if (t + i) % 2 == 0 { PRICE } else { 0 };
                                settle_eventually(&host, PRICE, actual);
                                if actual == 0 {
                                    admitted.fetch_sub(1, Ordering::SeqCst);
                                }
                            }
                            Ok(Reservation::Short { .. }) => {
                                short.fetch_add(1, Ordering::SeqCst);
                            }
                            // The filter refuses such a call (`policy_unavailable`); it holds
                            // nothing, so it cannot overshoot.
                            Err(LedgerError::Contended) => {}
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let rec = read(&*host, KEY).unwrap();
        assert_eq!(rec.reserved, 0, "lease {lease}: every reservation settled");
        assert!(
            rec.spent <= lease,
            "lease {lease}: spent {} overshoots",
            rec.spent
        );
        assert_eq!(
            rec.spent,
            admitted.load(Ordering::SeqCst) * PRICE,
            "lease {lease}: spend matches what was admitted and charged"
        );
        if lease >= ROOMY {
            assert_eq!(
                short.load(Ordering::SeqCst),
                0,
                "lease {lease}: room for every call, so no call is short"
            );
        } else {
            assert!(
                short.load(Ordering::SeqCst) > 0,
                "lease {lease}: a lease below the charged total turns calls away"
            );
        }
        if lease == 500 || lease == 1_000 {
            assert_eq!(
                rec.spent, lease,
                "lease {lease}: a busy key spends its whole lease, to the cent"
            );
        }
    }
}

#[test]
fn concurrent_grants_releases_and_reservations_keep_the_invariant() {
    let host = Arc::new(host_with(100));
    let granter = {
        let host = Arc::clone(&host);
        std::thread::spawn(move || {
            for seq in 2..200u64 {
                apply_grant(&*host, KEY, DAY, 100 + seq * 10, seq).unwrap();
                // The sync service logs a contended release and gives back on its next report.
                if seq % 7 == 0 {
                    match release(&*host, KEY, 0) {
                        Ok(_) | Err(LedgerError::Contended) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }
        })
    };
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let host = Arc::clone(&host);
            std::thread::spawn(move || {
                let mut charged = 0;
                for _ in 0..500 {
                    if let Ok(Reservation::Reserved { amount, record }) =
                        reserve(&*host, KEY, DAY, 7)
                    {
                        assert!(
                            record.spent + record.reserved <= record.lease,
                            "admitted beyond the lease: {record:?}"
                        );
                        settle_eventually(&host, amount, amount);
                        charged += amount;
                    }
                }
                charged
            })
        })
        .collect();
    granter.join().unwrap();
    let charged: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let rec = read(&*host, KEY).unwrap();
    assert_eq!(rec.lease, 100 + 199 * 10, "the last grant stands: {rec:?}");
    assert!(rec.spent <= rec.lease, "spent beyond the lease: {rec:?}");
    assert_eq!(rec.spent, charged, "every settlement landed once: {rec:?}");
    assert_eq!(rec.reserved, 0);
}

#[test]
fn record_encoding_round_trips() {
    let r = BudgetRecord {
        day: 7,
        lease: u64::MAX,
        grant_seq: 3,
        spent: 2,
        reserved: 1,
    };
    assert_eq!(BudgetRecord::decode(&r.encode()), Some(r));
    assert_eq!(BudgetRecord::decode(&[0; 5]), None);
}

#[test]
fn days_are_utc() {
    assert_eq!(day_of(0), 0);
    assert_eq!(day_of(86_399_999), 0);
    assert_eq!(day_of(86_400_000), 1);
}
