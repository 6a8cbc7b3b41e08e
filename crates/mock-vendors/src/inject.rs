//! The mock-only request headers every vendor mock honours: `x-mock-status` forces a failure,
//! `x-mock-delay-ms` holds the reply back. Each mock turns a bad value into its own vendor's
//! error shape; this module only reads the headers.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

/// Forces the reply's status (400 to 599) with a body shaped like the vendor's.
pub const STATUS_HEADER: &str = "x-mock-status";

/// Holds the reply back this many milliseconds (at most [`MAX_DELAY_MS`]).
pub const DELAY_HEADER: &str = "x-mock-delay-ms";

/// The longest delay `x-mock-delay-ms` may ask for.
pub const MAX_DELAY_MS: u64 = 30_000;

/// A mock-only header with a value the mock cannot honour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadMockHeader {
    /// The header's name, e.g. `x-mock-status`.
    pub header: &'static str,
    /// What a valid value looks like, for the error message.
    pub message: &'static str,
}

/// The status forced with `x-mock-status`, if the header is present.
pub fn forced_status(headers: &HeaderMap) -> Result<Option<StatusCode>, BadMockHeader> {
    let Some(raw) = headers.get(STATUS_HEADER) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .filter(|code| (400..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .map(Some)
        .ok_or(BadMockHeader {
            header: STATUS_HEADER,
            message: "x-mock-status must be a status code from 400 to 599.",
        })
}

/// The delay asked for with `x-mock-delay-ms`, if the header is present.
pub fn delay(headers: &HeaderMap) -> Result<Option<Duration>, BadMockHeader> {
    let Some(raw) = headers.get(DELAY_HEADER) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|ms| *ms <= MAX_DELAY_MS)
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or(BadMockHeader {
            header: DELAY_HEADER,
            message: "x-mock-delay-ms must be a whole number of milliseconds from 0 to 30000.",
        })
}

/// Both mock-only headers checked at once: the first bad one, if any.
pub fn check(headers: &HeaderMap) -> Result<(), BadMockHeader> {
    forced_status(headers)?;
    delay(headers)?;
    Ok(())
}

/// Sleeps for the delay the request asked for; a bad or absent header means no delay (the
/// mock has already refused a bad value by then).
pub async fn hold_reply(headers: &HeaderMap) {
    if let Ok(Some(delay)) = delay(headers) {
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn status_values() {
        let cases = [
            ("server error", "503", Ok(Some(503))),
            ("padded", " 429 ", Ok(Some(429))),
            ("success is not a failure", "200", Err(())),
            ("not a number", "boom", Err(())),
        ];
        for (name, value, expected) in cases {
            let got = forced_status(&with(STATUS_HEADER, value))
                .map(|s| s.map(|s| s.as_u16()))
                .map_err(|_| ());
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(forced_status(&HeaderMap::new()), Ok(None), "absent");
    }

    #[test]
    fn delay_values() {
        let cases = [
            ("zero", "0", Ok(Some(0))),
            ("some", "250", Ok(Some(250))),
            ("the maximum", "30000", Ok(Some(30_000))),
            ("over the maximum", "30001", Err(())),
            ("negative", "-1", Err(())),
            ("fraction", "1.5", Err(())),
        ];
        for (name, value, expected) in cases {
            let got = delay(&with(DELAY_HEADER, value))
                .map(|d| d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
                .map_err(|_| ());
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(delay(&HeaderMap::new()), Ok(None), "absent");
    }
}
