//! keybrake's reservation for a Twilio message or call (and call update) is an upper bound of
//! what this mock bills for it, over many random requests (a small deterministic generator: the
//! failures it finds are reproducible from the seed it prints).

use super::form::Params;
use super::{calls, messages, pricing};
use crate::rng::Rng;
use keybrake_core::cost::{estimate, Estimate, Known};
use keybrake_core::currency::Rates;
use keybrake_core::prices::Prices;
use keybrake_core::Vendor;

/// Characters that stress segment counting: GSM-7 basic, GSM-7 escapes (two septets), UCS-2,
/// astral (surrogate pairs).
const ALPHABET: &[char] = &[
    'a', 'Z', '0', ' ', '@', 'é', '\n', '€', '[', ']', '{', '^', '~', '|', 'ж', 'Ω', 'ç', '😀',
    '🚀', '中',
];

fn path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// micro-USD keybrake reserves for `body` on `p`.
fn reserved(p: &str, body: &str) -> u64 {
    match reserved_or_free(p, body) {
        Some(m) => m,
        None => panic!("{p} {body:?} was not priced"),
    }
}

/// micro-USD keybrake reserves for `body` on `p`, `None` for a free call.
fn reserved_or_free(p: &str, body: &str) -> Option<u64> {
    match estimate(
        Vendor::Twilio,
        "POST",
        &path(p),
        body.as_bytes(),
        &Rates::default(),
        &Prices::default(),
        Known::default(),
    ) {
        Ok(Estimate::Approximate(m) | Estimate::Reserve(m)) => Some(m),
        Ok(Estimate::Free) => None,
        Err(e) => panic!("{p} {body:?} was refused: {e:?}"),
    }
}

/// The mock bills in 0.00001 USD: ten micro-USD each.
const MICROS_PER_UNIT: u64 = 10;

#[test]
fn a_message_reservation_is_never_below_what_the_mock_bills() {
    let seed = 0x6b65_7962_7261_6b65;
    let mut rng = Rng(seed);
    for case in 0..5_000 {
        let len = rng.below(400);
        let text: String = (0..len)
            .map(|_| ALPHABET[usize::try_from(rng.below(ALPHABET.len() as u64)).unwrap()])
            .collect();
        let media = usize::try_from(rng.below(3)).unwrap();
        let send_as_mms = rng.below(4) == 0;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", "+15558675310")
            .append_pair("From", "+15005550006")
            .append_pair("Body", &text);
        for i in 0..media {
            form.append_pair("MediaUrl", &format!("https://example.com/{i}.png"));
        }
        if send_as_mms {
            form.append_pair("SendAsMms", "true");
        }
        let body = form.finish();
        let billed =
            messages::billed_units("+15558675310", &text, media, send_as_mms) * MICROS_PER_UNIT;
        let held = reserved("/2010-04-01/Accounts/AC1/Messages.json", &body);
        assert!(
            held >= billed,
            "seed {seed:#x} case {case}: reserved {held} < billed {billed} for {body:?}"
        );
    }
}

#[test]
fn a_call_reservation_is_never_below_what_the_mock_bills() {
    let mut rng = Rng(0x6361_6c6c);
    for case in 0..2_000 {
        let limit = (rng.below(2) == 0).then(|| 1 + rng.below(calls::MAX_TIME_LIMIT));
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", "+15558675310")
            .append_pair("From", "+15005550006")
            .append_pair("Url", "https://example.com/twiml");
        if let Some(l) = limit {
            form.append_pair("TimeLimit", &l.to_string());
        }
        let body = form.finish();
        let duration = limit
            .unwrap_or(calls::DEFAULT_TIME_LIMIT)
            .min(pricing::CALL_SECONDS);
        let billed = pricing::call(duration) * MICROS_PER_UNIT;
        let held = reserved("/2010-04-01/Accounts/AC1/Calls.json", &body);
        assert!(
            held >= billed,
            "case {case}: reserved {held} < billed {billed} for {body:?}"
        );
    }
}

/// A call placed, then updated at random: what keybrake reserved for the call and its updates
/// together is never below what the mock bills for the call. (Twilio reports no price at
/// creation or on an update, so every reservation stands.)
#[test]
fn a_call_and_its_updates_never_reserve_below_what_the_mock_bills() {
    let seed = 0x7570_6461_7465;
    let mut rng = Rng(seed);
    let call_path = "/2010-04-01/Accounts/AC1/Calls.json";
    let update_path = "/2010-04-01/Accounts/AC1/Calls/CA1.json";
    for case in 0..2_000 {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", "+15558675310")
            .append_pair("From", "+15005550006")
            .append_pair("Url", "https://example.com/twiml");
        if rng.one_in(2) {
            form.append_pair("TimeLimit", &(1 + rng.below(600)).to_string());
        }
        let body = form.finish();
        let mut held = reserved(call_path, &body);
        let (_, mut call) = calls::create("AC1", &Params::parse(body.as_bytes())).unwrap();
        let mut updates = Vec::new();
        for _ in 0..rng.below(5) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            if rng.one_in(2) {
                let limit = 1 + rng.below(calls::MAX_TIME_LIMIT);
                form.append_pair("TimeLimit", &limit.to_string());
            }
            if rng.one_in(3) {
                form.append_pair("Url", "https://example.com/more");
            }
            if rng.one_in(4) {
                form.append_pair("Twiml", "<Response><Pause length=\"600\"/></Response>");
            }
            if rng.one_in(5) {
                let status: &&str = rng.pick(&["completed", "canceled"]);
                form.append_pair("Status", status);
            }
            let body = form.finish();
            held += reserved_or_free(update_path, &body).unwrap_or(0);
            // A call that is over refuses updates, and its bill no longer changes.
            let _ = calls::update(&mut call, &Params::parse(body.as_bytes()));
            updates.push(body);
        }
        let billed = call.billed_units() * MICROS_PER_UNIT;
        assert!(
            held >= billed,
            "seed {seed:#x} case {case}: reserved {held} < billed {billed} for {updates:?}"
        );
    }
}
