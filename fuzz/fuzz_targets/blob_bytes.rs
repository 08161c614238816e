//! Any byte string as a blob: `Generator::new` must return a typed error or a generator whose
//! `generate` matches the spec. Seed corpus: `bench/fuzz.sh` copies the shipped blob in.
//!
//! Random bytes almost never carry the right CRC-32, which would stop them at the second check;
//! the same bytes with their CRC appended reach the magic, version, decoder and contents checks
//! too. Both are loaded, except that a raw input longer than `RAW_ALWAYS` whose trailer is not its
//! CRC is skipped: firmware-core would only walk the same CRC comparison to `BadCrc` that every
//! short input walks, at the price of a CRC over the whole input (most inputs grow from the
//! 147 KB shipped blob). Framing uses `crc32fast`, checked against firmware-core's CRC on every
//! short input.
#![no_main]

use firmware_core::blob;
use firmware_core_fuzz::{load_and_check, Draw};
use libfuzzer_sys::fuzz_target;

/// Raw inputs up to this length are always loaded as they are.
const RAW_ALWAYS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // Mostly no class (an unconditional blob draws then); a third of the lengths ask for one,
    // 10 and 11 included, which must be refused.
    let len = data.len() as u32;
    let draw = Draw::Seed {
        class: len.is_multiple_of(3).then_some((len / 3 % 12) as u8),
        seed: len,
    };
    let crc = crc32fast::hash(data);
    if data.len() <= RAW_ALWAYS {
        assert_eq!(crc, blob::checksum(data), "the two CRC-32s disagree");
        load_and_check(data, draw);
    } else if let Some((payload, trailer)) = data.split_last_chunk::<4>() {
        if crc32fast::hash(payload) == u32::from_le_bytes(*trailer) {
            load_and_check(data, draw);
        }
    }
    let mut framed = Vec::with_capacity(data.len() + 4);
    framed.extend_from_slice(data);
    framed.extend_from_slice(&crc.to_le_bytes());
    load_and_check(&framed, draw);
});
