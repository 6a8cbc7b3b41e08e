//! What a worker hands the sync service over a shared queue: many records per message.
//!
//! Every `enqueue` on an Envoy shared queue posts a wake-up (`on_queue_ready`) to the main
//! thread, which costs the gateway about as much CPU as the whole rest of a call (`make bench`
//! measured some 50 µs per enqueue on one worker). So a worker collects records in a
//! [`Handoff`] and enqueues them together, once it holds [`Handoff::max_records`] of them or on
//! its next tick; the sync service [`split`]s each message back into records.
//!
//! Records are separated by `\n` and must not contain one (JSON from `serde_json` and key ids
//! never do).

/// Separates the records of one message.
pub const SEPARATOR: u8 = b'\n';
/// Records per message before a worker enqueues without waiting for its tick.
pub const DEFAULT_MAX_RECORDS: usize = 64;
/// Bytes per message before a worker enqueues without waiting for its tick.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// Audit records per message: enough that a worker's tick (50 ms), not the count, decides
/// when they go at up to ~10,000 calls a second. Each message wakes the main thread, and the
/// sync service then ships what it holds to the control plane in one HTTP call: at 64 records
/// a message that made about half the audit trail's cost per call (bench/RESULTS.md, section 5).
pub const AUDIT_MAX_RECORDS: usize = 512;
/// Audit bytes per message (records are ~350 bytes).
pub const AUDIT_MAX_BYTES: usize = 256 * 1024;

/// Records waiting to be enqueued as one message.
#[derive(Clone, Debug)]
pub struct Handoff {
    message: Vec<u8>,
    records: usize,
    max_records: usize,
    max_bytes: usize,
}

/// A record that cannot travel in a message: it is empty or holds the separator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a record for the sync service must be non-empty and hold no newline")]
pub struct BadRecord;

impl Default for Handoff {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORDS, DEFAULT_MAX_BYTES)
    }
}

impl Handoff {
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Self {
            message: Vec::new(),
            records: 0,
            max_records: max_records.max(1),
            max_bytes,
        }
    }

    pub fn max_records(&self) -> usize {
        self.max_records
    }

    /// Adds a record. `Ok(true)`: the message is full, take it now.
    pub fn push(&mut self, record: &[u8]) -> Result<bool, BadRecord> {
        if record.is_empty() || record.contains(&SEPARATOR) {
            return Err(BadRecord);
        }
        if self.records > 0 {
            self.message.push(SEPARATOR);
        }
        self.message.extend_from_slice(record);
        self.records += 1;
        Ok(self.is_full())
    }

    /// Whether `record` is already waiting (for key ids, named once per message).
    pub fn contains(&self, record: &[u8]) -> bool {
        split(&self.message).any(|r| r == record)
    }

    pub fn is_full(&self) -> bool {
        self.records >= self.max_records || self.message.len() >= self.max_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    pub fn len(&self) -> usize {
        self.records
    }

    /// The message and how many records it holds; `None` when nothing waits.
    pub fn take(&mut self) -> Option<(Vec<u8>, usize)> {
        if self.records == 0 {
            return None;
        }
        let records = std::mem::replace(&mut self.records, 0);
        Some((std::mem::take(&mut self.message), records))
    }
}

/// The records of one message (a message from an older worker is one record).
pub fn split(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    message.split(|&b| b == SEPARATOR).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_travel_together_and_split_back() {
        let mut h = Handoff::new(3, 1024);
        assert_eq!(h.take(), None, "nothing to enqueue");
        assert_eq!(h.push(br#"{"a":1}"#), Ok(false));
        assert_eq!(
            h.push(br#"{"b":"x\ny"}"#),
            Ok(false),
            "an escaped newline is fine"
        );
        assert_eq!(h.push(b"kid_1"), Ok(true), "full at max_records");
        let (message, n) = h.take().unwrap();
        assert_eq!(n, 3);
        let back: Vec<&[u8]> = split(&message).collect();
        assert_eq!(back, vec![&br#"{"a":1}"#[..], br#"{"b":"x\ny"}"#, b"kid_1"]);
        assert!(h.is_empty() && h.take().is_none(), "taking empties it");
    }

    #[test]
    fn full_by_bytes_and_bad_records_refused() {
        let mut h = Handoff::new(100, 10);
        assert_eq!(h.push(b"12345"), Ok(false));
        assert_eq!(h.push(b"67890"), Ok(true), "11 bytes with the separator");
        let cases: [(&str, &[u8]); 2] = [("empty", b""), ("raw newline", b"a\nb")];
        for (name, record) in cases {
            assert_eq!(h.push(record), Err(BadRecord), "case {name}");
        }
        assert_eq!(h.len(), 2, "refused records are not added");
    }

    #[test]
    fn a_single_record_message_splits_to_itself() {
        assert_eq!(split(b"kid_1").collect::<Vec<_>>(), vec![&b"kid_1"[..]]);
        assert_eq!(split(b"").count(), 0);
    }

    #[test]
    fn contains_finds_whole_records_only() {
        let mut h = Handoff::default();
        h.push(b"kid_12").unwrap();
        assert!(h.contains(b"kid_12"));
        assert!(!h.contains(b"kid_1"));
    }
}
