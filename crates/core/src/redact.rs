//! Secrets out of everything keybrake (or Envoy, through the request headers it logs) writes
//! down: access-log lines, audit records, log messages.
//!
//! A vault key can arrive where it does not belong: in the path (`/v1/customers/<vault key>`),
//! in the query, in any header, raw or percent-encoded once or more. Such a call is refused, but
//! the refusal is still recorded, so what is recorded must not hold the key. The rule is
//! deliberately wider than the key's exact shape: any run of [`SECRET_HEX_LEN`] or more hex
//! digits is a secret's worth of entropy (a key's secret half alone, a key upper-cased, a key with
//! a character appended) and no identifier of Stripe, Twilio or Resend has one (their ids are
//! prefixed base62, `XX` + 32 hex, or dashed UUIDs).

use crate::key::SECRET_HEX_LEN;
use percent_encoding::percent_decode;

/// What stands where a secret was.
pub const REDACTED: &str = "[redacted]";

/// Decoding passes tried on a percent-encoded value; a vendor undoes at most one or two.
const MAX_DECODE_PASSES: usize = 4;

/// `value` with every run of 64 or more hex digits replaced by [`REDACTED`], looking through any
/// number (up to four) of percent-encodings; `None` when it holds no such run, so the caller
/// keeps the original. When something was redacted the result is the fully decoded text (lossy
/// UTF-8), since an encoded secret cannot be cut out of its encoded form reliably; it is for
/// recording, never for forwarding. A vault key keeps its public part:
/// `vk_0123456789abcdef_[redacted]`.
pub fn redact(value: &[u8]) -> Option<String> {
    if !value.contains(&b'%') && !has_secret_run(value) {
        return None;
    }
    let mut current = value.to_vec();
    let mut found = has_secret_run(&current);
    for _ in 0..MAX_DECODE_PASSES {
        if !current.contains(&b'%') {
            break;
        }
        let decoded: Vec<u8> = percent_decode(&current).collect();
        if decoded == current {
            break;
        }
        current = decoded;
        found = found || has_secret_run(&current);
    }
    if !found {
        return None;
    }
    let text = String::from_utf8_lossy(&current);
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        flush_run(&mut out, &mut run);
        out.push(c);
    }
    flush_run(&mut out, &mut run);
    Some(out)
}

/// [`redact`], or `value` itself when it holds nothing to redact.
pub fn redacted_or_same(value: &str) -> String {
    redact(value.as_bytes()).unwrap_or_else(|| value.to_owned())
}

/// The request headers (lower-case names, raw values, as Envoy hands them over) that hold a
/// secret, each with the value to put in its place before anything writes the request down.
/// `authorization` is left out: the filter removes or replaces it on every path.
pub fn headers_to_redact(headers: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
        .filter_map(|(name, value)| redact(value).map(|r| (name.to_ascii_lowercase(), r)))
        .collect()
}

/// True when `v` holds a run of 64 or more hex digits.
pub fn has_secret_run(v: &[u8]) -> bool {
    let mut run = 0usize;
    for b in v {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= SECRET_HEX_LEN {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.len() >= SECRET_HEX_LEN {
        out.push_str(REDACTED);
    } else {
        out.push_str(run);
    }
    run.clear();
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
