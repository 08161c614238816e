//! Integer layer kernels, one module per layer kind.
//!
//! Every kernel computes exact `i32` accumulators (`bias + Σ w·x`) and hands each one, together
//! with its output channel's [`ChannelRequant`], to an *epilogue* closure that produces the
//! stored value (int8 after ReLU, or a pixel through the tanh table). The same kernel thus serves every layer,
//! and tests can compare raw accumulators against the plain reference kernels.
//!
//! Parameters arrive as byte slices borrowed from the blob (see [`crate::blob`] for the layouts).
//! The kernels walk them with `chunks_exact`, `zip` and `get`, so a slice of the wrong length could
//! only shorten the work, never panic; [`Generator::new`](crate::Generator::new) has checked every
//! length anyway.
//!
//! The transposed convolutions run on the tap kernels in [`tap`] (one weight row times a run of
//! input pixels), the fully connected layer on the row kernels in [`rows`] (blocks of weight
//! rows times the latent). Both pick their kernel by target (`cfg`s set by `build.rs`): `SMLAD`
//! assembly on Cortex-M4/M7, `MLA` assembly for the taps on Cortex-M3, `MULS` assembly on
//! Cortex-M0, plain Rust elsewhere; the plain scalar [`dot_scalar`] is the reference in tests.
//!
//! # Why the `i32` accumulators cannot overflow
//!
//! An accumulator is `bias + Σ w·x` over at most
//! [`MAX_ACCUMULATED_PRODUCTS`](crate::arch::MAX_ACCUMULATED_PRODUCTS) = 256 products (`fc`: 32
//! latent elements; a transposed-convolution output: at most 2×2 taps × 64 input channels).
//! Weights and activations are int8, so `|w·x| ≤ 128·128 = 2¹⁴`, and
//! [`Generator::new`](crate::Generator::new) rejects every bias with `|b| >`
//! [`BIAS_LIMIT`](crate::blob::BIAS_LIMIT) `= 2³⁰`. Whatever order a kernel adds in (the scalar
//! loop, or `SMLAD` two products at a time), each partial sum is the bias plus some of the
//! products, so `|partial| ≤ 2³⁰ + 256·2¹⁴ = 2³⁰ + 2²² < 2³¹`: no step wraps, for any blob that
//! passes validation. `blob.rs` checks that inequality at compile time, and the test
//! `accumulators_at_the_validation_extremes_fit_in_i32` builds blobs that reach it exactly. The
//! adds still wrap by definition (`wrapping_add`; `SMLAD` is modulo 2³²) so that even parameters
//! that were never validated could not panic. After the sum, [`Requant::apply`] works in `i64`
//! (proof in [`crate::requant`]) and clamps to int8, and the tanh table index `q + 128` lies in
//! `0..=255`.

pub(crate) mod conv_transpose;
pub(crate) mod linear;
mod rows;
pub(crate) mod tanh;
mod tap;

use crate::requant::{ChannelRequant, Requant};

/// Borrowed parameters of one quantised layer, in blob layout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantLayer<'a> {
    /// int8 weights, stored as bytes (two's complement).
    pub weights: &'a [u8],
    /// int32 biases, little-endian.
    pub bias: &'a [u8],
    /// Per-output-channel requantisation.
    pub requant: RequantTable<'a>,
}

/// Per-channel requantisation parameters: `i32` LE multipliers and `u8` shifts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequantTable<'a> {
    pub multipliers: &'a [u8],
    pub shifts: &'a [u8],
}

impl<'a> RequantTable<'a> {
    /// The channels' requantisers in channel order, prepared for the inner loops.
    pub fn iter(self) -> impl Iterator<Item = ChannelRequant> + 'a {
        self.multipliers
            .chunks_exact(4)
            .zip(self.shifts)
            .map(|(m, &s)| ChannelRequant::new(Requant::from_validated(read_i32(m), s)))
    }

    /// The first `C` channels' requantisers (any missing ones as multiplier 0, which maps every
    /// accumulator to 0).
    #[inline]
    pub fn prepare<const C: usize>(self) -> [ChannelRequant; C] {
        let mut channels = self.iter();
        core::array::from_fn(|_| {
            channels
                .next()
                .unwrap_or(ChannelRequant::new(Requant::from_validated(0, 1)))
        })
    }
}

/// Little-endian `i32` from a 4-byte chunk (0 for any other length, which `chunks_exact(4)`
/// never yields).
#[inline(always)]
pub(crate) fn read_i32(bytes: &[u8]) -> i32 {
    bytes.try_into().map_or(0, i32::from_le_bytes)
}

/// Dot product of int8 weights (as bytes) with int8 activations: the plain scalar kernel, the
/// reference for the fast kernels (and what they use for rows past their last block).
///
/// Each product is at most `128 · 128 = 2¹⁴` in magnitude, so any slice shorter than 2¹⁷
/// (ours are ≤ 64) sums without overflow.
#[inline(always)]
pub(crate) fn dot_scalar(weights: &[u8], x: &[i8]) -> i32 {
    weights
        .iter()
        .zip(x)
        .map(|(&w, &x)| i32::from(w as i8).wrapping_mul(i32::from(x)))
        .fold(0, i32::wrapping_add)
}

/// Epilogue for hidden layers: requantise and apply ReLU (int8 range `0..=127`).
#[inline(always)]
pub(crate) fn relu_i8(acc: i32, requant: ChannelRequant) -> i8 {
    requant.relu(acc)
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::latent::SplitMix32;

    pub fn random_bytes(rng: &mut SplitMix32, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.next_u32() as u8).collect()
    }

    pub fn random_i8(rng: &mut SplitMix32, n: usize, lo: i8, hi: i8) -> Vec<i8> {
        let span = (i32::from(hi) - i32::from(lo) + 1) as u32;
        (0..n)
            .map(|_| (i32::from(lo) + (rng.next_u32() % span) as i32) as i8)
            .collect()
    }

    pub fn random_bias(rng: &mut SplitMix32, n: usize, limit: i32) -> Vec<u8> {
        (0..n)
            .flat_map(|_| {
                let v = (rng.next_u32() % (2 * limit as u32 + 1)) as i32 - limit;
                v.to_le_bytes()
            })
            .collect()
    }
}
