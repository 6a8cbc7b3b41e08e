//! The gateway's side of the budget ledger: one record per active key in proxy-wasm shared
//! data, read and written only through bounded compare-and-swap loops, so Envoy's worker
//! threads reserve and settle atomically.
//!
//! A record counts one UTC day for one gateway process: the lease the control plane granted
//! it, what it spent, and what calls in flight have reserved. `spent + reserved ≤ lease` holds
//! whenever a reservation is admitted; the control plane keeps the sum of all leases of a key
//! at or below its cap, so the cap holds across every worker and every gateway.
//!
//! Envoy stores a write to an absent key whatever CAS it carries, so only the sync service
//! (one thread) ever creates a record; workers only update records they have read.

mod memory;
mod record;

pub use memory::MemoryHost;
pub use record::BudgetRecord;

/// Attempts of a CAS loop before giving up (a worker never spins or sleeps).
pub const MAX_CAS_ATTEMPTS: usize = 16;
/// Settling must not lose money; it gets more attempts than a reservation.
pub const MAX_SETTLE_ATTEMPTS: usize = 64;
const MS_PER_DAY: u64 = 86_400_000;

/// Shared data as Envoy implements it (`proxy_get_shared_data`/`proxy_set_shared_data`).
pub trait SharedData {
    /// The value and its CAS token, or `None` when the key was never written.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Stores `value` if `cas` is 0, if the key is absent, or if `cas` matches the current token.
    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SetError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetError {
    CasMismatch,
    /// Any other host failure.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the key has no budget record in this gateway yet")]
    NoRecord,
    #[error("the budget record is unreadable")]
    Corrupt,
    #[error("shared data kept changing; gave up after the bounded number of attempts")]
    Contended,
    #[error("the host refused the write")]
    HostFailure,
}

/// Result of asking for room in the local lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// `amount` is reserved; the record after the reservation.
    Reserved { amount: u64, record: BudgetRecord },
    /// The lease lacks `shortfall` micro-USD (for today) for this reservation.
    Short { shortfall: u64 },
}

/// The shared-data key of a vault key's budget record.
pub fn budget_key(key_id: &str) -> String {
    format!("keybrake/budget/{key_id}")
}

/// Days since the Unix epoch, in UTC: budgets reset at 00:00 UTC.
pub fn day_of(now_ms: u64) -> u32 {
    u32::try_from(now_ms / MS_PER_DAY).unwrap_or(u32::MAX)
}

/// One bounded read-modify-write. `change` returns the new record, or `Err(T)` to stop
/// without writing.
fn update<H: SharedData + ?Sized, T>(
    host: &H,
    key: &str,
    attempts: usize,
    mut change: impl FnMut(BudgetRecord) -> Result<BudgetRecord, T>,
) -> Result<Result<BudgetRecord, T>, LedgerError> {
    for _ in 0..attempts {
        let (bytes, cas) = host.get(key).ok_or(LedgerError::NoRecord)?;
        let record = BudgetRecord::decode(&bytes).ok_or(LedgerError::Corrupt)?;
        let next = match change(record) {
            Ok(next) => next,
            Err(stop) => return Ok(Err(stop)),
        };
        // A present key always has a non-zero CAS; zero would make the write unconditional.
        if cas == 0 {
            return Err(LedgerError::HostFailure);
        }
        match host.set(key, &next.encode(), cas) {
            Ok(()) => return Ok(Ok(next)),
            Err(SetError::CasMismatch) => continue,
            Err(SetError::Failed) => return Err(LedgerError::HostFailure),
        }
    }
    Err(LedgerError::Contended)
}

/// Reserves `amount` for a call on `day`, if the lease has room.
pub fn reserve<H: SharedData + ?Sized>(
    host: &H,
    key_id: &str,
    day: u32,
    amount: u64,
) -> Result<Reservation, LedgerError> {
    let outcome = update(host, &budget_key(key_id), MAX_CAS_ATTEMPTS, |r| {
        let room = if r.day == day { r.room() } else { 0 };
        if amount > room {
            return Err(amount - room);
        }
        Ok(BudgetRecord {
            reserved: r.reserved.saturating_add(amount),
            ..r
        })
    })?;
    Ok(match outcome {
        Ok(record) => Reservation::Reserved { amount, record },
        Err(shortfall) => Reservation::Short { shortfall },
    })
}

/// Replaces a reservation with the actual cost. The reservation may have been made on an
/// earlier day (a call across midnight): the record carries it over, so it is released there.
pub fn settle<H: SharedData + ?Sized>(
    host: &H,
    key_id: &str,
    reserved: u64,
    actual: u64,
) -> Result<BudgetRecord, LedgerError> {
    let outcome = update(host, &budget_key(key_id), MAX_SETTLE_ATTEMPTS, |r| {
        Ok::<_, ()>(BudgetRecord {
            reserved: r.reserved.saturating_sub(reserved),
            spent: r.spent.saturating_add(actual),
            ..r
        })
    })?;
    outcome.map_err(|()| LedgerError::Corrupt)
}

/// Applies a grant from the control plane: the lease for `day` becomes `lease_total`, unless a
/// newer grant was applied already. A grant for a later day starts that day's record, carrying
/// over reservations still in flight.
pub fn apply_grant<H: SharedData + ?Sized>(
    host: &H,
    key_id: &str,
    day: u32,
    lease_total: u64,
    seq: u64,
) -> Result<BudgetRecord, LedgerError> {
    let outcome = update(host, &budget_key(key_id), MAX_SETTLE_ATTEMPTS, |r| {
        if day > r.day {
            return Ok(BudgetRecord {
                day,
                lease: lease_total,
                grant_seq: seq,
                spent: 0,
                reserved: r.reserved,
            });
        }
        if day < r.day || seq <= r.grant_seq {
            return Err(r);
        }
        Ok(BudgetRecord {
            lease: lease_total,
            grant_seq: seq,
            ..r
        })
    })?;
    Ok(outcome.unwrap_or_else(|unchanged| unchanged))
}

/// Gives back the lease beyond what is spent, reserved and `keep`. Returns the record after,
/// or `None` when there was nothing to give back.
pub fn release<H: SharedData + ?Sized>(
    host: &H,
    key_id: &str,
    keep: u64,
) -> Result<Option<BudgetRecord>, LedgerError> {
    let outcome = update(host, &budget_key(key_id), MAX_CAS_ATTEMPTS, |r| {
        let floor = r.spent.saturating_add(r.reserved).saturating_add(keep);
        if r.lease <= floor {
            return Err(());
        }
        Ok(BudgetRecord { lease: floor, ..r })
    })?;
    Ok(outcome.ok())
}

/// Creates a key's record if it has none (sync service only: a write to an absent key is
/// unconditional in Envoy). Returns the record as it stands.
pub fn ensure_record<H: SharedData + ?Sized>(
    host: &H,
    key_id: &str,
    day: u32,
) -> Result<BudgetRecord, LedgerError> {
    let key = budget_key(key_id);
    if let Some((bytes, _)) = host.get(&key) {
        return BudgetRecord::decode(&bytes).ok_or(LedgerError::Corrupt);
    }
    let record = BudgetRecord {
        day,
        ..BudgetRecord::default()
    };
    host.set(&key, &record.encode(), 0)
        .map_err(|_| LedgerError::HostFailure)?;
    Ok(record)
}

/// Reads a key's record.
pub fn read<H: SharedData + ?Sized>(host: &H, key_id: &str) -> Result<BudgetRecord, LedgerError> {
    let (bytes, _) = host.get(&budget_key(key_id)).ok_or(LedgerError::NoRecord)?;
    BudgetRecord::decode(&bytes).ok_or(LedgerError::Corrupt)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
