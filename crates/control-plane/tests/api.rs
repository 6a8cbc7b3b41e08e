//! In-process tests of the control plane's router: every request goes through `app(state)`
//! with `tower::ServiceExt::oneshot`, against a fresh data directory under the OS temp dir.

// `cfg(test)` marks the helpers as test code for clippy's unwrap/panic allowances.
#[cfg(test)]
#[path = "api/support.rs"]
mod support;

#[cfg(test)]
#[path = "api/audit.rs"]
mod audit;
#[cfg(test)]
#[path = "api/audit_forward.rs"]
mod audit_forward;
#[cfg(test)]
#[path = "api/audit_order.rs"]
mod audit_order;
#[cfg(test)]
#[path = "api/audit_query.rs"]
mod audit_query;
#[cfg(test)]
#[path = "api/audit_support.rs"]
mod audit_support;
#[cfg(test)]
#[path = "api/auth.rs"]
mod auth;
#[cfg(test)]
#[path = "api/dataplane.rs"]
mod dataplane;
#[cfg(test)]
#[path = "api/errors.rs"]
mod errors;
#[cfg(test)]
#[path = "api/keys.rs"]
mod keys;
#[cfg(test)]
#[path = "api/lease_support.rs"]
mod lease_support;
#[cfg(test)]
#[path = "api/leases.rs"]
mod leases;
#[cfg(test)]
#[path = "api/prices.rs"]
mod prices;
#[cfg(test)]
#[path = "api/rates.rs"]
mod rates;
#[cfg(test)]
#[path = "api/reclaim.rs"]
mod reclaim;
#[cfg(test)]
#[path = "api/replicas.rs"]
mod replicas;
#[cfg(test)]
#[path = "api/spend.rs"]
mod spend;
#[cfg(test)]
#[path = "api/vendors.rs"]
mod vendors;
