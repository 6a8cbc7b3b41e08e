//! One send object of `POST /emails` or `/emails/batch`: validating it and building the
//! email object `GET /emails/{id}` returns.

use serde_json::{json, Map, Value};

use super::error::ResendError;

/// Most addresses Resend takes in each of `to`, `cc` and `bcc`.
pub const MAX_RECIPIENTS: usize = 50;

const ADDRESS_FORMAT: &str = "The email address needs to follow the `email@example.com` or \
`Name <email@example.com>` format.";

/// Whether the send object stands alone or is one item of a batch (which takes neither
/// attachments nor `scheduled_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Single,
    Batch,
}

/// Validates `send` and builds the stored email object with `id` and `created_at`.
pub fn build(
    send: &Value,
    origin: Origin,
    id: &str,
    created_at: &str,
) -> Result<Value, ResendError> {
    let Some(send) = send.as_object() else {
        return Err(ResendError::invalid("The email must be a JSON object."));
    };
    let from = required_string(send, "from")?;
    if !is_address(from) {
        return Err(ResendError::invalid(format!(
            "Invalid `from` field. {ADDRESS_FORMAT}"
        )));
    }
    let to = recipients(send, "to")?.ok_or(ResendError::MissingField { field: "to" })?;
    let subject = required_string(send, "subject")?;
    let cc = recipients(send, "cc")?;
    let bcc = recipients(send, "bcc")?;
    let reply_to = recipients(send, "reply_to")?;
    let html = optional_string(send, "html")?;
    let text = optional_string(send, "text")?;
    let template = present(send, "template");
    if html.is_none() && text.is_none() && template.is_none() {
        return Err(ResendError::MissingContent);
    }
    if let Some(headers) = present(send, "headers") {
        let strings = headers
            .as_object()
            .is_some_and(|h| h.values().all(Value::is_string));
        if !strings {
            return Err(ResendError::invalid(
                "The `headers` field must be an object of strings.",
            ));
        }
    }
    check_attachments(send, origin)?;
    let tags = tags(send)?;
    let scheduled_at = optional_string(send, "scheduled_at")?;
    if origin == Origin::Batch && scheduled_at.is_some() {
        return Err(ResendError::invalid(
            "The `scheduled_at` field is not supported in batch emails.",
        ));
    }
    Ok(json!({
        "object": "email",
        "id": id,
        "to": to,
        "from": from,
        "created_at": created_at,
        "subject": subject,
        "html": html,
        "text": text,
        "bcc": bcc,
        "cc": cc,
        "reply_to": reply_to,
        "last_event": if scheduled_at.is_some() { "scheduled" } else { "delivered" },
        "scheduled_at": scheduled_at,
        "tags": tags,
    }))
}

/// A field that is present and not null.
fn present<'a>(send: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    send.get(field).filter(|v| !v.is_null())
}

fn required_string<'a>(
    send: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ResendError> {
    optional_string(send, field)?
        .filter(|s| !s.is_empty())
        .ok_or(ResendError::MissingField { field })
}

fn optional_string<'a>(
    send: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ResendError> {
    match present(send, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ResendError::invalid(format!(
            "The `{field}` field must be a string."
        ))),
    }
}

/// `to`, `cc`, `bcc` or `reply_to`: one address or an array of 1 to 50, each well formed.
/// Absent, null, `""` and `[]` are all "not given".
fn recipients(send: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, ResendError> {
    let invalid = || ResendError::invalid(format!("Invalid `{field}` field. {ADDRESS_FORMAT}"));
    let list: Vec<&Value> = match present(send, field) {
        None => return Ok(None),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let addresses = list
        .into_iter()
        .map(|v| v.as_str().map(str::trim).ok_or_else(invalid))
        .collect::<Result<Vec<&str>, _>>()?;
    if addresses.iter().all(|a| a.is_empty()) {
        return Ok(None);
    }
    if addresses.len() > MAX_RECIPIENTS {
        return Err(ResendError::invalid(format!(
            "Too many recipients in the `{field}` field. The maximum is {MAX_RECIPIENTS}."
        )));
    }
    if !addresses.iter().all(|a| is_address(a)) {
        return Err(invalid());
    }
    Ok(Some(addresses.into_iter().map(str::to_owned).collect()))
}

/// `email@example.com` or `Name <email@example.com>`.
pub fn is_address(raw: &str) -> bool {
    let raw = raw.trim();
    let bare = match raw.rfind('<') {
        Some(open) => match raw[open + 1..].strip_suffix('>') {
            Some(inner) => inner,
            None => return false,
        },
        None => raw,
    };
    let Some((local, domain)) = bare.split_once('@') else {
        return false;
    };
    let clean =
        |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || "<>@,;".contains(c));
    clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

fn check_attachments(send: &Map<String, Value>, origin: Origin) -> Result<(), ResendError> {
    let Some(attachments) = present(send, "attachments") else {
        return Ok(());
    };
    if origin == Origin::Batch {
        return Err(ResendError::invalid(
            "The `attachments` field is not supported in batch emails.",
        ));
    }
    let Some(list) = attachments.as_array() else {
        return Err(ResendError::InvalidAttachment);
    };
    let ok = |a: &Value| {
        let filename = a["filename"].as_str().is_some_and(|f| !f.is_empty());
        // SDKs send content as base64 text or as an array of byte values; a remote `path`
        // names the file itself.
        let content = a["content"].is_string() || a["content"].is_array();
        let path = a["path"].as_str().is_some_and(|p| !p.is_empty());
        path || (filename && content)
    };
    if list.iter().all(ok) {
        Ok(())
    } else {
        Err(ResendError::InvalidAttachment)
    }
}

/// `[{"name", "value"}]`, both of ASCII letters, digits, `_` and `-`, at most 256 long.
fn tags(send: &Map<String, Value>) -> Result<Value, ResendError> {
    let Some(tags) = present(send, "tags") else {
        return Ok(Value::Null);
    };
    let word = |v: &Value| {
        v.as_str().is_some_and(|s| {
            (1..=256).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    };
    let valid = tags
        .as_array()
        .is_some_and(|list| list.iter().all(|t| word(&t["name"]) && word(&t["value"])));
    if valid {
        Ok(tags.clone())
    } else {
        Err(ResendError::invalid(
            "Tags should be objects with a `name` and a `value`, each of ASCII letters, \
             numbers, underscores or dashes, at most 256 characters.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let cases = [
            ("bare", "ann@example.com", true),
            ("with name", "Acme <onboarding@resend.dev>", true),
            ("quoted name", "\"Ann, Ops\" <ann@example.com>", true),
            ("no at", "ann.example.com", false),
            ("no dot in domain", "ann@localhost", false),
            ("unclosed bracket", "Ann <ann@example.com", false),
            ("space inside", "ann smith@example.com", false),
            ("two ats", "a@b@example.com", false),
            ("empty", "", false),
        ];
        for (name, address, ok) in cases {
            assert_eq!(is_address(address), ok, "{name}");
        }
    }
}
