//! The rest of an allowed request's headers, screened before it is forwarded: the vault key
//! must leave only through `Authorization` (which the filter replaces), `Authorization` must be
//! sent once, and headers that speak for keybrake or for Envoy are the gateway's to set.
//!
//! The filter hands over every request header, pseudo-headers included, so `:path` (and with
//! it the query string) and `:authority` are screened like the others.

use crate::deny::DenyReason;
use crate::vendor::Vendor;

/// Headers a client may not send on to the vendor: they are the gateway's own.
const STRIPPED_PREFIX: &str = "x-keybrake-";
/// Envoy sets this when it rewrites the prefix; one sent by the client would otherwise stand in
/// the access log of a call the filter refused.
const STRIPPED_EXACT: [&str; 1] = ["x-envoy-original-path"];

const VAULT_KEY_PREFIX: &[u8] = b"vk_";
const ID_HEX_LEN: usize = 16;
const SECRET_HEX_LEN: usize = 64;

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
/// - a vault key in any header but `Authorization`, or in the path or query, as is or
///   percent-encoded: anything of the shape `vk_<16 hex>_<64 hex>`, or the 64-hex secret of the
///   key presented in `Authorization`.
pub fn screen_headers(
    vendor: Vendor,
    headers: &[(String, Vec<u8>)],
) -> Result<Screened, DenyReason> {
    let mut authorizations = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    let presented = authorizations.next().map(|(_, v)| v.as_slice());
    if authorizations.next().is_some() || presented.is_some_and(|a| a.contains(&b',')) {
        return Err(DenyReason::BadRequest);
    }
    let secret = presented
        .and_then(|a| vendor.presented_key(a))
        .and_then(|k| secret_of(&k).map(|s| s.to_ascii_lowercase()));
    let mut strip = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            continue;
        }
        if holds_vault_key(value, secret.as_deref()) {
            return Err(DenyReason::BadRequest);
        }
        let gateways_own =
            lower.starts_with(STRIPPED_PREFIX) || STRIPPED_EXACT.contains(&lower.as_str());
        if gateways_own && !strip.contains(&lower) {
            strip.push(lower);
        }
    }
    Ok(Screened { strip })
}

/// The 64-hex secret of a vault key of the right shape.
fn secret_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("vk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == ID_HEX_LEN && secret.len() == SECRET_HEX_LEN && is_hex(secret.as_bytes()))
        .then_some(secret)
}

fn is_hex(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

/// True when `value`, raw or percent-decoded, holds a vault key's shape or `secret`.
fn holds_vault_key(value: &[u8], secret: Option<&str>) -> bool {
    let check = |v: &[u8]| {
        let lower = v.to_ascii_lowercase();
        has_key_shape(&lower)
            || secret.is_some_and(|s| lower.windows(s.len()).any(|w| w == s.as_bytes()))
    };
    if check(value) {
        return true;
    }
    value.contains(&b'%') && check(&percent_decode(value))
}

/// `vk_` + 16 hex + `_` + 64 hex anywhere in `v` (already lower-case).
fn has_key_shape(v: &[u8]) -> bool {
    let len = VAULT_KEY_PREFIX.len() + ID_HEX_LEN + 1 + SECRET_HEX_LEN;
    v.windows(len).any(|w| {
        let (prefix, rest) = w.split_at(VAULT_KEY_PREFIX.len());
        let (id, rest) = rest.split_at(ID_HEX_LEN);
        prefix == VAULT_KEY_PREFIX && is_hex(id) && rest[0] == b'_' && is_hex(&rest[1..])
    })
}

/// Decodes every valid `%xx` (repeatedly, so a double-encoded key is found too); leaves
/// anything else as it is.
fn percent_decode(v: &[u8]) -> Vec<u8> {
    let mut cur = v.to_vec();
    // Each pass shortens an escape; a handful covers any encoding a vendor would undo.
    for _ in 0..4 {
        let mut out = Vec::with_capacity(cur.len());
        let mut i = 0;
        let mut changed = false;
        while i < cur.len() {
            let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
            match (cur[i], hex(cur.get(i + 1)), hex(cur.get(i + 2))) {
                (b'%', Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                    i += 3;
                    changed = true;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        cur = out;
        if !changed {
            break;
        }
    }
    cur
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
