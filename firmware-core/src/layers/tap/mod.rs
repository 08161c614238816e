//! Tap kernels of the transposed convolutions: one weight row times a run of input pixels.
//!
//! The layer ([`conv_transpose`](super::conv_transpose)) reduces all its work to calls of
//! [`Rows::tap`]: for one output channel `co`, one kernel tap `(ky, kx)` and one input row `iy`,
//! `acc[j] += Σ_ci w[ci] · x[iy][first + j][ci]` for `P` consecutive input pixels (`P` ≤ 7), where
//! `w` is the `CIN` weights of `(ky, kx, co)`. Consecutive input pixels feed every second output
//! pixel of one output row (one column parity), so `acc` is a run of those.
//!
//! Every input row is first copied once into a [`Rows`] slot, in the layout the target's kernel
//! reads fastest:
//!
//! | target | `cfg` | slot layout | kernel | instructions per MAC (inner loop) |
//! |---|---|---|---|---|
//! | Cortex-M4/M7 (ARMv7E-M) | `firmware_core_dsp` | pixel-major, int16 lanes `(x0, x2), (x1, x3)` per 4 channels | `SMLAD`, weights split by `SXTB16` (`armv7em.rs`) | 0.86 (`P` = 7) |
//! | Cortex-M3 (ARMv7-M) | `firmware_core_packed_taps`, `firmware_core_armv7m` | pixel-major words `x[c] + x[c+1]·2¹⁶` | one `MLA` + one `ADD` for two MACs (assembly, `packed.rs`) | 1.5 (`P` = 7) |
//! | RISC-V (RV32IM) | `firmware_core_packed_taps` | the same | `MUL` + 3 for two MACs (Rust, `packed.rs`) | 3.2 (`P` = 7) |
//! | Cortex-M0/M0+ (ARMv6-M) | `firmware_core_armv6m` | channel-pair-major words `x[c] + x[c+1]·2¹⁶` | one `MULS` for two MACs (`armv6m.rs`) | 2.9 (`P` = 7) |
//! | everything else (the host…) | — | the input bytes as they are | plain Rust (`portable.rs`) | compiler's choice |
//!
//! [`reference`] is the scalar twin every kernel (and the models of the assembly kernels) is
//! tested against.
//!
//! Inputs of both transposed convolutions are ReLU outputs, so every activation lies in
//! `0..=127`; the packed kernels (`armv6m.rs`, `packed.rs`) rely on that (the proof is in
//! `armv6m.rs`), the others do not.

#[cfg(any(test, firmware_core_armv6m))]
mod armv6m;
#[cfg(any(test, firmware_core_dsp))]
mod armv7em;
#[cfg(any(test, firmware_core_packed_taps))]
mod packed;
#[cfg(any(
    test,
    not(any(firmware_core_dsp, firmware_core_packed_taps, firmware_core_armv6m))
))]
mod portable;

#[cfg(firmware_core_armv6m)]
pub(crate) use armv6m::Rows;
#[cfg(firmware_core_dsp)]
pub(crate) use armv7em::Rows;
#[cfg(firmware_core_packed_taps)]
pub(crate) use packed::Rows;
#[cfg(not(any(firmware_core_dsp, firmware_core_packed_taps, firmware_core_armv6m)))]
pub(crate) use portable::Rows;

use crate::arch::{FC_CHANNELS, FC_SIDE, UP1_CHANNELS, UP1_SIDE};

/// Values of the longest input row of either transposed convolution (`up1`: 7 pixels × 64
/// channels; `up2`: 14 × 32): the capacity of one [`Rows`] slot.
pub(crate) const ROW_VALUES: usize = max(FC_SIDE * FC_CHANNELS, UP1_SIDE * UP1_CHANNELS);

/// Most pixels one [`Rows::tap`] call covers.
pub(crate) const MAX_RUN: usize = 7;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The scalar twin of [`Rows::tap`] on a plain HWC row: `acc[j] += Σ_ci w[ci]·row[first + j][ci]`.
#[cfg(test)]
pub(crate) fn reference(acc: &mut [i32], w: &[u8], row: &[i8], cin: usize, first: usize) {
    for (j, a) in acc.iter_mut().enumerate() {
        let px = &row[(first + j) * cin..(first + j + 1) * cin];
        *a = a.wrapping_add(super::dot_scalar(w, px));
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::latent::SplitMix32;
    use crate::layers::test_util::*;

    /// A random case at a layer's shape: a row of `PX` pixels with activations in `lo..=hi`,
    /// one weight row, start accumulators and a start pixel for a run of `P`.
    pub struct Case<const CIN: usize, const PX: usize, const P: usize> {
        pub row: Vec<i8>,
        pub w: [u8; CIN],
        pub acc: [i32; P],
        pub first: usize,
    }

    impl<const CIN: usize, const PX: usize, const P: usize> Case<CIN, PX, P> {
        pub fn random(rng: &mut SplitMix32, lo: i8, hi: i8) -> Self {
            let row = random_i8(rng, PX * CIN, lo, hi);
            let w = random_bytes(rng, CIN).try_into().unwrap();
            let acc = core::array::from_fn(|_| rng.next_u32() as i32 >> 2);
            let first = rng.next_u32() as usize % (PX - P + 1);
            Self { row, w, acc, first }
        }

        /// Every weight and activation at one extreme.
        pub fn extreme(w: u8, x: i8, acc: i32) -> Self {
            Self {
                row: vec![x; PX * CIN],
                w: [w; CIN],
                acc: [acc; P],
                first: PX - P,
            }
        }

        pub fn expected(&self) -> [i32; P] {
            let mut acc = self.acc;
            reference(&mut acc, &self.w, &self.row, CIN, self.first);
            acc
        }
    }

    /// One implementation of [`Rows::tap`] (a target's kernel or a model of it) under test.
    pub trait TapImpl {
        /// Loads `case.row` and runs one tap; returns the accumulators.
        fn run<const CIN: usize, const PX: usize, const P: usize>(
            case: &Case<CIN, PX, P>,
        ) -> [i32; P];
    }

    fn check_shape<T: TapImpl, const CIN: usize, const PX: usize, const P: usize>(
        rng: &mut SplitMix32,
        signed: bool,
    ) {
        let lo = if signed { -128 } else { 0 };
        for i in 0..if cfg!(miri) { 2 } else { 40 } {
            let case = Case::<CIN, PX, P>::random(rng, lo, 127);
            assert_eq!(
                T::run(&case),
                case.expected(),
                "CIN {CIN} PX {PX} P {P} #{i}"
            );
        }
        let extremes_x: &[i8] = if signed { &[-128, 127, 0] } else { &[127, 0] };
        for w in [0x80u8, 0x7f, 0xff, 0x00] {
            for &x in extremes_x {
                for acc in [0, i32::MAX, i32::MIN, -1] {
                    let case = Case::<CIN, PX, P>::extreme(w, x, acc);
                    let what = format!("CIN {CIN} PX {PX} P {P} w {w:#x} x {x} acc {acc}");
                    assert_eq!(T::run(&case), case.expected(), "{what}");
                }
            }
        }
    }

    /// Random and extreme cases at both layers' shapes and both run lengths. Activations are
    /// ReLU outputs (`0..=127`) unless `signed`.
    pub fn check_layer_shapes<T: TapImpl>(signed: bool) {
        let mut rng = SplitMix32::new(23);
        check_shape::<T, 64, 7, 7>(&mut rng, signed);
        check_shape::<T, 64, 7, 6>(&mut rng, signed);
        check_shape::<T, 32, 14, 7>(&mut rng, signed);
        check_shape::<T, 32, 14, 6>(&mut rng, signed);
        check_shape::<T, 8, 3, 2>(&mut rng, signed);
    }
}
