//! Row kernel for Cortex-M0/M0+ (ARMv6-M): blocks of four rows in assembly.
//!
//! ARMv6-M has no multiply-accumulate, and Thumb-1 gives `MULS` and most other instructions
//! only r0–r7, where LLVM cannot keep four sums, four row pointers and the operands at once
//! (it spills). This kernel keeps the four sums in r8–r11 (`ADD` reaches the high registers)
//! and walks the elements with one offset register shared by four row pointers, so each
//! multiply-add is `LDRSB` (register offset, sign-extending), `MULS`, `ADD`; the element of `x`
//! is loaded once per four of them (prepared as an `i32`) and the offset is incremented once:
//! 14 instructions per element and block, 3.5 per MAC, about 3.8 with the loop and the block's
//! set-up. All arithmetic is exact: `|w·x| ≤ 2¹⁴` fits in `MULS`'s 32 bits and the adds wrap like
//! the scalar twin's.
//!
//! # Registers and soundness
//!
//! The kernel is a whole function (`global_asm!`, AAPCS: r0 = `acc`, r1 = `w`, r2 = `x`,
//! r3 = `blocks`; it saves r4–r11 and lr). The only `unsafe` is its call in
//! [`Prepared::dots`]. For each of `blocks` (≥ 1) blocks it reads the `4·N` weight bytes at
//! `w + 4·N·b` (`LDRSB` at row pointer + offset, offsets `0..N`; any alignment), the `N` words
//! of `x` (`LDR`, word-aligned: an `[i32; N]`) and writes the four words at `acc + 16·b`
//! (`STM`, word-aligned: an `i32` slice). The caller passes `blocks` no larger than
//! `acc.len() / 4` and `weights.len() / (4·N)`, so every access is in bounds. `N` is a non-zero
//! multiple of 8 below 64 (checked at compile time), so the eight-element pass lands on `N` and
//! the block's weights fit `ADDS`'s 8-bit immediate. It restores r4–r11 and the stack pointer
//! and returns through the saved lr.
//!
//! [`model`] replays the loop order in Rust for the host tests; the QEMU runs check the real
//! instructions bit-exactly.

use super::BLOCK_ROWS;

/// The activation vector as one `i32` per element (what `MULS` takes).
pub(crate) struct Prepared<const N: usize> {
    x: [i32; N],
    bytes: [i8; N],
}

#[cfg(firmware_core_armv6m)]
extern "C" {
    fn firmware_core_m0_rows4_n32(acc: *mut i32, w: *const u8, x: *const i32, blocks: usize);
}

impl<const N: usize> Prepared<N> {
    #[inline(always)]
    pub fn new(x: &[i8; N]) -> Self {
        Self {
            x: x.map(i32::from),
            bytes: *x,
        }
    }
    /// `acc[k] = rows[k]·x` (wrapping) for the rows of `N` bytes at the start of `weights`, as
    /// many as both `acc` and `weights` hold; other accumulators are left alone.
    #[inline(always)]
    pub fn dots(&self, acc: &mut [i32], weights: &[u8]) {
        // N > 0 (asserted); the block count times 4 is at most `acc.len()`.
        #[allow(clippy::arithmetic_side_effects)]
        let done = {
            let rows = acc.len().min(
                weights.len()
                    / const {
                        assert!(N > 0);
                        N
                    },
            );
            rows / BLOCK_ROWS * BLOCK_ROWS
        };
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
        #[cfg(firmware_core_armv6m)]
        if N == 32 && !acc.is_empty() {
            // SAFETY: see the module docs: `acc` holds `4·blocks ≥ 4` words and `weights` at
            // least `4·N·blocks` bytes (`dots` above), `x` is `N` = 32 aligned words.
            #[allow(unsafe_code)]
            unsafe {
                firmware_core_m0_rows4_n32(
                    acc.as_mut_ptr(),
                    weights.as_ptr(),
                    self.x.as_ptr(),
                    acc.len() / BLOCK_ROWS,
                )
            };
            return;
        }
        model(acc, weights, &self.x);
    }
}

/// The kernel's loop order in Rust: per block of four rows, per element, the four products.
fn model<const N: usize>(acc: &mut [i32], weights: &[u8], x: &[i32; N]) {
    let blocks = acc
        .chunks_exact_mut(BLOCK_ROWS)
        .zip(weights.chunks_exact(const { BLOCK_ROWS * N }));
    for (a, rows) in blocks {
        let mut sums = [0i32; BLOCK_ROWS];
        for (i, &x) in x.iter().enumerate() {
            for (sum, row) in sums.iter_mut().zip(rows.chunks_exact(N)) {
                let w = row.get(i).map_or(0, |&w| i32::from(w as i8));
                *sum = sum.wrapping_add(w.wrapping_mul(x));
            }
        }
        for (a, s) in a.iter_mut().zip(sums) {
            *a = s;
        }
    }
}

// The assembly defines a function; it runs only when `Prepared::dots` calls it (see
// "Registers and soundness").
#[cfg(firmware_core_armv6m)]
#[allow(unsafe_code)]
mod asm {
    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One element k of the pass: r6 = x[k], then the four rows' products into r8–r11.
        ".macro firmware_core_m0_rows_element k",
        "  ldr r6, [r0, #(4 * \\k)]",
        "  ldrsb r7, [r1, r5]",
        "  muls r7, r6, r7",
        "  add r8, r7",
        "  ldrsb r7, [r2, r5]",
        "  muls r7, r6, r7",
        "  add r9, r7",
        "  ldrsb r7, [r3, r5]",
        "  muls r7, r6, r7",
        "  add r10, r7",
        "  ldrsb r7, [r4, r5]",
        "  muls r7, r6, r7",
        "  add r11, r7",
        "  adds r5, #1",
        ".endm",
        // fn(acc: *mut i32 [4·blocks], w: *const u8 [4·n·blocks], x: *const i32 [n], blocks)
        ".macro firmware_core_m0_rows name, n",
        "  .section .text.\\name, \"ax\", %progbits",
        "  .globl \\name",
        "  .type \\name, %function",
        "  .p2align 2",
        "  .thumb_func",
        "\\name:",
        "  push {{r4-r7, lr}}",
        "  mov r4, r8",
        "  mov r5, r9",
        "  mov r6, r10",
        "  mov r7, r11",
        "  push {{r4-r7}}",
        // [sp] = acc (advanced per block), [sp, #4] = x.
        "  push {{r0, r2}}",
        "  mov lr, r3",
        "1:",
        "  movs r4, #0",
        "  mov r8, r4",
        "  mov r9, r4",
        "  mov r10, r4",
        "  mov r11, r4",
        // Row pointers r1–r4, offset r5, x in r0.
        "  movs r2, #\\n",
        "  adds r2, r2, r1",
        "  movs r3, #\\n",
        "  adds r3, r3, r2",
        "  movs r4, #\\n",
        "  adds r4, r4, r3",
        "  movs r5, #0",
        "  ldr r0, [sp, #4]",
        "2:",
        "  firmware_core_m0_rows_element 0",
        "  firmware_core_m0_rows_element 1",
        "  firmware_core_m0_rows_element 2",
        "  firmware_core_m0_rows_element 3",
        "  firmware_core_m0_rows_element 4",
        "  firmware_core_m0_rows_element 5",
        "  firmware_core_m0_rows_element 6",
        "  firmware_core_m0_rows_element 7",
        "  adds r0, #32",
        "  cmp r5, #\\n",
        "  bne 2b",
        "  ldr r0, [sp]",
        "  mov r2, r8",
        "  mov r3, r9",
        "  mov r4, r10",
        "  mov r5, r11",
        "  stm r0!, {{r2-r5}}",
        "  str r0, [sp]",
        "  adds r1, #(4 * \\n)",
        "  mov r2, lr",
        "  subs r2, #1",
        "  mov lr, r2",
        // The block is longer than a conditional branch reaches.
        "  beq 3f",
        "  b 1b",
        "3:",
        "  add sp, #8",
        "  pop {{r4-r7}}",
        "  mov r8, r4",
        "  mov r9, r5",
        "  mov r10, r6",
        "  mov r11, r7",
        "  pop {{r4-r7, pc}}",
        "  .size \\name, . - \\name",
        ".endm",
        "firmware_core_m0_rows firmware_core_m0_rows4_n32, 32",
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

    /// On the host this checks the model; the assembly itself runs in the QEMU hash check.
    #[test]
    fn matches_reference() {
        check_layer_shapes::<Blocks>();
    }
}
