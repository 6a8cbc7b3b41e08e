//! The properties the fuzz targets check, in one file that `crates/core/tests/fuzz_checks.rs`
//! also includes, so they run on stable in `make test` too.

#[path = "checks.rs"]
pub mod checks;
