//! Response compression the way the real vendors do it: gzip when the client asks.
//!
//! Done by hand rather than with `tower-http`'s `CompressionLayer` so that every non-empty
//! body is compressed however small, and the reply carries an exact `Content-Length`
//! instead of chunked encoding.

use std::io::Write;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;

/// Bodies the mock builds are small; this only guards against a runaway handler.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Middleware: gzips the response body when `Accept-Encoding` allows gzip.
pub async fn compress(request: Request, next: Next) -> Response {
    let wanted = accepts_gzip(request.headers());
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    let skip = !wanted
        || response.status() == StatusCode::NO_CONTENT
        || response.status() == StatusCode::NOT_MODIFIED
        || response.headers().contains_key(CONTENT_ENCODING);
    if skip {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_RESPONSE_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let Ok(gzipped) = gzip(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts
        .headers
        .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(gzipped.len()));
    Response::from_parts(parts, Body::from(gzipped))
}

/// Whether an `Accept-Encoding` header admits gzip (`gzip`, `x-gzip` or `*` with q > 0).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut pieces = item.split(';');
            let coding = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = pieces.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && !refused
        })
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 32),
        Compression::default(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_cases() {
        let cases = [
            ("python sdk", "gzip, deflate", true),
            ("urllib3 with br and zstd", "gzip, deflate, br, zstd", true),
            ("identity only", "identity", false),
            ("deflate only", "deflate", false),
            ("wildcard", "*", true),
            ("gzip refused", "gzip;q=0, deflate", false),
            ("gzip with weight", "deflate, gzip;q=0.5", true),
            ("upper case", "GZIP", true),
        ];
        for (name, value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(accepts_gzip(&headers), expected, "{name}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()), "no header");
    }
}
