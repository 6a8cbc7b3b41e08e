//! The JSON the API speaks, and its conversion into validated domain types at the edge.
//!
//! Request fields arrive as raw JSON so that every problem, a wrong type included, is reported
//! against the field that has it; unknown fields are refused.

pub mod audit;
pub mod keys;
pub mod prices;
pub mod rates;
pub mod vendors;

use serde_json::value::RawValue;
use serde_json::Value;

/// A request field as it arrived. `None` when absent or `null`.
pub type RawField = Option<Box<RawValue>>;

/// A problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for crate::error::ApiError {
    fn from(e: FieldError) -> Self {
        crate::error::ApiError::InvalidRequest {
            field: Some(e.field),
            message: e.message,
        }
    }
}

/// The field's JSON value, or an error naming it when it is missing.
pub(crate) fn required(name: &str, raw: Option<Box<RawValue>>) -> Result<Value, FieldError> {
    optional(name, raw)?.ok_or_else(|| FieldError::new(name, format!("{name} is required")))
}

/// The field's JSON value when present.
pub(crate) fn optional(
    name: &str,
    raw: Option<Box<RawValue>>,
) -> Result<Option<Value>, FieldError> {
    raw.map(|r| {
        serde_json::from_str(r.get())
            .map_err(|_| FieldError::new(name, format!("{name} holds a number out of range")))
    })
    .transpose()
}

/// "a string", "a number", … for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
