//! SMS segment counting as carriers (and Twilio) do it: GSM-7 messages hold 160 characters, or
//! 153 per segment once split; anything outside GSM-7 is sent as UCS-2, 70 or 67 per segment,
//! counted in UTF-16 code units (an emoji takes two).

/// The GSM 03.38 basic character set.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the GSM 03.38 extension table, two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The encoding a message body will be sent in, and its length in that encoding's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7 { septets: usize },
    Ucs2 { units: usize },
}

pub fn encoding(body: &str) -> Encoding {
    let mut septets = 0;
    for c in body.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            return Encoding::Ucs2 {
                units: body.encode_utf16().count(),
            };
        }
    }
    Encoding::Gsm7 { septets }
}

/// Segments a body is billed as. An empty body is one segment.
pub fn segments(body: &str) -> u64 {
    let (len, single, multi) = match encoding(body) {
        Encoding::Gsm7 { septets } => (septets, 160, 153),
        Encoding::Ucs2 { units } => (units, 70, 67),
    };
    let n = if len <= single {
        1
    } else {
        len.div_ceil(multi)
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_table() {
        let cases: Vec<(&str, String, u64)> = vec![
            ("empty", String::new(), 1),
            ("short", "Hello from keybrake".into(), 1),
            ("160 gsm", "a".repeat(160), 1),
            ("161 gsm", "a".repeat(161), 2),
            ("306 gsm", "a".repeat(306), 2),
            ("307 gsm", "a".repeat(307), 3),
            ("extension chars count twice", "€".repeat(80), 1),
            ("extension chars overflow", "€".repeat(81), 2),
            ("70 ucs2", "ж".repeat(70), 1),
            ("71 ucs2", "ж".repeat(71), 2),
            ("134 ucs2", "ж".repeat(134), 2),
            (
                "one emoji makes it ucs2",
                format!("{}😀", "a".repeat(68)),
                1,
            ),
            ("emoji takes two units", format!("{}😀", "a".repeat(69)), 2),
            ("gsm accents stay gsm", "é".repeat(160), 1),
        ];
        for (name, body, want) in cases {
            assert_eq!(segments(&body), want, "case {name}");
        }
    }
}
