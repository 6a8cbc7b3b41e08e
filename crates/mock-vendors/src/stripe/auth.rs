//! Stripe's two credential forms: `Bearer <key>` and `Basic base64(<key>:)`.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::StripeError;

/// Prefixes Stripe leaves visible when it quotes a key back in an error.
const KEY_PREFIXES: [&str; 6] = [
    "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
];

/// Accepts the request only if it carries exactly `api_key`.
pub fn check(headers: &HeaderMap, api_key: &str) -> Result<(), StripeError> {
    let presented = presented_key(headers)?;
    if presented == api_key {
        Ok(())
    } else {
        Err(StripeError::InvalidKey {
            masked: mask(&presented),
        })
    }
}

/// The key a request presents, or why none could be read.
pub fn presented_key(headers: &HeaderMap) -> Result<String, StripeError> {
    let value = headers
        .get(AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .unwrap_or_default();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") && !rest.is_empty() {
        let decoded = STANDARD
            .decode(rest)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|_| StripeError::InvalidKey { masked: mask(rest) })?;
        let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        if user.is_empty() {
            return Err(StripeError::MissingKey);
        }
        if !password.is_empty() {
            // Stripe takes the key as the user name and nothing as the password.
            return Err(StripeError::InvalidKey {
                masked: mask(&decoded),
            });
        }
        return Ok(user.to_owned());
    }
    Err(StripeError::MissingKey)
}

/// A key as Stripe quotes it in errors: known prefix kept, last four characters kept,
/// everything between replaced by one `*` per character.
pub fn mask(key: &str) -> String {
    let prefix = KEY_PREFIXES
        .iter()
        .find(|p| key.starts_with(**p))
        .copied()
        .unwrap_or("");
    let rest: Vec<char> = key[prefix.len()..].chars().collect();
    let shown = if rest.len() > 8 { 4 } else { 0 };
    let hidden = rest.len() - shown;
    let mut out = String::with_capacity(key.len());
    out.push_str(prefix);
    out.extend(std::iter::repeat_n('*', hidden));
    out.extend(&rest[hidden..]);
    out
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const KEY: &str = "sk_test_keybrake_mock";

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(AUTHORIZATION, value);
            }
        }
        headers
    }

    fn basic(credentials: &str) -> String {
        format!("Basic {}", STANDARD.encode(credentials))
    }

    #[test]
    fn credential_forms() {
        let cases: [(&str, Option<String>, Result<(), StripeError>); 9] = [
            ("bearer", Some(format!("Bearer {KEY}")), Ok(())),
            (
                "bearer lower-case scheme",
                Some(format!("bearer {KEY}")),
                Ok(()),
            ),
            (
                "basic with empty password",
                Some(basic(&format!("{KEY}:"))),
                Ok(()),
            ),
            ("basic without colon", Some(basic(KEY)), Ok(())),
            ("no header", None, Err(StripeError::MissingKey)),
            (
                "empty bearer",
                Some("Bearer ".to_owned()),
                Err(StripeError::MissingKey),
            ),
            (
                "unknown scheme",
                Some(format!("Token {KEY}")),
                Err(StripeError::MissingKey),
            ),
            (
                "wrong key",
                Some("Bearer sk_test_somethingelse1234".to_owned()),
                Err(StripeError::InvalidKey {
                    masked: "sk_test_*************1234".to_owned(),
                }),
            ),
            (
                "basic with a password",
                Some(basic(&format!("{KEY}:secret"))),
                Err(StripeError::InvalidKey {
                    masked: mask(&format!("{KEY}:secret")),
                }),
            ),
        ];
        for (name, header, expected) in cases {
            assert_eq!(check(&headers(header.as_deref()), KEY), expected, "{name}");
        }
    }

    #[test]
    fn masking() {
        let cases = [
            (
                "stripe key",
                "sk_test_abcdefghijkl1234",
                "sk_test_************1234",
            ),
            (
                "vault key, no known prefix",
                "vk_abcdefgh5678",
                "***********5678",
            ),
            ("short remainder fully hidden", "sk_test_abc", "sk_test_***"),
            ("empty", "", ""),
        ];
        for (name, key, expected) in cases {
            assert_eq!(mask(key), expected, "{name}");
        }
    }
}
