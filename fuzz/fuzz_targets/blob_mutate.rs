//! Structure-aware mutants of the shipped blob (`firmware_core::DEFAULT_BLOB`), CRC recomputed:
//! see `firmware_core_fuzz::mutate`.
#![no_main]

use firmware_core_fuzz::{load_and_check, mutate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|mutation: mutate::Mutation| {
    let blob = mutate::apply(&mutation);
    load_and_check(&blob, mutation.draw.get());
});
