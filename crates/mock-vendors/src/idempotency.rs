//! Saved results of POSTs sent with an `Idempotency-Key`, replayed on retries.

use std::collections::HashMap;

use axum::http::StatusCode;

/// What makes two requests "the same parameters" for Stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// The first reply given under a key, byte for byte.
#[derive(Clone, Debug)]
pub struct Saved {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub request_id: String,
}

/// What to do with a request carrying an idempotency key.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The key is new: run the request.
    Fresh,
    /// Same key, same parameters: answer with the saved reply.
    Replay(&'a Saved),
    /// Same key, different parameters: refuse.
    Mismatch,
}

/// Saved replies by (API key, idempotency key). Stripe keeps them 24 hours; the mock keeps
/// them until it exits.
#[derive(Debug, Default)]
pub struct Idempotency {
    entries: HashMap<(String, String), (Fingerprint, Saved)>,
}

impl Idempotency {
    /// Looks up `key` as used with `api_key`.
    pub fn lookup(&self, api_key: &str, key: &str, fingerprint: &Fingerprint) -> Lookup<'_> {
        match self.entries.get(&(api_key.to_owned(), key.to_owned())) {
            None => Lookup::Fresh,
            Some((first, saved)) if first == fingerprint => Lookup::Replay(saved),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Saves the reply to the first request under `key`.
    pub fn save(&mut self, api_key: &str, key: &str, fingerprint: Fingerprint, saved: Saved) {
        self.entries
            .entry((api_key.to_owned(), key.to_owned()))
            .or_insert((fingerprint, saved));
    }
}
