//! Durations as people write them: `"30m"`, `"2h"`, `"1d"`, `"90s"`, or plain seconds.

use std::time::Duration;

/// Parses a duration string: digits only means seconds, anything else goes through
/// `humantime` (`30m`, `2h`, `1d`, `1h 30m`). Must be at least one second; sub-second parts
/// are dropped.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    let d = if s.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(s.parse().map_err(|_| "is too large".to_owned())?)
    } else {
        humantime::parse_duration(s).map_err(|_| {
            format!("{s:?} is not a duration; use seconds or a number with s, m, h or d (\"30m\")")
        })?
    };
    if d.as_secs() == 0 {
        return Err("must be at least one second".to_owned());
    }
    Ok(Duration::from_secs(d.as_secs()))
}

/// `2h 30m` style, for messages.
pub fn display(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_people_write_them() {
        let cases: [(&str, &str, Option<u64>); 11] = [
            ("minutes", "30m", Some(1800)),
            ("hours", "2h", Some(7200)),
            ("days", "1d", Some(86_400)),
            ("seconds suffix", "90s", Some(90)),
            ("digits are seconds", "3600", Some(3600)),
            ("compound", "1h 30m", Some(5400)),
            ("zero", "0", None),
            ("zero suffixed", "0m", None),
            ("sub-second", "500ms", None),
            ("negative", "-5m", None),
            ("words", "soon", None),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse(input).ok().map(|d| d.as_secs()), want, "case {name}");
        }
    }
}
