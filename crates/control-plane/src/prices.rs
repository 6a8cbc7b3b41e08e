//! The operator's price overrides: which entries of the core's price table were set, and to
//! what. Whatever is not set is the core's default (`keybrake_core::prices`), so a default that
//! changes in a new release reaches every table that did not override it.

use keybrake_core::prices::{ChannelPrice, PrefixPrice, Prices};
use keybrake_core::Vendor;
use serde::{Deserialize, Serialize};

/// Most money a single price may be, in micro-USD (US$100).
pub const MAX_PRICE_MICROS: u64 = 100_000_000;
/// Longest destination prefix, in digits (E.164 numbers have at most 15).
pub const MAX_PREFIX_DIGITS: usize = 15;
/// Most prefixes in one table.
pub const MAX_PREFIXES: usize = 1_000;
/// Longest channel name (`whatsapp`, `messenger`, `client`, `sip`, …), in letters.
pub const MAX_CHANNEL_LETTERS: usize = 32;
/// Bounds of `call_max_minutes`: Twilio's own limit is 24 hours.
pub const CALL_MAX_MINUTES_RANGE: std::ops::RangeInclusive<u64> = 1..=1440;

/// Twilio entries the operator set. Prefix tables are sorted by prefix, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_segment_micros: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_segment_by_prefix: Option<Vec<PrefixPrice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mms_message_micros: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mms_message_by_prefix: Option<Vec<PrefixPrice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_minute_micros: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_minute_by_prefix: Option<Vec<PrefixPrice>>,
    /// Within [`CALL_MAX_MINUTES_RANGE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_max_minutes: Option<u64>,
    /// Per message to a channel address (`whatsapp:+1…`), by lower-case channel name, sorted.
    /// A channel without a price is refused at the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_by_channel: Option<Vec<ChannelPrice>>,
    /// Per started call minute to a channel address (`client:alice`, `sip:…`), by channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_minute_by_channel: Option<Vec<ChannelPrice>>,
}

/// Resend entries the operator set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_micros: Option<u64>,
}

/// One vendor's overrides, as stored (JSON) and as applied to the snapshot's price table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "vendor", rename_all = "snake_case", deny_unknown_fields)]
pub enum PriceOverrides {
    Twilio(TwilioOverrides),
    Resend(ResendOverrides),
}

/// The vendors that have a price table: Stripe calls are priced from the request itself.
pub const PRICED_VENDORS: [Vendor; 2] = [Vendor::Twilio, Vendor::Resend];

// === impl PriceOverrides ===

impl PriceOverrides {
    /// Nothing set for `vendor`; `None` for a vendor without a price table.
    pub fn none(vendor: Vendor) -> Option<Self> {
        match vendor {
            Vendor::Twilio => Some(Self::Twilio(TwilioOverrides::default())),
            Vendor::Resend => Some(Self::Resend(ResendOverrides::default())),
            Vendor::Stripe => None,
        }
    }

    pub fn vendor(&self) -> Vendor {
        match self {
            Self::Twilio(_) => Vendor::Twilio,
            Self::Resend(_) => Vendor::Resend,
        }
    }

    /// Writes the set entries over `prices`.
    pub fn apply(&self, prices: &mut Prices) {
        match self {
            Self::Twilio(o) => {
                let t = &mut prices.twilio;
                // An operator's own default is theirs for every destination.
                t.sms_segment_default_covers_all |= o.sms_segment_micros.is_some();
                t.mms_message_default_covers_all |= o.mms_message_micros.is_some();
                t.call_minute_default_covers_all |= o.call_minute_micros.is_some();
                set(&mut t.sms_segment_default_micros, o.sms_segment_micros);
                set(&mut t.sms_segment, o.sms_segment_by_prefix.clone());
                set(&mut t.mms_message_default_micros, o.mms_message_micros);
                set(&mut t.mms_message, o.mms_message_by_prefix.clone());
                set(&mut t.call_minute_default_micros, o.call_minute_micros);
                set(&mut t.call_minute, o.call_minute_by_prefix.clone());
                set(&mut t.call_max_minutes, o.call_max_minutes);
                set(&mut t.channel_message, o.message_by_channel.clone());
                set(&mut t.channel_call_minute, o.call_minute_by_channel.clone());
            }
            Self::Resend(o) => set(&mut prices.resend.email_micros, o.email_micros),
        }
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// The default table with every override applied.
pub fn effective<'a>(overrides: impl IntoIterator<Item = &'a PriceOverrides>) -> Prices {
    let mut prices = Prices::default();
    for o in overrides {
        o.apply(&mut prices);
    }
    prices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let twilio = PriceOverrides::Twilio(TwilioOverrides {
            sms_segment_by_prefix: Some(vec![PrefixPrice {
                prefix: "44".into(),
                micros: 40_000,
            }]),
            call_max_minutes: Some(60),
            ..TwilioOverrides::default()
        });
        let resend = PriceOverrides::Resend(ResendOverrides {
            email_micros: Some(1_000),
        });
        let p = effective([&twilio, &resend]);
        let d = Prices::default();
        assert_eq!(p.twilio.sms_segment.len(), 1);
        assert_eq!(p.twilio.call_max_minutes, 60);
        assert_eq!(
            p.twilio.sms_segment_default_micros,
            d.twilio.sms_segment_default_micros
        );
        assert_eq!(p.twilio.call_minute, d.twilio.call_minute);
        assert_eq!(p.resend.email_micros, 1_000);

        let json = serde_json::to_string(&twilio).unwrap();
        assert_eq!(
            json,
            r#"{"vendor":"twilio","sms_segment_by_prefix":[{"prefix":"44","micros":40000}],"call_max_minutes":60}"#
        );
        assert_eq!(
            serde_json::from_str::<PriceOverrides>(&json).unwrap(),
            twilio
        );
        assert!(PriceOverrides::none(Vendor::Stripe).is_none());
    }
}
