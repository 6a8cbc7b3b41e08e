//! One worker's lease requests: at most one in flight per key, whatever the number of calls
//! waiting on it.
//!
//! A costed call whose reservation finds the local lease short *joins* the key's round and
//! waits. When no request for the key is in flight, the round is *due*: the worker sends one
//! [`LeaseRequest`] for it, asking for the shortfalls of every waiting call summed (`want`) and
//! for the smallest of them at least (`min`, see [`crate::lease::size_grant_within`]). Its
//! answer is applied to the budget record once, and every call of the round is woken with the
//! same [`Resolution`] to try its reservation again (in the order they joined); a call still
//! short after a grant that grew joins the next round. A call that joined while the request was
//! out was not in it: when the answer is that the cap has no room for the least the request
//! asked, such a call short of less than that asks in a round of its own instead of being
//! refused with the others.
//!
//! Without this, a burst of N calls on a cold key sent N lease requests, which queued behind
//! the key's row lock at the control plane until most of them timed out (`policy_unavailable`
//! while the cap still had room).
//!
//! The desk is generic over the waiter handle `W` (the filter keeps a stream's context id and
//! flow); callouts belong to an *owner* (the context that sent them), because Envoy cancels a
//! callout whose context ends: [`LeaseDesk::owner_gone`] makes such a round due again.

use crate::config::DataplaneInfo;
use crate::lease::{KeyUsage, LeaseGrant, LeaseRequest};
use crate::ledger::{self, SharedData};
use std::collections::BTreeMap;

/// How a lease round ended, for every call that waited on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The lease for the day grew (or a new day began): try the reservation again.
    Grew,
    /// The cap has no room: a call the record cannot hold now is refused `spend_cap_exceeded`.
    NoRoom,
    /// No grant came (the control plane failed, timed out or could not be reached): refused
    /// `policy_unavailable` (fail closed).
    Failed,
}

/// A round to send: ask for `want_micros`, at least `min_micros`, for `key_id` on `day`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub key_id: String,
    pub want_micros: u64,
    pub min_micros: u64,
}

/// A sent round: the callout's token, the context that owns it, and how many of the round's
/// waiters (the first ones) its request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sent {
    token: u32,
    owner: u32,
    day: u32,
    asked: usize,
}

#[derive(Debug)]
struct Round<W> {
    /// Each waiting call and its shortfall in micro-USD, in the order they joined.
    waiters: Vec<(W, u64)>,
    sent: Option<Sent>,
    /// Sends of this round that failed and were retried.
    retries: u8,
    /// Unix ms before which the round is not sent (a retry's pause).
    not_before_ms: u64,
    /// Unix ms the round was first sent (retries included), 0 before.
    first_sent_ms: u64,
}

/// A round whose answer came: hand it to [`LeaseDesk::conclude`] with the answer.
#[derive(Debug)]
pub struct Answered<W> {
    pub key_id: String,
    /// The day the request asked about.
    pub day: u32,
    retries: u8,
    first_sent_ms: u64,
    /// Each waiting call and its shortfall, in the order they joined; the first `asked` were
    /// in the request.
    waiters: Vec<(W, u64)>,
    asked: usize,
}

/// A round that ended: how, what to log, and every call that waited on it, in the order they
/// joined.
#[derive(Debug)]
pub struct Concluded<W> {
    pub key_id: String,
    pub resolution: Resolution,
    /// Said at warn level when the round failed.
    pub message: Option<String>,
    pub waiters: Vec<W>,
}

/// How many times a round is sent again after its request failed in a way another control
/// plane replica could answer (see [`retryable`]), before its calls are refused
/// `policy_unavailable`.
pub const MAX_LEASE_RETRIES: u8 = 3;

/// Pause before the n-th retry of a round: n × this, in milliseconds (250, 500, 750). Envoy
/// routes requests queued for a replica that just died to it until its first failure ejects
/// it; a retry sent at once would often meet the same fate.
pub const LEASE_RETRY_PAUSE_MS: u64 = 250;

/// Whether a failed lease request may be sent again: it got no answer (reset, timeout) or a
/// 502/503/504 (Envoy could not reach that replica, or the replica could not reach its
/// database). Sending it again is safe: a grant whose answer was lost is still counted to this
/// instance, and the next answer carries it ([`crate::lease::LeaseGrant`] is the lease total).
pub fn retryable(status: u32) -> bool {
    matches!(status, 0 | 502 | 503 | 504)
}

impl<W> Answered<W> {
    /// Every call that waited, in the order they joined.
    pub fn into_waiters(self) -> Vec<W> {
        self.waiters.into_iter().map(|(w, _)| w).collect()
    }

    /// Whether the round may still be sent again at `now_ms`: fewer than
    /// [`MAX_LEASE_RETRIES`] retries, and less than `budget_ms` since it was first sent (the
    /// gateway's `lease_timeout_ms`: a control plane that hangs is not waited for again).
    fn may_retry(&self, now_ms: u64, budget_ms: u64) -> bool {
        self.retries < MAX_LEASE_RETRIES && now_ms.saturating_sub(self.first_sent_ms) < budget_ms
    }
}

/// The rounds of one worker VM.
#[derive(Debug)]
pub struct LeaseDesk<W> {
    rounds: BTreeMap<String, Round<W>>,
    /// Token of a sent round → its key.
    tokens: BTreeMap<u32, String>,
}

impl<W> Default for LeaseDesk<W> {
    fn default() -> Self {
        Self {
            rounds: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }
}

impl<W> LeaseDesk<W> {
    /// A call short of `shortfall` micro-USD on `key_id` waits for the key's round.
    pub fn join(&mut self, key_id: &str, shortfall: u64, waiter: W) {
        let round = self
            .rounds
            .entry(key_id.to_owned())
            .or_insert_with(|| Round {
                waiters: Vec::new(),
                sent: None,
                retries: 0,
                not_before_ms: 0,
                first_sent_ms: 0,
            });
        round.waiters.push((waiter, shortfall));
    }

    /// Whether a round waits to be sent (checked on every callback: no allocation, and the
    /// desk holds only keys with calls waiting, so it is empty in steady state). Every round
    /// the desk holds has a call waiting or a request in flight.
    pub fn has_due(&self) -> bool {
        self.rounds.values().any(|r| r.sent.is_none())
    }

    /// The rounds to send at `now_ms` (Unix ms).
    pub fn due(&self, now_ms: u64) -> Vec<Due> {
        self.rounds
            .iter()
            .filter(|(_, r)| r.sent.is_none() && r.not_before_ms <= now_ms)
            .map(|(key_id, r)| Due {
                key_id: key_id.clone(),
                want_micros: r
                    .waiters
                    .iter()
                    .fold(0u64, |sum, (_, s)| sum.saturating_add(*s)),
                min_micros: r.waiters.iter().map(|(_, s)| *s).min().unwrap_or(0),
            })
            .collect()
    }

    /// The round of `key_id` went out at `now_ms` as callout `token`, owned by context
    /// `owner`, asking about `day` for every call waiting on it now (what [`Self::due`] summed;
    /// no call joins in between on a single-threaded VM).
    pub fn sent(&mut self, key_id: &str, token: u32, owner: u32, day: u32, now_ms: u64) {
        if let Some(round) = self.rounds.get_mut(key_id) {
            if round.first_sent_ms == 0 {
                round.first_sent_ms = now_ms;
            }
            let sent = Sent {
                token,
                owner,
                day,
                asked: round.waiters.len(),
            };
            if let Some(old) = round.sent.replace(sent) {
                self.tokens.remove(&old.token);
            }
            self.tokens.insert(token, key_id.to_owned());
        }
    }

    /// The answer to callout `token` came: the round it answers, taken off the desk. `None`
    /// for a token the desk does not know.
    pub fn answered(&mut self, token: u32) -> Option<Answered<W>> {
        let key_id = self.tokens.remove(&token)?;
        let round = self.rounds.remove(&key_id)?;
        Some(Answered {
            key_id,
            day: round.sent.map_or(0, |s| s.day),
            retries: round.retries,
            first_sent_ms: round.first_sent_ms,
            asked: round.sent.map_or(round.waiters.len(), |s| s.asked),
            waiters: round.waiters,
        })
    }

    /// Puts an answered round back, due from `now_ms` + its pause ([`LEASE_RETRY_PAUSE_MS`]),
    /// to be sent again (its request failed). Calls that joined the key since the answer came
    /// wait on it too.
    fn retry(&mut self, answered: Answered<W>, now_ms: u64) {
        let retries = answered.retries.saturating_add(1);
        let not_before_ms = now_ms.saturating_add(LEASE_RETRY_PAUSE_MS * u64::from(retries));
        match self.rounds.get_mut(&answered.key_id) {
            Some(round) => {
                let mut waiters = answered.waiters;
                waiters.append(&mut round.waiters);
                round.waiters = waiters;
                round.retries = retries;
                round.not_before_ms = round.not_before_ms.max(not_before_ms);
                round.first_sent_ms = answered.first_sent_ms;
            }
            None if !answered.waiters.is_empty() => {
                self.rounds.insert(
                    answered.key_id,
                    Round {
                        waiters: answered.waiters,
                        sent: None,
                        retries,
                        not_before_ms,
                        first_sent_ms: answered.first_sent_ms,
                    },
                );
            }
            None => {}
        }
    }

    /// Takes the control plane's answer to `round` (`status` 0: none came; `body` read only
    /// for a 200). A failure another replica could answer ([`retryable`]), while the round has
    /// retries left and was first sent less than `budget_ms` (the gateway's `lease_timeout_ms`)
    /// before `now_ms`, puts the round back to be sent again after its pause: `None`. Anything
    /// else is applied to the budget record once ([`resolve`]) and comes back with every call
    /// to wake, but one: when the cap has no room ([`Resolution::NoRoom`]), a call that joined
    /// after the request went out and is short of less than the least it asked for stays on
    /// the desk, in a new round due at once (the control plane was not asked about it).
    pub fn conclude<H: SharedData + ?Sized>(
        &mut self,
        shared: &H,
        round: Answered<W>,
        status: u32,
        body: Option<&[u8]>,
        now_ms: u64,
        budget_ms: u64,
    ) -> Option<Concluded<W>> {
        let (resolution, message) = resolve(shared, &round.key_id, round.day, status, body);
        if resolution == Resolution::Failed
            && retryable(status)
            && round.may_retry(now_ms, budget_ms)
        {
            self.retry(round, now_ms);
            return None;
        }
        let Answered {
            key_id,
            mut waiters,
            asked,
            ..
        } = round;
        if resolution == Resolution::NoRoom && asked < waiters.len() {
            let least_asked = waiters[..asked].iter().map(|(_, s)| *s).min();
            let (not_asked, refused): (Vec<_>, Vec<_>) = waiters
                .split_off(asked)
                .into_iter()
                .partition(|(_, s)| least_asked.is_none_or(|least| *s < least));
            waiters.extend(refused);
            for (w, shortfall) in not_asked {
                self.join(&key_id, shortfall, w);
            }
        }
        Some(Concluded {
            key_id,
            resolution,
            message,
            waiters: waiters.into_iter().map(|(w, _)| w).collect(),
        })
    }

    /// The round of `key_id` could not be sent: every call that waited on it.
    pub fn not_sent(&mut self, key_id: &str) -> Vec<W> {
        let Some(round) = self.rounds.remove(key_id) else {
            return Vec::new();
        };
        if let Some(s) = round.sent {
            self.tokens.remove(&s.token);
        }
        round.waiters.into_iter().map(|(w, _)| w).collect()
    }

    /// Context `owner` ended: Envoy cancels its callouts, so their rounds are due again.
    pub fn owner_gone(&mut self, owner: u32) {
        let tokens = &mut self.tokens;
        self.rounds.retain(|_, round| {
            if let Some(s) = round.sent.filter(|s| s.owner == owner) {
                tokens.remove(&s.token);
                round.sent = None;
            }
            round.sent.is_some() || !round.waiters.is_empty()
        });
    }

    /// Calls for which `gone` holds stop waiting (their client went away); a round left
    /// without a call is dropped (its callout's answer, if one is in flight, is still applied
    /// when it comes).
    pub fn leave(&mut self, gone: impl Fn(&W) -> bool) {
        self.rounds.retain(|_, round| {
            if let Some(sent) = &mut round.sent {
                // The calls the request asked for stay the first ones.
                let left = round.waiters[..sent.asked.min(round.waiters.len())]
                    .iter()
                    .filter(|(w, _)| gone(w))
                    .count();
                sent.asked -= left;
            }
            round.waiters.retain(|(w, _)| !gone(w));
            round.sent.is_some() || !round.waiters.is_empty()
        });
    }

    /// Whether no round is open (checked when a stream ends: no work then).
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty() && self.tokens.is_empty()
    }

    /// Calls waiting, over every key.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.rounds.values().map(|r| r.waiters.len()).sum()
    }
}

/// The lease request for a due round: the key's record as it stands in this gateway for `day`.
pub fn request<H: SharedData + ?Sized>(
    shared: &H,
    info: &DataplaneInfo,
    due: &Due,
    day: u32,
) -> LeaseRequest {
    let record = ledger::read(shared, &due.key_id).unwrap_or_default();
    LeaseRequest {
        gateway: info.gateway.clone(),
        instance: info.instance.clone(),
        usage: KeyUsage::for_day(&due.key_id, &record, day),
        want_micros: due.want_micros,
        min_micros: (due.min_micros < due.want_micros).then_some(due.min_micros),
    }
}

/// Applies the control plane's answer to a round for `key_id` on `day` (`status` 0: the
/// callout failed without an answer; `body` only read for a 200): a grant is written into the
/// budget record once for every call of the round. Returns how the round ended, and a
/// message to log when it failed.
pub fn resolve<H: SharedData + ?Sized>(
    shared: &H,
    key_id: &str,
    day: u32,
    status: u32,
    body: Option<&[u8]>,
) -> (Resolution, Option<String>) {
    let grant = body
        .filter(|_| status == 200)
        .and_then(|b| serde_json::from_slice::<LeaseGrant>(b).ok());
    let Some(grant) = grant else {
        return (
            Resolution::Failed,
            Some(format!(
                "keybrake: lease request for {key_id} failed (status {status})"
            )),
        );
    };
    let before = ledger::read(shared, key_id).unwrap_or_default();
    match ledger::apply_grant(shared, key_id, grant.day, grant.lease_micros, grant.seq) {
        Ok(_) if grew(&grant, day, &before) => (Resolution::Grew, None),
        Ok(_) => (Resolution::NoRoom, None),
        Err(e) => (
            Resolution::Failed,
            Some(format!(
                "keybrake: cannot apply a lease grant for {key_id}: {e}"
            )),
        ),
    }
}

/// Whether the calls waiting for `day` should try again after `grant`, given the budget
/// record `before` it was applied: the lease grew, a day began while the request was out, or
/// another worker of this gateway applied a newer grant meanwhile (this answer is older than
/// the record, so it cannot say the cap is full). Otherwise the control plane found no room.
pub fn grew(grant: &LeaseGrant, day: u32, before: &ledger::BudgetRecord) -> bool {
    let lease_before = if before.day == day { before.lease } else { 0 };
    let superseded = before.day == grant.day && grant.seq < before.grant_seq;
    grant.day != day || grant.lease_micros > lease_before || superseded
}

#[cfg(test)]
#[path = "lease_desk_tests.rs"]
mod tests;
