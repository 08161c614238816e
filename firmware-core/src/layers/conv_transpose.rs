//! Transposed 2-D convolution (`ConvTranspose2d`, BatchNorm folded in), int8 × int8 → int32.
//!
//! Semantics (PyTorch): `out[co][oy][ox] = bias[co] + Σ w[ci][co][ky][kx] · x[ci][iy][ix]` over all
//! `ci, ky, kx` with `oy = iy·STRIDE − PADDING + ky` (and likewise for `x`).
//!
//! Layouts: activations are HWC (`x[(iy·IN + ix)·CIN + ci]`), weights `[ky][kx][co][ci]`, so
//! the weights of one tap and output channel are `CIN` contiguous bytes.
//!
//! # How the work is cut
//!
//! With kernel 4, stride 2 and padding 1, output row `2m − 1` reads input rows `m` (tap `ky` = 0)
//! and `m − 1` (`ky` = 2), and output row `2m` reads the same two rows (`ky` = 1 and 3). Along
//! a row likewise: output column `2j` reads input column `j` (`kx` = 1) and `j − 1` (`kx` = 3),
//! column `2j + 1` reads `j + 1` (`kx` = 0) and `j` (`kx` = 2). So for one output row, one
//! output channel and one column parity, every tap `(ky, kx)` is one weight row times a run of
//! consecutive input pixels of one input row, accumulated into consecutive outputs of that
//! parity: exactly what a [`tap`](super::tap) kernel computes, with runs of 6 or 7 pixels at
//! our shapes (7 input columns for `up1`, 14 for `up2` split 7 + 7 or 7 + 6). Taps that fall
//! outside the input are never computed.
//!
//! The loop walks `m` from 0 to `IN`, copies input row `m` once into the slot the kernels read
//! (`Rows::load`, ring of two), and then finishes output rows `2m − 1` and `2m`: per output
//! channel and parity, the accumulators (one per output column of that parity, ≤ 14 `i32` on the
//! stack) start at the bias, collect ≤ 4 taps and go through the epilogue. No full-size `i32`
//! output buffer is needed; the extra RAM is the two row slots.
//!
//! Accumulation wraps (`wrapping_add`, and the assembly kernels are modulo 2³² too): with
//! validated biases (≤ [`BIAS_LIMIT`](crate::blob::BIAS_LIMIT)) it never wraps, and without
//! validation it still cannot panic.

use super::tap::{Rows, MAX_RUN};
use super::{read_i32, QuantLayer};
use crate::arch::{KERNEL, PADDING, STRIDE};
use crate::requant::ChannelRequant;

/// Computes every output `(oy, ox, co)` in HWC order and stores
/// `epilogue(accumulator, requant[co])` there. Inputs must be ReLU outputs (`0..=127`), as
/// both layers' are (the Cortex-M0 kernel relies on it).
#[inline(never)]
// Index arithmetic only, on loop indices bounded by the layer constants (m ≤ IN_SIDE ≤ 14,
// ky, kx < 4, co < COUT, CIN ≤ 64): no sum or product comes near usize::MAX.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn forward<
    T,
    const CIN: usize,
    const COUT: usize,
    const IN_SIDE: usize,
    const OUT_SIDE: usize,
>(
    input: &[i8],
    layer: &QuantLayer<'_>,
    out: &mut [T],
    mut epilogue: impl FnMut(i32, ChannelRequant) -> T,
) {
    const {
        assert!(
            KERNEL == 4 && STRIDE == 2 && PADDING == 1,
            "the cut above assumes these"
        );
        assert!(OUT_SIDE == 2 * IN_SIDE);
        assert!(CIN > 0 && COUT > 0 && IN_SIDE > 0);
        assert!(IN_SIDE <= 2 * MAX_RUN);
    }
    let requants = layer.requant.prepare::<COUT>();
    let mut biases = [0i32; COUT];
    for (b, bytes) in biases.iter_mut().zip(layer.bias.chunks_exact(4)) {
        *b = read_i32(bytes);
    }
    // The weight rows of each tap (ky, kx): COUT rows of CIN bytes.
    let mut tap_rows: [&[u8]; KERNEL * KERNEL] = [&[]; KERNEL * KERNEL];
    for (rows, bytes) in tap_rows
        .iter_mut()
        .zip(layer.weights.chunks_exact(COUT * CIN))
    {
        *rows = bytes;
    }
    let row_of = |ky: usize, kx: usize, co: usize| -> Option<&[u8; CIN]> {
        let rows = tap_rows.get(ky * KERNEL + kx)?;
        rows.get(co * CIN..)?.first_chunk::<CIN>()
    };
    let mut rows = Rows::new();
    let mut out_rows = out.chunks_exact_mut(OUT_SIDE * COUT);
    let mut in_rows = input.chunks_exact(IN_SIDE * CIN);
    for m in 0..=IN_SIDE {
        if let Some(row) = in_rows.next() {
            rows.load::<CIN, IN_SIDE>(m, row);
        }
        // Output rows 2m − 1 (taps ky = 0 on input row m, ky = 2 on row m − 1) and 2m (ky = 1,
        // 3). Row m is in slot m % 2, row m − 1 in slot (m + 1) % 2.
        for (first_ky, oy_exists) in [(0, m > 0), (1, m < IN_SIDE)] {
            if !oy_exists {
                continue;
            }
            let Some(out_row) = out_rows.next() else {
                return;
            };
            let row_taps = [(first_ky, m, m < IN_SIDE), (first_ky + 2, m + 1, m > 0)];
            for (co, (&bias, &requant)) in biases.iter().zip(&requants).enumerate() {
                // Even output columns 2j: kx = 1 reads column j, kx = 3 column j − 1.
                let mut even = [bias; IN_SIDE];
                // Odd output columns 2j + 1: kx = 0 reads column j + 1, kx = 2 column j.
                let mut odd = [bias; IN_SIDE];
                for &(ky, slot, exists) in &row_taps {
                    if !exists {
                        continue;
                    }
                    if let Some(w) = row_of(ky, 1, co) {
                        shifted_tap::<CIN, IN_SIDE, 0>(&rows, slot, &mut even, w);
                    }
                    if let Some(w) = row_of(ky, 3, co) {
                        shifted_tap::<CIN, IN_SIDE, -1>(&rows, slot, &mut even, w);
                    }
                    if let Some(w) = row_of(ky, 0, co) {
                        shifted_tap::<CIN, IN_SIDE, 1>(&rows, slot, &mut odd, w);
                    }
                    if let Some(w) = row_of(ky, 2, co) {
                        shifted_tap::<CIN, IN_SIDE, 0>(&rows, slot, &mut odd, w);
                    }
                }
                // Output columns 2j and 2j + 1 are neighbours: one pass over the pairs.
                let pairs = out_row.chunks_exact_mut(2 * COUT);
                for (pair, (&e, &o)) in pairs.zip(even.iter().zip(&odd)) {
                    if let Some(px) = pair.get_mut(co) {
                        *px = epilogue(e, requant);
                    }
                    if let Some(px) = pair.get_mut(COUT + co) {
                        *px = epilogue(o, requant);
                    }
                }
            }
        }
    }
}

/// Adds one tap to the accumulators of one output row, channel and column parity:
/// accumulator `j` gets input column `j + D` (`D` ∈ {−1, 0, 1}) wherever that exists, in runs
/// of at most [`MAX_RUN`] pixels. `D` is a constant so that every run's bounds fold away.
#[inline(always)]
// Run bounds only: every value is at most IN_SIDE ≤ 14 (`done ≤ len ≤ IN_SIDE`).
#[allow(clippy::arithmetic_side_effects)]
fn shifted_tap<const CIN: usize, const IN_SIDE: usize, const D: isize>(
    rows: &Rows,
    slot: usize,
    acc: &mut [i32; IN_SIDE],
    w: &[u8; CIN],
) {
    // D = −1: accumulators 1.. read columns 0..; D = 1: accumulators ..IN − 1 read columns 1..
    let (skip, first_column, len) = match D {
        -1 => (1, 0, IN_SIDE - 1),
        1 => (0, 1, IN_SIDE - 1),
        _ => (0, 0, IN_SIDE),
    };
    let mut done = 0;
    while done < len {
        let (at, first) = (skip + done, first_column + done);
        let left = len - done;
        if left >= MAX_RUN {
            if let Some(run) = acc.get_mut(at..).and_then(|a| a.first_chunk_mut::<7>()) {
                rows.tap::<CIN, IN_SIDE, 7>(slot, run, w, first);
            }
            done += MAX_RUN;
        } else if left == 6 {
            if let Some(run) = acc.get_mut(at..).and_then(|a| a.first_chunk_mut::<6>()) {
                rows.tap::<CIN, IN_SIDE, 6>(slot, run, w, first);
            }
            done += 6;
        } else {
            // Other run lengths only occur at test shapes: one pixel at a time.
            if let Some(run) = acc.get_mut(at..).and_then(|a| a.first_chunk_mut::<1>()) {
                rows.tap::<CIN, IN_SIDE, 1>(slot, run, w, first);
            }
            done += 1;
        }
    }
}

/// Plain scalar reference, scattering every input pixel straight from the PyTorch definition
/// into an `i32` output (HWC, like [`forward`]'s).
#[cfg(test)]
pub(crate) fn reference(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    cin: usize,
    cout: usize,
    in_side: usize,
) -> Vec<i32> {
    let out_side = (in_side - 1) * STRIDE + KERNEL - 2 * PADDING;
    let w = |ky: usize, kx: usize, co: usize, ci: usize| {
        i32::from(weights[((ky * KERNEL + kx) * cout + co) * cin + ci] as i8)
    };
    let x = |iy: usize, ix: usize, ci: usize| i32::from(input[(iy * in_side + ix) * cin + ci]);
    let mut acc = vec![0i32; out_side * out_side * cout];
    for (i, a) in acc.iter_mut().enumerate() {
        let co = i % cout;
        *a = i32::from_le_bytes(bias[4 * co..4 * co + 4].try_into().unwrap());
    }
    for ci in 0..cin {
        for iy in 0..in_side {
            for ix in 0..in_side {
                for ky in 0..KERNEL {
                    for kx in 0..KERNEL {
                        let oy = (iy * STRIDE + ky) as isize - PADDING as isize;
                        let ox = (ix * STRIDE + kx) as isize - PADDING as isize;
                        if oy < 0 || ox < 0 || oy >= out_side as isize || ox >= out_side as isize {
                            continue;
                        }
                        let (oy, ox) = (oy as usize, ox as usize);
                        for co in 0..cout {
                            acc[(oy * out_side + ox) * cout + co] +=
                                w(ky, kx, co, ci) * x(iy, ix, ci);
                        }
                    }
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::RequantTable;
    use super::*;
    use crate::latent::SplitMix32;

    fn layer<'a>(w: &'a [u8], b: &'a [u8], m: &'a [u8], s: &'a [u8]) -> QuantLayer<'a> {
        QuantLayer {
            weights: w,
            bias: b,
            requant: RequantTable {
                multipliers: m,
                shifts: s,
            },
        }
    }

    #[test]
    fn hand_computed_single_channel() {
        // 1 → 1 channel, 2×2 input → 4×4 output; kernel value k(ky, kx) = 10·ky + kx.
        let x = [1i8, 2, 3, 4];
        let w: Vec<u8> = (0..16).map(|i| (10 * (i / 4) + i % 4) as u8).collect();
        let b = 100i32.to_le_bytes();
        let mut out = [0i32; 16];
        forward::<_, 1, 1, 2, 4>(&x, &layer(&w, &b, &[0; 4], &[1]), &mut out, |acc, _| acc);
        // out(0,0): only iy = ix = 0 with ky = kx = 1 → 1·11.
        assert_eq!(out[0], 100 + 11);
        // out(1,1): ky ∈ {0 (iy 1), 2 (iy 0)}, same for x:
        //   x(1,1)·k(0,0) + x(1,0)·k(0,2) + x(0,1)·k(2,0) + x(0,0)·k(2,2) = 0 + 6 + 40 + 22.
        assert_eq!(out[5], 100 + 68);
        // out(3,3): iy = ix = 1 with ky = kx = 2 → 4·22.
        assert_eq!(out[15], 100 + 88);
        assert_eq!(reference(&x, &w, &b, 1, 1, 2), out);
    }

    fn check_random<const CIN: usize, const COUT: usize, const IN: usize, const OUT: usize>(
        seed: u32,
    ) {
        let mut rng = SplitMix32::new(seed);
        // Inputs are ReLU outputs.
        let x = random_i8(&mut rng, IN * IN * CIN, 0, 127);
        let w = random_bytes(&mut rng, KERNEL * KERNEL * COUT * CIN);
        let b = random_bias(&mut rng, COUT, 1 << 30);
        let (m, s) = (vec![0u8; 4 * COUT], vec![1u8; COUT]);
        let mut out = vec![0i32; OUT * OUT * COUT];
        forward::<_, CIN, COUT, IN, OUT>(&x, &layer(&w, &b, &m, &s), &mut out, |acc, _| acc);
        assert_eq!(out, reference(&x, &w, &b, CIN, COUT, IN), "seed {seed}");
    }

    #[test]
    fn matches_reference_on_random_data() {
        for seed in 0..4 {
            check_random::<3, 5, 4, 8>(seed);
            check_random::<1, 1, 1, 2>(seed);
            if !cfg!(miri) {
                check_random::<32, 1, 14, 28>(seed);
            }
        }
        // The real up1 shape, once (it is the expensive one; minutes in Miri).
        if !cfg!(miri) {
            check_random::<64, 32, 7, 14>(99);
        }
    }

    #[test]
    fn epilogue_sees_each_channels_requant() {
        let x = [0i8; 4];
        let w = [0u8; 16 * 3];
        let b = [0u8; 12];
        let m: Vec<u8> = (1..=3i32).flat_map(|v| v.to_le_bytes()).collect();
        let mut out = [0i32; 4 * 4 * 3];
        forward::<_, 1, 3, 2, 4>(&x, &layer(&w, &b, &m, &[1; 3]), &mut out, |_, r| {
            r.requant().multiplier()
        });
        assert!(out.chunks(3).all(|px| px == [1, 2, 3]));
    }
}
