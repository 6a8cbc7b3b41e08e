//! keybrake never counts less than this mock moves: over many random sequences of the priced
//! Stripe calls the mock serves (intent create, update, confirm, capture,
//! increment_authorization; charge create and capture; refunds; transfers; payouts), each
//! priced and settled the way the filter does it (the record of counted intents included), the
//! key's spend is at every step at least the money the mock has moved, and no settlement is
//! above its reservation. A call keybrake refuses is not sent.

use axum::http::{HeaderMap, HeaderValue, Method};
use keybrake_core::cost::{self, counted, estimate, Counted, Estimate, Known, Settlement};
use keybrake_core::currency::{RateEntry, Rates};
use keybrake_core::prices::Prices;
use keybrake_core::Vendor;
use serde_json::Value;
use std::collections::HashMap;

use super::StripeMock;
use crate::rng::Rng;

const KEY: &str = "sk_test_bound";
/// Two keys share the gateway's record of counted intents; only the one that counted an
/// intent may move its money without naming the amount.
const KEYS: [&str; 2] = ["kid_agent", "kid_other"];
const CURRENCIES: [&str; 3] = ["usd", "eur", "jpy"];

fn rates() -> Rates {
    Rates::new(&[
        RateEntry {
            currency: "eur".into(),
            usd_nanos_per_unit: 1_080_000_000,
        },
        RateEntry {
            currency: "jpy".into(),
            usd_nanos_per_unit: 6_700_000,
        },
    ])
}

/// The filter's view of one gateway: its shared-data slots of counted objects (as the filter
/// keeps them), what each key was charged.
struct Gateway {
    rates: Rates,
    slots: HashMap<String, Vec<u8>>,
    charged: HashMap<&'static str, u64>,
}

/// The mock, and what it has moved so far.
struct Vendor_ {
    mock: StripeMock,
    /// Ids the sequence can follow up: intents and charges.
    intents: Vec<String>,
    charges: Vec<String>,
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Gateway {
    /// Prices, forwards and settles one call as the filter does; `None` when refused.
    fn call(
        &mut self,
        vendor: &mut Vendor_,
        key: &'static str,
        path: &str,
        body: &str,
    ) -> Option<(u16, Value)> {
        let segs = segments(path);
        let record: Option<Counted> =
            counted::follow_up_object(Vendor::Stripe, &segs, body.as_bytes()).and_then(|id| {
                let slot = self.slots.get(&counted::key(&id))?;
                counted::decode_slot(&id, slot)
            });
        let known = Known {
            key_id: key,
            counted: record.as_ref(),
        };
        let estimate = estimate(
            Vendor::Stripe,
            "POST",
            &segs,
            body.as_bytes(),
            &self.rates,
            &Prices::default(),
            known,
        )
        .ok()?;
        let (status, answer) = vendor.send(path, body);
        let (reserved, from_request) = match estimate {
            Estimate::Free => return Some((status, answer)),
            Estimate::Reserve(m) => (m, true),
            Estimate::Approximate(m) => (m, false),
        };
        let bytes = answer.to_string();
        let settlement = cost::settle(
            Vendor::Stripe,
            &segs,
            u32::from(status),
            false,
            bytes.as_bytes(),
            &self.rates,
        );
        assert_ne!(settlement, Settlement::Unknown, "{path} {body}: {answer}");
        let charged = cost::final_charge(reserved, from_request, settlement);
        assert_eq!(
            charged.over_reserved_micros, 0,
            "{path} {body}: reserved {reserved}, the answer says more: {answer}"
        );
        *self.charged.entry(key).or_default() += charged.micros;
        if let Some((id, c)) =
            counted::to_remember(Vendor::Stripe, key, u32::from(status), bytes.as_bytes())
        {
            self.slots
                .insert(counted::key(&id), counted::encode_slot(&id, &c));
        }
        Some((status, answer))
    }
}

impl Vendor_ {
    fn send(&mut self, path: &str, body: &str) -> (u16, Value) {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap(),
        );
        let reply = self
            .mock
            .decide(&Method::POST, path, &headers, body.as_bytes(), "req_bound");
        let answer: Value = serde_json::from_slice(&reply.body).unwrap();
        if reply.status.is_success() {
            let id = answer["id"].as_str().unwrap_or_default().to_owned();
            match answer["object"].as_str() {
                Some("payment_intent") if !self.intents.contains(&id) => self.intents.push(id),
                Some("charge") if !self.charges.contains(&id) => self.charges.push(id),
                _ => {}
            }
            if let Some(ch) = answer["latest_charge"].as_str() {
                if !self.charges.iter().any(|c| c == ch) {
                    self.charges.push(ch.to_owned());
                }
            }
        }
        (reply.status.as_u16(), answer)
    }

    /// Micro-USD the mock has moved so far, converted like keybrake converts.
    fn moved(&self, rates: &Rates) -> u64 {
        self.mock
            .billing()
            .billed()
            .entries
            .iter()
            .map(|b| {
                let amount = u64::try_from(b.amount.unwrap_or(0)).unwrap();
                rates.to_micros(amount, &b.currency).unwrap()
            })
            .sum()
    }
}

/// A form body from pairs.
fn form(pairs: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// One random priced call: its path and body.
fn random_call(rng: &mut Rng, vendor: &Vendor_) -> (String, String) {
    let amount = |rng: &mut Rng| (1 + rng.below(5_000)).to_string();
    let maybe = |rng: &mut Rng, pairs: &mut Vec<(&str, String)>, name, value: String| {
        if rng.one_in(2) {
            pairs.push((name, value));
        }
    };
    let any = |rng: &mut Rng, ids: &[String]| {
        if ids.is_empty() || rng.one_in(20) {
            "pi_missing".to_owned()
        } else {
            rng.pick(ids).clone()
        }
    };
    let mut p: Vec<(&str, String)> = Vec::new();
    // Drawn up front: a closure holding `rng` cannot also be handed `rng`.
    let a = amount(rng);
    let path = match rng.below(10) {
        0 => {
            p.push(("amount", a.clone()));
            p.push(("currency", (*rng.pick(&CURRENCIES)).to_owned()));
            maybe(rng, &mut p, "confirm", "true".to_owned());
            let method = *rng.pick(&["automatic", "automatic_async", "manual"]);
            maybe(rng, &mut p, "capture_method", method.to_owned());
            maybe(rng, &mut p, "payment_method", "pm_card_visa".to_owned());
            "/v1/payment_intents".to_owned()
        }
        1 => {
            maybe(rng, &mut p, "amount", a.clone());
            if rng.one_in(4) {
                p.push(("currency", (*rng.pick(&CURRENCIES)).to_owned()));
            }
            maybe(rng, &mut p, "payment_method", "pm_card_visa".to_owned());
            p.push(("metadata[step]", rng.below(100).to_string()));
            format!("/v1/payment_intents/{}", any(rng, &vendor.intents))
        }
        2 => {
            maybe(rng, &mut p, "amount_to_confirm", a.clone());
            maybe(rng, &mut p, "payment_method", "pm_card_visa".to_owned());
            let method = *rng.pick(&["automatic", "manual"]);
            maybe(rng, &mut p, "capture_method", method.to_owned());
            format!("/v1/payment_intents/{}/confirm", any(rng, &vendor.intents))
        }
        3 => {
            maybe(rng, &mut p, "amount_to_capture", a.clone());
            format!("/v1/payment_intents/{}/capture", any(rng, &vendor.intents))
        }
        4 => {
            let total = (1 + rng.below(20_000)).to_string();
            maybe(rng, &mut p, "amount", total);
            let id = any(rng, &vendor.intents);
            format!("/v1/payment_intents/{id}/increment_authorization")
        }
        5 => {
            p.push(("amount", a.clone()));
            p.push(("currency", (*rng.pick(&CURRENCIES)).to_owned()));
            p.push(("source", "tok_visa".to_owned()));
            maybe(rng, &mut p, "capture", "false".to_owned());
            "/v1/charges".to_owned()
        }
        6 => {
            maybe(rng, &mut p, "amount", a.clone());
            format!("/v1/charges/{}/capture", any(rng, &vendor.charges))
        }
        7 => {
            if rng.one_in(2) {
                p.push(("charge", any(rng, &vendor.charges)));
            } else {
                p.push(("payment_intent", any(rng, &vendor.intents)));
            }
            maybe(rng, &mut p, "amount", a.clone());
            "/v1/refunds".to_owned()
        }
        8 => {
            p.push(("amount", a.clone()));
            p.push(("currency", (*rng.pick(&CURRENCIES)).to_owned()));
            p.push(("destination", "acct_1Dest".to_owned()));
            "/v1/transfers".to_owned()
        }
        _ => {
            p.push(("amount", a.clone()));
            p.push(("currency", (*rng.pick(&CURRENCIES)).to_owned()));
            "/v1/payouts".to_owned()
        }
    };
    (path, form(&p))
}

#[test]
fn what_keybrake_counts_is_never_below_what_the_mock_moves() {
    let seed = 0x7374_7269_7065;
    let mut rng = Rng(seed);
    let mut sent = HashMap::<u16, usize>::new();
    for case in 0..200 {
        let mut gateway = Gateway {
            rates: rates(),
            slots: HashMap::new(),
            charged: HashMap::new(),
        };
        let mut vendor = Vendor_ {
            mock: StripeMock::new(KEY),
            intents: Vec::new(),
            charges: Vec::new(),
        };
        let mut trail = Vec::new();
        for _ in 0..40 {
            let key = if rng.one_in(5) { KEYS[1] } else { KEYS[0] };
            let (path, body) = random_call(&mut rng, &vendor);
            let answer = gateway.call(&mut vendor, key, &path, &body);
            if let Some((status, _)) = &answer {
                *sent.entry(*status).or_default() += 1;
            }
            trail.push(format!(
                "{key} POST {path} {body} -> {:?}",
                answer.map(|a| a.0)
            ));
            let charged: u64 = gateway.charged.values().sum();
            let moved = vendor.moved(&gateway.rates);
            assert!(
                charged >= moved,
                "seed {seed:#x} case {case}: keybrake counted {charged} micro-USD, the mock \
                 moved {moved}:\n{}",
                trail.join("\n")
            );
        }
    }
    // The sequences reach the mock and exercise both its answers and its refusals.
    assert!(sent.get(&200).copied().unwrap_or(0) > 2_000, "{sent:?}");
    assert!(sent.get(&400).copied().unwrap_or(0) > 100, "{sent:?}");
}
