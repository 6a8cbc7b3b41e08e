//! Saved replies to POSTs sent with an `Idempotency-Key`, replayed on retries. Stripe and
//! Resend both keep the first reply under a key and refuse the key with other parameters.

use std::collections::HashMap;

/// What makes two requests "the same parameters".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub method: String,
    pub path: String,
    /// The body as the vendor compares it (raw bytes for Stripe, canonical JSON for Resend).
    pub body: Vec<u8>,
}

/// What to do with a request carrying an idempotency key.
#[derive(Debug)]
pub enum Lookup<'a, S> {
    /// The key is new: run the request.
    Fresh,
    /// Same key, same parameters: answer with the saved reply.
    Replay(&'a S),
    /// Same key, different parameters: refuse.
    Mismatch,
}

/// Saved replies `S` by (API key, idempotency key). The vendors keep them 24 hours; the
/// mocks keep them until they exit.
#[derive(Debug)]
pub struct Idempotency<S> {
    entries: HashMap<(String, String), (Fingerprint, S)>,
}

impl<S> Default for Idempotency<S> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<S> Idempotency<S> {
    /// Looks up `key` as used with `api_key`.
    pub fn lookup(&self, api_key: &str, key: &str, fingerprint: &Fingerprint) -> Lookup<'_, S> {
        match self.entries.get(&(api_key.to_owned(), key.to_owned())) {
            None => Lookup::Fresh,
            Some((first, saved)) if first == fingerprint => Lookup::Replay(saved),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Saves the reply to the first request under `key`.
    pub fn save(&mut self, api_key: &str, key: &str, fingerprint: Fingerprint, saved: S) {
        self.entries
            .entry((api_key.to_owned(), key.to_owned()))
            .or_insert((fingerprint, saved));
    }
}
