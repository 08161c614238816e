//! End-to-end tests across the crates live in `e2e/`: they train a little with the trainer,
//! export, load the blob in firmware-core exactly as a device would, and compare with the
//! trainer's own numbers.
