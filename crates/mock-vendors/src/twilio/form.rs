//! Twilio's request bodies: `application/x-www-form-urlencoded`, case-sensitive names,
//! repeatable parameters (`MediaUrl`).

/// Decoded form parameters in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes a form body (`+` and `%xx` included).
    pub fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first non-empty value of `name`, if any (Twilio treats `X=` as unset).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of a repeatable parameter, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Whether `number` is E.164: `+`, then 2 to 15 digits, the first not 0.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Whether `to` is an address Twilio delivers messages to: E.164, optionally behind a
/// channel prefix (`whatsapp:+1…`).
pub fn is_message_address(to: &str) -> bool {
    let number = ["whatsapp:", "messenger:", "rcs:"]
        .iter()
        .find_map(|p| to.strip_prefix(p))
        .unwrap_or(to);
    is_e164(number)
}

/// Whether `from` can send a message: an address as above, a short code (3 to 8 digits) or
/// an alphanumeric sender id (up to 11 letters, digits and spaces, at least one letter).
pub fn is_sender(from: &str) -> bool {
    let short_code = (3..=8).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&from.len())
        && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && from.bytes().any(|b| b.is_ascii_alphabetic());
    is_message_address(from) || short_code || alphanumeric
}

/// Whether `to` is something a call can dial: E.164, a `client:` or a `sip:` address.
pub fn is_call_address(to: &str) -> bool {
    is_e164(to)
        || to
            .strip_prefix("client:")
            .or_else(|| to.strip_prefix("sip:"))
            .is_some_and(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_values() {
        let params = Params::parse(b"To=%2B15558675310&MediaUrl=a&MediaUrl=b&Body=&From=+1");
        assert_eq!(params.get("To"), Some("+15558675310"));
        assert_eq!(params.all("MediaUrl"), vec!["a", "b"]);
        assert_eq!(params.get("Body"), None, "empty is unset");
        assert_eq!(params.get("to"), None, "names are case-sensitive");
        assert_eq!(params.get("From"), Some(" 1"), "+ decodes to a space");
    }

    #[test]
    fn addresses() {
        let cases = [
            ("us number", "+15558675310", true, true),
            ("whatsapp", "whatsapp:+15558675310", true, false),
            ("no plus", "15558675310", false, false),
            ("leading zero", "+05558675310", false, false),
            ("too long", "+1234567890123456", false, false),
            ("letters", "+1555CALLNOW", false, false),
            ("sip", "sip:alice@example.com", false, true),
            ("client", "client:alice", false, true),
            ("empty", "", false, false),
        ];
        for (name, address, message, call) in cases {
            assert_eq!(is_message_address(address), message, "{name}: message");
            assert_eq!(is_call_address(address), call, "{name}: call");
        }
        let senders = [
            ("number", "+15005550006", true),
            ("short code", "20404", true),
            ("alphanumeric", "Keybrake", true),
            ("alphanumeric too long", "KeybrakeMock1", false),
            ("digits only, too long for a short code", "123456789", false),
            ("punctuation", "Key-brake", false),
        ];
        for (name, from, ok) in senders {
            assert_eq!(is_sender(from), ok, "{name}");
        }
    }
}
