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
    /// `POST /v1/payment_intents/{id}`: update.
    UpdateIntent(String),
    /// `POST /v1/payment_intents/{id}/<action>` or `POST /v1/charges/{id}/capture`.
    Act(Resource, String, Action),
}

/// What a follow-up does to an existing payment intent or charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `confirm` (payment intents).
    Confirm,
    /// `capture` (payment intents and charges).
    Capture,
    /// `increment_authorization` (payment intents).
    IncrementAuthorization,
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
            ["", "v1", "payment_intents", id] if method == Method::POST && !id.is_empty() => {
                Some(Self::UpdateIntent((*id).to_owned()))
            }
            ["", "v1", resource, id, action] if method == Method::POST && !id.is_empty() => {
                let action = match (*resource, *action) {
                    ("payment_intents", "confirm") => Some(Action::Confirm),
                    ("payment_intents" | "charges", "capture") => Some(Action::Capture),
                    ("payment_intents", "increment_authorization") => {
                        Some(Action::IncrementAuthorization)
                    }
                    _ => None,
                };
                Resource::from_segment(resource)
                    .zip(action)
                    .map(|(r, a)| Self::Act(r, (*id).to_owned(), a))
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
                "charge update is not served",
                Method::POST,
                "/v1/charges/ch_1",
                None,
            ),
            (
                "intent update",
                Method::POST,
                "/v1/payment_intents/pi_1",
                Some(Route::UpdateIntent("pi_1".into())),
            ),
            (
                "intent capture",
                Method::POST,
                "/v1/payment_intents/pi_1/capture",
                Some(Route::Act(
                    Resource::PaymentIntent,
                    "pi_1".into(),
                    Action::Capture,
                )),
            ),
            (
                "increment",
                Method::POST,
                "/v1/payment_intents/pi_1/increment_authorization",
                Some(Route::Act(
                    Resource::PaymentIntent,
                    "pi_1".into(),
                    Action::IncrementAuthorization,
                )),
            ),
            (
                "charge capture",
                Method::POST,
                "/v1/charges/ch_1/capture",
                Some(Route::Act(Resource::Charge, "ch_1".into(), Action::Capture)),
            ),
            (
                "charges are not confirmed",
                Method::POST,
                "/v1/charges/ch_1/confirm",
                None,
            ),
            (
                "intent cancel is not served",
                Method::POST,
                "/v1/payment_intents/pi_1/cancel",
                None,
            ),
            (
                "capture is a POST",
                Method::GET,
                "/v1/payment_intents/pi_1/capture",
                None,
            ),
            ("no version", Method::POST, "/charges", None),
        ];
        for (name, method, path, expected) in cases {
            assert_eq!(Route::parse(&method, path).ok(), expected, "{name}");
        }
    }
}
