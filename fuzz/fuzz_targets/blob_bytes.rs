//! Any byte string as a blob: `Generator::new` must return a typed error or a generator whose
//! `generate` matches the spec. Seed corpus: `bench/fuzz.sh` copies the shipped blob in.
#![no_main]

use firmware_core::blob;
use firmware_core_fuzz::{load_and_check, Draw};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Mostly no class (an unconditional blob draws then); a third of the lengths ask for one,
    // 10 and 11 included, which must be refused.
    let len = data.len() as u32;
    let draw = Draw::Seed {
        class: len.is_multiple_of(3).then_some((len / 3 % 12) as u8),
        seed: len,
    };
    load_and_check(data, draw);
    // Random bytes almost never carry the right CRC-32, which would stop them at the second
    // check; the same bytes with their CRC appended reach the magic, version, decoder and
    // contents checks too.
    let mut framed = data.to_vec();
    framed.extend_from_slice(&blob::checksum(data).to_le_bytes());
    load_and_check(&framed, draw);
});
