//! keybrake's reservation for a Resend send (one email, a scheduled one, or a batch) is an upper
//! bound of what this mock sends, over many random request bodies: every address in `to`, `cc`
//! and `bcc` of every email the mock accepts is one email at the per-email price (Resend counts
//! each recipient against the plan; keybrake's default price is `ResendPrices::default`). A
//! body keybrake refuses is never sent, so it costs nothing. The generator is deterministic: a
//! failure is reproducible from the seed printed with it.

use super::email::{build, Origin};
use crate::rng::Rng;
use keybrake_core::cost::{estimate, Estimate, Known};
use keybrake_core::currency::Rates;
use keybrake_core::prices::Prices;
use keybrake_core::Vendor;
use serde_json::{json, Value};

const ADDRESSES: &[&str] = &[
    "a@example.com",
    "Bee <b@example.com>",
    "c@example.org",
    " d@example.net ",
];
/// Values the mock refuses or skips, mixed in now and then.
const ODD: &[&str] = &["", "not an address"];

fn address(rng: &mut Rng) -> Value {
    if rng.one_in(40) {
        json!(rng.pick(ODD))
    } else {
        json!(rng.pick(ADDRESSES))
    }
}

/// One recipient field as an agent might write it: absent, null, one string, or an array of
/// up to 52 entries (Resend takes 50), now and then with a non-string in it.
fn field(rng: &mut Rng) -> Option<Value> {
    match rng.below(6) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(address(rng)),
        _ => {
            let n = rng.below(53);
            let mut items: Vec<Value> = (0..n).map(|_| address(rng)).collect();
            if rng.one_in(50) {
                items.push(json!(7));
            }
            Some(Value::Array(items))
        }
    }
}

fn send(rng: &mut Rng, scheduled: bool) -> Value {
    let mut email = json!({"from": "keybrake <agent@example.com>", "subject": "s", "text": "t"});
    for name in ["to", "cc", "bcc"] {
        if let Some(v) = field(rng) {
            email[name] = v;
        }
    }
    if scheduled {
        email["scheduled_at"] = json!("in 1 hour");
    }
    email
}

/// Emails the mock sends for `send`: every address of an accepted email.
fn sent(send: &Value, origin: Origin) -> u64 {
    match build(send, origin, "id", "2026-11-30T00:00:00Z") {
        Ok(email) => ["to", "cc", "bcc"]
            .iter()
            .map(|f| email[*f].as_array().map_or(0, Vec::len) as u64)
            .sum(),
        Err(_) => 0,
    }
}

fn reserved(path: &str, body: &Value) -> Option<u64> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    match estimate(
        Vendor::Resend,
        "POST",
        &segments,
        body.to_string().as_bytes(),
        &Rates::default(),
        &Prices::default(),
        Known::default(),
    ) {
        Ok(Estimate::Reserve(m) | Estimate::Approximate(m)) => Some(m),
        Ok(Estimate::Free) => Some(0),
        Err(_) => None,
    }
}

#[test]
fn a_send_reservation_is_never_below_what_the_mock_sends() {
    let price = Prices::default().resend.email_micros;
    let seed = 0x7265_7365_6e64_0001;
    let mut rng = Rng(seed);
    let (mut priced, mut refused) = (0, 0);
    for case in 0..4_000 {
        let batch = rng.one_in(3);
        let (path, body, emails) = if batch {
            let n = 1 + rng.below(5);
            let items: Vec<Value> = (0..n).map(|_| send(&mut rng, false)).collect();
            let emails: u64 = items.iter().map(|s| sent(s, Origin::Batch)).sum();
            ("/emails/batch", Value::Array(items), emails)
        } else {
            let scheduled = rng.one_in(4);
            let s = send(&mut rng, scheduled);
            let emails = sent(&s, Origin::Single);
            ("/emails", s, emails)
        };
        match reserved(path, &body) {
            Some(held) => {
                priced += 1;
                assert!(
                    held >= emails * price,
                    "seed {seed:#x} case {case}: reserved {held} micro-USD for {emails} emails \
                     at {price} each: {body}"
                );
            }
            None => refused += 1,
        }
    }
    // The generator must exercise both sides.
    assert!(
        priced > 1_000 && refused > 20,
        "{priced} priced, {refused} refused"
    );
}
