//! The drawing API (single digits in every colour map, scaled; grids; handwritten strings) at
//! any position, scale, class, seed and display size, against a plain reference of every visible
//! pixel: see `firmware_core_fuzz::draw`.
#![no_main]

use firmware_core_fuzz::draw::{run, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| run(&input));
