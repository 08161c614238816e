//! What the device demo and the host reference run share: the seeds, the pixel hash and the
//! report lines, so both sides print comparable output by construction.
//!
//! Report lines are `key=value` tokens after a leading word; `run-qemu.sh` compares the `digit`
//! lines of the QEMU run with those of the host run.

#![no_std]
#![deny(missing_docs, unsafe_code)]

use core::fmt;
use firmware_core::Digit;

/// Seeds the demo draws, in order. A few small ones plus one with high bits set, so the latent
/// generator is exercised beyond tiny inputs.
pub const SEEDS: [u32; 6] = [0, 1, 2, 3, 4, 0xDEAD_BEEF];

/// FNV-1a, 32-bit (offset basis `0x811c9dc5`, prime `0x01000193`): one xor and one multiply per
/// byte, trivial to reimplement anywhere to check a digit.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// [`fnv1a32`] of a digit's 784 pixels, row-major.
pub fn digit_hash(digit: &Digit) -> u32 {
    fnv1a32(digit.pixels())
}

/// One `digit` report line: `digit seed=<u32> hash=0x<8 hex>[ instructions=<n>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitLine {
    /// The seed passed to `Generator::generate`.
    pub seed: u32,
    /// [`digit_hash`] of the result.
    pub hash: u32,
    /// Instructions the device spent on `generate` (absent on the host).
    pub instructions: Option<u64>,
}

impl DigitLine {
    /// The line for `digit`, drawn from `seed`.
    pub fn new(seed: u32, digit: &Digit, instructions: Option<u64>) -> Self {
        Self {
            seed,
            hash: digit_hash(digit),
            instructions,
        }
    }
}

impl fmt::Display for DigitLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "digit seed={} hash={:#010x}", self.seed, self.hash)?;
        if let Some(n) = self.instructions {
            write!(f, " instructions={n}")?;
        }
        Ok(())
    }
}

/// The `model` report line: blob size, weight bytes and work per digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLine {
    /// Bytes of the blob (what sits in flash).
    pub blob_bytes: usize,
}

impl fmt::Display for ModelLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use firmware_core::arch::{MACS_PER_DIGIT, TOTAL_WEIGHTS};
        write!(
            f,
            "model blob_bytes={} weight_bytes={} macs_per_digit={}",
            self.blob_bytes, TOTAL_WEIGHTS, MACS_PER_DIGIT
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_known_values() {
        // Published FNV-1a 32 test vectors.
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn digit_line_format() {
        extern crate std;
        use std::string::ToString;
        let line = DigitLine {
            seed: 7,
            hash: 0xab,
            instructions: None,
        };
        assert_eq!(line.to_string(), "digit seed=7 hash=0x000000ab");
        let line = DigitLine {
            instructions: Some(12),
            ..line
        };
        assert_eq!(
            line.to_string(),
            "digit seed=7 hash=0x000000ab instructions=12"
        );
    }
}
