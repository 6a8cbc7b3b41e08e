//! What the mock charges once a message is delivered or a call completed, in units of
//! 0.00001 USD, written as Twilio writes prices: a negative decimal string.
//!
//! US list prices (see `shared/reference/vendors.md`): $0.0083 per SMS segment, $0.0220 per
//! MMS, $0.0140 per started call minute; $0.0050 per message to a channel address
//! (`whatsapp:`, `messenger:`, `rcs:`: Twilio's per-message fee, twilio.com/en-us/whatsapp/pricing).

/// One SMS segment, US.
pub const SMS_SEGMENT: u64 = 830;
/// One MMS, whatever its size, US.
pub const MMS: u64 = 2_200;
/// One message to a channel address, whatever its length.
pub const CHANNEL_MESSAGE: u64 = 500;
/// One started minute of an outbound call, US.
pub const CALL_MINUTE: u64 = 1_400;
/// How long every mock call lasts, unless its `TimeLimit` is shorter.
pub const CALL_SECONDS: u64 = 60;

/// `units` (0.00001 USD) as Twilio's `price`: `830` → `"-0.00830"`.
pub fn price(units: u64) -> String {
    format!("-{}.{:05}", units / 100_000, units % 100_000)
}

/// The price of a call of `seconds`: every started minute is charged.
pub fn call(seconds: u64) -> u64 {
    seconds.div_ceil(60) * CALL_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        let cases = [
            ("one segment", SMS_SEGMENT, "-0.00830"),
            ("three segments", 3 * SMS_SEGMENT, "-0.02490"),
            ("mms", MMS, "-0.02200"),
            ("a dollar and a bit", 100_830, "-1.00830"),
            ("one-second call", call(1), "-0.01400"),
            ("61-second call", call(61), "-0.02800"),
        ];
        for (name, units, expected) in cases {
            assert_eq!(price(units), expected, "{name}");
        }
    }
}
