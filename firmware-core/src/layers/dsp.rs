//! Dot-product kernels for Arm cores with the DSP extension (ARMv7E-M: Cortex-M4, Cortex-M7),
//! compiled only under `cfg(firmware_core_dsp)` (see `build.rs`). Everywhere else, and as the
//! reference these kernels are tested against, the portable kernels in [`super`] are used.
//!
//! The kernels are bit-exact replacements for `Σ w·x` over int8 vectors: every product of two
//! int8 values is formed exactly in 16 × 16-bit multipliers and summed with wrapping 32-bit
//! adds, exactly like the portable `i32` arithmetic (`wrapping_add` of the caller's accumulator).
//!
//! Two instructions do the work:
//!
//! * `SXTB16 Rd, Rm, ROR #r` sign-extends bytes 0 and 2 of `Rm` rotated right by `r` into the two
//!   16-bit halves of `Rd`. For a little-endian word holding `b0 b1 b2 b3`, `ROR #0` gives the
//!   halves `(b0, b2)` and `ROR #8` gives `(b1, b3)`.
//! * `SMLAD Ra', Rn, Rm, Ra` computes `Ra + lo(Rn)·lo(Rm) + hi(Rn)·hi(Rm)` (signed 16-bit halves,
//!   result modulo 2³²; it may set the sticky Q flag, which nothing here reads).
//!
//! So one 4-byte word of weights times one word of activations is two `SMLAD`s once both are
//! split into their even `(b0, b2)` and odd `(b1, b3)` halves. Activations that are used with
//! many weight rows are split once, into [`Lanes`]; weights are split on the fly.
//!
//! Cost per 4 MACs (instructions counted by QEMU): [`accumulate_row_pairs`] 5.5 (one `LDRD` of
//! lanes shared by two rows, then per row `LDR`, 2 × `SXTB16`, 2 × `SMLAD`; plus 6 per pair of
//! rows), [`dot`] 8. The portable kernel compiles to 12 on a Cortex-M4 (two byte loads and an
//! `SMLABB` per MAC). The row loop is part of the assembly so that LLVM, which prices an `asm!`
//! block as one instruction, cannot unroll it 16 times (+11 KB of flash, measured).
//!
//! # Soundness
//!
//! The only `unsafe` is the `asm!` blocks. Each reads exactly `N` bytes through each pointer it
//! is given, and every pointer comes from a reference to an array of exactly that many bytes
//! (`&[u8; N]`, `&[i8; N]`, or `&Lanes<N>`, which is `N` `i16` = `2·N` bytes read as `N / 4`
//! pairs of words) or, for the row loop, from slices whose lengths bound its pass count (see the
//! `SAFETY` comment there). `N` is a multiple of 4 (checked at compile time), so the
//! `.rept N / 4` loop never reads past an array. The pointers are copies held in registers the
//! blocks declare as clobbered (`inout … => _`), and no block uses the stack (`nostack`).
//! [`dot`] writes no memory (`readonly`) and its only result is the accumulator register
//! (`pure`); [`accumulate_row_pairs`] writes only the `acc` elements it was lent (`&mut`). Both
//! may set the sticky Q flag, so neither claims `preserves_flags`. `LDRD`/`STRD`, the
//! instructions here that need word alignment on ARMv7-M, only access [`Lanes`], which is
//! `#[repr(align(4))]`, and `i32` accumulators. Plain `LDR` accepts any address on ARMv7-M;
//! Rust's own code generation for these targets relies on the same (it emits unaligned `LDR`s
//! for `from_le_bytes`), so firmware that enables the `UNALIGN_TRP` trap is unsupported either
//! way.

#[cfg(firmware_core_dsp)]
use core::arch::asm;

/// `N` int8 activations split into 16-bit lanes for [`accumulate_row_pairs`]: for each group of
/// four activations `x0 x1 x2 x3`, the `i16`s `x0 x2 x1 x3`, i.e. one word holding the even pair
/// `(x0, x2)` and one holding the odd pair `(x1, x3)`, in the halves where `SXTB16` puts the
/// matching weights.
#[derive(Clone, Copy)]
#[repr(C, align(4))]
pub(crate) struct Lanes<const N: usize>([i16; N]);

impl<const N: usize> Lanes<N> {
    /// Splits `x` (see the type docs for the order).
    #[inline(always)]
    pub fn new(x: &[i8; N]) -> Self {
        const { assert!(N > 0 && N.is_multiple_of(4)) };
        let mut lanes = [0i16; N];
        for (l, x) in lanes.chunks_exact_mut(4).zip(x.chunks_exact(4)) {
            if let ([l0, l1, l2, l3], &[x0, x1, x2, x3]) = (l, x) {
                *l0 = i16::from(x0);
                *l1 = i16::from(x2);
                *l2 = i16::from(x1);
                *l3 = i16::from(x3);
            }
        }
        Self(lanes)
    }

    /// The lanes, in memory order.
    #[cfg(test)]
    pub fn as_i16(&self) -> &[i16; N] {
        &self.0
    }
}

/// `acc[k] += rows[k]·x` (wrapping) for `k < 2·pairs`, where row `k` is the `N` bytes at
/// `weights[k·N..]` and `pairs = min(acc.len() / 2, weights.len() / (2·N))`; `x` was split into
/// [`Lanes`] beforehand. Two rows per pass share each load of the lanes.
///
/// Returns the number of rows done (`2·pairs`), so the caller can finish an odd row.
#[cfg(firmware_core_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn accumulate_row_pairs<const N: usize>(
    acc: &mut [i32],
    weights: &[u8],
    x: &Lanes<N>,
) -> usize {
    const { assert!(N > 0 && N.is_multiple_of(4) && N <= 1024) };
    // 2·N is a non-zero constant (asserted above): the division cannot fail.
    #[allow(clippy::arithmetic_side_effects)]
    let pairs = (acc.len() >> 1).min(weights.len() / const { 2 * N });
    if pairs == 0 {
        return 0;
    }
    // SAFETY: see the module docs. Per pass: `acc` is read and written 8 bytes at a time
    // (`LDRD`/`STRD` on an `i32` array: 4-byte aligned, post-incremented by 8, `pairs` passes ≤
    // `acc.len() / 2`); `x` points to `N` i16 = `N / 4` × 8 bytes, 4-byte aligned, read by
    // `.rept N / 4` post-incremented `LDRD`s and rewound by `2·N` after each pass; `w` walks
    // `2·N` bytes per pass (row 0 by post-incremented `LDR`s, row 1 at `+N − 4` from the
    // incremented pointer, then a skip of `N`), `pairs` passes ≤ `weights.len() / (2·N)`.
    // Nothing else is written; the pointer and counter registers are declared clobbered.
    unsafe {
        asm!(
            "2:",
            "ldrd {a0}, {a1}, [{acc}]",
            ".rept {words}",
            "ldrd {e}, {o}, [{x}], #8",
            "ldr {p}, [{w}], #4",
            "sxtb16 {t}, {p}",
            "smlad {a0}, {t}, {e}, {a0}",
            "sxtb16 {t}, {p}, ror #8",
            "smlad {a0}, {t}, {o}, {a0}",
            "ldr {p}, [{w}, #{row1}]",
            "sxtb16 {t}, {p}",
            "smlad {a1}, {t}, {e}, {a1}",
            "sxtb16 {t}, {p}, ror #8",
            "smlad {a1}, {t}, {o}, {a1}",
            ".endr",
            "strd {a0}, {a1}, [{acc}], #8",
            "sub {x}, {x}, #{lanes_bytes}",
            "add {w}, {w}, #{n}",
            "subs {count}, {count}, #1",
            "bne 2b",
            words = const N / 4,
            row1 = const N - 4,
            n = const N,
            lanes_bytes = const 2 * N,
            acc = inout(reg) acc.as_mut_ptr() => _,
            x = inout(reg) x.0.as_ptr() => _,
            w = inout(reg) weights.as_ptr() => _,
            count = inout(reg) pairs => _,
            a0 = out(reg) _,
            a1 = out(reg) _,
            e = out(reg) _,
            o = out(reg) _,
            p = out(reg) _,
            t = out(reg) _,
            options(nostack),
        );
    }
    // pairs ≤ acc.len() / 2, so doubling it cannot overflow.
    pairs << 1
}

/// `acc + w·x` (wrapping) for a vector used only once: both sides are split on the fly.
#[cfg(firmware_core_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn dot<const N: usize>(mut acc: i32, w: &[u8; N], x: &[i8; N]) -> i32 {
    const { assert!(N > 0 && N.is_multiple_of(4)) };
    // SAFETY: see the module docs. `w` and `x` point to `N` bytes each; `.rept N / 4`
    // iterations of post-incremented 4-byte `LDR`s read exactly that much.
    unsafe {
        asm!(
            ".rept {words}",
            "ldr {p}, [{w}], #4",
            "ldr {q}, [{x}], #4",
            "sxtb16 {s}, {p}",
            "sxtb16 {t}, {q}",
            "smlad {acc}, {s}, {t}, {acc}",
            "sxtb16 {s}, {p}, ror #8",
            "sxtb16 {t}, {q}, ror #8",
            "smlad {acc}, {s}, {t}, {acc}",
            ".endr",
            words = const N / 4,
            w = inout(reg) w.as_ptr() => _,
            x = inout(reg) x.as_ptr() => _,
            acc = inout(reg) acc,
            p = out(reg) _,
            q = out(reg) _,
            s = out(reg) _,
            t = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    acc
}

/// Host model of the assembly kernels, instruction by instruction, so the algorithm (lane order,
/// halves, wrapping) is tested on every `cargo test`; QEMU runs the real instructions
/// (`firmware-demo/run-qemu.sh`).
#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::latent::SplitMix32;

    /// `SXTB16 Rd, Rm, ROR #ror`.
    fn sxtb16(m: u32, ror: u32) -> u32 {
        let r = m.rotate_right(ror);
        let half = |b: u32| u32::from(b as u8 as i8 as i16 as u16);
        half(r) | half(r >> 16) << 16
    }

    /// `SMLAD Rd, Rn, Rm, Ra`.
    fn smlad(a: i32, n: u32, m: u32) -> i32 {
        let lo = |v: u32| i32::from(v as u16 as i16);
        let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
        a.wrapping_add(lo(n) * lo(m) + hi(n) * hi(m))
    }

    fn words(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
    }

    fn lane_words<const N: usize>(x: &Lanes<N>) -> Vec<(u32, u32)> {
        let w: Vec<u32> = x
            .as_i16()
            .chunks_exact(2)
            .map(|p| u32::from(p[0] as u16) | u32::from(p[1] as u16) << 16)
            .collect();
        w.chunks_exact(2).map(|p| (p[0], p[1])).collect()
    }

    /// One pass of the `accumulate_row_pairs` assembly, one line per instruction.
    fn model_dot2<const N: usize>(
        acc: [i32; 2],
        w0: &[u8; N],
        w1: &[u8; N],
        x: &Lanes<N>,
    ) -> [i32; 2] {
        let [mut acc0, mut acc1] = acc;
        for (((e, o), p), q) in lane_words(x).into_iter().zip(words(w0)).zip(words(w1)) {
            acc0 = smlad(acc0, sxtb16(p, 0), e);
            acc0 = smlad(acc0, sxtb16(p, 8), o);
            acc1 = smlad(acc1, sxtb16(q, 0), e);
            acc1 = smlad(acc1, sxtb16(q, 8), o);
        }
        [acc0, acc1]
    }

    /// The `dot` assembly, one line per instruction.
    fn model_dot<const N: usize>(mut acc: i32, w: &[u8; N], x: &[i8; N]) -> i32 {
        let xb: Vec<u8> = x.iter().map(|&v| v as u8).collect();
        for (p, q) in words(w).zip(words(&xb)) {
            acc = smlad(acc, sxtb16(p, 0), sxtb16(q, 0));
            acc = smlad(acc, sxtb16(p, 8), sxtb16(q, 8));
        }
        acc
    }

    fn plain(acc: i32, w: &[u8], x: &[i8]) -> i32 {
        acc.wrapping_add(super::super::dot_scalar(w, x))
    }

    fn check<const N: usize>(rng: &mut SplitMix32, lo: i8, hi: i8) {
        let x: [i8; N] = random_i8(rng, N, lo, hi).try_into().unwrap();
        let w0: [u8; N] = random_bytes(rng, N).try_into().unwrap();
        let w1: [u8; N] = random_bytes(rng, N).try_into().unwrap();
        let acc = [rng.next_u32() as i32, rng.next_u32() as i32];
        let want = [plain(acc[0], &w0, &x), plain(acc[1], &w1, &x)];
        assert_eq!(model_dot2(acc, &w0, &w1, &Lanes::new(&x)), want);
        assert_eq!(model_dot(acc[0], &w0, &x), want[0]);
        #[cfg(firmware_core_dsp)]
        {
            let mut a = acc;
            let rows: Vec<u8> = w0.iter().chain(&w1).copied().collect();
            assert_eq!(accumulate_row_pairs(&mut a, &rows, &Lanes::new(&x)), 2);
            assert_eq!(a, want);
            assert_eq!(dot(acc[0], &w0, &x), want[0]);
        }
    }

    #[test]
    fn lanes_hold_even_then_odd_pairs() {
        let x: [i8; 8] = [1, 2, 3, 4, -5, -6, -7, -128];
        assert_eq!(Lanes::new(&x).as_i16(), &[1, 3, 2, 4, -5, -7, -6, -128]);
    }

    #[test]
    fn models_match_the_plain_dot_product() {
        let mut rng = SplitMix32::new(17);
        for _ in 0..if cfg!(miri) { 3 } else { 200 } {
            check::<4>(&mut rng, -128, 127);
            check::<32>(&mut rng, -128, 127);
            check::<64>(&mut rng, -128, 127);
            check::<64>(&mut rng, 0, 127);
        }
    }

    #[test]
    fn models_match_at_the_extremes() {
        // Largest products of both signs, and accumulators that wrap.
        for (w, x) in [
            (0x80u8, -128i8),
            (0x80, 127),
            (0x7f, -128),
            (0x7f, 127),
            (0xff, -1),
        ] {
            for acc in [0, i32::MAX, i32::MIN, -1] {
                let (w, x) = ([w; 64], [x; 64]);
                let want = plain(acc, &w, &x);
                assert_eq!(model_dot2([acc, acc], &w, &w, &Lanes::new(&x)), [want; 2]);
                assert_eq!(model_dot(acc, &w, &x), want);
                #[cfg(firmware_core_dsp)]
                {
                    let mut a = [acc; 2];
                    accumulate_row_pairs(&mut a, &[w, w].concat(), &Lanes::new(&x));
                    assert_eq!(a, [want; 2]);
                    assert_eq!(dot(acc, &w, &x), want);
                }
            }
        }
    }
}
