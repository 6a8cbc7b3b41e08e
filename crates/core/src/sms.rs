//! SMS segment counting as carriers (and Twilio) do it: GSM-7 messages hold 160 septets, or
//! 153 per segment once split; anything outside GSM-7 is sent as UCS-2, 70 or 67 UTF-16 units per
//! segment. A character is never split across segments: a GSM-7 escape pair (`€`, `[`, …, two
//! septets) or a UTF-16 surrogate pair (an emoji, two units) that does not fit in what is left of
//! a segment starts the next one (3GPP TS 23.038 and 23.040; Twilio's segment calculator).

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
    let (len, single, multi, gsm) = match encoding(body) {
        Encoding::Gsm7 { septets } => (septets, 160, 153, true),
        Encoding::Ucs2 { units } => (units, 70, 67, false),
    };
    if len <= single {
        return 1;
    }
    let mut count: u64 = 1;
    let mut used = 0;
    for c in body.chars() {
        let width = if gsm {
            if GSM7_EXTENDED.contains(c) {
                2
            } else {
                1
            }
        } else {
            c.len_utf16()
        };
        if used + width > multi {
            count += 1;
            used = 0;
        }
        used += width;
    }
    count
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
            // An escape pair never straddles two segments: 76 pairs fill 152 of 153 septets.
            ("153 escape pairs", "]".repeat(153), 3),
            ("152 escape pairs", "]".repeat(152), 2),
            (
                "an escape pair that does not fit starts the next segment",
                format!("{}€{}", "a".repeat(152), "a".repeat(10)),
                2,
            ),
            (
                "escape pair pushed into a third segment",
                format!("{}€{}", "a".repeat(152), "a".repeat(152)),
                3,
            ),
            // A surrogate pair never straddles two segments either.
            (
                "emoji at a ucs2 boundary",
                format!("{}😀{}", "ж".repeat(66), "ж".repeat(66)),
                3,
            ),
            ("134 ucs2 units, no pairs", "ж".repeat(134), 2),
        ];
        for (name, body, want) in cases {
            assert_eq!(segments(&body), want, "case {name}");
        }
    }
}
