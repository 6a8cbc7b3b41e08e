//! Reading the audit trail forward by row id, as the console's live tail does
//! (`audit_after(filter, after_id, …)` from the highest id it has shown), never skips a record,
//! however the commits of concurrent batches interleave. PostgreSQL only: SQLite has one writer,
//! so its ids are committed in order by construction.

use crate::audit_support::{record, Instance};
use crate::support::{on_postgres, TestApp, T0_MS};
use keybrake_control_plane::audit::{AuditFilter, MAX_LIMIT};
use keybrake_control_plane::store::postgres::AUDIT_ORDER_LOCK;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A reader going forward by id: what it has seen, `(instance, seq)` → times seen.
#[derive(Default)]
struct Tail {
    after: i64,
    seen: HashMap<(String, u64), u32>,
}

impl Tail {
    /// Reads everything stored after the highest id seen so far.
    async fn read(&mut self, app: &TestApp) {
        loop {
            let rows = app
                .state
                .store
                .audit_after(AuditFilter::everything(), self.after, MAX_LIMIT)
                .await
                .unwrap();
            if rows.is_empty() {
                return;
            }
            for r in rows {
                assert!(r.id > self.after, "ids come in ascending order");
                self.after = r.id;
                *self.seen.entry((r.instance, r.seq)).or_default() += 1;
            }
        }
    }

    fn assert_saw_exactly(&self, expected: &[(&str, u64)]) {
        let missing: Vec<_> = expected
            .iter()
            .filter(|(i, s)| !self.seen.contains_key(&((*i).to_owned(), *s)))
            .collect();
        assert!(
            missing.is_empty(),
            "the tail skipped {} of {} records, e.g. {:?}",
            missing.len(),
            expected.len(),
            &missing[..missing.len().min(5)]
        );
        let twice: Vec<_> = self.seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "records seen more than once: {twice:?}");
        assert_eq!(
            self.seen.len(),
            expected.len(),
            "no record the test did not store"
        );
    }
}

/// Transactions waiting for an advisory lock in `client`'s database.
async fn advisory_waiters(client: &impl tokio_postgres::GenericClient) -> i64 {
    client
        .query_one(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_committed_after_a_later_one_is_not_skipped_by_the_tail() {
    if !on_postgres() {
        return;
    }
    let app = Arc::new(TestApp::new().await);
    let url = app.database_url.clone().unwrap();
    let (mut raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);

    // Another replica is storing a batch: it has taken its turn as every ingest does, inserted
    // its record (so drawn its row id), and not committed yet.
    let slow = raw.transaction().await.unwrap();
    slow.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_ORDER_LOCK])
        .await
        .unwrap();
    let t0 = i64::try_from(T0_MS).unwrap();
    slow.execute(
        "INSERT INTO audit_records (time_ms, gateway, instance, seq, method, path, status, \
             decision, cost_micros, stored_at_ms) \
         VALUES ($1, 'gw-2', 'slow', 1, 'POST', '/v1/payment_intents', 200, 'allow', 0, $1)",
        &[&t0],
    )
    .await
    .unwrap();

    // Meanwhile another gateway's batch reaches this control plane.
    let fast = tokio::spawn({
        let app = Arc::clone(&app);
        async move {
            Instance::new("fast")
                .ship(&app, 1, vec![record(1, 10), record(2, 10)])
                .await
        }
    });
    // It either stores its records at once or waits for its turn.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fast.is_finished() && advisory_waiters(&slow).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the batch neither stored nor waited"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The console's tail reads now, then again once both batches are in.
    let mut tail = Tail::default();
    tail.read(&app).await;
    slow.commit().await.unwrap();
    assert_eq!(fast.await.unwrap(), 2, "the fast batch is acknowledged");
    tail.read(&app).await;
    tail.assert_saw_exactly(&[("slow", 1), ("fast", 1), ("fast", 2)]);
}

/// Instances of the concurrent test, one sender each.
const SENDERS: [&str; 6] = ["inst-0", "inst-1", "inst-2", "inst-3", "inst-4", "inst-5"];
const BATCHES: u64 = 8;
const PER_BATCH: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tail_during_concurrent_ingest_through_two_replicas_sees_every_record_once() {
    if !on_postgres() {
        return;
    }
    let a = Arc::new(TestApp::new().await);
    let b = Arc::new(a.reopen().await);
    let mut senders = Vec::new();
    for (i, id) in SENDERS.into_iter().enumerate() {
        let app = Arc::clone(if i % 2 == 0 { &a } else { &b });
        senders.push(tokio::spawn(async move {
            let instance = Instance::new(id);
            for n in 0..BATCHES {
                let first = n * PER_BATCH + 1;
                let records = (0..PER_BATCH).map(|k| record(first + k, 10)).collect();
                instance.ship(&app, first, records).await;
            }
        }));
    }
    // The tail reads while the batches commit.
    let mut tail = Tail::default();
    while !senders.iter().all(|s| s.is_finished()) {
        tail.read(&a).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for s in senders {
        s.await.unwrap();
    }
    tail.read(&a).await;
    let expected: Vec<(&str, u64)> = SENDERS
        .iter()
        .flat_map(|id| (1..=BATCHES * PER_BATCH).map(move |seq| (*id, seq)))
        .collect();
    tail.assert_saw_exactly(&expected);
}
