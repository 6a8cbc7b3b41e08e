//! Request extraction that answers in the API's own error shape, never axum's default text.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// A JSON object body parsed into `T`: `415` unless the content type is JSON, `413` past the body
/// limit, `400` naming the field when the JSON does not fit `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.limits.body_limit(req.uri().path());
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::malformed("the request body could not be read")
            }
        })?;
        // serde also reads a struct from a JSON array, positionally; every body here is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::malformed(
                "the request body must be a JSON object",
            ));
        }
        let mut json = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut json)
            .map(ApiJson)
            .map_err(|e| {
                // The path of the value serde refused (`usage.spent_micros`, an unknown field's
                // own name), or "." when the object as a whole is refused (a duplicate field,
                // which the message names).
                let field = e.path().to_string();
                let e = e.into_inner();
                let message = e.to_string();
                match e.classify() {
                    Category::Data => ApiError::InvalidRequest {
                        field: (field != ".").then_some(field),
                        message,
                    },
                    Category::Syntax | Category::Eof | Category::Io => ApiError::malformed(
                        format!("the request body is not a valid JSON object: {message}"),
                    ),
                }
            })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The raw query string as `(name, value)` pairs, decoded.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
