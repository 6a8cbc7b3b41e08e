//! How many SMS segments a body takes, as Twilio counts them.
//!
//! A body that fits the GSM-7 alphabet is counted in septets (an extension character such
//! as `€` or `{` takes two): 160 fit one message, and a longer body is split into parts of
//! 153. Any other character makes the whole body UCS-2, counted in UTF-16 code units (an
//! emoji outside the Basic Multilingual Plane takes two): 70 fit one message, parts hold 67.
//! A part never ends between the two halves of an extension character or a surrogate pair.

/// GSM 03.38 basic character set: one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// GSM 03.38 extension table: an escape septet plus one septet each.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The character encoding a body is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Units in a single-part message, and in each part of a multipart one.
impl Encoding {
    fn single(self) -> usize {
        match self {
            Self::Gsm7 => 160,
            Self::Ucs2 => 70,
        }
    }

    fn part(self) -> usize {
        match self {
            Self::Gsm7 => 153,
            Self::Ucs2 => 67,
        }
    }
}

/// The encoding of `body` and the number of segments it is sent (and charged) as.
/// An empty body counts as one segment (a media-only message still goes out once).
pub fn count(body: &str) -> (Encoding, u32) {
    let gsm7: Option<Vec<usize>> = body.chars().map(gsm7_septets).collect();
    let (encoding, units) = match gsm7 {
        Some(units) => (Encoding::Gsm7, units),
        None => (Encoding::Ucs2, body.chars().map(char::len_utf16).collect()),
    };
    let total: usize = units.iter().sum();
    if total <= encoding.single() {
        return (encoding, 1);
    }
    let mut parts = 1u32;
    let mut used = 0usize;
    for unit in units {
        if used + unit > encoding.part() {
            parts += 1;
            used = 0;
        }
        used += unit;
    }
    (encoding, parts)
}

fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_counts() {
        let a = |n: usize| "a".repeat(n);
        let cases: Vec<(&str, String, Encoding, u32)> = vec![
            (
                "short gsm-7",
                "Hello from keybrake!".into(),
                Encoding::Gsm7,
                1,
            ),
            ("empty", String::new(), Encoding::Gsm7, 1),
            ("160 gsm-7 fit one", a(160), Encoding::Gsm7, 1),
            ("161 gsm-7 take two", a(161), Encoding::Gsm7, 2),
            ("306 gsm-7 take two", a(306), Encoding::Gsm7, 2),
            ("307 gsm-7 take three", a(307), Encoding::Gsm7, 3),
            (
                "gsm-7 accents stay gsm-7",
                "Café à Zürich ñ".into(),
                Encoding::Gsm7,
                1,
            ),
            (
                "80 euro signs are 160 septets",
                "€".repeat(80),
                Encoding::Gsm7,
                1,
            ),
            (
                "81 euro signs split at 76 per part",
                "€".repeat(81),
                Encoding::Gsm7,
                2,
            ),
            (
                "153 euro signs take three parts",
                "€".repeat(153),
                Encoding::Gsm7,
                3,
            ),
            ("70 ucs-2 fit one", "ж".repeat(70), Encoding::Ucs2, 1),
            ("71 ucs-2 take two", "ж".repeat(71), Encoding::Ucs2, 2),
            ("134 ucs-2 take two", "ж".repeat(134), Encoding::Ucs2, 2),
            ("135 ucs-2 take three", "ж".repeat(135), Encoding::Ucs2, 3),
            (
                "one emoji makes it ucs-2",
                format!("{}😀", a(68)),
                Encoding::Ucs2,
                1,
            ),
            (
                "emoji counts two units",
                format!("{}😀", a(69)),
                Encoding::Ucs2,
                2,
            ),
            ("35 emoji fit one", "😀".repeat(35), Encoding::Ucs2, 1),
            ("36 emoji take two", "😀".repeat(36), Encoding::Ucs2, 2),
            (
                "a pair is not split across parts",
                format!("{}😀{}", a(66), a(66)),
                Encoding::Ucs2,
                3,
            ),
            ("curly quote is not gsm-7", "it’s".into(), Encoding::Ucs2, 1),
        ];
        for (name, body, encoding, parts) in cases {
            assert_eq!(count(&body), (encoding, parts), "{name}");
        }
    }
}
