//! The Twilio account-SID rewrite against every shape of account-scoped path twilio-python
//! builds (`twilio/rest/api/v2010/**`: `/Accounts/{Sid}.json`, `/Accounts/{Sid}/<Resource>.json`,
//! `/Accounts/{Sid}/<Resource>/{Sid}.json`, nested sub-resources, the account list): only the
//! SID changes, suffixes and everything after it stay.

use super::*;
use crate::endpoint::EndpointPattern;
use crate::snapshot::{KeyEntry, Snapshot};
use crate::vendor::VendorCredential;
use base64::Engine as _;

const NOW: u64 = 1_800_000_000_000;
const REAL: &str = "ACe2e00000000000000000000000000000";
const PLACEHOLDER: &str = "AC00000000000000000000000000000000";

#[test]
fn only_the_account_sid_changes_in_every_twilio_sdk_path_shape() {
    let key = VaultKey::generate().unwrap();
    let index = PolicyIndex::build(Snapshot {
        version: 1,
        generated_at_ms: NOW,
        keys: vec![KeyEntry {
            key_id: key.id().to_string(),
            secret_sha256: key.hash().to_hex(),
            vendor: Vendor::Twilio,
            daily_cap_micros: 5_000_000,
            // Any GET of 2 to 9 segments.
            allowed_endpoints: (2..10)
                .map(|n| EndpointPattern::parse(&format!("GET {}", "/*".repeat(n))).unwrap())
                .collect(),
            expires_at_ms: NOW + 60_000,
            revoked: false,
            label: "twilio/paths".into(),
        }],
        credentials: vec![VendorCredential::Twilio {
            account_sid: REAL.into(),
            auth_token: Some("tok".into()),
            api_key_sid: None,
            api_key_secret: None,
        }],
        rates: vec![],
        prices: Default::default(),
    });
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PLACEHOLDER}:{}", key.expose()))
    );
    // (the SDK's path with {Sid} for the account, the path the vendor must receive)
    let shapes = [
        "/2010-04-01/Accounts/{Sid}.json",
        "/2010-04-01/Accounts/{Sid}/Messages.json",
        "/2010-04-01/Accounts/{Sid}/Messages/SM0123456789abcdef0123456789abcdef.json",
        "/2010-04-01/Accounts/{Sid}/Messages/SM0123456789abcdef0123456789abcdef/Media.json",
        "/2010-04-01/Accounts/{Sid}/Calls.json",
        "/2010-04-01/Accounts/{Sid}/Calls/CA0123456789abcdef0123456789abcdef.json",
        "/2010-04-01/Accounts/{Sid}/Calls/CA0123456789abcdef0123456789abcdef/Recordings.json",
        "/2010-04-01/Accounts/{Sid}/Conferences/CF0123456789abcdef0123456789abcdef/Participants/CA0123456789abcdef0123456789abcdef.json",
        "/2010-04-01/Accounts/{Sid}/IncomingPhoneNumbers/Local.json",
        "/2010-04-01/Accounts/{Sid}/AvailablePhoneNumbers/US/Local.json",
        "/2010-04-01/Accounts/{Sid}/Usage/Records/Today.json",
        "/2010-04-01/Accounts/{Sid}/Messages.json?PageSize=50&To=%2B15558675310",
        "/2010-04-01/Accounts/{Sid}.json?x=1",
    ];
    for shape in shapes {
        let sent = format!("/twilio{}", shape.replace("{Sid}", PLACEHOLDER));
        let want = format!("/twilio{}", shape.replace("{Sid}", REAL));
        let a = decide(
            &index,
            &RequestFacts {
                method: b"GET",
                path: sent.as_bytes(),
                authorization: Some(auth.as_bytes()),
                now_ms: NOW,
            },
        )
        .unwrap_or_else(|d| panic!("{shape}: refused with {:?}", d.reason));
        assert_eq!(a.rewrite_path.as_deref(), Some(want.as_str()), "{shape}");

        let already = decide(
            &index,
            &RequestFacts {
                method: b"GET",
                path: want.as_bytes(),
                authorization: Some(auth.as_bytes()),
                now_ms: NOW,
            },
        )
        .unwrap();
        assert_eq!(already.rewrite_path, None, "{shape}: nothing to rewrite");
    }
    // The account list has no account segment: nothing to rewrite.
    let list = decide(
        &index,
        &RequestFacts {
            method: b"GET",
            path: b"/twilio/2010-04-01/Accounts.json",
            authorization: Some(auth.as_bytes()),
            now_ms: NOW,
        },
    )
    .unwrap();
    assert_eq!(list.rewrite_path, None);
}
