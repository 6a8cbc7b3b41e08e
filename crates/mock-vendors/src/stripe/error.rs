//! Stripe's error replies: one enum, one exhaustive mapping to status and body.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

const MISSING_KEY_MESSAGE: &str = "You did not provide an API key. You need to provide your API \
key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help \
at https://support.stripe.com/.";

/// Everything the Stripe mock can refuse a request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripeError {
    /// No usable `Authorization` header.
    MissingKey,
    /// A key other than the registered one. Holds the key already masked.
    InvalidKey { masked: String },
    /// A required parameter is absent or empty.
    ParamMissing { param: String },
    /// A parameter that must be an integer is not one.
    InvalidInteger { param: String, value: String },
    /// An integer parameter below 1.
    NotPositive { param: String },
    /// A boolean parameter other than `true`/`false`.
    InvalidBoolean { param: String, value: String },
    /// A currency that is not a three-letter code.
    InvalidCurrency { value: String },
    /// Any other invalid parameter, with Stripe's message.
    InvalidParam { param: String, message: String },
    /// None of several alternative parameters was given.
    OneOfMissing { params: &'static str },
    /// A parameter names an object that does not exist (`customer=cus_x`).
    NoSuchParamObject {
        kind: &'static str,
        id: String,
        param: String,
    },
    /// The object in the URL does not exist.
    NoSuchObject { kind: &'static str, id: String },
    /// The method and path match no endpoint.
    UnrecognizedUrl { method: String, path: String },
    /// Nothing is left to refund on the charge.
    ChargeAlreadyRefunded { charge: String },
    /// The refund asks for more than is left on the charge.
    RefundTooLarge {
        requested: String,
        remaining: String,
    },
    /// The payment intent has no successful charge to refund.
    NothingToRefund { payment_intent: String },
    /// The payment intent's status does not allow the action (`"captured"`, `"confirmed"`,
    /// …); `allowed` lists the statuses that do.
    IntentUnexpectedState {
        id: String,
        status: String,
        action: &'static str,
        allowed: &'static str,
    },
    /// The charge was captured already.
    ChargeAlreadyCaptured { charge: String },
    /// An amount above what the object allows (`amount_to_capture` above the capturable
    /// amount, say), with Stripe's message.
    AmountTooLarge {
        param: &'static str,
        message: String,
    },
    /// An `Idempotency-Key` reused with different parameters.
    IdempotencyMismatch,
    /// A status forced with the mock-only `x-mock-status` header.
    Injected { status: StatusCode },
}

/// The parts of a Stripe error reply.
struct Shape {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    message: String,
    param: Option<String>,
}

impl StripeError {
    /// Whether Stripe stores this outcome under the request's `Idempotency-Key`.
    ///
    /// Stripe saves a result only once the endpoint began executing: parameter validation
    /// failures and forced failures are not saved, so a retry runs again.
    pub fn saved_for_idempotency(&self) -> bool {
        matches!(
            self,
            Self::ChargeAlreadyRefunded { .. }
                | Self::RefundTooLarge { .. }
                | Self::NothingToRefund { .. }
                | Self::IntentUnexpectedState { .. }
                | Self::ChargeAlreadyCaptured { .. }
                | Self::AmountTooLarge { .. }
        )
    }

    /// The HTTP status and JSON body Stripe answers with.
    pub fn to_reply(&self, request_id: &str) -> (StatusCode, Value) {
        let shape = self.shape();
        let mut error = Map::new();
        if let Some(code) = shape.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), json!(shape.message));
        if let Some(param) = shape.param {
            error.insert("param".into(), json!(param));
        }
        if !matches!(self, Self::MissingKey | Self::InvalidKey { .. }) {
            error.insert(
                "request_log_url".into(),
                json!(format!(
                    "https://dashboard.stripe.com/test/logs/{request_id}"
                )),
            );
        }
        error.insert("type".into(), json!(shape.kind));
        (shape.status, json!({ "error": error }))
    }

    fn shape(&self) -> Shape {
        let invalid = |status, code, message: String, param: Option<String>| Shape {
            status,
            kind: "invalid_request_error",
            code,
            message,
            param,
        };
        match self {
            Self::MissingKey => invalid(
                StatusCode::UNAUTHORIZED,
                None,
                MISSING_KEY_MESSAGE.to_owned(),
                None,
            ),
            Self::InvalidKey { masked } => invalid(
                StatusCode::UNAUTHORIZED,
                None,
                format!("Invalid API Key provided: {masked}"),
                None,
            ),
            Self::ParamMissing { param } => invalid(
                StatusCode::BAD_REQUEST,
                Some("parameter_missing"),
                format!("Missing required param: {param}."),
                Some(param.clone()),
            ),
            Self::InvalidInteger { param, value } => invalid(
                StatusCode::BAD_REQUEST,
                Some("parameter_invalid_integer"),
                format!("Invalid integer: {value}"),
                Some(param.clone()),
            ),
            Self::NotPositive { param } => invalid(
                StatusCode::BAD_REQUEST,
                Some("parameter_invalid_integer"),
                "This value must be greater than or equal to 1.".to_owned(),
                Some(param.clone()),
            ),
            Self::InvalidBoolean { param, value } => invalid(
                StatusCode::BAD_REQUEST,
                None,
                format!("Invalid boolean: {value}"),
                Some(param.clone()),
            ),
            Self::InvalidCurrency { value } => invalid(
                StatusCode::BAD_REQUEST,
                None,
                format!(
                    "Invalid currency: {value}. Stripe currently supports these currencies: \
                     usd, eur, gbp, jpy, ... (see https://stripe.com/docs/currencies)."
                ),
                Some("currency".to_owned()),
            ),
            Self::InvalidParam { param, message } => invalid(
                StatusCode::BAD_REQUEST,
                None,
                message.clone(),
                Some(param.clone()),
            ),
            Self::OneOfMissing { params } => invalid(
                StatusCode::BAD_REQUEST,
                Some("parameter_missing"),
                format!("One of the following params should be provided for this request: {params}."),
                None,
            ),
            Self::NoSuchParamObject { kind, id, param } => invalid(
                StatusCode::BAD_REQUEST,
                Some("resource_missing"),
                format!("No such {kind}: '{id}'"),
                Some(param.clone()),
            ),
            Self::NoSuchObject { kind, id } => invalid(
                StatusCode::NOT_FOUND,
                Some("resource_missing"),
                format!("No such {kind}: '{id}'"),
                Some("id".to_owned()),
            ),
            Self::UnrecognizedUrl { method, path } => invalid(
                StatusCode::NOT_FOUND,
                None,
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see \
                     https://stripe.com/docs or we can help at https://support.stripe.com/."
                ),
                None,
            ),
            Self::ChargeAlreadyRefunded { charge } => invalid(
                StatusCode::BAD_REQUEST,
                Some("charge_already_refunded"),
                format!("Charge {charge} has already been refunded."),
                Some("amount".to_owned()),
            ),
            Self::RefundTooLarge {
                requested,
                remaining,
            } => invalid(
                StatusCode::BAD_REQUEST,
                Some("amount_too_large"),
                format!(
                    "Refund amount ({requested}) is greater than unrefunded amount on charge \
                     ({remaining})"
                ),
                Some("amount".to_owned()),
            ),
            Self::NothingToRefund { payment_intent } => invalid(
                StatusCode::BAD_REQUEST,
                None,
                format!("This PaymentIntent ({payment_intent}) does not have a successful charge to refund."),
                Some("payment_intent".to_owned()),
            ),
            Self::IntentUnexpectedState {
                id,
                status,
                action,
                allowed,
            } => invalid(
                StatusCode::BAD_REQUEST,
                Some("payment_intent_unexpected_state"),
                format!(
                    "This PaymentIntent ({id}) could not be {action} because it has a status of \
                     {status}. Only a PaymentIntent with one of the following statuses may be \
                     {action}: {allowed}."
                ),
                None,
            ),
            Self::ChargeAlreadyCaptured { charge } => invalid(
                StatusCode::BAD_REQUEST,
                Some("charge_already_captured"),
                format!("Charge {charge} has already been captured."),
                None,
            ),
            Self::AmountTooLarge { param, message } => invalid(
                StatusCode::BAD_REQUEST,
                Some("amount_too_large"),
                message.clone(),
                Some((*param).to_owned()),
            ),
            Self::IdempotencyMismatch => Shape {
                status: StatusCode::BAD_REQUEST,
                kind: "idempotency_error",
                code: None,
                message: "Keys for idempotent requests can only be used with the same \
                          parameters they were first used with. Try using a key other than \
                          the one used in the original request."
                    .to_owned(),
                param: None,
            },
            Self::Injected { status } => injected(*status),
        }
    }
}

/// The body for a status forced with `x-mock-status`, typed as Stripe would type it.
fn injected(status: StatusCode) -> Shape {
    let (kind, code, message) = match status.as_u16() {
        402 => ("card_error", Some("card_declined"), "Your card was declined."),
        429 => (
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly.",
        ),
        500.. => (
            "api_error",
            None,
            "An unknown error occurred while processing your request (mock failure injected with x-mock-status).",
        ),
        _ => (
            "invalid_request_error",
            None,
            "Request refused (mock failure injected with x-mock-status).",
        ),
    };
    Shape {
        status,
        kind,
        code,
        message: message.to_owned(),
        param: None,
    }
}
