//! What both fuzz targets share: load a blob, run it if it is accepted, and check the result
//! against a plain transcription of the format spec (`firmware_core::blob`'s module docs).
//!
//! Failures the fuzzer reports: any panic in firmware-core (an index out of bounds, an
//! arithmetic overflow: the targets build with overflow checks), an accumulator that would not
//! fit the device's `i32` (the spec's "exact, i32"), or pixels that differ from the spec's.

use firmware_core::arch::{
    CLASSES, FC_CHANNELS, FC_OUT, FC_SIDE, KERNEL, OUT_CHANNELS, OUT_SIDE, PADDING, STRIDE,
    UP1_CHANNELS, UP1_SIDE,
};
use firmware_core::blob::{BlobRepr, LayerRepr, HEADER_LEN, TRAILER_LEN};
use firmware_core::latent::{class_from_seed, generator_input};
use firmware_core::{ClassError, Digit, Generator, Scratch, LATENT_DIM};

pub mod draw;
pub mod mutate;

/// What to draw from an accepted blob.
#[derive(Debug, Clone, Copy)]
pub enum Draw {
    /// `generate_from_latent` with this input.
    Latent([i8; LATENT_DIM]),
    /// `generate(class, seed)`: a class for a conditional blob, or a class drawn from the seed.
    Seed { class: Option<u8>, seed: u32 },
}

/// Loads `blob`; if firmware-core accepts it, draws and compares the digit with
/// [`reference_pixels`]. Returns whether the blob was accepted.
pub fn load_and_check(blob: &[u8], draw: Draw) -> bool {
    let generator = match Generator::new(blob) {
        Err(e) => {
            // Every rejection is a typed error that can explain itself.
            assert!(!e.to_string().is_empty());
            return false;
        }
        Ok(generator) => generator,
    };
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let input = match draw {
        Draw::Latent(latent) => {
            generator.generate_from_latent(&latent, &mut scratch, &mut digit);
            latent
        }
        Draw::Seed { class, seed } => {
            let untouched = digit.clone();
            let result = generator.generate(class, seed, &mut scratch, &mut digit);
            let conditional = generator.is_conditional();
            match (conditional, class) {
                (false, Some(_)) => {
                    assert_eq!(result, Err(ClassError::NotConditional));
                    assert!(digit == untouched, "a refused class draws nothing");
                    return true;
                }
                (true, Some(c)) if usize::from(c) >= CLASSES => {
                    assert_eq!(result, Err(ClassError::OutOfRange { class: c }));
                    assert!(digit == untouched, "a refused class draws nothing");
                    return true;
                }
                _ => assert_eq!(result, Ok(())),
            }
            let class = conditional.then(|| class.unwrap_or_else(|| class_from_seed(seed)));
            generator_input(seed, class)
        }
    };
    let expected = reference_pixels(blob, &input);
    assert_eq!(
        &digit.pixels()[..],
        &expected[..],
        "pixels differ from the spec"
    );
    true
}

fn i32_at(bytes: &[u8], i: usize) -> i64 {
    let b: [u8; 4] = bytes[4 * i..4 * i + 4].try_into().unwrap();
    i64::from(i32::from_le_bytes(b))
}

/// The payload of a blob that `Generator::new` accepted, decoded again without repeating the
/// framing checks (CRC, magic, version, trailing bytes) it has just made.
fn accepted_repr(blob: &[u8]) -> BlobRepr<'_> {
    let body = &blob[HEADER_LEN..blob.len() - TRAILER_LEN];
    postcard::from_bytes(body).expect("an accepted blob decodes")
}

/// `Σ w·x` of int8 weights (as bytes) and int8 activations. At most 64 products of magnitude
/// ≤ 2¹⁴: the sum stays below 2²⁰, so the wrapping operations are exact here and let the loop
/// vectorise although the fuzz build checks overflow.
fn dot(w: &[u8], x: &[i8]) -> i64 {
    let sum = w.iter().zip(x).fold(0i32, |s, (&w, &x)| {
        s.wrapping_add(i32::from(w as i8).wrapping_mul(i32::from(x)))
    });
    i64::from(sum)
}

/// The device accumulates in `i32`; the spec says that sum is exact.
fn check_fits(acc: i64, layer: &str, index: usize) {
    assert!(
        i32::try_from(acc).is_ok(),
        "{layer} accumulator {index} = {acc} does not fit in i32 for a blob that passed validation"
    );
}

/// `clamp((acc·M + 2^(n−1)) >> n, lo, hi)`, in `i128` so the reference itself cannot overflow.
fn requant(acc: i64, layer: &LayerRepr<'_>, channel: usize, lo: i8, hi: i8) -> i8 {
    let m = i128::from(i32_at(layer.multiplier, channel));
    let n = u32::from(layer.shift[channel]);
    let rounded = (i128::from(acc) * m + (1i128 << (n - 1))) >> n;
    rounded.clamp(i128::from(lo), i128::from(hi)) as i8
}

/// Transposed convolution straight from the PyTorch definition (scatter form), HWC in and out,
/// weights `[ky][kx][co][ci]`; returns raw accumulators.
fn conv_transpose(
    x: &[i8],
    layer: &LayerRepr<'_>,
    cin: usize,
    cout: usize,
    in_side: usize,
) -> Vec<i64> {
    let out_side = (in_side - 1) * STRIDE + KERNEL - 2 * PADDING;
    let mut acc: Vec<i64> = (0..out_side * out_side * cout)
        .map(|i| i32_at(layer.bias, i % cout))
        .collect();
    for iy in 0..in_side {
        for ix in 0..in_side {
            for ky in 0..KERNEL {
                for kx in 0..KERNEL {
                    let oy = (iy * STRIDE + ky).wrapping_sub(PADDING);
                    let ox = (ix * STRIDE + kx).wrapping_sub(PADDING);
                    if oy >= out_side || ox >= out_side {
                        continue;
                    }
                    let xs = &x[(iy * in_side + ix) * cin..][..cin];
                    for co in 0..cout {
                        let ws = &layer.weights[((ky * KERNEL + kx) * cout + co) * cin..][..cin];
                        acc[(oy * out_side + ox) * cout + co] += dot(ws, xs);
                    }
                }
            }
        }
    }
    acc
}

/// The spec's pixels for a blob `Generator::new` accepted, asserting on the way that every
/// accumulator fits the device's `i32`.
pub fn reference_pixels(blob: &[u8], latent: &[i8; LATENT_DIM]) -> Vec<u8> {
    let repr = accepted_repr(blob);
    let fc: Vec<i8> = (0..FC_OUT)
        .map(|j| {
            let row = &repr.fc.weights[j * LATENT_DIM..][..LATENT_DIM];
            let acc = i32_at(repr.fc.bias, j) + dot(row, latent);
            check_fits(acc, "fc", j);
            requant(acc, &repr.fc, j % FC_CHANNELS, 0, 127)
        })
        .collect();
    let up1_acc = conv_transpose(&fc, &repr.up1, FC_CHANNELS, UP1_CHANNELS, FC_SIDE);
    let up1: Vec<i8> = up1_acc
        .iter()
        .enumerate()
        .map(|(j, &acc)| {
            check_fits(acc, "up1", j);
            requant(acc, &repr.up1, j % UP1_CHANNELS, 0, 127)
        })
        .collect();
    let up2_acc = conv_transpose(&up1, &repr.up2, UP1_CHANNELS, OUT_CHANNELS, UP1_SIDE);
    assert_eq!(up2_acc.len(), OUT_SIDE * OUT_SIDE);
    up2_acc
        .iter()
        .enumerate()
        .map(|(j, &acc)| {
            check_fits(acc, "up2", j);
            let q = requant(acc, &repr.up2, 0, -128, 127);
            repr.tanh_lut[(i32::from(q) + 128) as usize]
        })
        .collect()
}
