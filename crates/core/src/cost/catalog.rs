//! Every endpoint keybrake knows, in one of three classes: *free* (cannot move money or incur a
//! charge), *priced* (a [`Rule`] gives an upper bound from the request alone) or *unbounded*
//! (can move money, but the request does not say how much: refused on every key, since every key
//! is capped).
//!
//! The tables below are matched in order, first match wins. A path that no entry matches is
//! classified by [`default_class`]: a read (`GET`, `HEAD`, `OPTIONS`) is free, anything else is
//! unbounded — keybrake fails closed on what it does not know.
//!
//! The endpoints each official SDK can call are checked in under `crates/core/sdk-endpoints/`
//! (`scripts/sdk-endpoints.py` extracts them from `.venv`); a test fails when one of them falls
//! through to the default, so an SDK upgrade shows what is new.
//!
//! Pattern syntax: segments separated by `/`; `*` matches one segment; `*.json` matches one
//! segment ending in `.json`; a final `**` matches any number of segments (none included).

use crate::endpoint::EndpointPattern;
use crate::vendor::Vendor;

/// How a call's cost is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Moves no money and incurs no charge.
    Free,
    /// Priced from the request by this rule (which may still find a given body unbounded).
    Priced(Rule),
    /// Can move money the request does not bound. The text says what to do instead.
    Unbounded(&'static str),
}

/// A pricing rule: the function of the request that bounds what the call can cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `amount` and `currency` are required; the call costs `amount` (PaymentIntent, Charge,
    /// Transfer, Payout, Top-up, Treasury money movements, invoice items, climate orders).
    StripeAmount,
    /// `amount` (signed) and `currency` required; costs `|amount|` (customer balance adjustments).
    StripeSignedAmount,
    /// PaymentIntent update: free unless it sets `amount` (priced at the new amount) or changes
    /// `currency` alone (unbounded).
    StripeIntentUpdate,
    /// A follow-up that moves the money of an existing intent or charge: the named field
    /// (`amount_to_confirm`, `amount_to_capture`, `amount`) bounds it; without it, only an
    /// object whose amount this key already counted through this gateway may proceed (free).
    StripeFollowUp(&'static str),
    /// `increment_authorization`: `amount` is the new total authorized.
    StripeIncrement,
    /// A refund or reversal whose `amount` is optional: required here, since omitting it means
    /// "everything", which the request does not bound.
    StripeNamedAmount(&'static str),
    /// Credit note: `amount` (the note's total) required.
    StripeCreditNote,
    /// Cancelling a subscription (or schedule): free unless `invoice_now=true` (bills at once).
    StripeCancelSubscription,
    /// Invoice create/update: free unless `auto_advance=true` (Stripe then finalizes and charges
    /// it later, for an amount the request does not state).
    StripeInvoiceDraft,
    /// Issuing card: a virtual card is free; a physical one carries fees keybrake has no price for.
    StripeIssuingCard,
    /// `/v2` JSON bodies with `amount: {value, currency}` (money management).
    StripeV2Amount,
    /// Twilio message: segments × the destination's rate, or one MMS.
    TwilioMessage,
    /// Twilio call (and conference participant): minutes (`TimeLimit`, else the longest call)
    /// × the destination's per-minute rate.
    TwilioCall,
    /// Twilio call update: free unless it lengthens the call (`TimeLimit`, `Url`, `Twiml`),
    /// then priced as a new call at the dearest per-minute rate.
    TwilioCallUpdate,
    /// Resend email: each `to`, `cc`, `bcc` address is one email.
    ResendEmail,
    /// Resend batch: the sum of its emails.
    ResendBatch,
}

/// One line of a table.
struct Entry {
    method: &'static str,
    pattern: &'static str,
    class: Class,
}

const fn e(method: &'static str, pattern: &'static str, class: Class) -> Entry {
    Entry {
        method,
        pattern,
        class,
    }
}

use Class::{Free, Priced, Unbounded};
use Rule::*;

const ANY: &str = "*";

/// Why a call keybrake does not know is refused.
pub const UNKNOWN: &str = "keybrake does not know what this call can cost, so a capped key may not make it. Make it from a service with its own vendor key, or ask the keybrake maintainers to classify it.";
const RECURRING: &str = "a subscription bills again every period, without a call through keybrake, for prices the request only names by id. Create and change subscriptions from a service with its own Stripe key.";
const INVOICE_CHARGE: &str = "paying or finalizing an invoice charges its total, which the request does not state. Charge with a PaymentIntent (amount and currency), or pay invoices from a service with its own Stripe key.";
const METERED: &str = "usage reported to a meter is billed later at prices keybrake cannot see. Report usage from a service with its own Stripe key.";
const REVERSAL_FULL: &str = "this reversal moves the full amount of an earlier movement, which the request does not state. Make it from a service with its own Stripe key.";
const PROCESS_INTENT: &str = "processing a PaymentIntent on a reader moves the intent's amount, which the request does not state. Create the intent with confirm=true through keybrake instead.";
const IDENTITY: &str = "Stripe bills each identity verification and keybrake has no price for it. Start verifications from a service with its own Stripe key.";
const FORWARDING: &str = "a forwarded request can make a payment at another processor, for an amount keybrake cannot read. Forward card details from a service with its own Stripe key.";
const V2_CONFIRM: &str = "confirming a payout intent sends its amount, which the request does not state. Send money with POST /v2/money_management/outbound_payments (amount in the body).";
const REVIEW: &str = "approving a review releases a payment whose amount the request does not state. Approve reviews in the Stripe dashboard.";
const QUOTE: &str = "accepting a quote starts a subscription or invoice for an amount the request does not state. Accept quotes from a service with its own Stripe key.";
const NUMBER: &str = "buying a number or an add-on bills every month, and keybrake has no price for it. Buy numbers in the Twilio console.";
const TWILIO_UNPRICED: &str = "Twilio bills this by usage keybrake has no price for (recording, streaming, relay, card payments). Make the call from a service with its own Twilio credentials.";
const TWILIO_DOMAIN: &str = "the gateway routes only api.twilio.com (/2010-04-01/...); this call belongs to another Twilio product. Call it from a service with its own Twilio credentials.";
const BROADCAST: &str = "a broadcast goes to every contact of a segment, which the request does not list. Send to named recipients with POST /emails or /emails/batch.";
const AUTOMATION: &str = "automations and events send emails later to recipients the request does not list. Send to named recipients with POST /emails or /emails/batch.";
const INBOX_SEND: &str = "a stored draft or an inbox agent sends to recipients the request does not list. Send with POST /emails, which names them.";

/// Stripe. `GET` is free throughout (reads); `/v1/test_helpers` and `/v2/*/test_helpers` run in
/// test mode only, where no money is real.
const STRIPE: &[Entry] = &[
    e("GET", "/**", Free),
    e(ANY, "/v1/test_helpers/**", Free),
    e(ANY, "/v2/test_helpers/**", Free),
    e(ANY, "/v2/money_management/test_helpers/**", Free),
    // Payments.
    e("POST", "/v1/payment_intents", Priced(StripeAmount)),
    e("POST", "/v1/payment_intents/*", Priced(StripeIntentUpdate)),
    e(
        "POST",
        "/v1/payment_intents/*/confirm",
        Priced(StripeFollowUp("amount_to_confirm")),
    ),
    e(
        "POST",
        "/v1/payment_intents/*/capture",
        Priced(StripeFollowUp("amount_to_capture")),
    ),
    e(
        "POST",
        "/v1/payment_intents/*/apply_customer_balance",
        Priced(StripeFollowUp("amount")),
    ),
    e(
        "POST",
        "/v1/payment_intents/*/increment_authorization",
        Priced(StripeIncrement),
    ),
    e("POST", "/v1/payment_intents/*/cancel", Free),
    e("POST", "/v1/payment_intents/*/verify_microdeposits", Free),
    e("POST", "/v1/charges", Priced(StripeAmount)),
    e("POST", "/v1/charges/*", Free),
    e(
        "POST",
        "/v1/charges/*/capture",
        Priced(StripeFollowUp("amount")),
    ),
    e("POST", "/v1/refunds", Priced(StripeNamedAmount("refund"))),
    e("POST", "/v1/refunds/*", Free),
    e("POST", "/v1/refunds/*/cancel", Free),
    e(
        "POST",
        "/v1/application_fees/*/refunds",
        Priced(StripeNamedAmount("application fee refund")),
    ),
    e("POST", "/v1/application_fees/*/refunds/*", Free),
    e("POST", "/v1/disputes/**", Free),
    e("POST", "/v1/reviews/*/approve", Unbounded(REVIEW)),
    e("POST", "/v1/payment_records/**", Free),
    e("POST", "/v1/payment_methods/**", Free),
    e("POST", "/v1/payment_method_configurations/**", Free),
    e("POST", "/v1/payment_method_domains/**", Free),
    e("POST", "/v1/setup_intents/**", Free),
    e("POST", "/v1/sources/**", Free),
    e("POST", "/v1/tokens", Free),
    e("POST", "/v1/confirmation_tokens", Free),
    e("POST", "/v1/three_d_secure/**", Free),
    e("POST", "/v1/radar/**", Free),
    e("DELETE", "/v1/radar/**", Free),
    e("POST", "/v1/forwarding/requests", Unbounded(FORWARDING)),
    // Hosted pages: the customer decides to pay on Stripe's page.
    e("POST", "/v1/checkout/sessions/**", Free),
    e("POST", "/v1/payment_links/**", Free),
    e("POST", "/v1/billing_portal/**", Free),
    e("POST", "/v1/customer_sessions", Free),
    // Money out and between balances.
    e("POST", "/v1/transfers", Priced(StripeAmount)),
    e("POST", "/v1/transfers/*", Free),
    e(
        "POST",
        "/v1/transfers/*/reversals",
        Priced(StripeNamedAmount("transfer reversal")),
    ),
    e("POST", "/v1/transfers/*/reversals/*", Free),
    e("POST", "/v1/payouts", Priced(StripeAmount)),
    e("POST", "/v1/payouts/*", Free),
    e("POST", "/v1/payouts/*/cancel", Free),
    e("POST", "/v1/payouts/*/reverse", Unbounded(REVERSAL_FULL)),
    e("POST", "/v1/topups", Priced(StripeAmount)),
    e("POST", "/v1/topups/*", Free),
    e("POST", "/v1/topups/*/cancel", Free),
    e(
        "POST",
        "/v1/treasury/inbound_transfers",
        Priced(StripeAmount),
    ),
    e(
        "POST",
        "/v1/treasury/outbound_payments",
        Priced(StripeAmount),
    ),
    e(
        "POST",
        "/v1/treasury/outbound_transfers",
        Priced(StripeAmount),
    ),
    e("POST", "/v1/treasury/*/*/cancel", Free),
    e(
        "POST",
        "/v1/treasury/credit_reversals",
        Unbounded(REVERSAL_FULL),
    ),
    e(
        "POST",
        "/v1/treasury/debit_reversals",
        Unbounded(REVERSAL_FULL),
    ),
    e("POST", "/v1/treasury/financial_accounts/**", Free),
    e("POST", "/v1/balance_settings", Free),
    // Billing.
    e(
        "POST",
        "/v1/customers/*/balance_transactions",
        Priced(StripeSignedAmount),
    ),
    e("POST", "/v1/customers/*/balance_transactions/*", Free),
    e("POST", "/v1/customers/**", Free),
    e("DELETE", "/v1/customers/**", Free),
    e("POST", "/v1/invoiceitems", Priced(StripeAmount)),
    e("POST", "/v1/invoiceitems/*", Unbounded(INVOICE_CHARGE)),
    e("DELETE", "/v1/invoiceitems/*", Free),
    e("POST", "/v1/invoices", Priced(StripeInvoiceDraft)),
    e("POST", "/v1/invoices/create_preview", Free),
    e("POST", "/v1/invoices/*", Priced(StripeInvoiceDraft)),
    e("DELETE", "/v1/invoices/*", Free),
    e("POST", "/v1/invoices/*/pay", Unbounded(INVOICE_CHARGE)),
    e("POST", "/v1/invoices/*/finalize", Unbounded(INVOICE_CHARGE)),
    e(
        "POST",
        "/v1/invoices/*/add_lines",
        Unbounded(INVOICE_CHARGE),
    ),
    e(
        "POST",
        "/v1/invoices/*/update_lines",
        Unbounded(INVOICE_CHARGE),
    ),
    e("POST", "/v1/invoices/*/lines/*", Unbounded(INVOICE_CHARGE)),
    e("POST", "/v1/invoices/*/remove_lines", Free),
    e("POST", "/v1/invoices/*/attach_payment", Free),
    e("POST", "/v1/invoices/*/send", Free),
    e("POST", "/v1/invoices/*/void", Free),
    e("POST", "/v1/invoices/*/mark_uncollectible", Free),
    e("POST", "/v1/invoice_rendering_templates/**", Free),
    e("POST", "/v1/credit_notes", Priced(StripeCreditNote)),
    e("POST", "/v1/credit_notes/*", Free),
    e("POST", "/v1/credit_notes/*/void", Free),
    e("POST", "/v1/subscriptions", Unbounded(RECURRING)),
    e(
        "DELETE",
        "/v1/subscriptions/*",
        Priced(StripeCancelSubscription),
    ),
    e("DELETE", "/v1/subscriptions/*/discount", Free),
    e("POST", "/v1/subscriptions/*/pause", Free),
    e("POST", "/v1/subscriptions/*/migrate", Free),
    e("POST", "/v1/subscriptions/**", Unbounded(RECURRING)),
    e("POST", "/v1/subscription_items/**", Unbounded(RECURRING)),
    e("DELETE", "/v1/subscription_items/*", Unbounded(RECURRING)),
    e(
        "POST",
        "/v1/subscription_schedules/*/cancel",
        Priced(StripeCancelSubscription),
    ),
    e("POST", "/v1/subscription_schedules/*/release", Free),
    e(
        "POST",
        "/v1/subscription_schedules/**",
        Unbounded(RECURRING),
    ),
    e("POST", "/v1/quotes/*/accept", Unbounded(QUOTE)),
    e("POST", "/v1/quotes/**", Free),
    e("POST", "/v1/billing/meter_events", Unbounded(METERED)),
    e(
        "POST",
        "/v1/billing/meter_event_adjustments",
        Unbounded(METERED),
    ),
    e("POST", "/v1/billing/**", Free),
    e("POST", "/v2/billing/**", Unbounded(METERED)),
    // Catalog and configuration.
    e(ANY, "/v1/products/**", Free),
    e(ANY, "/v1/prices/**", Free),
    e(ANY, "/v1/plans/**", Free),
    e(ANY, "/v1/coupons/**", Free),
    e(ANY, "/v1/promotion_codes/**", Free),
    e(ANY, "/v1/product_catalog/**", Free),
    e(ANY, "/v1/shipping_rates/**", Free),
    e(ANY, "/v1/tax_rates/**", Free),
    e(ANY, "/v1/tax_ids/**", Free),
    e(ANY, "/v1/tax/**", Free),
    e(ANY, "/v1/entitlements/**", Free),
    e(ANY, "/v1/webhook_endpoints/**", Free),
    e(ANY, "/v1/files", Free),
    e(ANY, "/v1/file_links/**", Free),
    e(ANY, "/v1/ephemeral_keys/**", Free),
    e(ANY, "/v1/apple_pay/**", Free),
    e(ANY, "/v1/apps/**", Free),
    e(ANY, "/v1/reporting/**", Free),
    e(ANY, "/v1/financial_connections/**", Free),
    e(
        "POST",
        "/v1/identity/verification_sessions",
        Unbounded(IDENTITY),
    ),
    e("POST", "/v1/identity/**", Free),
    e(ANY, "/v1/account_links", Free),
    e(ANY, "/v1/account_sessions", Free),
    e(ANY, "/v1/accounts/**", Free),
    e(ANY, "/v1/accounts", Free),
    e("POST", "/v1/climate/orders", Priced(StripeAmount)),
    e("POST", "/v1/climate/orders/**", Free),
    // Issuing: card spend approved by this call moves money.
    e(
        "POST",
        "/v1/issuing/authorizations/*/approve",
        Priced(StripeNamedAmount("issuing approval")),
    ),
    e("POST", "/v1/issuing/cards", Priced(StripeIssuingCard)),
    e("POST", "/v1/issuing/**", Free),
    // Terminal: readers that take or refund a payment.
    e(
        "POST",
        "/v1/terminal/readers/*/process_payment_intent",
        Unbounded(PROCESS_INTENT),
    ),
    e(
        "POST",
        "/v1/terminal/readers/*/confirm_payment_intent",
        Unbounded(PROCESS_INTENT),
    ),
    e(
        "POST",
        "/v1/terminal/readers/*/refund_payment",
        Priced(StripeNamedAmount("reader refund")),
    ),
    e(ANY, "/v1/terminal/**", Free),
    // v2 (JSON bodies).
    e(
        "POST",
        "/v2/money_management/outbound_payments",
        Priced(StripeV2Amount),
    ),
    e(
        "POST",
        "/v2/money_management/inbound_transfers",
        Priced(StripeV2Amount),
    ),
    e(
        "POST",
        "/v2/money_management/payout_intents/*/confirm",
        Unbounded(V2_CONFIRM),
    ),
    e("POST", "/v2/money_management/**", Free),
    e(ANY, "/v2/core/**", Free),
    e(ANY, "/v2/commerce/**", Free),
];

/// Twilio. The gateway routes `/twilio/…` to api.twilio.com only (the `2010-04-01` API);
/// paths of Twilio's other products (their own domains) are refused for writes.
const TWILIO: &[Entry] = &[
    e("GET", "/**", Free),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Messages.json",
        Priced(TwilioMessage),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls.json",
        Priced(TwilioCall),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*.json",
        Priced(TwilioCallUpdate),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Conferences/*/Participants.json",
        Priced(TwilioCall),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Payments.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Payments/*.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Recordings.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Siprec.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Streams.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Calls/*/Transcriptions.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/Tokens.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/OutgoingCallerIds.json",
        Unbounded(TWILIO_UNPRICED),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers.json",
        Unbounded(NUMBER),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers/Local.json",
        Unbounded(NUMBER),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers/Mobile.json",
        Unbounded(NUMBER),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers/TollFree.json",
        Unbounded(NUMBER),
    ),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers/*/AssignedAddOns.json",
        Unbounded(NUMBER),
    ),
    // Updates (redacting a message, muting a participant, renaming) and configuration.
    e("POST", "/2010-04-01/Accounts/*/Messages/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Calls/*/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Calls/*/*/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Conferences/**", Free),
    e(
        "POST",
        "/2010-04-01/Accounts/*/IncomingPhoneNumbers/*.json",
        Free,
    ),
    e("POST", "/2010-04-01/Accounts/*/Addresses.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Addresses/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Applications.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Applications/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/ConnectApps/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Keys.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Keys/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/SigningKeys.json", Free),
    e("POST", "/2010-04-01/Accounts/*/SigningKeys/*.json", Free),
    e(
        "POST",
        "/2010-04-01/Accounts/*/OutgoingCallerIds/*.json",
        Free,
    ),
    e("POST", "/2010-04-01/Accounts/*/Queues.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Queues/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/SIP/**", Free),
    e("POST", "/2010-04-01/Accounts/*/SMS/ShortCodes/*.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Usage/Triggers.json", Free),
    e("POST", "/2010-04-01/Accounts/*/Usage/Triggers/*.json", Free),
    e("POST", "/2010-04-01/Accounts.json", Free),
    e("POST", "/2010-04-01/Accounts/*.json", Free),
    e("DELETE", "/2010-04-01/**", Free),
    e(ANY, "/**", Unbounded(TWILIO_DOMAIN)),
];

/// Resend.
const RESEND: &[Entry] = &[
    e("GET", "/**", Free),
    e("POST", "/emails", Priced(ResendEmail)),
    e("POST", "/emails/batch", Priced(ResendBatch)),
    e("PATCH", "/emails/*", Free),
    e("POST", "/emails/*/cancel", Free),
    e("POST", "/emails/*/share", Free),
    e("POST", "/broadcasts", Free),
    e("PATCH", "/broadcasts/*", Free),
    e("POST", "/broadcasts/*/send", Unbounded(BROADCAST)),
    e("POST", "/broadcasts/*/cancel", Free),
    e("POST", "/broadcasts/*/duplicate", Free),
    e("POST", "/events/send", Unbounded(AUTOMATION)),
    e("POST", "/automations/*/stop", Free),
    e("DELETE", "/automations/**", Free),
    e(ANY, "/automations/**", Unbounded(AUTOMATION)),
    e(ANY, "/automations", Unbounded(AUTOMATION)),
    e("POST", "/inboxes/*/drafts/*/send", Unbounded(INBOX_SEND)),
    e(ANY, "/inboxes/*/agent", Unbounded(INBOX_SEND)),
    e(ANY, "/inboxes/**", Free),
    e(ANY, "/inboxes", Free),
    e(ANY, "/events/**", Free),
    e(ANY, "/events", Free),
    e(ANY, "/api-keys/**", Free),
    e(ANY, "/api-keys", Free),
    e(ANY, "/audiences/**", Free),
    e(ANY, "/broadcasts/*", Free),
    e(ANY, "/contact-properties/**", Free),
    e(ANY, "/contact-properties", Free),
    e(ANY, "/contacts/**", Free),
    e(ANY, "/contacts", Free),
    e(ANY, "/domains/**", Free),
    e(ANY, "/domains", Free),
    e(ANY, "/oauth/**", Free),
    e(ANY, "/segments/**", Free),
    e(ANY, "/segments", Free),
    e(ANY, "/suppressions/**", Free),
    e(ANY, "/suppressions", Free),
    e(ANY, "/templates/**", Free),
    e(ANY, "/templates", Free),
    e(ANY, "/topics/**", Free),
    e(ANY, "/topics", Free),
    e(ANY, "/webhooks/**", Free),
    e(ANY, "/webhooks", Free),
    e(ANY, "/emails/*", Free),
];

fn table(vendor: Vendor) -> &'static [Entry] {
    match vendor {
        Vendor::Stripe => STRIPE,
        Vendor::Twilio => TWILIO,
        Vendor::Resend => RESEND,
    }
}

/// One pattern segment against one path segment.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern {
        "*" => true,
        p => match p.strip_prefix('*') {
            Some(suffix) => segment.len() > suffix.len() && segment.ends_with(suffix),
            None => p == segment,
        },
    }
}

fn pattern_matches(pattern: &str, path: &[impl AsRef<str>]) -> bool {
    let mut segments = path.iter();
    for p in pattern.split('/').filter(|s| !s.is_empty()) {
        if p == "**" {
            return true;
        }
        match segments.next() {
            Some(s) if segment_matches(p, s.as_ref()) => {}
            _ => return false,
        }
    }
    segments.next().is_none()
}

/// The class a table gives `method` on the vendor path `path`, or `None` when no entry names it.
pub fn classify_explicit(vendor: Vendor, method: &str, path: &[impl AsRef<str>]) -> Option<Class> {
    table(vendor)
        .iter()
        .find(|e| {
            (e.method == ANY || e.method.eq_ignore_ascii_case(method))
                && pattern_matches(e.pattern, path)
        })
        .map(|e| e.class)
}

/// What keybrake does with a path no table names: reads are free, everything else is unbounded.
pub fn default_class(method: &str) -> Class {
    if ["GET", "HEAD", "OPTIONS"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
    {
        Free
    } else {
        Unbounded(UNKNOWN)
    }
}

/// The class of a call: `method` (any case) on the vendor's own path `path` (decoded segments).
pub fn classify(vendor: Vendor, method: &str, path: &[impl AsRef<str>]) -> Class {
    classify_explicit(vendor, method, path).unwrap_or_else(|| default_class(method))
}

/// The endpoints each official SDK can call (`METHOD /path`, Twilio with its host), as checked in
/// by `scripts/sdk-endpoints.py`.
pub fn sdk_endpoints(vendor: Vendor) -> impl Iterator<Item = SdkEndpoint> {
    let text = match vendor {
        Vendor::Stripe => include_str!("../../sdk-endpoints/stripe.txt"),
        Vendor::Twilio => include_str!("../../sdk-endpoints/twilio.txt"),
        Vendor::Resend => include_str!("../../sdk-endpoints/resend.txt"),
    };
    text.lines().filter_map(|line| {
        let mut parts = line.split_whitespace();
        let method = parts.next()?;
        let path = parts.next()?;
        Some(SdkEndpoint {
            method,
            path,
            host: parts.next(),
        })
    })
}

/// One endpoint an SDK can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdkEndpoint {
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// The path with `*` for each path parameter (`*.json` for Twilio's `{Sid}.json`).
    pub path: &'static str,
    /// Twilio only: the domain the SDK sends it to.
    pub host: Option<&'static str>,
}

impl SdkEndpoint {
    pub fn segments(&self) -> Vec<&'static str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn class(&self, vendor: Vendor) -> Class {
        classify(vendor, self.method, &self.segments())
    }
}

impl std::fmt::Display for SdkEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// What an allowlist pattern can reach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// SDK endpoints (or the pattern itself, when it matches none) that a key may call:
    /// free or priced.
    pub callable: Vec<String>,
    /// Endpoints the pattern matches that keybrake always refuses (unbounded).
    pub never: Vec<String>,
}

/// What `pattern` reaches for `vendor`: the SDK endpoints it matches, split into those a key can
/// call and those keybrake always refuses. A pattern that matches no SDK endpoint is classified
/// as a path of its own (each `*` standing for an id).
pub fn reach(vendor: Vendor, pattern: &EndpointPattern) -> Reach {
    let mut out = Reach::default();
    let routed = |ep: &SdkEndpoint| ep.host.is_none_or(|h| h == "api.twilio.com");
    for ep in sdk_endpoints(vendor).filter(routed) {
        if !pattern.covers(ep.method, &ep.segments()) {
            continue;
        }
        match ep.class(vendor) {
            Unbounded(_) => out.never.push(ep.to_string()),
            _ => out.callable.push(ep.to_string()),
        }
    }
    if out.callable.is_empty() && out.never.is_empty() {
        let segments = pattern.segments_or_star();
        let name = pattern.to_string();
        match classify(vendor, pattern.method(), &segments) {
            Unbounded(_) => out.never.push(name),
            _ => out.callable.push(name),
        }
    }
    out
}

// === impl Rule ===

impl Rule {
    /// What the rule reserves, in one line, for the README's table.
    pub fn describe(self) -> &'static str {
        match self {
            StripeAmount => "`amount` in `currency` (both required)",
            StripeSignedAmount => "`|amount|` in `currency` (both required)",
            StripeIntentUpdate => "free, unless it sets `amount` (priced at the new amount) or `currency` alone (refused)",
            StripeFollowUp(_) => "free for an intent or charge this key counted through this gateway (up to its amount); else the named amount (`amount_to_capture` / `amount_to_confirm` / `amount`) in its currency, or at 2 cents per minor unit; no amount and not counted here: refused",
            StripeIncrement => "the new total `amount` (in the counted currency, or at 2 cents per minor unit)",
            StripeNamedAmount(_) => "`amount` (required; without it the whole original amount would move), in the counted currency or at 2 cents per minor unit",
            StripeCreditNote => "`amount` (the note's total, required) at 2 cents per minor unit",
            StripeCancelSubscription => "free; refused with `invoice_now=true`",
            StripeInvoiceDraft => "free; refused with `auto_advance=true`",
            StripeIssuingCard => "free for `type=virtual`; physical cards refused",
            StripeV2Amount => "`amount.value` in `amount.currency` (JSON, required)",
            TwilioMessage => "segments × the destination's SMS rate; one MMS with media or `SendAsMms=true` (outside +1: the larger of MMS and the converter's SMS); channel addresses at their own price",
            TwilioCall => "`TimeLimit` (else `call_max_minutes`) × the destination's per-minute rate",
            TwilioCallUpdate => "free, unless it sets `TimeLimit`, `Url` or `Twiml`: then a new call at the dearest per-minute rate",
            ResendEmail => "one email per `to`, `cc` and `bcc` address (sent now or scheduled)",
            ResendBatch => "the sum over its emails",
        }
    }
}

/// The README's "What costs what" table: every priced and unbounded entry of the tables (reads
/// and the rest are free), one row each, in table order.
pub fn readme_table() -> String {
    let mut out = String::from(
        "| vendor | endpoint | cost | what to do instead |\n| --- | --- | --- | --- |\n",
    );
    for vendor in Vendor::ALL {
        for entry in table(vendor) {
            let (cost, instead) = match entry.class {
                Free => continue,
                Priced(rule) => (rule.describe(), ""),
                Unbounded(advice) => ("**refused** (`cost_not_bounded`)", advice),
            };
            out.push_str(&format!(
                "| {vendor} | `{} {}` | {cost} | {instead} |\n",
                entry.method, entry.pattern
            ));
        }
    }
    out.push_str(&format!(
        "| any | any other write | **refused** (`cost_not_bounded`) | {UNKNOWN} |\n"
    ));
    out
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
