//! Endpoint patterns (`POST /v1/payment_intents/*`) and the path normalization they are
//! matched against, so that encoding tricks cannot dodge a pattern.
//!
//! A request path is percent-decoded once, split on `/`, stripped of empty and `.` segments,
//! with `..` resolved; anything that would change meaning between keybrake and the vendor (an
//! encoded `/` or `\`, control or non-ASCII bytes, `;` parameters, `..` above the root) is refused.
//! The filter forwards the normalized path, so what was checked is what the vendor receives.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest request path (before the query) that keybrake will look at.
pub const MAX_PATH_LEN: usize = 4096;

/// A request path after normalization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Decoded segments. Never empty strings, never `.` or `..`.
    segments: Vec<String>,
    /// The raw query string without its `?`, when there was one.
    query: Option<String>,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path must start with '/'")]
    NotAbsolute,
    #[error("the path is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
    #[error("the path has a malformed percent-escape")]
    BadEscape,
    #[error("the path has a forbidden character")]
    ForbiddenChar,
    #[error("the path climbs above its root with '..'")]
    AboveRoot,
}

/// `METHOD /path/with/*/segments`: `*` matches exactly one segment.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointPattern {
    /// Upper-case HTTP method. Must not be empty.
    method: String,
    /// Literal segments, or `None` for `*`. Must not be empty.
    segments: Vec<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "an endpoint must look like \"METHOD /path\", for example \"POST /v1/payment_intents\""
    )]
    Shape,
    #[error("unknown HTTP method {0:?}")]
    Method(String),
    #[error("the path of an endpoint must start with '/' and name at least one segment")]
    Path,
    #[error(
        "path segment {0:?} may only hold letters, digits, '-', '_', '.', '~', ':', '@' or be '*'"
    )]
    Segment(String),
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | '@')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one raw segment, refusing anything that is not plain visible ASCII once decoded, and
/// the bytes that mean something different to other HTTP stacks.
fn decode_segment(raw: &[u8]) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_val);
                let lo = raw.get(i + 2).copied().and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEscape);
                };
                i += 3;
                hi << 4 | lo
            }
            b => {
                i += 1;
                b
            }
        };
        if !(0x21..0x7f).contains(&b) || matches!(b, b'/' | b'\\' | b';' | b'%' | b'#' | b'?') {
            return Err(PathError::ForbiddenChar);
        }
        out.push(char::from(b));
    }
    Ok(out)
}

// === impl NormalizedPath ===

impl NormalizedPath {
    /// Normalizes a request target's path (`:path`), keeping its query apart.
    pub fn parse(raw: &[u8]) -> Result<Self, PathError> {
        let (path, query) = match raw.iter().position(|&b| b == b'?' || b == b'#') {
            Some(i) if raw[i] == b'?' => {
                let q = &raw[i + 1..];
                let q = q.split(|&b| b == b'#').next().unwrap_or_default();
                (&raw[..i], Some(q))
            }
            Some(i) => (&raw[..i], None),
            None => (raw, None),
        };
        if path.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if path.first() != Some(&b'/') {
            return Err(PathError::NotAbsolute);
        }
        let mut segments: Vec<String> = Vec::new();
        for raw_seg in path.split(|&b| b == b'/') {
            if raw_seg.is_empty() {
                continue;
            }
            let seg = decode_segment(raw_seg)?;
            match seg.as_str() {
                "." => {}
                ".." => {
                    segments.pop().ok_or(PathError::AboveRoot)?;
                }
                _ => segments.push(seg),
            }
        }
        let query = match query {
            Some(q) if q.iter().all(|b| (0x21..0x7f).contains(b) && *b != b'#') => {
                Some(String::from_utf8_lossy(q).into_owned())
            }
            Some(_) => return Err(PathError::ForbiddenChar),
            None => None,
        };
        Ok(Self { segments, query })
    }

    /// The raw query string without its `?`, when the target had one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Splits off the first segment (the gateway's vendor prefix), leaving the vendor's own path.
    pub fn split_first(&self) -> Option<(&str, &[String])> {
        self.segments.split_first().map(|(h, t)| (h.as_str(), t))
    }

    /// Replaces segment `i` (a value the filter chose, such as the real Twilio account SID).
    pub fn set_segment(&mut self, i: usize, value: &str) {
        if let Some(seg) = self.segments.get_mut(i) {
            value.clone_into(seg);
        }
    }

    /// The canonical `:path`, query included, to forward.
    pub fn to_request_target(&self) -> String {
        let mut s = String::new();
        for seg in &self.segments {
            s.push('/');
            s.push_str(seg);
        }
        if s.is_empty() {
            s.push('/');
        }
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        s
    }
}

/// Joins segments back into a path, for logs and audit records.
pub fn join_path(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".to_owned();
    }
    let mut s = String::new();
    for seg in segments {
        s.push('/');
        s.push_str(seg);
    }
    s
}

// === impl EndpointPattern ===

impl EndpointPattern {
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let (method, path) = s.trim().split_once(' ').ok_or(PatternError::Shape)?;
        let path = path.trim();
        if path.contains(char::is_whitespace) {
            return Err(PatternError::Shape);
        }
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(PatternError::Method(method));
        }
        let rest = path.strip_prefix('/').ok_or(PatternError::Path)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(PatternError::Path);
        }
        let segments = rest
            .split('/')
            .map(|seg| match seg {
                "*" => Ok(None),
                "" | "." | ".." => Err(PatternError::Segment(seg.to_owned())),
                _ if seg.chars().all(is_segment_char) => Ok(Some(seg.to_owned())),
                _ => Err(PatternError::Segment(seg.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { method, segments })
    }

    /// True when `method` (any case) and the vendor path's segments match this pattern.
    pub fn matches(&self, method: &str, segments: &[String]) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(p, s)| p.as_deref().is_none_or(|lit| lit == s))
    }
}

// === impl EndpointPattern (catalog) ===

impl EndpointPattern {
    /// The upper-case method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The pattern's segments, `*` for a wildcard.
    pub fn segments_or_star(&self) -> Vec<&str> {
        self.segments
            .iter()
            .map(|s| s.as_deref().unwrap_or("*"))
            .collect()
    }

    /// True when this pattern can match some request to the catalog endpoint `method` `segments`
    /// (an SDK endpoint whose `*` stands for any id, `*.json` for any id ending in `.json`).
    pub fn covers(&self, method: &str, segments: &[&str]) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(p, s)| match p {
                None => true,
                Some(lit) => match s.strip_prefix('*') {
                    Some(suffix) => lit.len() > suffix.len() && lit.ends_with(suffix),
                    None => lit == s,
                },
            })
    }
}

impl fmt::Display for EndpointPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.method)?;
        f.write_str(" ")?;
        for seg in &self.segments {
            f.write_str("/")?;
            f.write_str(seg.as_deref().unwrap_or("*"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for EndpointPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointPattern({self})")
    }
}

impl TryFrom<String> for EndpointPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EndpointPattern> for String {
    fn from(p: EndpointPattern) -> String {
        p.to_string()
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
