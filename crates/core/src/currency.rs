//! Currencies and the operator's conversion rates: amounts arrive in a currency's minor unit
//! and leave as micro-USD. A currency with no rate is refused, never guessed.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Nano-USD in one US dollar: rates are kept to nine decimals.
pub const NANOS_PER_USD: u64 = 1_000_000_000;

/// Micro-USD one minor unit of any currency is taken to be worth at most, when a request names an
/// amount but not its currency (a capture or refund is in the currency of what it follows): two US
/// cents. The dearest minor units Stripe settles in are worth about 1.3 cents (GBP, GIP, FKP, SHP
/// pence; KWD's 1/1000 is 0.33 cents) (ISO 4217 exponents, https://stripe.com/docs/currencies).
pub const CEILING_MICROS_PER_MINOR_UNIT: u64 = 20_000;

/// ISO 4217 currencies without minor units (Stripe's "zero-decimal" list).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// ISO 4217 currencies with three decimals.
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// One operator-set rate: how many USD one major unit of `currency` is worth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateEntry {
    /// Lower-case ISO 4217 code. Must not be `usd`.
    pub currency: String,
    /// USD per major unit, in nano-USD. Must be greater than zero.
    pub usd_nanos_per_unit: u64,
}

/// Conversion to micro-USD. USD is always known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    nanos_per_unit: HashMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("{0:?} is not a currency code")]
    NotACurrency(String),
    #[error("no conversion rate is configured for {0}")]
    NoRate(String),
    #[error("the amount is too large to count")]
    Overflow,
}

/// Validates a currency code (three ASCII letters, any case) and returns it in lower case.
pub fn normalize_code(code: &str) -> Result<String, CurrencyError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_lowercase())
    } else {
        Err(CurrencyError::NotACurrency(code.to_owned()))
    }
}

/// Decimal places of the currency's minor unit (0 for JPY, 3 for KWD, 2 otherwise).
pub fn minor_unit_exponent(code: &str) -> u32 {
    if ZERO_DECIMAL.contains(&code) {
        0
    } else if THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

// === impl Rates ===

impl Rates {
    pub fn new(entries: &[RateEntry]) -> Self {
        let nanos_per_unit = entries
            .iter()
            .filter(|e| e.usd_nanos_per_unit > 0)
            .filter_map(|e| {
                normalize_code(&e.currency)
                    .ok()
                    .map(|c| (c, e.usd_nanos_per_unit))
            })
            .collect();
        Self { nanos_per_unit }
    }

    fn nanos_per_unit(&self, code: &str) -> Option<u64> {
        if code == "usd" {
            Some(NANOS_PER_USD)
        } else {
            self.nanos_per_unit.get(code).copied()
        }
    }

    /// The most `amount` minor units of an unnamed currency can be worth: at
    /// [`CEILING_MICROS_PER_MINOR_UNIT`], or at the dearest minor unit in the operator's table
    /// when that is dearer still.
    pub fn ceiling_micros(&self, amount: u64) -> Result<u64, CurrencyError> {
        let dearest = self
            .nanos_per_unit
            .iter()
            .map(|(code, nanos)| {
                (u128::from(*nanos)).div_ceil(10u128.pow(minor_unit_exponent(code)) * 1_000)
            })
            .max()
            .unwrap_or(0)
            .max(u128::from(CEILING_MICROS_PER_MINOR_UNIT));
        u64::try_from(u128::from(amount) * dearest).map_err(|_| CurrencyError::Overflow)
    }

    /// Converts `amount` minor units of `currency` to micro-USD, rounding up so that a
    /// reservation never falls short of the real cost.
    pub fn to_micros(&self, amount: u64, currency: &str) -> Result<u64, CurrencyError> {
        let code = normalize_code(currency)?;
        let rate = self
            .nanos_per_unit(&code)
            .ok_or(CurrencyError::NoRate(code.clone()))?;
        let divisor = 10u128.pow(minor_unit_exponent(&code)) * 1_000;
        let micros = (u128::from(amount) * u128::from(rate)).div_ceil(divisor);
        u64::try_from(micros).map_err(|_| CurrencyError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        Rates::new(&[
            RateEntry {
                currency: "eur".into(),
                usd_nanos_per_unit: 1_080_000_000,
            },
            RateEntry {
                currency: "JPY".into(),
                usd_nanos_per_unit: 6_700_000,
            },
            RateEntry {
                currency: "kwd".into(),
                usd_nanos_per_unit: 3_250_000_000,
            },
            RateEntry {
                currency: "gbp".into(),
                usd_nanos_per_unit: 0,
            },
        ])
    }

    #[test]
    fn conversion_table() {
        let r = rates();
        let cases: Vec<(&str, u64, &str, Result<u64, CurrencyError>)> = vec![
            ("ten dollars", 1000, "usd", Ok(10_000_000)),
            ("upper-case code", 1000, "USD", Ok(10_000_000)),
            ("one cent", 1, "usd", Ok(10_000)),
            ("euros", 1000, "eur", Ok(10_800_000)),
            ("zero-decimal yen", 1000, "jpy", Ok(6_700_000)),
            ("three-decimal dinar", 1000, "kwd", Ok(3_250_000)),
            ("rounds up", 1, "jpy", Ok(6_700)),
            (
                "no rate",
                1000,
                "chf",
                Err(CurrencyError::NoRate("chf".into())),
            ),
            (
                "zero rate is no rate",
                1000,
                "gbp",
                Err(CurrencyError::NoRate("gbp".into())),
            ),
            (
                "not a code",
                1000,
                "us",
                Err(CurrencyError::NotACurrency("us".into())),
            ),
            ("max amount", u64::MAX, "usd", Err(CurrencyError::Overflow)),
        ];
        for (name, amount, currency, want) in cases {
            assert_eq!(r.to_micros(amount, currency), want, "case {name}");
        }
    }

    #[test]
    fn the_ceiling_is_never_below_a_known_currency() {
        let r = rates();
        for (amount, code) in [
            (1000u64, "usd"),
            (1000, "eur"),
            (1000, "jpy"),
            (1000, "kwd"),
        ] {
            assert!(
                r.ceiling_micros(amount).unwrap() >= r.to_micros(amount, code).unwrap(),
                "{code}"
            );
        }
        assert_eq!(r.ceiling_micros(100), Ok(2_000_000));
        let dear = Rates::new(&[RateEntry {
            currency: "xau".into(),
            usd_nanos_per_unit: 2_000_000_000_000,
        }]);
        assert_eq!(dear.ceiling_micros(1), Ok(20_000_000));
        assert_eq!(r.ceiling_micros(u64::MAX), Err(CurrencyError::Overflow));
    }

    #[test]
    fn rounding_up_never_undercounts() {
        let r = Rates::new(&[RateEntry {
            currency: "jpy".into(),
            usd_nanos_per_unit: 6_712_345,
        }]);
        for amount in [1u64, 7, 99, 12_345] {
            let micros = r.to_micros(amount, "jpy").unwrap();
            assert!(
                u128::from(micros) * 1000 >= u128::from(amount) * 6_712_345,
                "amount {amount}"
            );
        }
    }
}
