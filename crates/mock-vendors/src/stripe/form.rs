//! Stripe's v1 request bodies: `application/x-www-form-urlencoded` with bracketed nested keys.
//!
//! SDKs send brackets raw (`metadata[order_id]=1`); other clients percent-encode them
//! (`metadata%5Border_id%5D=1`). Both decode to the same key here.

use serde_json::{Map, Value};

use super::error::StripeError;

/// Decoded form parameters; a repeated key keeps its last value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes a form body (`+` and `%xx` included).
    pub fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, if present and not empty (Stripe treats `x=` as unset).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A required, non-empty string.
    pub fn required(&self, name: &str) -> Result<&str, StripeError> {
        self.non_empty(name)
            .ok_or_else(|| StripeError::ParamMissing {
                param: name.to_owned(),
            })
    }

    /// An optional integer of at least 1.
    pub fn positive_integer(&self, name: &str) -> Result<Option<i64>, StripeError> {
        let Some(raw) = self.non_empty(name) else {
            return Ok(None);
        };
        let value: i64 = raw
            .trim()
            .parse()
            .map_err(|_| StripeError::InvalidInteger {
                param: name.to_owned(),
                value: raw.to_owned(),
            })?;
        if value < 1 {
            return Err(StripeError::NotPositive {
                param: name.to_owned(),
            });
        }
        Ok(Some(value))
    }

    /// A required integer of at least 1.
    pub fn required_positive_integer(&self, name: &str) -> Result<i64, StripeError> {
        self.positive_integer(name)?
            .ok_or_else(|| StripeError::ParamMissing {
                param: name.to_owned(),
            })
    }

    /// An optional boolean (`true`/`false`), `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, StripeError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(StripeError::InvalidBoolean {
                param: name.to_owned(),
                value: other.to_owned(),
            }),
        }
    }

    /// A required three-letter currency code, lower-cased as Stripe returns it.
    pub fn currency(&self) -> Result<String, StripeError> {
        let raw = self.required("currency")?;
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(raw.to_ascii_lowercase())
        } else {
            Err(StripeError::InvalidCurrency {
                value: raw.to_owned(),
            })
        }
    }

    /// The `metadata[key]=value` pairs as a JSON object; empty values are dropped, as Stripe
    /// drops them on create.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut metadata = Map::new();
        for (key, value) in &self.pairs {
            let inner = key
                .strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'));
            if let Some(inner) = inner {
                if value.is_empty() {
                    metadata.remove(inner);
                } else {
                    metadata.insert(inner.to_owned(), Value::String(value.clone()));
                }
            }
        }
        metadata
    }

    /// The values of an indexed list parameter (`name[0]=a&name[1]=b`, or `name[]=a`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_with_raw_and_encoded_brackets() {
        let cases = [
            ("raw brackets", "metadata[order_id]=6735&amount=1"),
            ("encoded brackets", "metadata%5Border_id%5D=6735&amount=1"),
            (
                "lower-case encoding",
                "metadata%5border_id%5d=6735&amount=1",
            ),
        ];
        for (name, body) in cases {
            let params = Params::parse(body.as_bytes());
            assert_eq!(
                Value::Object(params.metadata()),
                json!({"order_id": "6735"}),
                "{name}"
            );
        }
    }

    #[test]
    fn decodes_plus_and_percent() {
        let params = Params::parse(b"description=a+b%26c&name=J%C3%B6rg");
        assert_eq!(params.get("description"), Some("a b&c"));
        assert_eq!(params.get("name"), Some("Jörg"));
    }

    type IntegerCase = (&'static str, &'static str, Result<Option<i64>, StripeError>);

    #[test]
    fn integers() {
        let cases: [IntegerCase; 4] = [
            ("valid", "amount=1000", Ok(Some(1000))),
            ("absent", "currency=usd", Ok(None)),
            (
                "not a number",
                "amount=ten",
                Err(StripeError::InvalidInteger {
                    param: "amount".into(),
                    value: "ten".into(),
                }),
            ),
            (
                "zero",
                "amount=0",
                Err(StripeError::NotPositive {
                    param: "amount".into(),
                }),
            ),
        ];
        for (name, body, expected) in cases {
            let params = Params::parse(body.as_bytes());
            assert_eq!(params.positive_integer("amount"), expected, "{name}");
        }
    }

    #[test]
    fn lists() {
        let params = Params::parse(b"payment_method_types[0]=card&payment_method_types[1]=link");
        assert_eq!(params.list("payment_method_types"), vec!["card", "link"]);
    }
}
