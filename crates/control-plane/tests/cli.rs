//! The real `keybrake` binary as a user runs it: `serve()` on port 0 in process, the CLI as a
//! child process against it.

// `cfg(test)` marks the helpers as test code for clippy's unwrap/panic allowances.
#[cfg(test)]
#[path = "cli/support.rs"]
mod support;

#[cfg(test)]
#[path = "cli/audit.rs"]
mod audit;
#[cfg(test)]
#[path = "cli/keys.rs"]
mod keys;
#[cfg(test)]
#[path = "cli/prices.rs"]
mod prices;
