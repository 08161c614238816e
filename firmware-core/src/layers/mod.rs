//! Integer layer kernels, one module per layer kind.
//!
//! Every kernel computes exact `i32` accumulators (`bias + Σ w·x`) and hands each one, together
//! with its output channel's [`Requant`], to an *epilogue* closure that produces the stored value
//! (int8 after ReLU, or a pixel through the tanh table). The same kernel thus serves every layer,
//! and tests can compare raw accumulators against the plain reference kernels.
//!
//! Parameters arrive as byte slices borrowed from the blob (see [`crate::blob`] for the layouts).
//! The kernels walk them with `chunks_exact`, `zip` and `get`, so a slice of the wrong length could
//! only shorten the work, never panic; [`Generator::new`](crate::Generator::new) has checked every
//! length anyway.
//!
//! The transposed convolutions run on the tap kernels in [`tap`] (one weight row times a run of
//! input pixels; `SMLAD` assembly on Cortex-M4/M7, packed-`MULS` assembly on Cortex-M0, plain
//! Rust elsewhere). The fully connected layer goes through [`Prepared`] (an activation vector
//! used with many weight rows): on Arm cores with the DSP extension (`cfg(firmware_core_dsp)`,
//! set by `build.rs` for `thumbv7em-*`) the `SXTB16`/`SMLAD` assembly in `dsp`; everywhere
//! else, and as the reference in tests, the plain scalar [`dot_scalar`].
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
#[cfg(any(firmware_core_dsp, test))]
mod dsp;
pub(crate) mod linear;
pub(crate) mod tanh;
mod tap;

use crate::requant::Requant;

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
    /// The channels' requantisers in channel order.
    pub fn iter(self) -> impl Iterator<Item = Requant> + 'a {
        self.multipliers
            .chunks_exact(4)
            .zip(self.shifts)
            .map(|(m, &s)| Requant::from_validated(read_i32(m), s))
    }
}

/// Little-endian `i32` from a 4-byte chunk (0 for any other length, which `chunks_exact(4)`
/// never yields).
#[inline(always)]
pub(crate) fn read_i32(bytes: &[u8]) -> i32 {
    bytes.try_into().map_or(0, i32::from_le_bytes)
}

/// Dot product of int8 weights (as bytes) with int8 activations: the plain scalar kernel, used
/// on every target without the DSP extension and as the reference for the fast kernels.
///
/// Each product is at most `128 · 128 = 2¹⁴` in magnitude, so any slice shorter than 2¹⁷
/// (ours are ≤ 64) sums without overflow.
#[cfg_attr(all(firmware_core_dsp, not(test)), allow(dead_code))]
#[inline(always)]
pub(crate) fn dot_scalar(weights: &[u8], x: &[i8]) -> i32 {
    weights
        .iter()
        .zip(x)
        .map(|(&w, &x)| i32::from(w as i8).wrapping_mul(i32::from(x)))
        .fold(0, i32::wrapping_add)
}

/// An activation vector about to be multiplied with many weight rows, in the form the fast
/// kernel wants (on DSP cores: split into 16-bit lanes once; elsewhere: as is).
pub(crate) struct Prepared<'a, const N: usize> {
    x: &'a [i8; N],
    #[cfg(firmware_core_dsp)]
    lanes: dsp::Lanes<N>,
}

impl<'a, const N: usize> Prepared<'a, N> {
    #[inline(always)]
    pub fn new(x: &'a [i8; N]) -> Self {
        Self {
            x,
            #[cfg(firmware_core_dsp)]
            lanes: dsp::Lanes::new(x),
        }
    }

    /// `acc[k] += rows[k]·x` (wrapping) for the `acc.len()` rows of `N` bytes at the start of
    /// `weights` (on DSP cores two rows per kernel call). Missing rows leave their accumulators
    /// alone.
    #[inline(always)]
    pub fn accumulate_rows(&self, acc: &mut [i32], weights: &[u8]) {
        #[cfg(firmware_core_dsp)]
        {
            let done = dsp::accumulate_row_pairs(acc, weights, &self.lanes);
            let last_row = weights
                .chunks_exact(N)
                .nth(done)
                .and_then(|r| r.try_into().ok());
            if let (Some(a), Some(row)) = (acc.get_mut(done), last_row) {
                *a = dsp::dot(*a, row, self.x);
            }
        }
        #[cfg(not(any(firmware_core_dsp, firmware_core_armv6m)))]
        {
            // Four rows per pass: each activation is loaded once for four MACs, and the four
            // sums stay in registers (with 31 registers on RISC-V; measured slower on ARMv6-M,
            // whose eight low registers cannot hold them).
            let mut blocks = acc
                .chunks_exact_mut(4)
                .zip(weights.chunks_exact(const { 4 * N }));
            for (a, rows) in &mut blocks {
                let mut it = rows
                    .chunks_exact(N)
                    .filter_map(|r| <&[u8; N]>::try_from(r).ok());
                let (Some(r0), Some(r1), Some(r2), Some(r3)) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    continue;
                };
                let mut sums = [0i32; 4];
                for (i, &x) in self.x.iter().enumerate() {
                    let x = i32::from(x);
                    // `i < N`: it indexes `self.x`, an array of the rows' length.
                    for (sum, row) in sums.iter_mut().zip([r0, r1, r2, r3]) {
                        let w = row.get(i).map_or(0, |&w| i32::from(w as i8));
                        *sum = sum.wrapping_add(w.wrapping_mul(x));
                    }
                }
                for (a, s) in a.iter_mut().zip(sums) {
                    *a = a.wrapping_add(s);
                }
            }
            // Rows past the last whole block of four (none at our shapes).
            let done = acc.len() & !3;
            let rest = acc.iter_mut().skip(done);
            for (a, row) in rest.zip(weights.chunks_exact(N).skip(done)) {
                *a = a.wrapping_add(dot_scalar(row, self.x));
            }
        }
        #[cfg(firmware_core_armv6m)]
        for (a, row) in acc.iter_mut().zip(weights.chunks_exact(N)) {
            *a = a.wrapping_add(dot_scalar(row, self.x));
        }
    }
}

/// Epilogue for hidden layers: requantise and apply ReLU (int8 range `0..=127`).
#[inline(always)]
pub(crate) fn relu_i8(acc: i32, requant: Requant) -> i8 {
    requant.apply(acc, 0, i8::MAX)
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
