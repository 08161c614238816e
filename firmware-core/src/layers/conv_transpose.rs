//! Transposed 2-D convolution (`ConvTranspose2d`, BatchNorm folded in), int8 × int8 → int32.
//!
//! Semantics (PyTorch): `out[co][oy][ox] = bias[co] + Σ w[ci][co][ky][kx] · x[ci][iy][ix]` over all
//! `ci, ky, kx` with `oy = iy·STRIDE − PADDING + ky` (and likewise for `x`).
//!
//! Layouts chosen for a gather loop: activations are HWC (`x[(iy·IN + ix)·CIN + ci]`), weights
//! `[ky][kx][co][ci]`. For one output pixel, each valid tap `(ky, kx)` then contributes
//! `COUT` dot products of two contiguous `CIN`-byte vectors, and all `COUT` accumulators of the
//! pixel live on the stack (`4·COUT` bytes) — no full-size `i32` output buffer is needed.
//!
//! Valid taps: `ky ≡ oy + PADDING (mod STRIDE)` and `iy = (oy + PADDING − ky) / STRIDE` inside the
//! input; with kernel 4 and stride 2 that is at most 2 × 2 taps per output pixel.
//!
//! Speed: each tap's `CIN`-vector goes through [`Prepared`], which on Cortex-M4/M7 splits it into
//! 16-bit lanes once and then runs all `COUT` weight rows through the `SXTB16`/`SMLAD` kernel,
//! two rows per pass (≈ 1.4 instructions per MAC; see `layers::dsp`). A single output channel
//! (`up2`) skips the splitting and uses the one-row kernel (≈ 2 per MAC). Other targets run the
//! plain scalar dot product (two byte loads and a multiply-add per MAC). Accumulation wraps
//! (`wrapping_add`, and `SMLAD` is modulo 2³² too): with validated biases
//! (≤ [`BIAS_LIMIT`](crate::blob::BIAS_LIMIT)) it never wraps, and without validation it still
//! cannot panic.

use super::{dot, read_i32, Prepared, QuantLayer};
use crate::arch::{KERNEL, PADDING, STRIDE};
use crate::requant::Requant;

/// The `(k, i)` pairs (kernel index, input index) that feed output index `o` along one axis.
#[inline(always)]
// `o` indexes a slice (≤ isize::MAX), so `o + PADDING` fits usize; STRIDE is a non-zero constant.
#[allow(clippy::arithmetic_side_effects)]
fn taps<const IN_SIDE: usize>(o: usize) -> impl Iterator<Item = (usize, usize)> {
    let first = (o + PADDING) % STRIDE;
    (first..KERNEL).step_by(STRIDE).filter_map(move |k| {
        // Divisible by STRIDE by the choice of `first`; negative means above/left of the input.
        let i = (o + PADDING).checked_sub(k)? / STRIDE;
        (i < IN_SIDE).then_some((k, i))
    })
}

/// Computes every output `(oy, ox, co)` in HWC order and stores
/// `epilogue(accumulator, requant[co])` there.
#[inline]
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
    mut epilogue: impl FnMut(i32, Requant) -> T,
) {
    const {
        assert!(OUT_SIDE == (IN_SIDE - 1) * STRIDE + KERNEL - 2 * PADDING);
        assert!(CIN > 0 && COUT > 0);
        // Evaluated here, these products cannot overflow at run time (see `x_at`, `w_at`).
        assert!(IN_SIDE * IN_SIDE * CIN <= isize::MAX as usize);
        assert!(KERNEL * KERNEL * COUT * CIN <= isize::MAX as usize);
    }
    let tap_len = const { COUT * CIN };
    for (oy, out_row) in out.chunks_exact_mut(const { OUT_SIDE * COUT }).enumerate() {
        for (ox, out_px) in out_row.chunks_exact_mut(COUT).enumerate() {
            let mut acc = [0i32; COUT];
            for (a, b) in acc.iter_mut().zip(layer.bias.chunks_exact(4)) {
                *a = read_i32(b);
            }
            for (ky, iy) in taps::<IN_SIDE>(oy) {
                for (kx, ix) in taps::<IN_SIDE>(ox) {
                    // iy, ix < IN_SIDE and ky, kx < KERNEL (`taps`): below the products
                    // checked in the const block above.
                    #[allow(clippy::arithmetic_side_effects)]
                    let (x_at, w_at) = ((iy * IN_SIDE + ix) * CIN, (ky * KERNEL + kx) * tap_len);
                    let (Some(x), Some(w)) = (
                        input.get(x_at..).and_then(|x| x.first_chunk::<CIN>()),
                        layer.weights.get(w_at..).and_then(|w| w.get(..tap_len)),
                    ) else {
                        continue;
                    };
                    if COUT == 1 {
                        // One row: nothing to share, so no splitting ahead of time.
                        let row = w.get(..CIN).and_then(|r| <&[u8; CIN]>::try_from(r).ok());
                        if let (Some(a), Some(row)) = (acc.first_mut(), row) {
                            *a = dot(*a, row, x);
                        }
                    } else {
                        Prepared::new(x).accumulate_rows(&mut acc, w);
                    }
                }
            }
            for ((o, &a), requant) in out_px.iter_mut().zip(&acc).zip(layer.requant.iter()) {
                *o = epilogue(a, requant);
            }
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
    fn taps_follow_the_definition() {
        let collect = |o| taps::<7>(o).collect::<Vec<_>>();
        // oy = 2·iy − 1 + ky
        assert_eq!(collect(0), [(1, 0)]); // iy = 0, ky = 1 (ky = 3 would need iy = −1)
        assert_eq!(collect(1), [(0, 1), (2, 0)]);
        assert_eq!(collect(2), [(1, 1), (3, 0)]);
        assert_eq!(collect(13), [(2, 6)]); // ky = 0 would need iy = 7
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
        let x = random_i8(&mut rng, IN * IN * CIN, -128, 127);
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
            r.multiplier()
        });
        assert!(out.chunks(3).all(|px| px == [1, 2, 3]));
    }
}
