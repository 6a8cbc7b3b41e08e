//! The fixed-size budget record kept in shared data.

/// One key's budget in one gateway process for one UTC day, in micro-USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BudgetRecord {
    /// Days since the Unix epoch (UTC) this record counts.
    pub day: u32,
    /// What the control plane granted this gateway process for `day`, in total.
    pub lease: u64,
    /// Sequence of the last grant applied; older grants are ignored.
    pub grant_seq: u64,
    /// Settled spend.
    pub spent: u64,
    /// Reserved by calls in flight.
    pub reserved: u64,
}

impl BudgetRecord {
    pub const ENCODED_LEN: usize = 36;

    /// What may still be reserved.
    pub fn room(&self) -> u64 {
        self.lease
            .saturating_sub(self.spent)
            .saturating_sub(self.reserved)
    }

    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..4].copy_from_slice(&self.day.to_le_bytes());
        out[4..12].copy_from_slice(&self.lease.to_le_bytes());
        out[12..20].copy_from_slice(&self.grant_seq.to_le_bytes());
        out[20..28].copy_from_slice(&self.spent.to_le_bytes());
        out[28..36].copy_from_slice(&self.reserved.to_le_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::ENCODED_LEN {
            return None;
        }
        let u64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_le_bytes)
        };
        Some(Self {
            day: u32::from_le_bytes(b.get(..4)?.try_into().ok()?),
            lease: u64_at(4)?,
            grant_seq: u64_at(12)?,
            spent: u64_at(20)?,
            reserved: u64_at(28)?,
        })
    }
}
