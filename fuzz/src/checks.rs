//! Properties of keybrake's parsers of hostile input. Each function takes arbitrary bytes and
//! panics only when a property fails; the parsers themselves must never panic.
//!
//! Included by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the core's stable test
//! `crates/core/tests/fuzz_checks.rs`; it uses only `keybrake_core`'s public API and `std`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use keybrake_core::body;
use keybrake_core::cost::{self, Estimate};
use keybrake_core::currency::{RateEntry, Rates};
use keybrake_core::decide::screen_headers;
use keybrake_core::endpoint::{EndpointPattern, NormalizedPath};
use keybrake_core::prices::Prices;
use keybrake_core::Vendor;

fn rates() -> Rates {
    Rates::new(&[RateEntry {
        currency: "jpy".into(),
        usd_nanos_per_unit: 6_700_000,
    }])
}

/// Path normalizer and endpoint matcher: a normalized path holds only safe segments, and its
/// canonical target normalizes to itself (what is forwarded is what was checked).
pub fn path(data: &[u8]) {
    if let Ok(p) = NormalizedPath::parse(data) {
        for seg in p.segments() {
            assert!(
                !seg.is_empty() && seg != "." && seg != "..",
                "segment {seg:?}"
            );
            assert!(
                seg.bytes().all(|b| (0x21..0x7f).contains(&b)
                    && !matches!(b, b'/' | b'\\' | b';' | b'%' | b'#' | b'?')),
                "unsafe segment {seg:?} from {data:?}"
            );
        }
        let target = p.to_request_target();
        let again = NormalizedPath::parse(target.as_bytes())
            .unwrap_or_else(|e| panic!("canonical target {target:?} does not parse: {e}"));
        assert_eq!(again, p, "normalizing {target:?} again changed it");
        assert_eq!(again.to_request_target(), target);
        if let Some((first, rest)) = p.split_first() {
            let _ = Vendor::route(first);
            let _ = rest;
        }
    }
    // The same bytes as a pattern (`METHOD /path`), matched against themselves.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(pattern) = EndpointPattern::parse(s) {
            let shown = pattern.to_string();
            let again = EndpointPattern::parse(&shown)
                .unwrap_or_else(|e| panic!("pattern {shown:?} does not parse back: {e}"));
            assert_eq!(again, pattern);
            if let Some((method, path)) = shown.split_once(' ') {
                if let Ok(p) = NormalizedPath::parse(path.replace('*', "x").as_bytes()) {
                    assert!(
                        pattern.matches(method, p.segments()),
                        "{shown} vs its own path"
                    );
                }
            }
        }
    }
}

/// `Authorization` parsing for each vendor, and the header screen over headers cut from the
/// same bytes.
pub fn authorization(data: &[u8]) {
    for vendor in Vendor::ALL {
        if let Some(key) = vendor.presented_key(data) {
            assert!(!key.is_empty(), "{vendor}: an empty key from {data:?}");
        }
    }
    // Header list: lines of `name:value`.
    let headers: Vec<(String, Vec<u8>)> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let i = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..i]).ok()?.to_ascii_lowercase();
            Some((name, line[i + 1..].to_vec()))
        })
        .collect();
    for vendor in Vendor::ALL {
        if let Ok(s) = screen_headers(vendor, &headers) {
            for name in &s.strip {
                assert!(name.starts_with("x-keybrake-") || name == "x-envoy-original-path");
            }
            let auths = headers.iter().filter(|(n, _)| n == "authorization").count();
            assert!(auths <= 1, "two Authorization headers passed the screen");
        }
    }
}

const STRIPE_PATHS: [&[&str]; 5] = [
    &["v1", "payment_intents"],
    &["v1", "charges"],
    &["v1", "refunds"],
    &["v1", "transfers"],
    &["v1", "payouts"],
];
const TWILIO_PATHS: [&[&str]; 2] = [
    &["2010-04-01", "Accounts", "AC1", "Messages.json"],
    &["2010-04-01", "Accounts", "AC1", "Calls.json"],
];

fn owned(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| (*s).to_owned()).collect()
}

/// Form cost parsers (Stripe, Twilio): never panic; a Stripe reservation is exactly the single
/// `amount` the body carries (in USD here), and the query check agrees with the body parser.
pub fn form_cost(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let prices = Prices::default();
    let rates = rates();
    let stripe = owned(STRIPE_PATHS[usize::from(selector) % STRIPE_PATHS.len()]);
    let got = cost::estimate(
        Vendor::Stripe,
        "POST",
        &stripe,
        body,
        &rates,
        &prices,
        cost::Known::default(),
    );
    // A refund is in its charge's currency, which the request does not state: the single
    // `amount` at the ceiling per minor unit.
    let refund = stripe[1] == "refunds";
    if let (Ok(Estimate::Reserve(micros)), true) = (&got, refund) {
        let fields = form_pairs(body);
        let amounts: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k == "amount")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            amounts.len(),
            1,
            "priced without exactly one amount: {body:?}"
        );
        let minor: u64 = amounts[0].parse().expect("a priced amount is an integer");
        assert_eq!(rates.ceiling_micros(minor), Ok(*micros));
    } else if let Ok(Estimate::Reserve(micros)) = got {
        let fields: Vec<(String, String)> = form_pairs(body);
        let amounts: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k == "amount")
            .map(|(_, v)| v.as_str())
            .collect();
        let currencies: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k == "currency")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            amounts.len(),
            1,
            "priced without exactly one amount: {body:?}"
        );
        assert_eq!(
            currencies.len(),
            1,
            "priced without exactly one currency: {body:?}"
        );
        let minor: u64 = amounts[0].parse().expect("a priced amount is an integer");
        assert_eq!(rates.to_micros(minor, currencies[0]), Ok(micros));
    }
    let twilio = owned(TWILIO_PATHS[usize::from(selector) % TWILIO_PATHS.len()]);
    let _ = cost::estimate(
        Vendor::Twilio,
        "POST",
        &twilio,
        body,
        &rates,
        &prices,
        cost::Known::default(),
    );
    if let Ok(q) = std::str::from_utf8(body) {
        for vendor in Vendor::ALL {
            let _ = cost::query_names_priced_field(vendor, q);
        }
        if cost::query_names_priced_field(Vendor::Stripe, q) {
            // The query would be refused; nothing more to check.
        } else {
            assert!(
                !form_pairs(body)
                    .iter()
                    .any(|(k, _)| k == "amount" || k == "currency"),
                "a money field in the query was not spotted: {q:?}"
            );
        }
    }
    for (ct, ce) in [
        (Some(b"application/x-www-form-urlencoded".as_slice()), None),
        (Some(body), None),
        (None, Some(body)),
    ] {
        if let Ok(b) = cost::request_body(Vendor::Stripe, &stripe, ct, ce, body, 64 * 1024) {
            assert!(b.len() <= 64 * 1024);
        }
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    // The same parser the core uses (form_urlencoded), re-implemented minimally would drift;
    // instead, read pairs the way Stripe's own servers do: split on '&' then '=', decode.
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|&b| b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &[][..]),
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        match (s[i], hex(s.get(i + 1)), hex(s.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// JSON parsers (Resend estimates, every vendor's settlement) and bounded body decoding: never
/// panic, never decode past the limit.
pub fn json_cost(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let prices = Prices::default();
    let rates = rates();
    for path in [owned(&["emails"]), owned(&["emails", "batch"])] {
        let _ = cost::estimate(
            Vendor::Resend,
            "POST",
            &path,
            body,
            &rates,
            &prices,
            cost::Known::default(),
        );
    }
    let status = [0, 200, 201, 400, 402, 404, 429, 500, 503][usize::from(selector) % 9];
    for vendor in Vendor::ALL {
        let _ = cost::settle(
            vendor,
            &owned(&["v1", "refunds"]),
            status,
            selector & 1 == 1,
            body,
            &rates,
        );
    }
    let encoding: &[u8] =
        [b"".as_slice(), b"gzip", b"deflate", b"identity", b"br"][usize::from(selector) % 5];
    if let Ok(decoded) = body::decode(Some(encoding), body, 4096) {
        assert!(decoded.len() <= 4096, "decoded past the limit");
    }
}
