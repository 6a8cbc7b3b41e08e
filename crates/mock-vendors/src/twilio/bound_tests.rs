//! keybrake's reservation for a Twilio call is an upper bound of what this mock bills for it,
//! over many random requests (a small deterministic generator: the failures it finds are
//! reproducible from the seed it prints).

use super::{calls, messages, pricing};
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

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// micro-USD keybrake reserves for `body` on `p`.
fn reserved(p: &str, body: &str) -> u64 {
    match estimate(
        Vendor::Twilio,
        "POST",
        &path(p),
        body.as_bytes(),
        &Rates::default(),
        &Prices::default(),
        Known::default(),
    ) {
        Ok(Estimate::Approximate(m) | Estimate::Reserve(m)) => m,
        other => panic!("{p} {body:?} was not priced: {other:?}"),
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
        let billed = messages::billed_units(&text, media, send_as_mms) * MICROS_PER_UNIT;
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
