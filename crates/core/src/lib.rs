//! keybrake's pure logic, shared by the Envoy filter (wasm32) and the control plane (host).
//!
//! Nothing here performs I/O: every fact about a request, the clock and the host arrives as an
//! argument, and every decision leaves as a value for a thin adapter to apply.

pub mod answer;
pub mod audit;
pub mod backoff;
pub mod body;
pub mod config;
pub mod cost;
pub mod currency;
pub mod decide;
pub mod deny;
pub mod endpoint;
pub mod flow;
pub mod handoff;
pub mod key;
pub mod lease;
pub mod lease_desk;
pub mod ledger;
pub mod money;
pub mod outbox;
pub mod prices;
pub mod redact;
pub mod shared_policy;
pub mod sms;
pub mod snapshot;
pub mod sync;
pub mod usage;
pub mod vendor;

pub use deny::DenyReason;
pub use endpoint::{EndpointPattern, NormalizedPath};
pub use key::{VaultKey, VaultKeyId};
pub use snapshot::{KeyEntry, PolicyIndex, Snapshot, SyncStatus};
pub use vendor::{Vendor, VendorCredential};
