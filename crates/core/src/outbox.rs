//! The sync service's audit outbox: numbers records as they arrive, keeps them in a bounded
//! buffer, builds batches, and drops records only once the control plane acknowledged them.
//! Records it cannot keep are counted, never dropped silently.

use crate::audit::AuditAck;
use crate::backoff::Backoff;
use std::collections::VecDeque;

/// Records kept while the control plane is away (about 300 bytes each).
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Records in one batch.
pub const DEFAULT_BATCH: usize = 500;
/// Longest pause between failed sends (jitter included).
pub const MAX_BACKOFF_MS: u64 = 5_000;
/// An empty batch (the counters alone) goes out this often, so gaps and drops are known.
pub const HEARTBEAT_MS: u64 = 5_000;

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    batch: usize,
    /// `(seq, record JSON)`, in sequence order.
    buffer: VecDeque<(u64, Vec<u8>)>,
    next_seq: u64,
    dropped_total: u64,
    /// Highest sequence number in the batch in flight.
    in_flight: Option<u64>,
    next_attempt_at_ms: u64,
    last_sent_at_ms: Option<u64>,
    /// Built at the first failed send, from the sync configuration's `retry_ms`.
    backoff: Option<Backoff>,
}

impl Outbox {
    pub fn new(capacity: usize, batch: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            batch: batch.max(1),
            buffer: VecDeque::new(),
            next_seq: 1,
            dropped_total: 0,
            in_flight: None,
            next_attempt_at_ms: 0,
            last_sent_at_ms: None,
            backoff: None,
        }
    }

    /// Takes a record (a JSON object). Returns false, and counts it, when the buffer is full
    /// or the record is not a JSON object.
    pub fn push(&mut self, record: Vec<u8>) -> bool {
        if self.buffer.len() >= self.capacity || record.first() != Some(&b'{') {
            self.dropped_total = self.dropped_total.saturating_add(1);
            return false;
        }
        self.buffer.push_back((self.next_seq, record));
        self.next_seq += 1;
        true
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    pub fn send_due(&self, now_ms: u64) -> bool {
        let heartbeat = self
            .last_sent_at_ms
            .is_none_or(|at| now_ms >= at.saturating_add(HEARTBEAT_MS));
        self.in_flight.is_none()
            && now_ms >= self.next_attempt_at_ms
            && (!self.buffer.is_empty() || heartbeat)
    }

    /// The body of the next `POST /dataplane/v1/audit` (an `AuditBatch`), built without
    /// re-parsing the records: each gets its `seq` spliced in as the first field.
    pub fn build_batch(&mut self, now_ms: u64, gateway: &str, instance: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(64 + self.batch.min(self.buffer.len()) * 320);
        body.extend_from_slice(b"{\"gateway\":");
        body.extend_from_slice(json_string(gateway).as_bytes());
        body.extend_from_slice(b",\"instance\":");
        body.extend_from_slice(json_string(instance).as_bytes());
        body.extend_from_slice(b",\"entries\":[");
        let mut last = 0;
        for (i, (seq, record)) in self.buffer.iter().take(self.batch).enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(format!("{{\"seq\":{seq}").as_bytes());
            let rest = &record[1..];
            if rest.first() != Some(&b'}') {
                body.push(b',');
            }
            body.extend_from_slice(rest);
            last = *seq;
        }
        body.extend_from_slice(
            format!(
                "],\"next_seq\":{},\"dropped_total\":{}}}",
                self.next_seq, self.dropped_total
            )
            .as_bytes(),
        );
        self.in_flight = Some(last);
        self.last_sent_at_ms = Some(now_ms);
        body
    }

    /// The control plane answered (`Some`) or the send failed (`None`).
    pub fn on_answer(&mut self, now_ms: u64, retry_ms: u64, ack: Option<AuditAck>) {
        self.in_flight = None;
        match ack {
            Some(ack) => {
                while self
                    .buffer
                    .front()
                    .is_some_and(|(seq, _)| *seq <= ack.acked_through)
                {
                    self.buffer.pop_front();
                }
                if let Some(b) = self.backoff.as_mut() {
                    b.succeeded();
                }
                self.next_attempt_at_ms = now_ms;
            }
            None => {
                let pause = self
                    .backoff
                    .get_or_insert_with(|| Backoff::new(retry_ms, MAX_BACKOFF_MS))
                    .failed();
                self.next_attempt_at_ms = now_ms.saturating_add(pause);
            }
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditBatch;

    fn rec(n: u64) -> Vec<u8> {
        format!(r#"{{"time_ms":{n},"key_id":null,"agent_run_label":null,"vendor":null,"method":"GET","path":"/","status":200,"decision":"allow","deny_reason":null,"cost_micros":0,"cost_source":null,"spend_micros":null,"upstream_latency_ms":null,"vendor_request_id":null}}"#).into_bytes()
    }

    #[test]
    fn batches_parse_as_audit_batches_in_sequence() {
        let mut o = Outbox::new(10, 2);
        for n in 0..3 {
            assert!(o.push(rec(n)));
        }
        let b: AuditBatch = serde_json::from_slice(&o.build_batch(0, "gw-\"1", "i1")).unwrap();
        assert_eq!(b.gateway, "gw-\"1");
        assert_eq!(b.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(b.entries[1].record.time_ms, 1);
        assert_eq!((b.next_seq, b.dropped_total), (4, 0));
    }

    #[test]
    fn records_leave_only_when_acknowledged() {
        let mut o = Outbox::new(10, 2);
        for n in 0..3 {
            o.push(rec(n));
        }
        o.build_batch(0, "gw", "i");
        assert!(!o.send_due(0), "one batch at a time");
        o.on_answer(0, 100, None);
        assert_eq!(o.len(), 3, "a failed send keeps everything");
        // The first pause is 100 ms plus a jitter below 100 ms (under 1 ms in about one run
        // of a hundred, which made `send_due(100)` true and this test flaky).
        assert!(!o.send_due(99) && o.send_due(200), "and backs off");
        let resent: AuditBatch = serde_json::from_slice(&o.build_batch(200, "gw", "i")).unwrap();
        assert_eq!(resent.entries[0].seq, 1, "the same records go again");
        o.on_answer(200, 100, Some(AuditAck { acked_through: 2 }));
        assert_eq!(o.len(), 1);
        let next: AuditBatch = serde_json::from_slice(&o.build_batch(200, "gw", "i")).unwrap();
        assert_eq!(next.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn a_full_buffer_counts_what_it_drops() {
        let mut o = Outbox::new(2, 10);
        assert!(o.push(rec(1)));
        assert!(o.push(rec(2)));
        assert!(!o.push(rec(3)));
        assert!(!o.push(b"not json".to_vec()));
        assert_eq!(o.dropped_total(), 2);
        let b: AuditBatch = serde_json::from_slice(&o.build_batch(0, "gw", "i")).unwrap();
        assert_eq!(
            (b.entries.len(), b.next_seq, b.dropped_total),
            (2, 3, 2),
            "dropped records get no sequence number"
        );
    }

    #[test]
    fn an_idle_outbox_still_sends_its_counters() {
        let mut o = Outbox::new(2, 10);
        assert!(o.send_due(0), "the first heartbeat");
        let b: AuditBatch = serde_json::from_slice(&o.build_batch(0, "gw", "i")).unwrap();
        assert!(b.entries.is_empty());
        o.on_answer(0, 100, Some(AuditAck { acked_through: 0 }));
        assert!(!o.send_due(HEARTBEAT_MS - 1));
        assert!(o.send_due(HEARTBEAT_MS));
    }
}
