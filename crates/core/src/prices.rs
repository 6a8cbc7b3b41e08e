//! What vendor calls cost when the response cannot say: the operator's price table, with
//! defaults from the vendors' published US list prices (2026). Delivered in the snapshot.

use serde::{Deserialize, Serialize};

/// One price for destinations starting with `prefix` (E.164 digits, no `+`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixPrice {
    /// Digits only. Must not be empty.
    pub prefix: String,
    pub micros: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TwilioPrices {
    /// Per SMS segment, by destination prefix; the longest matching prefix wins.
    pub sms_segment: Vec<PrefixPrice>,
    pub sms_segment_default_micros: u64,
    /// Per MMS message (any message with media), by destination prefix.
    pub mms_message: Vec<PrefixPrice>,
    pub mms_message_default_micros: u64,
    /// Per started minute of an outbound call, by destination prefix.
    pub call_minute: Vec<PrefixPrice>,
    pub call_minute_default_micros: u64,
    /// Minutes a call without `TimeLimit` is reserved for (Twilio's own limit is 4 hours).
    pub call_max_minutes: u64,
    /// Per message to a channel address (`whatsapp:+1…`, `messenger:…`), by channel name
    /// (`whatsapp`). A channel with no entry is refused: its price is not an SMS segment's.
    pub channel_message: Vec<ChannelPrice>,
    /// Per started minute of a call to a channel address (`client:alice`, `sip:…`), by channel.
    pub channel_call_minute: Vec<ChannelPrice>,
    /// Whether `sms_segment_default_micros` also prices destinations outside the North American
    /// Numbering Plan (+1) that no prefix entry matches. The shipped defaults are US list prices,
    /// which are not an upper bound elsewhere, so they price +1 numbers only and other
    /// destinations are refused until an operator sets a prefix price or the default itself
    /// (which sets this).
    pub sms_segment_default_covers_all: bool,
    /// The same for `mms_message_default_micros`.
    pub mms_message_default_covers_all: bool,
    /// The same for `call_minute_default_micros`.
    pub call_minute_default_covers_all: bool,
}

/// One price for addresses of a channel (`whatsapp:+15551234567` is channel `whatsapp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPrice {
    /// Lower-case channel name, without the `:`. Must not be empty.
    pub channel: String,
    pub micros: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResendPrices {
    /// Per email: each `to`, `cc` and `bcc` address is one email.
    pub email_micros: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prices {
    pub twilio: TwilioPrices,
    pub resend: ResendPrices,
}

impl Default for TwilioPrices {
    /// Twilio US list prices: SMS $0.0083 per segment, MMS $0.0220 per message, outbound
    /// calls $0.0140 per minute (twilio.com/en-us/sms/pricing/us, /voice/pricing/us).
    fn default() -> Self {
        Self {
            sms_segment: Vec::new(),
            sms_segment_default_micros: 8_300,
            mms_message: Vec::new(),
            mms_message_default_micros: 22_000,
            call_minute: Vec::new(),
            call_minute_default_micros: 14_000,
            call_max_minutes: 240,
            channel_message: Vec::new(),
            channel_call_minute: Vec::new(),
            sms_segment_default_covers_all: false,
            mms_message_default_covers_all: false,
            call_minute_default_covers_all: false,
        }
    }
}

impl Default for ResendPrices {
    /// Resend's overage price: $0.90 per 1,000 emails (resend.com/pricing).
    fn default() -> Self {
        Self { email_micros: 900 }
    }
}

/// The dearest price of a table (its default included): for a call whose destination the request
/// does not name (a call update).
pub fn dearest(table: &[PrefixPrice], default: u64, channels: &[ChannelPrice]) -> u64 {
    table
        .iter()
        .map(|p| p.micros)
        .chain(channels.iter().map(|c| c.micros))
        .fold(default, u64::max)
}

/// The price of a channel, when the operator set one.
pub fn channel_price(table: &[ChannelPrice], channel: &str) -> Option<u64> {
    table
        .iter()
        .find(|c| c.channel.eq_ignore_ascii_case(channel))
        .map(|c| c.micros)
}

/// The price for `number` (E.164, `+` optional) when keybrake has one: the longest matching
/// prefix, else `default` for a +1 number, or for any number when `default_covers_all`; `None`
/// for a number outside +1 that only the shipped US default would price.
pub fn bounded_price_for(
    table: &[PrefixPrice],
    default: u64,
    default_covers_all: bool,
    number: &str,
) -> Option<u64> {
    let digits = number.trim().trim_start_matches('+');
    let listed = table
        .iter()
        .any(|p| !p.prefix.is_empty() && digits.starts_with(&p.prefix));
    (listed || default_covers_all || digits.starts_with('1'))
        .then(|| price_for(table, default, number))
}

/// The price for `number` (E.164, `+` optional): the longest matching prefix, else `default`.
pub fn price_for(table: &[PrefixPrice], default: u64, number: &str) -> u64 {
    let digits = number.trim().trim_start_matches('+');
    table
        .iter()
        .filter(|p| !p.prefix.is_empty() && digits.starts_with(&p.prefix))
        .max_by_key(|p| p.prefix.len())
        .map_or(default, |p| p.micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let table = vec![
            PrefixPrice {
                prefix: "44".into(),
                micros: 40_000,
            },
            PrefixPrice {
                prefix: "447".into(),
                micros: 45_000,
            },
        ];
        let cases = [
            ("us falls back to the default", "+15558675310", 8_300),
            ("uk landline", "+442071234567", 40_000),
            ("uk mobile", "+447700900123", 45_000),
            ("without plus", "447700900123", 45_000),
        ];
        for (name, number, want) in cases {
            assert_eq!(price_for(&table, 8_300, number), want, "case {name}");
        }
    }

    #[test]
    fn defaults_survive_a_partial_table() {
        let p: Prices = serde_json::from_str(r#"{"resend":{"email_micros":1000}}"#).unwrap();
        assert_eq!(p.resend.email_micros, 1000);
        assert_eq!(p.twilio, TwilioPrices::default());
    }
}
