//! Timestamps as the vendors write them: RFC 2822 for Twilio, RFC 3339 with microseconds and a
//! numeric offset for Resend.

use std::time::SystemTime;
use time::format_description::well_known::Rfc2822;
use time::macros::format_description;
use time::OffsetDateTime;

/// `Thu, 24 Aug 2023 05:01:45 +0000`, as Twilio's `date_created`.
pub fn rfc2822(time: SystemTime) -> String {
    // Only years before 1900 fail to format; a mock keeps answering, with an empty date.
    OffsetDateTime::from(time)
        .format(&Rfc2822)
        .unwrap_or_default()
}

/// `2023-04-03T22:13:42.674981+00:00`, as Resend's `created_at` (always six digits and
/// `+00:00`, where the `time` crate's RFC 3339 would write `Z` and trim the fraction).
pub fn rfc3339_micros(time: SystemTime) -> String {
    let format = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
    );
    OffsetDateTime::from(time)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn formats() {
        let cases = [
            (
                "epoch",
                at(0, 0),
                "Thu, 01 Jan 1970 00:00:00 +0000",
                "1970-01-01T00:00:00.000000+00:00",
            ),
            (
                "twilio docs example",
                at(1_692_853_305, 0),
                "Thu, 24 Aug 2023 05:01:45 +0000",
                "2023-08-24T05:01:45.000000+00:00",
            ),
            (
                "resend docs example",
                at(1_680_560_022, 674_981),
                "Mon, 03 Apr 2023 22:13:42 +0000",
                "2023-04-03T22:13:42.674981+00:00",
            ),
            (
                "leap day",
                at(1_709_164_800, 0),
                "Thu, 29 Feb 2024 00:00:00 +0000",
                "2024-02-29T00:00:00.000000+00:00",
            ),
            (
                "new year's eve",
                at(1_767_225_599, 0),
                "Wed, 31 Dec 2025 23:59:59 +0000",
                "2025-12-31T23:59:59.000000+00:00",
            ),
        ];
        for (name, time, twilio, resend) in cases {
            assert_eq!(rfc2822(time), twilio, "{name}");
            assert_eq!(rfc3339_micros(time), resend, "{name}");
        }
    }
}
