//! Which endpoint a method and path name: the account itself, `/2010-04-01/Accounts/{Sid}.json`,
//! and what lies under `/2010-04-01/Accounts/{AccountSid}/`.

use axum::http::Method;

use super::error::TwilioError;

/// The API version in every path, echoed as `api_version`.
pub const API_VERSION: &str = "2010-04-01";

/// An endpoint the mock serves, with the account SID the path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub account: String,
    pub endpoint: Endpoint,
}

/// What is asked of the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /2010-04-01/Accounts/{Sid}.json`: the account resource.
    FetchAccount,
    /// `POST …/Messages.json`.
    CreateMessage,
    /// `GET …/Messages/{Sid}.json`.
    FetchMessage(String),
    /// `POST …/Calls.json`.
    CreateCall,
    /// `GET …/Calls/{Sid}.json`.
    FetchCall(String),
    /// `POST …/Calls/{Sid}.json`.
    UpdateCall(String),
}

impl Route {
    /// The endpoint for `method` and `path` (no query string), or Twilio's 404 / 405.
    pub fn parse(method: &Method, path: &str) -> Result<Self, TwilioError> {
        let not_found = || TwilioError::NotFound {
            path: path.to_owned(),
        };
        let segments: Vec<&str> = path.split('/').collect();
        if let ["", API_VERSION, "Accounts", file] = segments.as_slice() {
            let account = sid(file).ok_or_else(not_found)?;
            if *method != Method::GET {
                return Err(TwilioError::MethodNotAllowed {
                    method: method.as_str().to_owned(),
                });
            }
            return Ok(Self {
                account,
                endpoint: Endpoint::FetchAccount,
            });
        }
        let (account, rest) = match segments.as_slice() {
            ["", API_VERSION, "Accounts", account, rest @ ..] if !account.is_empty() => {
                (*account, rest)
            }
            _ => return Err(not_found()),
        };
        let (endpoint, allowed) = match rest {
            ["Messages.json"] => (Endpoint::CreateMessage, Method::POST),
            ["Calls.json"] => (Endpoint::CreateCall, Method::POST),
            ["Messages", file] => (
                Endpoint::FetchMessage(sid(file).ok_or_else(not_found)?),
                Method::GET,
            ),
            ["Calls", file] if *method == Method::POST => (
                Endpoint::UpdateCall(sid(file).ok_or_else(not_found)?),
                Method::POST,
            ),
            ["Calls", file] => (
                Endpoint::FetchCall(sid(file).ok_or_else(not_found)?),
                Method::GET,
            ),
            _ => return Err(not_found()),
        };
        if *method != allowed {
            return Err(TwilioError::MethodNotAllowed {
                method: method.as_str().to_owned(),
            });
        }
        Ok(Self {
            account: account.to_owned(),
            endpoint,
        })
    }
}

/// `SM123.json` → `SM123`.
fn sid(file: &str) -> Option<String> {
    file.strip_suffix(".json")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/2010-04-01/Accounts/AC1";

    #[test]
    fn routes() {
        let ok = |endpoint| {
            Ok(Route {
                account: "AC1".to_owned(),
                endpoint,
            })
        };
        let cases = [
            (
                "fetch the account",
                Method::GET,
                format!("{BASE}.json"),
                ok(Endpoint::FetchAccount),
            ),
            (
                "send a message",
                Method::POST,
                format!("{BASE}/Messages.json"),
                ok(Endpoint::CreateMessage),
            ),
            (
                "fetch a message",
                Method::GET,
                format!("{BASE}/Messages/SM9.json"),
                ok(Endpoint::FetchMessage("SM9".into())),
            ),
            (
                "place a call",
                Method::POST,
                format!("{BASE}/Calls.json"),
                ok(Endpoint::CreateCall),
            ),
            (
                "fetch a call",
                Method::GET,
                format!("{BASE}/Calls/CA9.json"),
                ok(Endpoint::FetchCall("CA9".into())),
            ),
            (
                "update a call",
                Method::POST,
                format!("{BASE}/Calls/CA9.json"),
                ok(Endpoint::UpdateCall("CA9".into())),
            ),
            (
                "delete a call is not served",
                Method::DELETE,
                format!("{BASE}/Calls/CA9.json"),
                Err(405),
            ),
            (
                "listing is not served",
                Method::GET,
                format!("{BASE}/Messages.json"),
                Err(405),
            ),
            (
                "update is not served",
                Method::POST,
                format!("{BASE}/Messages/SM9.json"),
                Err(405),
            ),
            (
                "xml flavour",
                Method::POST,
                format!("{BASE}/Messages"),
                Err(404),
            ),
            (
                "other version",
                Method::POST,
                "/2008-08-01/Accounts/AC1/Messages.json".to_owned(),
                Err(404),
            ),
            (
                "unknown resource",
                Method::POST,
                format!("{BASE}/Faxes.json"),
                Err(404),
            ),
            (
                "no account",
                Method::POST,
                "/2010-04-01/Accounts//Messages.json".to_owned(),
                Err(404),
            ),
        ];
        for (name, method, path, expected) in cases {
            let got = Route::parse(&method, &path).map_err(|e| e.to_reply().0.as_u16());
            assert_eq!(got, expected, "{name}");
        }
    }
}
