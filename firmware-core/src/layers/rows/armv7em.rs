//! Row kernel for Arm cores with the DSP extension (ARMv7E-M: Cortex-M4, Cortex-M7), `SMLAD`
//! based, compiled only under `cfg(firmware_core_dsp)` (see `build.rs`).
//!
//! Two instructions do the work:
//!
//! * `SXTB16 Rd, Rm, ROR #r` sign-extends bytes 0 and 2 of `Rm` rotated right by `r` into the two
//!   16-bit halves of `Rd`. For a little-endian word holding `b0 b1 b2 b3`, `ROR #0` gives the
//!   halves `(b0, b2)` and `ROR #8` gives `(b1, b3)`.
//! * `SMLAD Ra', Rn, Rm, Ra` computes `Ra + lo(Rn)·lo(Rm) + hi(Rn)·hi(Rm)` (signed 16-bit halves,
//!   result modulo 2³²; it may set the sticky Q flag, which nothing here reads). `SMUAD` is the
//!   same without `Ra`.
//!
//! So one 4-byte word of weights times four elements of `x` is two `SMLAD`s once both are split
//! into their even `(b0, b2)` and odd `(b1, b3)` halves. `x` is split once per layer, into
//! [`Lanes`]; each weight word is split where it is used, since every weight is used once.
//!
//! # Kernel
//!
//! A block of four rows keeps its four sums in registers. Per group of four elements it loads
//! the two lane words once (`LDRD`), then per row the weight word (`LDR`), splits it (two
//! `SXTB16`) and issues two `SMLAD`s (the first group `SMUAD`, so the sums need no clearing):
//! 21 instructions for 16 MACs, 1.31 per MAC, plus 4 per block (store, advance, count, branch).
//! The lane and weight offsets are immediates, so nothing else moves inside a block. That takes
//! 12 registers, more than an `asm!` block may claim, so the kernel is a whole function
//! (`global_asm!`, AAPCS: r0 = `acc`, r1 = `w`, r2 = `x` lanes, r3 = `blocks`; it saves r4–r11
//! and lr).
//!
//! [`model`] replays the same instructions in Rust (`SXTB16`, `SMLAD` semantics); host tests
//! check it against the scalar twin, and the QEMU runs check the real instructions bit-exactly.
//!
//! # Soundness
//!
//! The only `unsafe` is the call of the assembly function, in [`Prepared::dots`]. For each of
//! `blocks` (≥ 1) blocks it reads the `4·N` weight bytes at `w + 4·N·b` (`LDR` at immediate
//! offsets `r·N + 4·g`, row `r < 4`, group `g < N / 4`), the `N / 4` pairs of lane words at `x`
//! (`LDRD`, `2·N` bytes) and writes the four words at `acc + 16·b` (`STM`). The caller passes
//! `blocks` no larger than `acc.len() / 4` and `weights.len() / (4·N)`, and `x` from a
//! [`Lanes<N>`], so every access is in bounds. `LDRD` and `STM` need word alignment: [`Lanes`]
//! is `#[repr(align(4))]` and `acc` an `i32` slice. Weight words use plain `LDR`, which accepts
//! any address on ARMv7-M (firmware that enables the `UNALIGN_TRP` trap is unsupported, as for
//! Rust's own code on this target, which emits unaligned `LDR`s for `from_le_bytes`). The
//! function restores r4–r11 and the stack pointer, touches no memory beyond the above and its
//! own stack frame, and returns through the saved lr.

use super::BLOCK_ROWS;

/// `N` int8 elements split into 16-bit lanes: for each group of four elements `x0 x1 x2 x3`, the
/// `i16`s `x0 x2 x1 x3`, i.e. one word holding the even pair `(x0, x2)` and one holding the odd
/// pair `(x1, x3)`, in the halves where `SXTB16` puts the matching weights.
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

    /// The lane words in memory order: (even, odd) per group of four elements.
    fn words(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.chunks_exact(4).filter_map(|l| match *l {
            [e0, e1, o0, o1] => Some((lanes(e0, e1), lanes(o0, o1))),
            _ => None,
        })
    }
}

/// One lane word: `lo` in the low half, `hi` in the high half.
#[inline(always)]
fn lanes(lo: i16, hi: i16) -> u32 {
    u32::from(lo as u16) | u32::from(hi as u16) << 16
}

/// The activation vector, split into [`Lanes`] once, and as it is (for rows past the last
/// block).
pub(crate) struct Prepared<const N: usize> {
    lanes: Lanes<N>,
    bytes: [i8; N],
}

#[cfg(firmware_core_dsp)]
extern "C" {
    fn firmware_core_m4_rows4_n32(acc: *mut i32, w: *const u8, x: *const i16, blocks: usize);
}

impl<const N: usize> Prepared<N> {
    #[inline(always)]
    pub fn new(x: &[i8; N]) -> Self {
        Self {
            lanes: Lanes::new(x),
            bytes: *x,
        }
    }

    /// `acc[k] = rows[k]·x` (wrapping) for the rows of `N` bytes at the start of `weights`, as
    /// many as both `acc` and `weights` hold; other accumulators are left alone.
    #[inline(always)]
    pub fn dots(&self, acc: &mut [i32], weights: &[u8]) {
        // N > 0 (asserted in `Lanes::new`); the block count times 4 is at most `acc.len()`.
        #[allow(clippy::arithmetic_side_effects)]
        let done = acc.len().min(weights.len() / N) / BLOCK_ROWS * BLOCK_ROWS;
        if let Some(blocks) = acc.get_mut(..done) {
            self.blocks(blocks, weights);
        }
        for (a, row) in acc.iter_mut().zip(weights.chunks_exact(N)).skip(done) {
            *a = super::super::dot_scalar(row, &self.bytes);
        }
    }

    /// The whole blocks: `acc.len()` is a multiple of 4 and `weights` holds that many rows.
    #[inline(always)]
    fn blocks(&self, acc: &mut [i32], weights: &[u8]) {
        #[cfg(firmware_core_dsp)]
        if N == 32 && !acc.is_empty() {
            // SAFETY: see the module docs: `acc` holds `4·blocks ≥ 4` words and `weights` at
            // least `4·N·blocks` bytes (`dots` above), `x` is a `Lanes<32>`.
            #[allow(unsafe_code)]
            unsafe {
                firmware_core_m4_rows4_n32(
                    acc.as_mut_ptr(),
                    weights.as_ptr(),
                    self.lanes.0.as_ptr(),
                    acc.len() / BLOCK_ROWS,
                )
            };
            return;
        }
        model(acc, weights, &self.lanes);
    }
}

/// `SXTB16 Rd, Rm, ROR #ror`.
#[inline(always)]
fn sxtb16(m: u32, ror: u32) -> u32 {
    let r = m.rotate_right(ror);
    lanes(i16::from(r as u8 as i8), i16::from((r >> 16) as u8 as i8))
}

/// `SMLAD Rd, Rn, Rm, Ra`: `a + lo(n)·lo(m) + hi(n)·hi(m)`, modulo 2³² (`SMUAD` with `a` = 0).
#[inline(always)]
fn smlad(a: i32, n: u32, m: u32) -> i32 {
    let lo = |v: u32| i32::from(v as u16 as i16);
    let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
    a.wrapping_add(lo(n).wrapping_mul(lo(m)))
        .wrapping_add(hi(n).wrapping_mul(hi(m)))
}

/// The kernel's instructions, replayed in Rust: per block and group one pair of lane words,
/// then per row its weight word split by `SXTB16` and two `SMLAD`s.
fn model<const N: usize>(acc: &mut [i32], weights: &[u8], x: &Lanes<N>) {
    let blocks = acc
        .chunks_exact_mut(BLOCK_ROWS)
        .zip(weights.chunks_exact(const { BLOCK_ROWS * N }));
    for (a, rows) in blocks {
        let mut sums = [0i32; BLOCK_ROWS];
        for (g, (even, odd)) in x.words().enumerate() {
            for (sum, row) in sums.iter_mut().zip(rows.chunks_exact(N)) {
                let word = row.chunks_exact(4).nth(g).and_then(|w| w.try_into().ok());
                let p = u32::from_le_bytes(word.unwrap_or([0; 4]));
                *sum = smlad(*sum, sxtb16(p, 0), even);
                *sum = smlad(*sum, sxtb16(p, 8), odd);
            }
        }
        for (a, s) in a.iter_mut().zip(sums) {
            *a = s;
        }
    }
}

// The assembly defines a function; it runs only when `Prepared::dots` calls it (see "Soundness").
#[cfg(firmware_core_dsp)]
#[allow(unsafe_code)]
mod asm {
    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One row of a group: weight word at `off`, split, two SMLADs (SMUADs for the first
        // group) into `acc`. r8/r9 hold the group's lanes.
        ".macro firmware_core_m4_rows_row off, acc, first",
        "  ldr r10, [r1, #\\off]",
        "  sxtb16 r11, r10",
        "  .if \\first",
        "  smuad \\acc, r11, r8",
        "  .else",
        "  smlad \\acc, r11, r8, \\acc",
        "  .endif",
        "  sxtb16 r11, r10, ror #8",
        "  smlad \\acc, r11, r9, \\acc",
        ".endm",
        // One group g of four elements: its lanes, then the four rows.
        ".macro firmware_core_m4_rows_group g, n",
        "  ldrd r8, r9, [r2, #(8 * \\g)]",
        "  firmware_core_m4_rows_row (4 * \\g), r4, (\\g == 0)",
        "  firmware_core_m4_rows_row (\\n + 4 * \\g), r5, (\\g == 0)",
        "  firmware_core_m4_rows_row (2 * \\n + 4 * \\g), r6, (\\g == 0)",
        "  firmware_core_m4_rows_row (3 * \\n + 4 * \\g), r7, (\\g == 0)",
        ".endm",
        // fn(acc: *mut i32 [4·blocks], w: *const u8 [4·n·blocks], x: *const i16 [n], blocks)
        ".macro firmware_core_m4_rows name, n",
        "  .section .text.\\name, \"ax\", %progbits",
        "  .globl \\name",
        "  .type \\name, %function",
        "  .p2align 2",
        "  .thumb_func",
        "\\name:",
        "  push {{r4-r11, lr}}",
        "1:",
        "  firmware_core_m4_rows_group 0, \\n",
        "  firmware_core_m4_rows_group 1, \\n",
        "  firmware_core_m4_rows_group 2, \\n",
        "  firmware_core_m4_rows_group 3, \\n",
        "  firmware_core_m4_rows_group 4, \\n",
        "  firmware_core_m4_rows_group 5, \\n",
        "  firmware_core_m4_rows_group 6, \\n",
        "  firmware_core_m4_rows_group 7, \\n",
        "  stm r0!, {{r4-r7}}",
        "  add r1, r1, #(4 * \\n)",
        "  subs r3, r3, #1",
        "  bne 1b",
        "  pop {{r4-r11, pc}}",
        "  .size \\name, . - \\name",
        ".endm",
        "firmware_core_m4_rows firmware_core_m4_rows4_n32, 32",
        ".text",
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    struct Blocks;
    impl RowsImpl for Blocks {
        fn run<const N: usize>(x: &[i8; N], acc: &mut [i32], weights: &[u8]) {
            Prepared::new(x).dots(acc, weights);
        }
    }

    #[test]
    fn lanes_hold_even_then_odd_pairs() {
        let x: [i8; 8] = [1, 2, 3, 4, -5, -6, -7, -128];
        assert_eq!(Lanes::new(&x).0, [1, 3, 2, 4, -5, -7, -6, -128]);
        let words: Vec<_> = Lanes::new(&x).words().collect();
        assert_eq!(words[0], (lanes(1, 3), lanes(2, 4)));
    }

    #[test]
    fn instruction_semantics() {
        // SXTB16 picks bytes 0 and 2 (after the rotation), sign-extended.
        assert_eq!(sxtb16(0x80_7f_01_ff, 0), 0x007f_ffff);
        assert_eq!(sxtb16(0x80_7f_01_ff, 8), 0xff80_0001);
        // SMLAD wraps modulo 2³².
        assert_eq!(smlad(i32::MAX, lanes(1, 0), lanes(1, 0)), i32::MIN);
        assert_eq!(smlad(0, lanes(-128, -128), lanes(-128, -128)), 32768);
    }

    /// On the host this checks the model; the assembly itself runs in the QEMU hash check.
    #[test]
    fn matches_reference() {
        check_layer_shapes::<Blocks>();
    }
}
