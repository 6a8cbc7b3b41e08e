//! The per-request decision: from the facts of one request and the current policy index to
//! "forward with this credential" or "refuse for this reason".

use crate::cost;
use crate::deny::DenyReason;
use crate::endpoint::{join_path, NormalizedPath};
use crate::key::{VaultKey, VaultKeyId};
use crate::snapshot::{IndexedKey, PolicyIndex, SyncStatus};
use crate::vendor::Vendor;

mod screen;
pub use screen::{screen_headers, Screened};

/// What the filter read from a request's headers.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    pub method: &'a [u8],
    /// The `:path` as received, vendor prefix included (`/stripe/v1/…`).
    pub path: &'a [u8],
    pub authorization: Option<&'a [u8]>,
    pub now_ms: u64,
}

/// A call that may go on.
#[derive(Debug)]
pub struct Allowed<'i> {
    pub vendor: Vendor,
    pub key: &'i IndexedKey,
    /// Replaces the vault key in `Authorization`.
    pub upstream_authorization: &'i str,
    /// The canonical `:path` to forward, when it differs from the one received.
    pub rewrite_path: Option<String>,
    /// The upper-case method to forward, when the request's was not.
    pub rewrite_method: Option<String>,
    /// The vendor's own path (without the prefix and the query), for logs and audit.
    pub vendor_path: String,
    pub method: String,
}

/// A call refused locally. `vendor` and `key` are set when they were known by then, so the
/// refusal can take the vendor's shape and the log can name the key.
#[derive(Debug)]
pub struct Denied<'i> {
    pub reason: DenyReason,
    pub vendor: Option<Vendor>,
    pub key: Option<&'i IndexedKey>,
    /// The vendor's own path, normalized, once the path could be read.
    pub vendor_path: Option<String>,
    /// What to do instead, for the refusal's message (a `cost_not_bounded` call says which
    /// field to name or where to make the call).
    pub advice: Option<&'static str>,
}

/// Whether the gateway may decide at all: it needs a snapshot, confirmed by the control plane
/// within `max_age_ms`. Fails closed.
pub fn policy_available(status: Option<SyncStatus>, now_ms: u64, max_age_ms: u64) -> bool {
    status.is_some_and(|s| s.version > 0 && s.is_fresh(now_ms, max_age_ms))
}

/// The vendor a request is addressed to, from its first path segment, for shaping refusals
/// made before the path is fully checked. Cheap: no allocation.
pub fn vendor_hint(path: &[u8]) -> Option<Vendor> {
    let rest = path.strip_prefix(b"/")?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    Vendor::route(std::str::from_utf8(&rest[..end]).ok()?).map(|(v, _)| v)
}

/// The vendor a request is addressed to and its path in the vendor's own terms (normalized, the
/// gateway's prefix removed), without a policy: for recording a call refused before its policy
/// could be read. `None` when the path is unreadable or names no vendor.
pub fn vendor_and_path(path: &[u8]) -> Option<(Vendor, String)> {
    let path = NormalizedPath::parse(path).ok()?;
    let (vendor, prefix_len) = Vendor::route(path.segments().first()?)?;
    Some((vendor, join_path(&path.segments()[prefix_len..])))
}

/// The ids of the vault keys an `Authorization` value could present, in any vendor's form
/// (at most two: a Basic credential's user and password). A worker brings these keys' policy
/// up to date before [`decide`], which then reads the one the request's vendor presents.
pub fn presented_key_ids(authorization: Option<&[u8]>) -> Vec<VaultKeyId> {
    let Some(a) = authorization else {
        return Vec::new();
    };
    // Bearer gives Stripe's and Resend's form the same string: each is parsed once.
    let mut presented: Vec<String> = Vec::with_capacity(2);
    for k in Vendor::ALL.iter().filter_map(|v| v.presented_key(a)) {
        if !presented.contains(&k) {
            presented.push(k);
        }
    }
    presented
        .iter()
        .filter_map(|k| VaultKey::parse(k).ok())
        .map(|k| k.id().clone())
        .collect()
}

/// Twilio puts the account SID in the path (`/2010-04-01/Accounts/{Sid}/…`); an agent holds
/// only a placeholder, so the real one replaces whatever it sent. Only the SID changes: a
/// suffix in the same segment stays (`/Accounts/{Sid}.json` is the account itself, as
/// twilio-python's `client.api.v2010.account.fetch()` sends it). Returns the new segment.
fn twilio_sid_to_rewrite(
    vendor: Vendor,
    segments: &[String],
    real: Option<&str>,
) -> Option<String> {
    match (vendor, segments, real) {
        (Vendor::Twilio, [version, accounts, segment, ..], Some(real))
            if version == "2010-04-01" && accounts == "Accounts" =>
        {
            let (sid, suffix) = segment.split_at(segment.find('.').unwrap_or(segment.len()));
            (sid != real).then(|| format!("{real}{suffix}"))
        }
        _ => None,
    }
}

/// Decides one request against `index`.
pub fn decide<'i>(
    index: &'i PolicyIndex,
    facts: &RequestFacts<'_>,
) -> Result<Allowed<'i>, Denied<'i>> {
    let unreadable = || Denied {
        reason: DenyReason::BadRequest,
        vendor: None,
        key: None,
        vendor_path: None,
        advice: None,
    };
    let mut path = NormalizedPath::parse(facts.path).map_err(|_| unreadable())?;
    let (vendor, prefix_len) = path
        .segments()
        .first()
        .and_then(|first| Vendor::route(first))
        .ok_or_else(unreadable)?;
    let vendor_segments = &path.segments()[prefix_len..];
    let vendor_path = join_path(vendor_segments);
    let deny = |reason, vendor, key| Denied {
        reason,
        vendor,
        key,
        vendor_path: Some(vendor_path.clone()),
        advice: None,
    };

    let method = std::str::from_utf8(facts.method)
        .ok()
        .filter(|m| !m.is_empty() && m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or_else(|| deny(DenyReason::BadRequest, Some(vendor), None))?;
    let upper = method.to_ascii_uppercase();

    // Envoy joins repeated `Authorization` headers with `,`, which no credential form holds:
    // which one the vendor would honour is not ours to guess.
    if facts.authorization.is_some_and(|a| a.contains(&b',')) {
        return Err(deny(DenyReason::BadRequest, Some(vendor), None));
    }

    let presented = facts
        .authorization
        .and_then(|a| vendor.presented_key(a))
        .and_then(|k| VaultKey::parse(&k).ok())
        .ok_or_else(|| deny(DenyReason::UnknownKey, Some(vendor), None))?;
    let key = index
        .key(presented.id())
        .filter(|k| k.hash.verify(&presented))
        .ok_or_else(|| deny(DenyReason::UnknownKey, Some(vendor), None))?;

    if key.revoked {
        return Err(deny(DenyReason::KeyRevoked, Some(vendor), Some(key)));
    }
    if facts.now_ms >= key.expires_at_ms {
        return Err(deny(DenyReason::KeyExpired, Some(vendor), Some(key)));
    }
    if key.vendor != vendor {
        return Err(deny(DenyReason::WrongVendor, Some(vendor), Some(key)));
    }
    if !key
        .allowed_endpoints
        .iter()
        .any(|p| p.matches(&upper, vendor_segments))
    {
        return Err(deny(
            DenyReason::EndpointNotAllowed,
            Some(vendor),
            Some(key),
        ));
    }
    // Every key is capped: a call whose cost no request can bound never leaves.
    if let cost::Class::Unbounded(advice) = cost::classify(vendor, &upper, vendor_segments) {
        return Err(Denied {
            advice: Some(advice),
            ..deny(DenyReason::CostNotBounded, Some(vendor), Some(key))
        });
    }
    // A costed call is priced from its body; a vendor that also reads the query string could
    // take a money field from there instead, so a priced field in the query is refused.
    if cost::is_costed(vendor, &upper, vendor_segments)
        && path
            .query()
            .is_some_and(|q| cost::query_names_priced_field(vendor, q))
    {
        return Err(deny(DenyReason::BadRequest, Some(vendor), Some(key)));
    }
    let upstream_authorization = index
        .upstream_authorization(vendor)
        .ok_or_else(|| deny(DenyReason::PolicyUnavailable, Some(vendor), Some(key)))?;

    let twilio_sid = twilio_sid_to_rewrite(vendor, vendor_segments, index.twilio_account_sid());
    if let Some(segment) = twilio_sid {
        path.set_segment(prefix_len + 2, &segment);
    }
    let target = path.to_request_target();
    Ok(Allowed {
        vendor,
        key,
        upstream_authorization,
        rewrite_path: (target.as_bytes() != facts.path).then_some(target),
        rewrite_method: (upper != method).then(|| upper.clone()),
        vendor_path,
        method: upper,
    })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "decide/hostile_tests.rs"]
mod hostile_tests;

#[cfg(test)]
#[path = "decide/rewrite_tests.rs"]
mod rewrite_tests;
