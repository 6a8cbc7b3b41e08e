//! What a call costs: the worst case bounded from the request before it is forwarded, and
//! the actual cost read from the response. [`catalog`] classifies every endpoint (free, priced,
//! unbounded); one module per vendor prices it; this one dispatches.

pub mod catalog;
pub mod counted;
mod resend;
mod stripe;
mod twilio;

pub use catalog::{classify, Class, Rule};
pub use counted::Counted;

use crate::currency::{CurrencyError, Rates};
use crate::deny::DenyReason;
use crate::prices::Prices;
use crate::vendor::Vendor;

/// Largest request body keybrake reads to price a call. Bigger costed requests are refused.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Largest (decoded) response body keybrake reads to settle a call.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// Where a call's recorded cost came from (the `keybrake_cost_source` log field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostSource {
    /// Read from the request (the reservation stood).
    Request,
    /// Read from the vendor's response.
    Response,
    /// The response could not tell; the worst-case reservation stands.
    Estimate,
}

/// The pre-flight worst case of a call: always an upper bound of what it can cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estimate {
    /// The call moves no money (or only money this key already counted).
    Free,
    /// Reserve this many micro-USD, read from the request itself.
    Reserve(u64),
    /// Reserve this many micro-USD, a bound (segments times a rate, say) the response may
    /// lower.
    Approximate(u64),
}

/// What the response says about the reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The vendor reports this cost, in micro-USD.
    Actual(u64),
    /// The vendor moved no money (an error it answered, or a replay already charged).
    NoCharge,
    /// Unknown outcome (no answer, 5xx, unreadable body): the reservation stays charged.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    #[error("the request's currency cannot be counted: {0}")]
    Currency(#[from] CurrencyError),
    #[error("the request cannot be priced: {0}")]
    Unpriceable(&'static str),
    /// The call can move money the request does not bound; the text says what to do instead.
    #[error("the request does not bound what the call can cost: {0}")]
    Unbounded(&'static str),
}

/// What a settled call is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charged {
    /// Micro-USD the key is charged.
    pub micros: u64,
    pub source: CostSource,
    /// Micro-USD the vendor reported above what was reserved (0 when the reservation held, as it
    /// always should: anything else is a pricing rule that is not an upper bound).
    pub over_reserved_micros: u64,
}

// === impl CostSource ===

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Request => "request",
            CostSource::Response => "response",
            CostSource::Estimate => "estimate",
        }
    }
}

// === impl CostError ===

impl CostError {
    pub fn deny_reason(&self) -> DenyReason {
        match self {
            CostError::Currency(CurrencyError::NoRate(_)) => DenyReason::CurrencyNotSupported,
            CostError::Currency(_) | CostError::Unpriceable(_) => DenyReason::BadRequest,
            CostError::Unbounded(_) => DenyReason::CostNotBounded,
        }
    }

    /// What the agent can do about it, beyond the reason's own message.
    pub fn advice(&self) -> Option<std::borrow::Cow<'static, str>> {
        match self {
            CostError::Unbounded(advice) | CostError::Unpriceable(advice) => Some((*advice).into()),
            // The code is three ASCII letters (checked before a rate is looked up).
            CostError::Currency(CurrencyError::NoRate(code)) => Some(
                format!(
                    "the call is in {}: use USD or a currency with a rate, or ask an operator to set one (keybrake rates set {} <USD per unit>).",
                    code.to_ascii_uppercase(),
                    code.to_ascii_lowercase()
                )
                .into(),
            ),
            CostError::Currency(_) => None,
        }
    }
}

impl Estimate {
    /// The least room a reservation for this estimate needs.
    pub fn min_room(self) -> u64 {
        match self {
            Estimate::Reserve(a) | Estimate::Approximate(a) => a,
            Estimate::Free => 1,
        }
    }
}

/// What a settled call is charged, and where that figure comes from. `reserved` is what the
/// pre-flight held; `from_request` says it was the request's own amount (not an estimate).
///
/// A vendor figure above the reservation is charged as reported (money that moved is spend) and
/// counted in `over_reserved_micros`, so an operator sees a rule that failed to bound a call.
pub fn final_charge(reserved: u64, from_request: bool, settlement: Settlement) -> Charged {
    let (micros, source) = match settlement {
        Settlement::Actual(micros) => (micros, CostSource::Response),
        Settlement::NoCharge => (0, CostSource::Response),
        Settlement::Unknown if from_request => (reserved, CostSource::Request),
        Settlement::Unknown => (reserved, CostSource::Estimate),
    };
    Charged {
        micros,
        source,
        over_reserved_micros: micros.saturating_sub(reserved),
    }
}

/// The single value of a top-level form field; a field sent twice is ambiguous (the vendor
/// and keybrake might read different ones) and refused.
fn single_field<'f>(
    fields: &'f [(String, String)],
    name: &str,
) -> Result<Option<&'f str>, CostError> {
    let mut found = fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(CostError::Unpriceable(
            "a priced field is sent more than once",
        ));
    }
    Ok(first)
}

/// Whether the call is priced, so its request body must be read before forwarding. (An
/// unbounded call never gets this far: [`crate::decide::decide`] refuses it.)
pub fn is_costed(vendor: Vendor, method: &str, path: &[String]) -> bool {
    matches!(classify(vendor, method, path), Class::Priced(_))
}

/// The body of a costed request, checked to be what the vendor will parse: the vendor's own
/// media type (`application/x-www-form-urlencoded` for Stripe and Twilio, `application/json`
/// for Resend), not compressed, at most `limit` bytes. Anything else could be read one way here
/// and another way by the vendor (a multipart body whose parts hide from a form parser, a gzip
/// header carrying fields a vendor that ignores `Content-Encoding` would read), so it is refused.
pub fn request_body<'b>(
    vendor: Vendor,
    path: &[String],
    content_type: Option<&[u8]>,
    content_encoding: Option<&[u8]>,
    body: &'b [u8],
    limit: usize,
) -> Result<&'b [u8], CostError> {
    if body.len() > limit {
        return Err(CostError::Unpriceable(
            "the body is larger than keybrake reads to price a call",
        ));
    }
    let encoding = content_encoding.map(|e| e.trim_ascii().to_ascii_lowercase());
    if encoding.is_some_and(|e| !e.is_empty() && e != b"identity") {
        return Err(CostError::Unpriceable(
            "the body of a call that costs money must not be compressed",
        ));
    }
    if body.is_empty() {
        return Ok(body);
    }
    let (expected, message) = match vendor {
        // Stripe's v2 API takes JSON.
        Vendor::Stripe if is_stripe_v2(path) => {
            ("application/json", "the body must be application/json")
        }
        Vendor::Stripe | Vendor::Twilio => (
            "application/x-www-form-urlencoded",
            "the body must be application/x-www-form-urlencoded",
        ),
        Vendor::Resend => ("application/json", "the body must be application/json"),
    };
    let media_type = content_type
        .and_then(|c| c.split(|&b| b == b';').next())
        .map(|m| m.trim_ascii().to_ascii_lowercase());
    if media_type.as_deref() != Some(expected.as_bytes()) {
        return Err(CostError::Unpriceable(message));
    }
    Ok(body)
}

/// True when a costed call's query string names a field its price is read from (Stripe's
/// `amount`, Twilio's `Body`, …, raw or percent-encoded). Stripe reads parameters from the
/// query of a POST as well as from its body, so such a call is refused rather than priced from
/// the body alone.
pub fn query_names_priced_field(vendor: Vendor, query: &str) -> bool {
    let priced: &[&str] = match vendor {
        Vendor::Stripe => stripe::PRICED_FIELDS,
        Vendor::Twilio => twilio::PRICED_FIELDS,
        Vendor::Resend => resend::PRICED_FIELDS,
    };
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| {
        // `amount[]` or `amount[x]` is still the amount to a lenient parser.
        let base = k.split('[').next().unwrap_or_default();
        priced.iter().any(|p| p.eq_ignore_ascii_case(base))
    })
}

fn is_stripe_v2(path: &[String]) -> bool {
    path.first().is_some_and(|v| v == "v2")
}

/// What keybrake knows about the call beyond its request: which key makes it, and what this
/// gateway counted earlier for the object it follows up (see [`counted`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Known<'a> {
    pub key_id: &'a str,
    pub counted: Option<&'a Counted>,
}

/// The upper bound of a call's cost, from its (decoded) request body. `Free` for a free call;
/// `Err(CostError::Unbounded)` for one whose cost the request does not bound.
pub fn estimate(
    vendor: Vendor,
    method: &str,
    path: &[String],
    body: &[u8],
    rates: &Rates,
    prices: &Prices,
    known: Known<'_>,
) -> Result<Estimate, CostError> {
    match classify(vendor, method, path) {
        Class::Free => Ok(Estimate::Free),
        Class::Unbounded(advice) => Err(CostError::Unbounded(advice)),
        Class::Priced(rule) => match vendor {
            Vendor::Stripe => stripe::estimate(rule, path, body, rates, known),
            Vendor::Twilio => twilio::estimate(rule, body, &prices.twilio),
            Vendor::Resend => resend::estimate(rule, body, &prices.resend),
        },
    }
}

/// Advice for a costed call refused `spend_cap_exceeded` when its reservation is a worst case
/// the request could have narrowed (a Twilio call without `TimeLimit`); `None` otherwise.
pub fn cap_advice(
    vendor: Vendor,
    method: &str,
    path: &[String],
    body: &[u8],
) -> Option<&'static str> {
    match (vendor, classify(vendor, method, path)) {
        (Vendor::Twilio, Class::Priced(rule)) if twilio::reserved_for_longest_call(rule, body) => {
            Some(twilio::NO_TIME_LIMIT_ADVICE)
        }
        _ => None,
    }
}

/// The actual cost of a costed call from its response. `status` is 0 when no response came;
/// `replayed` is true when the vendor says it replayed an earlier idempotent request.
pub fn settle(
    vendor: Vendor,
    path: &[String],
    status: u32,
    replayed: bool,
    body: &[u8],
    rates: &Rates,
) -> Settlement {
    settle_answer(vendor, path, status, replayed, &Answer::parse(body), rates)
}

/// [`settle`] from a response body parsed once.
pub fn settle_answer(
    vendor: Vendor,
    path: &[String],
    status: u32,
    replayed: bool,
    answer: &Answer,
    rates: &Rates,
) -> Settlement {
    match vendor {
        Vendor::Stripe => stripe::settle(path, status, replayed, answer.json(), rates),
        Vendor::Twilio => twilio::settle(status, answer.json(), rates),
        Vendor::Resend => resend::settle(status),
    }
}

/// Whether a costed call's response body must be read: only a fresh 2xx answer's is (for the
/// amount the vendor reports, the id of the object it made, an intent to remember). An error
/// status (nothing moved, or the outcome is unknown either way) or a replay settles the call
/// from the headers alone.
pub fn needs_body(status: u32, replayed: bool) -> bool {
    (200..300).contains(&status) && !replayed
}

/// A vendor's JSON answer, parsed once for everything read from it (the settlement, the id of
/// the object made, an intent to remember). `None` inside when the body is not a JSON object.
///
/// Only the members keybrake reads are kept ([`AnswerFields`]); the rest of the body is scanned
/// but never built into values (a Stripe PaymentIntent is a kilobyte of members nobody reads
/// here). A member sent twice makes the answer unreadable, so the call settles at its
/// reservation (fail closed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer(Option<serde_json::Value>);

/// The top-level members of an answer that settling reads: ids (`id`, `sid`), Stripe's
/// `object`, `status`, `captured`, amounts and `currency`, Twilio's `price` and `price_unit`.
#[derive(serde::Deserialize)]
struct AnswerFields {
    id: Option<serde_json::Value>,
    sid: Option<serde_json::Value>,
    object: Option<serde_json::Value>,
    status: Option<serde_json::Value>,
    captured: Option<serde_json::Value>,
    amount: Option<serde_json::Value>,
    amount_received: Option<serde_json::Value>,
    amount_capturable: Option<serde_json::Value>,
    amount_captured: Option<serde_json::Value>,
    currency: Option<serde_json::Value>,
    price: Option<serde_json::Value>,
    price_unit: Option<serde_json::Value>,
}

impl Answer {
    pub fn parse(body: &[u8]) -> Self {
        // A struct also reads a JSON array (by position): only an object is an answer here.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Self(None);
        }
        let Ok(f) = serde_json::from_slice::<AnswerFields>(body) else {
            return Self(None);
        };
        let members = [
            ("id", f.id),
            ("sid", f.sid),
            ("object", f.object),
            ("status", f.status),
            ("captured", f.captured),
            ("amount", f.amount),
            ("amount_received", f.amount_received),
            ("amount_capturable", f.amount_capturable),
            ("amount_captured", f.amount_captured),
            ("currency", f.currency),
            ("price", f.price),
            ("price_unit", f.price_unit),
        ];
        let map: serde_json::Map<String, serde_json::Value> = members
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name.to_owned(), v)))
            .collect();
        Self(Some(serde_json::Value::Object(map)))
    }

    /// The parsed body, or `None` when it was not JSON.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.0.as_ref()
    }

    /// The vendor's id of the object a call made (`pi_…`, `SM…`, an email id): `id`, else
    /// `sid`, when it is a short printable string ([`printable_id`]).
    pub fn object_id(&self) -> Option<String> {
        let v = self.0.as_ref()?;
        let text = |name| v.get(name).and_then(serde_json::Value::as_str);
        text("id")
            .or_else(|| text("sid"))
            .and_then(|id| printable_id(id.as_bytes()))
    }
}

/// An id fit for the audit trail: 1 to 128 bytes of printable ASCII (no space), else `None`.
pub fn printable_id(v: &[u8]) -> Option<String> {
    (!v.is_empty() && v.len() <= 128 && v.iter().all(|b| (0x21..0x7f).contains(b)))
        .then(|| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
