use super::*;
use keybrake_core::audit::AuditRecord;

fn entry(seq: u64) -> AuditEntry {
    AuditEntry {
        seq,
        record: AuditRecord {
            time_ms: 1,
            key_id: Some("kid_0123456789abcdef".into()),
            agent_run_label: Some("run/1".into()),
            vendor: Some(Vendor::Stripe),
            method: "POST".into(),
            path: "/v1/payment_intents".into(),
            status: 200,
            decision: Decision::Allow,
            deny_reason: None,
            cost_micros: 1,
            cost_source: Some("response".into()),
            spend_micros: Some(1),
            upstream_latency_ms: Some(1),
            vendor_request_id: Some("pi_1".into()),
            over_reserved_micros: 0,
        },
    }
}

fn batch(entries: Vec<AuditEntry>) -> AuditBatch {
    AuditBatch {
        gateway: "gw-1".into(),
        instance: "i-1".into(),
        entries,
        next_seq: 3,
        dropped_total: 0,
    }
}

#[test]
fn batches_validate() {
    let ok = ValidBatch::parse(batch(vec![entry(1), entry(2)])).unwrap();
    assert_eq!(ok.next_seq, 3);
    let ahead = ValidBatch::parse(batch(vec![entry(9)])).unwrap();
    assert_eq!(ahead.next_seq, 10, "next_seq is above every entry");

    let with = |f: fn(&mut AuditEntry)| {
        let mut e = entry(1);
        f(&mut e);
        batch(vec![entry(2), e])
    };
    let cases: Vec<(&str, AuditBatch, &str)> = vec![
        ("seq 0", with(|e| e.seq = 0), "entries[1].seq"),
        (
            "seq too large",
            with(|e| e.seq = u64::MAX),
            "entries[1].seq",
        ),
        (
            "cost too large",
            with(|e| e.record.cost_micros = u64::MAX),
            "entries[1].cost_micros",
        ),
        (
            "long path",
            with(|e| e.record.path = "/x".repeat(2049)),
            "entries[1].path",
        ),
        (
            "long method",
            with(|e| e.record.method = "M".repeat(33)),
            "entries[1].method",
        ),
        (
            "long label",
            with(|e| e.record.agent_run_label = Some("l".repeat(201))),
            "entries[1].agent_run_label",
        ),
        (
            "long request id",
            with(|e| e.record.vendor_request_id = Some("r".repeat(257))),
            "entries[1].vendor_request_id",
        ),
        (
            "bad instance",
            AuditBatch {
                instance: "a b".into(),
                ..batch(vec![])
            },
            "instance",
        ),
        (
            "bad gateway",
            AuditBatch {
                gateway: String::new(),
                ..batch(vec![])
            },
            "gateway",
        ),
        (
            "next_seq too large",
            AuditBatch {
                next_seq: u64::MAX,
                ..batch(vec![])
            },
            "next_seq",
        ),
        (
            "too many",
            batch((1..=5001).map(entry).collect()),
            "entries",
        ),
    ];
    for (name, b, field) in cases {
        let err = ValidBatch::parse(b).expect_err(name);
        assert_eq!(err.field, field, "case {name}: {err}");
    }
}

#[test]
fn cursors_round_trip_and_refuse_garbage() {
    let c = Cursor {
        time_ms: 1_800_000_000_123,
        id: 42,
    };
    assert_eq!(Cursor::decode(&c.encode()), Some(c));
    for bad in ["", "!!", "bm9wZQ", &B64.encode("1.x")] {
        assert_eq!(Cursor::decode(bad), None, "{bad:?}");
    }
}

#[test]
fn missing_records_of_a_stream() {
    let s = Stream {
        gateway: "gw".into(),
        instance: "i".into(),
        next_seq: 11,
        dropped_total: 0,
        acked_through: 7,
        stored_above: 0,
        last_seen_ms: 0,
    };
    assert_eq!((s.missing(), s.first_missing_seq()), (3, Some(8)));
    let out_of_order = Stream {
        acked_through: 5,
        stored_above: 3,
        ..s.clone()
    };
    assert_eq!(out_of_order.missing(), 2);
    let complete = Stream {
        acked_through: 10,
        ..s
    };
    assert_eq!(
        (complete.missing(), complete.first_missing_seq()),
        (0, None)
    );
}

#[test]
fn secret_shaped_text_is_redacted_before_it_is_stored() {
    let key = format!("vk_0123456789abcdef_{}", "ab".repeat(32));
    let mut e = entry(1);
    e.record.path = format!("/v1/customers/{key}");
    e.record.vendor_request_id = Some(format!("req_{}", "cd".repeat(32)));
    let valid = ValidBatch::parse(batch(vec![e])).unwrap();
    let r = &valid.entries[0].record;
    assert_eq!(r.path, "/v1/customers/vk_0123456789abcdef_[redacted]");
    assert_eq!(r.vendor_request_id.as_deref(), Some("req_[redacted]"));
}
