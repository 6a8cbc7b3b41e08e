use super::*;
use crate::audit::DEFAULT_LIMIT;

fn query(s: &str) -> Result<AuditQuery, FieldError> {
    parse_audit_query(crate::extract::query_pairs(Some(s)))
}

fn q(s: &str) -> Result<AuditFilter, FieldError> {
    query(s).map(|q| q.filter)
}

#[test]
fn times_in_every_accepted_form() {
    let t0 = 1_800_000_000_000; // 2027-01-15T08:00:00Z
    let cases = [
        ("unix ms", "1800000000000", t0),
        ("rfc 3339", "2027-01-15T08:00:00Z", t0),
        ("with ms", "2027-01-15T08:00:00.123Z", t0 + 123),
        ("plus offset", "2027-01-15T09:00:00+01:00", t0),
        ("minus offset", "2027-01-15T03:00:00-05:00", t0),
        ("zero offset", "2027-01-15T08:00:00+00:00", t0),
        ("a date", "2027-01-15", t0 - 8 * 3_600_000),
    ];
    for (name, s, want) in cases {
        assert_eq!(parse_time("since", s), Ok(want), "case {name}");
    }
    for bad in [
        "",
        "yesterday",
        "2027-13-01",
        "2027-01-15T08:00",
        "-5",
        "1.5",
        "2027-01-15T08:00:00+1:00",
    ] {
        assert_eq!(
            parse_time("since", bad).unwrap_err().field,
            "since",
            "{bad:?}"
        );
    }
    assert_eq!(rfc3339_millis(t0 + 7), "2027-01-15T08:00:00.007Z");
    assert_eq!(day_string(t0), "2027-01-15");
}

#[test]
fn audit_queries_validate() {
    let f = q("key_id=kid_0123456789abcdef&label_prefix=run/&vendor=twilio&decision=deny&since=1&until=2&limit=5").unwrap();
    assert_eq!(f.key_id.as_deref(), Some("kid_0123456789abcdef"));
    assert_eq!(f.label_prefix.as_deref(), Some("run/"));
    assert_eq!(
        (f.vendor, f.decision),
        (Some(Vendor::Twilio), Some(Decision::Deny))
    );
    assert_eq!((f.since_ms, f.until_ms, f.limit), (Some(1), Some(2), 5));
    assert_eq!(q("").unwrap().limit, DEFAULT_LIMIT);
    let cursor = Cursor { time_ms: 5, id: 9 }.encode();
    assert_eq!(
        q(&format!("cursor={cursor}")).unwrap().cursor,
        Some(Cursor { time_ms: 5, id: 9 })
    );
    let both = format!("after_id=3&cursor={cursor}");
    let cases = [
        ("bad key id", "key_id=nope", "key_id"),
        ("empty label", "label=", "label"),
        ("both labels", "label=a&label_prefix=a", "label_prefix"),
        ("bad vendor", "vendor=paypal", "vendor"),
        ("bad decision", "decision=maybe", "decision"),
        ("bad since", "since=soon", "since"),
        ("until before since", "since=10&until=5", "until"),
        ("limit zero", "limit=0", "limit"),
        ("limit too large", "limit=1001", "limit"),
        ("bad cursor", "cursor=xyz", "cursor"),
        ("after_id not a number", "after_id=soon", "after_id"),
        ("after_id negative", "after_id=-1", "after_id"),
        ("after_id empty", "after_id=", "after_id"),
        ("after_id with a cursor", &both, "after_id"),
        ("unknown", "status=active", "status"),
    ];
    for (name, query, field) in cases {
        assert_eq!(q(query).unwrap_err().field, field, "case {name}");
    }
    assert_eq!(query("").unwrap().after_id, None);
    let forward = query("after_id=42&vendor=stripe&limit=7").unwrap();
    assert_eq!(forward.after_id, Some(42));
    assert_eq!(
        (forward.filter.vendor, forward.filter.limit),
        (Some(Vendor::Stripe), 7)
    );
    assert_eq!(query("after_id=0").unwrap().after_id, Some(0));
}

#[test]
fn spend_queries_validate() {
    let pairs = |s: &str| crate::extract::query_pairs(Some(s));
    let now = 1_800_000_000_000;
    let today = now - now % DAY_MS;
    assert_eq!(
        parse_spend_query(pairs(""), now),
        Ok((SpendBy::Label, today))
    );
    assert_eq!(
        parse_spend_query(pairs("by=vendor&day=2027-01-14"), now),
        Ok((SpendBy::Vendor, today - DAY_MS))
    );
    assert_eq!(
        parse_spend_query(pairs("by=key"), now).unwrap().0,
        SpendBy::Key
    );
    for (query, field) in [("by=team", "by"), ("day=15/01/2027", "day"), ("x=1", "x")] {
        assert_eq!(
            parse_spend_query(pairs(query), now).unwrap_err().field,
            field,
            "{query}"
        );
    }
}
