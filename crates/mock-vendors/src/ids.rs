//! Random identifiers shaped like the vendors' own (`pi_` + 24 alphanumerics, `req_…`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` followed by `len` random ASCII letters and digits.
pub fn random_id(prefix: &str, len: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    while out.len() < prefix.len() + len {
        for byte in random_bytes(len) {
            // Rejection sampling keeps the 62 symbols equally likely.
            if byte < 248 && out.len() < prefix.len() + len {
                out.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    out
}

/// `prefix` followed by 32 random lower-case hex digits, as Twilio SIDs (`SM…`, `CA…`).
pub fn twilio_sid(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(prefix);
    for byte in random_bytes(16) {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A random (version 4, RFC 9562) UUID in lower-case hyphenated form, as Resend's ids.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seconds since the Unix epoch, as Stripe's `created` fields carry them.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if getrandom::fill(&mut buf).is_err() {
        // A mock must keep answering even without an OS entropy source; ids only need to
        // be unique, not secret.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut state = now_millis() ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        for byte in &mut buf {
            state = splitmix64(state);
            *byte = state.to_le_bytes()[0];
        }
    }
    buf
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_alphabet() {
        let id = random_id("pi_", 24);
        assert_eq!(id.len(), 27);
        assert!(id.starts_with("pi_"));
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, random_id("pi_", 24));
    }

    #[test]
    fn twilio_sids_are_34_hex_characters() {
        let sid = twilio_sid("SM");
        assert_eq!(sid.len(), 34);
        assert!(sid[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, uuid_v4());
    }
}
