//! Twilio's HTTP Basic credentials: Account SID + Auth Token, or API key SID + secret.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::TwilioError;

/// The credentials one Twilio mock accepts, all belonging to one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `AC` + 32 characters. Also the only account the paths may name.
    pub account_sid: String,
    /// The account's auth token, the password paired with `account_sid`.
    pub auth_token: String,
    /// An API key (`SK…`, secret) accepted as well, if configured.
    pub api_key: Option<(String, String)>,
}

impl Credentials {
    /// The account the request authenticates as, or Twilio's 401.
    pub fn check(&self, headers: &HeaderMap) -> Result<&str, TwilioError> {
        let (user, password) = basic(headers).ok_or(TwilioError::Authenticate)?;
        let account = user == self.account_sid && password == self.auth_token;
        let api_key = self
            .api_key
            .as_ref()
            .is_some_and(|(sid, secret)| user == *sid && password == *secret);
        if account || api_key {
            Ok(&self.account_sid)
        } else {
            Err(TwilioError::Authenticate)
        }
    }
}

/// The user name and password of a `Basic` `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const SID: &str = "ACkeybrakemock00000000000000000000";

    fn creds() -> Credentials {
        Credentials {
            account_sid: SID.to_owned(),
            auth_token: "token".to_owned(),
            api_key: Some(("SKkey".to_owned(), "secret".to_owned())),
        }
    }

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    fn basic(creds: &str) -> HeaderMap {
        with(&format!("Basic {}", STANDARD.encode(creds)))
    }

    #[test]
    fn credential_forms() {
        let cases = [
            (
                "account sid and token",
                basic(&format!("{SID}:token")),
                true,
            ),
            ("api key and secret", basic("SKkey:secret"), true),
            (
                "lower-case scheme",
                with(&format!(
                    "basic {}",
                    STANDARD.encode(format!("{SID}:token"))
                )),
                true,
            ),
            ("wrong token", basic(&format!("{SID}:nope")), false),
            ("api key with the auth token", basic("SKkey:token"), false),
            ("sid without password", basic(SID), false),
            ("bearer", with("Bearer token"), false),
            ("not base64", with("Basic %%%"), false),
            ("no header", HeaderMap::new(), false),
        ];
        for (name, headers, accepted) in cases {
            assert_eq!(creds().check(&headers).is_ok(), accepted, "{name}");
        }
    }
}
