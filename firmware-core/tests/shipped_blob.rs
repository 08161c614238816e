//! The shipped blob through the public API: it loads, draws a digit, and damaged copies of it are
//! refused with the right error. Cheap natively; under Miri this is the one complete inference
//! (minutes in the interpreter), so it draws a single digit.

use firmware_core::blob::{checksum, BlobRepr, FORMAT_VERSION};
use firmware_core::{BlobError, Digit, Generator, Scratch, DEFAULT_BLOB};

#[test]
fn shipped_blob_draws_a_digit() {
    let generator = Generator::new(DEFAULT_BLOB).expect("shipped blob is valid");
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    // No class: a conditional blob draws the class the seed picks.
    generator
        .generate(None, 0, &mut scratch, &mut digit)
        .expect("no class is always drawable");
    // A trained generator draws ink on a dark background (MNIST: roughly 10-25 % ink).
    let ink = digit.pixels().iter().filter(|&&p| p > 128).count();
    assert!((20..400).contains(&ink), "{ink} bright pixels");
}

#[test]
fn damaged_copies_of_the_shipped_blob_are_refused() {
    let n = DEFAULT_BLOB.len();
    let fix_crc = |b: &mut Vec<u8>| {
        let crc = checksum(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    };

    let mut flipped = DEFAULT_BLOB.to_vec();
    flipped[n / 2] ^= 0x01;
    assert!(matches!(
        Generator::new(&flipped),
        Err(BlobError::BadCrc { .. })
    ));

    let mut future = DEFAULT_BLOB.to_vec();
    future[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fix_crc(&mut future);
    assert_eq!(
        Generator::new(&future).unwrap_err(),
        BlobError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        }
    );

    // Where a field lies: the parsed view borrows from the blob.
    let repr = BlobRepr::parse(DEFAULT_BLOB).unwrap();
    let offset = |field: &[u8]| field.as_ptr() as usize - DEFAULT_BLOB.as_ptr() as usize;
    // up2's shift must be 1..=62: a deep check, reached only with a correct CRC.
    let mut shift = DEFAULT_BLOB.to_vec();
    shift[offset(repr.up2.shift)] = 0;
    fix_crc(&mut shift);
    assert_eq!(
        Generator::new(&shift).unwrap_err(),
        BlobError::BadRequant {
            layer: "up2",
            channel: 0
        }
    );
    // Any table entry is valid.
    let mut lut = DEFAULT_BLOB.to_vec();
    lut[offset(repr.tanh_lut) + 255] ^= 0xFF;
    fix_crc(&mut lut);
    assert!(Generator::new(&lut).is_ok());
}
