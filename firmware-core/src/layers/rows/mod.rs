//! Row kernels of the fully connected layer: one activation vector `x` (the latent, `N` int8)
//! times many weight rows of `N` int8 each, `acc[k] = rows[k]·x`.
//!
//! The vector is prepared once per layer ([`Prepared::new`]) in the form the target's kernel
//! reads; the rows come straight from the blob and are each read once. Every kernel works on
//! blocks of rows whose sums stay in registers while `x` is read once per block (four rows in
//! the assembly kernels, eight in the portable one):
//!
//! | target | `cfg` | prepared `x` | kernel | instructions per MAC (per block) |
//! |---|---|---|---|---|
//! | Cortex-M4/M7 (ARMv7E-M) | `firmware_core_dsp` | int16 lanes `(x0, x2), (x1, x3)` per 4 elements | per 4 elements one `LDRD` of lanes, then per row `LDR`, 2 × `SXTB16`, 2 × `SMLAD` (`armv7em.rs`) | 1.34 |
//! | Cortex-M0/M0+ (ARMv6-M) | `firmware_core_armv6m` | `i32` per element | per element one `LDR`, then per row `LDRSB`, `MULS`, `ADD` (`armv6m.rs`) | 3.8 |
//! | everything else (Cortex-M3, RISC-V, the host…) | — | the bytes as they are | plain Rust (`portable.rs`: `LDRSB` + `MLA` on Cortex-M3, `LB` + `MUL` + `ADD` on RISC-V) | compiler's choice |
//!
//! [`reference`] is the scalar twin every kernel (and the models of the assembly kernels) is
//! tested against. Products of two int8 values are exact in 32 bits and the sums wrap, like
//! the scalar twin's (`wrapping_add`); no kernel assumes anything about the values' range.

#[cfg(any(test, firmware_core_armv6m))]
mod armv6m;
#[cfg(any(test, firmware_core_dsp))]
mod armv7em;
#[cfg(any(test, not(any(firmware_core_dsp, firmware_core_armv6m))))]
mod portable;

#[cfg(firmware_core_armv6m)]
pub(crate) use armv6m::Prepared;
#[cfg(firmware_core_dsp)]
pub(crate) use armv7em::Prepared;
#[cfg(not(any(firmware_core_dsp, firmware_core_armv6m)))]
pub(crate) use portable::Prepared;

/// Rows per block of the assembly kernels: what they keep in registers at once.
#[cfg(any(test, firmware_core_dsp, firmware_core_armv6m))]
pub(crate) const BLOCK_ROWS: usize = 4;

/// The scalar twin of [`Prepared::dots`]: `acc[k] = rows[k]·x` for every `k` below
/// `min(acc.len(), weights.len() / x.len())`.
#[cfg(test)]
pub(crate) fn reference(acc: &mut [i32], weights: &[u8], x: &[i8]) {
    for (a, row) in acc.iter_mut().zip(weights.chunks_exact(x.len())) {
        *a = super::dot_scalar(row, x);
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::latent::SplitMix32;
    use crate::layers::test_util::*;

    /// One implementation of [`Prepared::dots`] (a target's kernel or a model of it) under test.
    pub trait RowsImpl {
        /// Prepares `x` and computes the rows' dot products into `acc`.
        fn run<const N: usize>(x: &[i8; N], acc: &mut [i32], weights: &[u8]);
    }

    fn check<T: RowsImpl, const N: usize>(x: &[i8; N], rows: usize, weights: &[u8], what: &str) {
        // Accumulators past the rows (and rows past the accumulators) must stay untouched.
        let sentinel = 0x5a5a_5a5a;
        let mut want = vec![sentinel; rows + 3];
        reference(&mut want[..rows], weights, x);
        let mut got = vec![sentinel; rows + 3];
        T::run(x, &mut got[..rows], weights);
        assert_eq!(got, want, "N {N} rows {rows} {what}");
    }

    fn check_shape<T: RowsImpl, const N: usize>(rng: &mut SplitMix32, rows: usize) {
        for i in 0..if cfg!(miri) { 2 } else { 20 } {
            let x: [i8; N] = random_i8(rng, N, -128, 127).try_into().unwrap();
            let weights = random_bytes(rng, rows * N);
            check::<T, N>(&x, rows, &weights, &format!("random #{i}"));
            // One row more in `weights` than accumulators: it must be ignored.
            let more = random_bytes(rng, (rows + 1) * N);
            check::<T, N>(&x, rows, &more, &format!("extra row #{i}"));
        }
        // Every weight and element at one extreme: the largest products of both signs.
        for w in [0x80u8, 0x7f, 0xff, 0x00] {
            for x in [-128i8, 127, -1, 0] {
                check::<T, N>(
                    &[x; N],
                    rows,
                    &vec![w; rows * N],
                    &format!("w {w:#x} x {x}"),
                );
            }
        }
    }

    /// Random and extreme cases at the layer's shape (the latent times one position's 64 rows,
    /// and every one of the 3136 rows at once) and at small shapes, including row counts that
    /// are not a whole number of blocks.
    pub fn check_layer_shapes<T: RowsImpl>() {
        let mut rng = SplitMix32::new(29);
        check_shape::<T, 32>(&mut rng, 64);
        check_shape::<T, 32>(&mut rng, 5);
        check_shape::<T, 8>(&mut rng, 7);
        check_shape::<T, 4>(&mut rng, 1);
        if !cfg!(miri) {
            check_shape::<T, 32>(&mut rng, 3136);
        }
        // Fewer weight bytes than the accumulators need: only the whole rows are computed.
        let x = [3i8; 32];
        let mut got = [7i32; 8];
        T::run(&x, &mut got, &[1; 32 * 5 + 31]);
        assert_eq!(got, [96, 96, 96, 96, 96, 7, 7, 7]);
    }
}
