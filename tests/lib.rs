//! End-to-end tests across the crates live in `e2e/`: they train a little with the trainer,
//! export, load the blob in firmware-core exactly as a device would, and compare with the
//! trainer's own numbers.

/// The top-level README's Rust example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
