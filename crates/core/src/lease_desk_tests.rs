use super::*;
use crate::ledger::{BudgetRecord, MemoryHost};

const KEY: &str = "kid_0123456789abcdef";
const OTHER: &str = "kid_fedcba9876543210";

/// An answered round as (key, day, waiters).
fn parts(a: Option<Answered<u32>>) -> Option<(String, u32, Vec<u32>)> {
    a.map(|a| (a.key_id.clone(), a.day, a.into_waiters()))
}

#[test]
fn one_request_per_key_asks_for_every_waiting_call() {
    let mut desk = LeaseDesk::default();
    assert!(!desk.has_due());
    desk.join(KEY, 10, 1u32);
    desk.join(KEY, 4, 2);
    desk.join(OTHER, 7, 3);
    assert!(desk.has_due());
    assert_eq!(
        desk.due(0),
        [
            Due {
                key_id: KEY.into(),
                want_micros: 14,
                min_micros: 4
            },
            Due {
                key_id: OTHER.into(),
                want_micros: 7,
                min_micros: 7
            },
        ]
    );
    desk.sent(KEY, 100, 1, 9, 1_000);
    desk.sent(OTHER, 101, 3, 9, 1_000);
    assert!(!desk.has_due(), "both rounds are in flight");
    // A call joining a round in flight waits on it; nothing more is sent.
    desk.join(KEY, 5, 4);
    assert!(!desk.has_due());
    assert_eq!(desk.waiting(), 4);

    assert!(desk.answered(7).is_none(), "an unknown token");
    assert_eq!(
        parts(desk.answered(100)),
        Some((KEY.into(), 9, vec![1, 2, 4]))
    );
    assert!(desk.answered(100).is_none(), "answered once");
    assert_eq!(desk.waiting(), 1);
    // A call still short after the answer starts the next round.
    desk.join(KEY, 5, 4);
    assert_eq!(desk.due(0).len(), 1);
    assert_eq!(desk.due(0)[0].want_micros, 5);
}

#[test]
fn a_round_whose_owner_ended_is_sent_again_and_its_old_token_is_forgotten() {
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.join(KEY, 10, 2);
    desk.sent(KEY, 100, 1, 9, 1_000);
    desk.owner_gone(2);
    assert!(!desk.has_due(), "another context's end changes nothing");
    desk.owner_gone(1);
    assert!(desk.has_due());
    assert_eq!(desk.due(0)[0].want_micros, 20);
    desk.sent(KEY, 101, 7, 9, 1_000);
    assert!(desk.answered(100).is_none(), "the cancelled callout");
    assert_eq!(
        parts(desk.answered(101)).map(|(_, _, w)| w),
        Some(vec![1, 2])
    );
    assert!(desk.is_empty());

    // A round whose calls all left and whose owner ended is forgotten.
    desk.join(KEY, 10, 1u32);
    desk.sent(KEY, 102, 1, 9, 1_000);
    desk.leave(|w| *w == 1);
    desk.owner_gone(1);
    assert!(desk.is_empty() && !desk.has_due());
}

#[test]
fn calls_that_leave_stop_waiting_and_an_empty_round_is_not_sent() {
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.join(OTHER, 10, 2);
    desk.sent(OTHER, 100, 2, 9, 1_000);
    desk.leave(|w| *w == 1 || *w == 2);
    assert!(!desk.has_due());
    assert!(desk.due(0).is_empty());
    assert_eq!(desk.waiting(), 0);
    // The round in flight still resolves (its grant is applied), with no one to wake.
    assert_eq!(parts(desk.answered(100)), Some((OTHER.into(), 9, vec![])));
    assert_eq!(desk.not_sent(KEY), Vec::<u32>::new());
}

#[test]
fn a_failed_round_is_sent_again_a_bounded_number_of_times() {
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.join(KEY, 5, 2);
    let mut token = 100;
    desk.sent(KEY, token, 1, 9, 1_000);
    for n in 1..=u64::from(MAX_LEASE_RETRIES) {
        let a = desk.answered(token).unwrap();
        assert!(a.may_retry(1_000, 3_000));
        desk.retry(a, 1_000);
        assert!(desk.has_due());
        let at = 1_000 + n * LEASE_RETRY_PAUSE_MS;
        assert!(desk.due(at - 1).is_empty(), "retry {n} pauses");
        assert_eq!(desk.due(at)[0].want_micros, 15, "the same calls");
        token += 1;
        desk.sent(KEY, token, 1, 9, 1_000);
    }
    let a = desk.answered(token).unwrap();
    assert!(!a.may_retry(1_000, 3_000), "retries are bounded");
    assert_eq!(a.into_waiters(), vec![1, 2]);
    assert!(desk.is_empty());
    for (status, again) in [
        (0, true),
        (503, true),
        (502, true),
        (504, true),
        (500, false),
        (401, false),
        (409, false),
        (200, false),
    ] {
        assert_eq!(retryable(status), again, "status {status}");
    }
}

#[test]
fn a_round_is_not_sent_again_past_the_lease_timeout_from_its_first_send() {
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.sent(KEY, 100, 1, 9, 1_000);
    let a = desk.answered(100).unwrap();
    assert!(a.may_retry(3_999, 3_000));
    desk.retry(a, 3_999);
    desk.sent(KEY, 101, 1, 9, 4_500);
    let a = desk.answered(101).unwrap();
    assert!(
        !a.may_retry(4_000, 3_000),
        "timed from the first send, not the retry"
    );
}

#[test]
fn an_answer_concludes_the_round_or_puts_it_back_for_a_retry() {
    let shared = shared_with_record();
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.sent(KEY, 100, 1, 9, 1_000);
    // Lost with a replica: sent again after its pause.
    let a = desk.answered(100).unwrap();
    assert!(desk.conclude(&shared, a, 503, None, 1_100, 3_000).is_none());
    assert!(desk.has_due());
    assert!(desk.due(1_100).is_empty() && desk.due(1_100 + LEASE_RETRY_PAUSE_MS).len() == 1);
    desk.sent(KEY, 101, 1, 9, 1_400);
    // A refusal no other replica would change: concluded, its calls refused.
    let a = desk.answered(101).unwrap();
    let c = desk
        .conclude(&shared, a, 401, Some(&b"{}"[..]), 1_500, 3_000)
        .unwrap();
    assert_eq!((c.resolution, c.waiters), (Resolution::Failed, vec![1]));
    assert!(c.message.unwrap().contains("status 401"));
    // A grant: applied once, its calls woken to try again.
    desk.join(KEY, 10, 2);
    desk.sent(KEY, 102, 1, 9, 2_000);
    let body = serde_json::to_vec(&grant(9, 50, 1)).unwrap();
    let a = desk.answered(102).unwrap();
    let c = desk
        .conclude(&shared, a, 200, Some(&body), 2_100, 3_000)
        .unwrap();
    assert_eq!((c.resolution, c.waiters), (Resolution::Grew, vec![2]));
    assert_eq!(ledger::read(&shared, KEY).unwrap().lease, 50);
    assert!(desk.is_empty());
    // Past the lease timeout, even a retryable failure concludes.
    desk.join(KEY, 10, 3);
    desk.sent(KEY, 103, 1, 9, 5_000);
    let a = desk.answered(103).unwrap();
    let c = desk.conclude(&shared, a, 0, None, 8_000, 3_000).unwrap();
    assert_eq!(c.resolution, Resolution::Failed);
}

#[test]
fn a_round_that_cannot_be_sent_hands_back_its_calls() {
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 10, 1u32);
    desk.join(KEY, 3, 2);
    assert_eq!(desk.not_sent(KEY), vec![1, 2]);
    assert!(!desk.has_due());
    assert!(desk.rounds.is_empty());
}

fn grant(day: u32, lease: u64, seq: u64) -> LeaseGrant {
    LeaseGrant {
        key_id: KEY.into(),
        day,
        lease_micros: lease,
        seq,
    }
}

#[test]
fn how_a_round_ends_table() {
    let rec = |day, lease, seq| BudgetRecord {
        day,
        lease,
        grant_seq: seq,
        spent: 0,
        reserved: 0,
    };
    let cases = [
        ("the lease grew", grant(9, 200, 2), rec(9, 100, 1), true),
        (
            "nothing grew: no room",
            grant(9, 100, 1),
            rec(9, 100, 1),
            false,
        ),
        ("a new day", grant(10, 100, 1), rec(9, 100, 1), true),
        (
            "another worker applied a newer grant: this answer is stale",
            grant(9, 100, 1),
            rec(9, 300, 2),
            true,
        ),
        (
            "the first grant of the day",
            grant(9, 50, 1),
            rec(8, 900, 7),
            true,
        ),
    ];
    for (name, g, before, want) in cases {
        assert_eq!(grew(&g, 9, &before), want, "case {name}");
    }
}

/// Shared data holding a record of `key` for day 9 with no lease yet.
fn shared_with_record() -> MemoryHost {
    let shared = MemoryHost::default();
    let record = BudgetRecord {
        day: 9,
        ..BudgetRecord::default()
    };
    shared
        .set(&ledger::budget_key(KEY), &record.encode(), 0)
        .unwrap();
    shared
}

#[test]
fn an_answer_is_applied_once_for_the_round() {
    let shared = shared_with_record();
    let body = serde_json::to_vec(&grant(9, 50, 1)).unwrap();
    assert_eq!(
        resolve(&shared, KEY, 9, 200, Some(&body)).0,
        Resolution::Grew
    );
    let r = ledger::read(&shared, KEY).unwrap();
    assert_eq!((r.day, r.lease, r.grant_seq), (9, 50, 1));
    // The same grant again (the cap had no room for more): no growth.
    assert_eq!(
        resolve(&shared, KEY, 9, 200, Some(&body)).0,
        Resolution::NoRoom
    );
    for (name, status, body) in [
        ("no answer", 0, None),
        ("an error", 503, Some(&b"{}"[..])),
        ("not a grant", 200, Some(&b"{}"[..])),
    ] {
        let (resolution, message) = resolve(&shared, KEY, 9, status, body);
        assert_eq!(resolution, Resolution::Failed, "case {name}");
        assert!(message.unwrap().contains(KEY), "case {name}");
    }
}

#[test]
fn the_request_reports_the_record_and_asks_for_the_least_that_helps() {
    let shared = shared_with_record();
    ledger::apply_grant(&shared, KEY, 9, 50, 3).unwrap();
    let info = DataplaneInfo {
        cluster: "c".into(),
        authority: "a".into(),
        token: "t".into(),
        gateway: "gw".into(),
        instance: "i1".into(),
    };
    let due = Due {
        key_id: KEY.into(),
        want_micros: 30,
        min_micros: 10,
    };
    let req = request(&shared, &info, &due, 9);
    assert_eq!((req.want_micros, req.min_micros), (30, Some(10)));
    assert_eq!((req.usage.lease_micros, req.usage.seq), (50, 3));
    let one = Due {
        min_micros: 30,
        ..due
    };
    assert_eq!(request(&shared, &info, &one, 9).min_micros, None);
    let json = serde_json::to_string(&request(&shared, &info, &one, 9)).unwrap();
    assert!(!json.contains("min_micros"), "{json}");
}

/// A call that joined a round already in flight was not in its request: when the control plane
/// answers that the cap has no room for what the request asked, a smaller late call is not
/// refused with it, but asks in a round of its own. (Found on `make run-cluster`: $1 calls
/// waiting behind a $999.99 call's round were refused `spend_cap_exceeded` with $450 left.)
#[test]
fn no_room_for_a_round_does_not_refuse_a_smaller_call_that_joined_after_it_was_sent() {
    let shared = shared_with_record();
    ledger::apply_grant(&shared, KEY, 9, 50, 1).unwrap();
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 999, 1u32);
    desk.sent(KEY, 100, 1, 9, 1_000);
    // Joined while the request for 999 was out: small, and larger than what it asked.
    desk.join(KEY, 1, 2);
    desk.join(KEY, 1_000, 3);
    // The control plane had no room for 999: the lease stays as it was.
    let body = serde_json::to_vec(&grant(9, 50, 1)).unwrap();
    let a = desk.answered(100).unwrap();
    let c = desk
        .conclude(&shared, a, 200, Some(&body), 1_100, 3_000)
        .unwrap();
    assert_eq!(c.resolution, Resolution::NoRoom);
    assert_eq!(
        c.waiters,
        vec![1, 3],
        "the call asked for, and a later one no smaller, find no room"
    );
    // The small one asks for itself at once.
    assert_eq!(
        desk.due(1_100),
        [Due {
            key_id: KEY.into(),
            want_micros: 1,
            min_micros: 1
        }]
    );
    desk.sent(KEY, 101, 1, 9, 1_100);
    let body = serde_json::to_vec(&grant(9, 51, 2)).unwrap();
    let a = desk.answered(101).unwrap();
    let c = desk
        .conclude(&shared, a, 200, Some(&body), 1_200, 3_000)
        .unwrap();
    assert_eq!((c.resolution, c.waiters), (Resolution::Grew, vec![2]));
    assert!(desk.is_empty());
}

/// The same when a call the request asked for left before the answer (its client hung up):
/// the calls that joined later are still told apart from the ones asked for.
#[test]
fn no_room_tells_the_late_calls_apart_after_an_asked_call_left() {
    let shared = shared_with_record();
    ledger::apply_grant(&shared, KEY, 9, 50, 1).unwrap();
    let body = serde_json::to_vec(&grant(9, 50, 1)).unwrap();
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 999, 1u32);
    desk.join(KEY, 500, 2);
    desk.sent(KEY, 100, 1, 9, 1_000);
    desk.join(KEY, 1, 3);
    desk.leave(|w| *w == 2);
    let a = desk.answered(100).unwrap();
    let c = desk
        .conclude(&shared, a, 200, Some(&body), 1_100, 3_000)
        .unwrap();
    assert_eq!((c.resolution, c.waiters), (Resolution::NoRoom, vec![1]));
    assert_eq!(desk.due(1_100).len(), 1, "the late call asks for itself");
    // Every call the request asked for left: the late ones are asked about again.
    let mut desk = LeaseDesk::default();
    desk.join(KEY, 999, 1u32);
    desk.sent(KEY, 101, 1, 9, 1_000);
    desk.join(KEY, 2_000, 2);
    desk.leave(|w| *w == 1);
    let a = desk.answered(101).unwrap();
    let c = desk
        .conclude(&shared, a, 200, Some(&body), 1_100, 3_000)
        .unwrap();
    assert!(c.waiters.is_empty());
    assert_eq!(desk.due(1_100)[0].want_micros, 2_000);
}
