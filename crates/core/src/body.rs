//! Decoding of bodies keybrake must read (costed requests, settling responses), bounded so
//! that a decompression bomb costs nothing but a refusal.

use flate2::read::{GzDecoder, ZlibDecoder};
use std::borrow::Cow;
use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body decodes to more than {0} bytes")]
    TooLarge(usize),
    #[error("the body is not valid {0}")]
    Corrupt(&'static str),
    #[error("content-encoding {0:?} is not supported")]
    Unsupported(String),
}

/// Decodes `body` per its `Content-Encoding` into at most `limit` bytes.
pub fn decode<'b>(
    content_encoding: Option<&[u8]>,
    body: &'b [u8],
    limit: usize,
) -> Result<Cow<'b, [u8]>, BodyError> {
    let encoding = content_encoding
        .map(|e| String::from_utf8_lossy(e).trim().to_ascii_lowercase())
        .unwrap_or_default();
    let decoded = match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(BodyError::TooLarge(limit));
            }
            return Ok(Cow::Borrowed(body));
        }
        "gzip" | "x-gzip" => read_bounded(GzDecoder::new(body), limit, "gzip")?,
        "deflate" => read_bounded(ZlibDecoder::new(body), limit, "deflate")?,
        other => return Err(BodyError::Unsupported(other.to_owned())),
    };
    Ok(Cow::Owned(decoded))
}

fn read_bounded(reader: impl Read, limit: usize, name: &'static str) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| BodyError::Corrupt(name))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decode_table() {
        let json = br#"{"amount":1000}"#;
        let gz = gzip(json);
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        let cases: Vec<(&str, Option<&[u8]>, &[u8], Result<Vec<u8>, BodyError>)> = vec![
            ("identity", None, json, Ok(json.to_vec())),
            (
                "explicit identity",
                Some(b"identity"),
                json,
                Ok(json.to_vec()),
            ),
            ("gzip", Some(b"gzip"), &gz, Ok(json.to_vec())),
            ("gzip any case", Some(b" GZIP "), &gz, Ok(json.to_vec())),
            (
                "truncated gzip",
                Some(b"gzip"),
                &gz[..gz.len() / 2],
                Err(BodyError::Corrupt("gzip")),
            ),
            (
                "not gzip at all",
                Some(b"gzip"),
                json,
                Err(BodyError::Corrupt("gzip")),
            ),
            ("bomb", Some(b"gzip"), &bomb, Err(BodyError::TooLarge(1024))),
            (
                "identity too large",
                None,
                &[0u8; 2048],
                Err(BodyError::TooLarge(1024)),
            ),
            (
                "brotli",
                Some(b"br"),
                json,
                Err(BodyError::Unsupported("br".into())),
            ),
        ];
        for (name, enc, body, want) in cases {
            assert_eq!(
                decode(enc, body, 1024).map(|c| c.into_owned()),
                want,
                "case {name}"
            );
        }
    }
}
