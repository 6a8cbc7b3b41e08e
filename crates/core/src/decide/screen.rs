//! The rest of an allowed request's headers, screened before it is forwarded: the vault key
//! must leave only through `Authorization` (which the filter replaces), `Authorization` must be
//! sent once, and headers that speak for keybrake or for Envoy are the gateway's to set.
//!
//! The filter hands over every request header, pseudo-headers included, so `:path` (and with
//! it the query string) and `:authority` are screened like the others.

use crate::deny::DenyReason;
use crate::key::{contains_key_shape, VaultKey};
use crate::redact;
use crate::vendor::Vendor;
use percent_encoding::percent_decode;

/// Headers a client may not send on to the vendor: they are the gateway's own.
const STRIPPED_PREFIX: &str = "x-keybrake-";
/// Envoy's own request headers. The router acts on several when it trusts the client
/// (`x-envoy-retry-on` and `x-envoy-max-retries` would resend a charge,
/// `x-envoy-upstream-rq-timeout-ms` would cut a call short and leave its outcome unknown), and a
/// client-sent `x-envoy-original-path` would stand in the access log of a refused call. None of
/// them is the client's to set, so every one is dropped before the request goes on.
const ENVOY_PREFIX: &str = "x-envoy-";
/// Headers that ask a server to treat the request as another method (Rails, Google APIs, many
/// frameworks honour them). The allowlist judged the method on the request line, so a call that
/// carries one is refused rather than forwarded with a meaning nobody checked.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Decoding passes tried when looking for an encoded key; a vendor undoes at most one or two.
const MAX_DECODE_PASSES: usize = 4;

/// What forwarding must do to the request's other headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Screened {
    /// Lower-case names to remove before the request goes on.
    pub strip: Vec<String>,
}

/// Screens `headers` (lower-case names, raw values, as Envoy hands them over) of a call that
/// [`super::decide`] allowed for `vendor`. Refuses with `bad_request`:
/// - more than one `Authorization` (Envoy joins repeated ones with `,`, which no credential form
///   contains; a list with two entries is refused the same way);
/// - a vault key in any other header, as is or percent-encoded: anything of the shape
///   `vk_<16 hex>_<64 hex>`, or the 64-hex secret of the key presented in `Authorization`;
/// - a path or query that holds a secret's worth of hex ([`redact::has_secret_run`]): no vendor
///   identifier has one, and the path is written to the access log as received;
/// - a method-override header ([`METHOD_OVERRIDE_HEADERS`]).
///
/// `x-keybrake-*` and `x-envoy-*` headers are listed in [`Screened::strip`].
pub fn screen_headers(
    vendor: Vendor,
    headers: &[(String, Vec<u8>)],
) -> Result<Screened, DenyReason> {
    let mut authorizations = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    let authorization = authorizations.next().map(|(_, v)| v.as_slice());
    if authorizations.next().is_some() || authorization.is_some_and(|a| a.contains(&b',')) {
        return Err(DenyReason::BadRequest);
    }
    let presented = authorization
        .and_then(|a| vendor.presented_key(a))
        .and_then(|k| VaultKey::parse(&k.to_ascii_lowercase()).ok());
    let secret = presented.as_ref().map(|k| k.secret().as_bytes());
    let mut strip: Vec<String> = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            continue;
        }
        if METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            return Err(DenyReason::BadRequest);
        }
        if holds_vault_key(value, secret) {
            return Err(DenyReason::BadRequest);
        }
        if name.eq_ignore_ascii_case(":path") && redact::redact(value).is_some() {
            return Err(DenyReason::BadRequest);
        }
        let gateways_own = starts_with_ignore_case(name, STRIPPED_PREFIX)
            || starts_with_ignore_case(name, ENVOY_PREFIX);
        if gateways_own && !strip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            strip.push(name.to_ascii_lowercase());
        }
    }
    Ok(Screened { strip })
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// True when `value`, raw or percent-decoded (repeatedly, so a double-encoded key is found
/// too), holds a vault key's shape or `secret`, in any letter case.
fn holds_vault_key(value: &[u8], secret: Option<&[u8]>) -> bool {
    // Both a key's shape and its secret hold a run of 64 hex digits: a value without one and
    // with nothing to decode holds neither (the common case, checked without a copy).
    if !value.contains(&b'%') && !redact::has_secret_run(value) {
        return false;
    }
    let check = |v: &[u8]| {
        contains_key_shape(v)
            || secret.is_some_and(|s| v.windows(s.len()).any(|w| w.eq_ignore_ascii_case(s)))
    };
    let mut current = value.to_vec();
    for _ in 0..MAX_DECODE_PASSES {
        if check(&current) {
            return true;
        }
        if !current.contains(&b'%') {
            return false;
        }
        let decoded: Vec<u8> = percent_decode(&current).collect();
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    check(&current)
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
