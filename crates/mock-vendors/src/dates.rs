//! Timestamps as the vendors write them: RFC 2822 for Twilio, RFC 3339 with microseconds for
//! Resend. Civil dates come from days since the epoch (Howard Hinnant's algorithm), so no
//! date crate is needed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC instant broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    /// 1..=12.
    month: u32,
    /// 1..=31.
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    micros: u32,
    /// Days since 1970-01-01, for the weekday.
    days: i64,
}

impl Civil {
    fn of(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = since.as_secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let rem = secs % 86_400;
        // Days to (year, month, day), proleptic Gregorian.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
            hour: rem / 3_600,
            minute: rem % 3_600 / 60,
            second: rem % 60,
            micros: since.subsec_micros(),
            days,
        }
    }
}

/// `Thu, 24 Aug 2023 05:01:45 +0000`, as Twilio's `date_created`.
pub fn rfc2822(time: SystemTime) -> String {
    let c = Civil::of(time);
    let weekday = WEEKDAYS[usize::try_from(c.days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(c.month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} +0000",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// `2023-04-03T22:13:42.674981+00:00`, as Resend's `created_at`.
pub fn rfc3339_micros(time: SystemTime) -> String {
    let c = Civil::of(time);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
