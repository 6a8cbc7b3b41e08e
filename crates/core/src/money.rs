//! Money as integer micro-USD. Floats appear only at the API edge.

/// Micro-USD in one US dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;

/// Formats micro-USD as a decimal string with at least two decimals: `500.00`, `0.000001`.
/// (Written out by hand, in one allocation: every call formats up to three amounts, and
/// `format!` cost a worker's VM four allocations each.)
pub fn format_usd(micros: u64) -> String {
    use std::fmt::Write as _;
    let whole = micros / MICROS_PER_USD;
    let mut frac = micros % MICROS_PER_USD;
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    // Trailing zeros dropped, down to two decimals.
    let keep = 2 + digits[2..]
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(0, |i| i + 1);
    let mut out = String::with_capacity(28);
    let _ = write!(out, "{whole}.");
    out.extend(digits[..keep].iter().map(|&d| char::from(d)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_usd_table() {
        let cases = [
            ("zero", 0, "0.00"),
            ("one micro", 1, "0.000001"),
            ("ten dollars", 10_000_000, "10.00"),
            ("cents", 1_230_000, "1.23"),
            ("tenths", 1_500_000, "1.50"),
            ("sub-cent", 8_300, "0.0083"),
            ("large", 500_000_000_000, "500000.00"),
            ("three decimals", 1_230_400, "1.2304"),
            ("every digit", 987_654_321, "987.654321"),
            ("the largest", u64::MAX, "18446744073709.551615"),
        ];
        for (name, micros, want) in cases {
            assert_eq!(format_usd(micros), want, "case {name}");
        }
    }
}
