//! The one retry delay every retry loop uses: the sync service's snapshot long-poll, its usage
//! reports (and with them its lease top-ups) and the audit outbox. (A worker's lease request is
//! not a loop that waits: a round is sent again at most 3 times, after fixed short pauses, when it
//! was lost with a replica, and a call waits on at most 4 rounds; see [`crate::lease_desk`].)
//!
//! Exponential with jitter, from `backon`'s [`ExponentialBuilder`]: after the n-th failure in a
//! row the base pause is `min(first × 2^(n-1), max / 2)` and a random part of up to the base is
//! added, so a pause never exceeds `max` and gateways that lost the control plane together do
//! not come back in step (the "thundering herd" of AWS's *Exponential Backoff And Jitter*). A
//! success starts over.

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use std::time::Duration;

/// Delays between attempts of one retry loop. Not `Clone`: each loop owns its random state.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    failures: u32,
}

// === impl Backoff ===

impl Backoff {
    /// A loop whose first pause is between `first_ms` and twice that, and whose pauses never
    /// exceed `max_ms` (milliseconds; `max_ms` below `2 × first_ms` is raised to it, 0 to 1).
    pub fn new(first_ms: u64, max_ms: u64) -> Self {
        let first = first_ms.max(1);
        let base_max = (max_ms / 2).max(first);
        Self::from_builder(
            ExponentialBuilder::new()
                .with_jitter()
                .with_factor(2.0)
                .with_min_delay(Duration::from_millis(first))
                .with_max_delay(Duration::from_millis(base_max))
                .without_max_times(),
        )
    }

    /// The same, with a fixed jitter seed (tests).
    pub fn seeded(first_ms: u64, max_ms: u64, seed: u64) -> Self {
        let mut b = Self::new(first_ms, max_ms);
        b.builder = b.builder.with_jitter_seed(seed);
        b.delays = b.builder.build();
        b
    }

    fn from_builder(builder: ExponentialBuilder) -> Self {
        Self {
            builder,
            delays: builder.build(),
            failures: 0,
        }
    }

    /// Records a failure; returns how long to wait before the next attempt, in milliseconds.
    pub fn failed(&mut self) -> u64 {
        self.failures = self.failures.saturating_add(1);
        // `without_max_times` never ends the iterator; the fallback is the longest base pause.
        let pause = self
            .delays
            .next()
            .unwrap_or_else(|| Duration::from_millis(5_000));
        u64::try_from(pause.as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a success: the next failure waits the first pause again.
    pub fn succeeded(&mut self) {
        if self.failures > 0 {
            self.failures = 0;
            self.delays = self.builder.build();
        }
    }

    /// Failures in a row since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_exponentially_within_jitter_and_stop_at_the_bound() {
        let mut b = Backoff::seeded(100, 2_000, 7);
        let pauses: Vec<u64> = (0..8).map(|_| b.failed()).collect();
        let bases = [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000];
        for (i, (p, base)) in pauses.iter().zip(bases).enumerate() {
            assert!(
                (base..=2 * base).contains(p),
                "pause {i} is {p} ms, outside [{base}, {}]",
                2 * base
            );
        }
        assert_eq!(b.failures(), 8);
    }

    #[test]
    fn jitter_spreads_gateways_that_failed_together() {
        // Fifty gateways lose the control plane at the same moment: their third retries must
        // not land on the same millisecond.
        let thirds: std::collections::HashSet<u64> = (0..50)
            .map(|seed| {
                let mut b = Backoff::seeded(100, 5_000, seed);
                b.failed();
                b.failed();
                b.failed()
            })
            .collect();
        assert!(
            thirds.len() > 25,
            "only {} distinct pauses out of 50",
            thirds.len()
        );
    }

    #[test]
    fn a_success_starts_over() {
        let mut b = Backoff::seeded(100, 5_000, 1);
        for _ in 0..5 {
            b.failed();
        }
        b.succeeded();
        assert_eq!(b.failures(), 0);
        let p = b.failed();
        assert!(
            (100..=200).contains(&p),
            "first pause after a success is {p} ms"
        );
    }
}
