//! Which endpoint a method and path name.

use axum::http::Method;

use super::error::StripeError;
use super::store::Resource;

/// An endpoint the mock serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/<resource>`.
    Create(Resource),
    /// `GET /v1/<resource>/{id}`.
    Retrieve(Resource, String),
}

impl Route {
    /// The endpoint for `method` and `path` (no query string), or Stripe's 404.
    pub fn parse(method: &Method, path: &str) -> Result<Self, StripeError> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let route = match segments.as_slice() {
            ["", "v1", resource] if method == Method::POST => {
                Resource::from_segment(resource).map(Self::Create)
            }
            ["", "v1", resource, id] if method == Method::GET && !id.is_empty() => {
                Resource::from_segment(resource).map(|r| Self::Retrieve(r, (*id).to_owned()))
            }
            _ => None,
        };
        route.ok_or_else(|| StripeError::UnrecognizedUrl {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cases = [
            (
                "create",
                Method::POST,
                "/v1/payment_intents",
                Some(Route::Create(Resource::PaymentIntent)),
            ),
            (
                "create with trailing slash",
                Method::POST,
                "/v1/refunds/",
                Some(Route::Create(Resource::Refund)),
            ),
            (
                "retrieve",
                Method::GET,
                "/v1/customers/cus_1",
                Some(Route::Retrieve(Resource::Customer, "cus_1".into())),
            ),
            ("list is not served", Method::GET, "/v1/charges", None),
            ("unknown resource", Method::POST, "/v1/foo", None),
            (
                "update is not served",
                Method::POST,
                "/v1/charges/ch_1",
                None,
            ),
            ("no version", Method::POST, "/charges", None),
        ];
        for (name, method, path, expected) in cases {
            assert_eq!(Route::parse(&method, path).ok(), expected, "{name}");
        }
    }
}
