//! Golden outputs of the integer pipeline: a fixed synthetic blob and fixed seeds must give the
//! same pixels forever and on every target (the inference is integer-only). A change here means
//! every deployed device would draw different digits.

mod common;

use firmware_core::blob::checksum;
use firmware_core::{Digit, Generator, Scratch};

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn fixed_blob_fixed_seeds_fixed_pixels() {
    let blob = common::Model::new(2024).blob();
    assert_eq!(checksum(&blob), GOLDEN_BLOB_CRC, "synthetic blob changed");
    let generator = Generator::new(&blob).unwrap();
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let got: Vec<u32> = [0u32, 1, 2, 0xFFFF_FFFF]
        .iter()
        .map(|&seed| {
            generator
                .generate(None, seed, &mut scratch, &mut digit)
                .unwrap();
            checksum(digit.pixels())
        })
        .collect();
    assert_eq!(got, GOLDEN_PIXEL_CRCS);
}

/// CRC-32 of `Model::new(2024).blob()`.
const GOLDEN_BLOB_CRC: u32 = 0x2144_df1c;
/// CRC-32 of the 784 pixels for seeds 0, 1, 2, 2³²−1. The same blob and seeds are among the
/// vectors (`examples/spec_vectors.rs`) that `tests/spec_reference.py`, a Python transcription of
/// the documented format and arithmetic, recomputes in `.ci/run`.
const GOLDEN_PIXEL_CRCS: [u32; 4] = [0xaba6_8b77, 0xf1e5_4ed4, 0x9cd1_b044, 0xd34c_981b];
