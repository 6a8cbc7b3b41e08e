//! Money as integer micro-USD. Floats appear only at the API edge.

/// Micro-USD in one US dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;

/// Formats micro-USD as a decimal string with at least two decimals: `500.00`, `0.000001`.
pub fn format_usd(micros: u64) -> String {
    let whole = micros / MICROS_PER_USD;
    let frac = format!("{:06}", micros % MICROS_PER_USD);
    let frac = frac.trim_end_matches('0');
    let frac = if frac.len() < 2 {
        format!("{frac:0<2}")
    } else {
        frac.to_owned()
    };
    format!("{whole}.{frac}")
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
        ];
        for (name, micros, want) in cases {
            assert_eq!(format_usd(micros), want, "case {name}");
        }
    }
}
