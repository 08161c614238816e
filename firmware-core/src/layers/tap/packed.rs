//! Tap kernels on packed channel pairs, pixel-major: Cortex-M3 (ARMv7-M without the DSP
//! extension) in assembly, two MACs per `MLA`; RISC-V (RV32IM) in Rust, two MACs per `MUL`.
//!
//! ARMv7-M has `MLA` (a one-instruction multiply-accumulate) but no `SMLAD`. This kernel uses
//! the packing trick of the Cortex-M0 kernel (`armv6m.rs`, where the proof is): for a pair of
//! channels, `X = x_c + x_{c+1}·2¹⁶` (what a slot stores) times `W = w_c·2¹⁶ + w_{c+1}` (built
//! from a weight word once per run), plus `2¹⁵`, holds the two-term dot product
//! `D = x_c·w_c + x_{c+1}·w_{c+1}` exactly in its upper half when the activations are in
//! `0..=127` (ReLU outputs, the only inputs of the transposed convolutions). `MLA` forms
//! `X·W + 2¹⁵` in one instruction and Thumb-2's shifted-register `ADD` adds its upper half
//! (`ASR #16`) to the accumulator in another.
//!
//! # Layout
//!
//! A slot holds one input row pixel-major, each pixel's channel pairs as consecutive words, so
//! one `LDRD` fetches the four channels of a group for one pixel and every pixel of a run is an
//! immediate offset away.
//!
//! # Kernel
//!
//! Per group of four channels the assembly loads one weight word and builds the two `W`s
//! (`SXTB`, 2 × `SBFX`, `ASR`, 2 × `ADD`), then for each of the `P` pixels: `LDRD`, and per
//! pair `MLA` + `ADD`: `7 + 5·P` instructions for `4·P` MACs, 1.5 per MAC at `P` = 7 (plus
//! three loop instructions per eight channels and about 10 per call). The `P` accumulators,
//! two `W`s, two operands, `2¹⁵` and two pointers take 14 registers, more than an `asm!` block
//! may claim, so the kernels are whole functions (`global_asm!`, AAPCS: r0 = `acc`, r1 = `w`,
//! r2 = `x`, r3 = `cin`; they save r4–r11 and lr; the end of the weights lives on the stack).
//!
//! [`model`] is the same arithmetic in Rust, channel pair by channel pair with the `P` sums in
//! registers: the kernel on RISC-V, whose 31 registers hold them (`MUL`, `ADD`, `SRAI`, `ADD`
//! per pair and pixel, plus a load), and what the host tests check against the scalar twin; the
//! QEMU runs check both the assembly and the RISC-V code bit-exactly.
//!
//! # Soundness
//!
//! The only `unsafe` is the call of an assembly function, in [`Rows::tap`]. Each function reads
//! `cin` bytes from `w` (post-incremented `LDR`s until `w` reaches `w + cin`; `cin` is a
//! non-zero multiple of 8, checked at compile time, so the two-group loop lands on it exactly),
//! reads the `P · 2 · cin` bytes of `P` pixels from `x` (pixel `j` at `x + j·2·cin`, `cin / 4`
//! `LDRD`s of 8 bytes each), and reads then writes the `P` words at `acc`. The caller passes
//! `acc` from a `&mut [i32; P]`, `w` from a `&[u8; CIN]` and `x` from a slice of exactly
//! `P · CIN / 2` words of the slot, so every access is in bounds. `LDRD`, `LDM` and `STM` need
//! word alignment: `acc` and the slot are `i32`/`u32` arrays. Weight words use plain `LDR`,
//! which accepts any address on ARMv7-M (firmware that enables the `UNALIGN_TRP` trap is
//! unsupported, as for Rust's own code on this target). The functions follow the AAPCS: they
//! restore r4–r11 and the stack pointer, touch no memory beyond the above and their own stack
//! frame, and return through the saved lr. Activations outside `0..=127` give wrong sums,
//! never an out-of-bounds access.

use super::ROW_VALUES;

/// Two input-row slots, pixel-major, one word per channel pair (see the module docs).
pub(crate) struct Rows {
    slots: [[u32; ROW_VALUES / 2]; 2],
}

/// `x_c + x_{c+1}·2¹⁶`, each half sign-extended to 16 bits.
#[inline(always)]
fn pack(lo: i8, hi: i8) -> u32 {
    u32::from(i16::from(lo) as u16) | u32::from(i16::from(hi) as u16) << 16
}

#[cfg(firmware_core_armv7m)]
type TapFn = unsafe extern "C" fn(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);

#[cfg(firmware_core_armv7m)]
extern "C" {
    fn firmware_core_m3_tap7_s128(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m3_tap6_s128(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m3_tap7_s64(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m3_tap6_s64(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
}

/// The assembly kernel for `CIN` channels and runs of `P` pixels, if there is one (the
/// shapes of `up1` and `up2`); other shapes (tests only) run the [`model`].
#[cfg(firmware_core_armv7m)]
const fn kernel<const CIN: usize, const P: usize>() -> Option<TapFn> {
    match (CIN, P) {
        (64, 7) => Some(firmware_core_m3_tap7_s128),
        (64, 6) => Some(firmware_core_m3_tap6_s128),
        (32, 7) => Some(firmware_core_m3_tap7_s64),
        (32, 6) => Some(firmware_core_m3_tap6_s64),
        _ => None,
    }
}

impl Rows {
    pub const fn new() -> Self {
        Self {
            slots: [[0; ROW_VALUES / 2]; 2],
        }
    }

    /// Packs one HWC input row (`PX` pixels × `CIN` channels) into slot `slot % 2`.
    #[inline]
    pub fn load<const CIN: usize, const PX: usize>(&mut self, slot: usize, row: &[i8]) {
        let pairs = const {
            assert!(CIN.is_multiple_of(2) && CIN * PX <= ROW_VALUES);
            CIN * PX / 2
        };
        let Some(dst) = self.slots.get_mut(slot % 2) else {
            return;
        };
        for (word, pair) in dst.iter_mut().zip(row.chunks_exact(2)).take(pairs) {
            if let &[lo, hi] = pair {
                *word = pack(lo, hi);
            }
        }
    }

    /// `acc[j] += Σ_ci w[ci] · x[first + j][ci]` (wrapping) for the row in slot `slot % 2`; does
    /// nothing if the run does not fit in the row. Activations must be in `0..=127`.
    #[inline]
    pub fn tap<const CIN: usize, const PX: usize, const P: usize>(
        &self,
        slot: usize,
        acc: &mut [i32; P],
        w: &[u8; CIN],
        first: usize,
    ) {
        let words_per_px = const {
            assert!(CIN.is_multiple_of(8) && CIN > 0 && P > 0 && CIN * PX <= ROW_VALUES);
            CIN / 2
        };
        let run = self.slots.get(slot % 2).and_then(|s| {
            let start = first.checked_mul(words_per_px)?;
            let end = first.checked_add(P)?.checked_mul(words_per_px)?;
            // The run must lie inside the row's `PX` pixels, not just inside the slot.
            (first.checked_add(P)? <= PX).then_some(())?;
            s.get(start..end)
        });
        let Some(x) = run else { return };
        #[cfg(firmware_core_armv7m)]
        if let Some(f) = const { kernel::<CIN, P>() } {
            // SAFETY: see the module docs: `acc` is `P` aligned words, `w` is `CIN` bytes, `x` is
            // exactly the `P · CIN / 2` words the kernel reads (checked just above), `CIN` is a
            // non-zero multiple of 8.
            #[allow(unsafe_code)]
            unsafe {
                f(acc.as_mut_ptr(), w.as_ptr(), x.as_ptr(), CIN)
            };
            return;
        }
        model(acc, w, x);
    }
}

/// The kernel's arithmetic in Rust, pair by pair: build `W`, then for each pixel
/// `acc += (X·W + 2¹⁵) >> 16` (arithmetic shift) in wrapping 32-bit arithmetic.
#[inline(always)]
fn model<const CIN: usize, const P: usize>(acc: &mut [i32; P], w: &[u8; CIN], x: &[u32]) {
    let words_per_px = const { CIN / 2 };
    let mut sums = *acc;
    for (u, pair_w) in w.chunks_exact(2).enumerate() {
        let &[wc, wc1] = pair_w else { continue };
        let packed_w = (i32::from(wc as i8) << 16).wrapping_add(i32::from(wc1 as i8));
        for (j, sum) in sums.iter_mut().enumerate() {
            // Pixel j's pair u; `get` returns None past the run (it never is, see `tap`).
            let at = j.wrapping_mul(words_per_px).wrapping_add(u);
            let packed_x = x.get(at).copied().unwrap_or(0);
            let v = (packed_x as i32)
                .wrapping_mul(packed_w)
                .wrapping_add(1 << 15);
            *sum = sum.wrapping_add(v >> 16);
        }
    }
    *acc = sums;
}

// The assembly defines functions; it runs only when `Rows::tap` calls them (see "Soundness").
#[cfg(firmware_core_armv7m)]
#[allow(unsafe_code)]
mod asm {
    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One pixel's group: its two pair words (r2, r3), each times its W (r11, lr) plus 2¹⁵
        // (r12), upper halves into the pixel's accumulator.
        ".macro firmware_core_m3_px acc",
        "  mla r2, r2, r11, r12",
        "  add \\acc, \\acc, r2, asr #16",
        "  mla r3, r3, lr, r12",
        "  add \\acc, \\acc, r3, asr #16",
        ".endm",
        // One group of four channels: W0 = w0·2¹⁶ + w1 in r11, W1 = w2·2¹⁶ + w3 in lr, then
        // every pixel; pixel 0 last, its LDRD post-increments x to the next group.
        ".macro firmware_core_m3_group s, p",
        "  ldr r2, [r1], #4",
        "  sxtb r3, r2",
        "  sbfx r11, r2, #8, #8",
        "  add r11, r11, r3, lsl #16",
        "  sbfx r3, r2, #16, #8",
        "  asr lr, r2, #24",
        "  add lr, lr, r3, lsl #16",
        "  ldrd r2, r3, [r0, #(\\s * 1)]",
        "  firmware_core_m3_px r5",
        "  ldrd r2, r3, [r0, #(\\s * 2)]",
        "  firmware_core_m3_px r6",
        "  ldrd r2, r3, [r0, #(\\s * 3)]",
        "  firmware_core_m3_px r7",
        "  ldrd r2, r3, [r0, #(\\s * 4)]",
        "  firmware_core_m3_px r8",
        "  ldrd r2, r3, [r0, #(\\s * 5)]",
        "  firmware_core_m3_px r9",
        "  .if \\p == 7",
        "  ldrd r2, r3, [r0, #(\\s * 6)]",
        "  firmware_core_m3_px r10",
        "  .endif",
        "  ldrd r2, r3, [r0], #8",
        "  firmware_core_m3_px r4",
        ".endm",
        // fn(acc: *mut i32 [p], w: *const u8 [cin], x: *const u32 [p pixels, stride s bytes], cin)
        ".macro firmware_core_m3_tap name, s, p",
        "  .section .text.\\name, \"ax\", %progbits",
        "  .globl \\name",
        "  .type \\name, %function",
        "  .p2align 2",
        "  .thumb_func",
        "\\name:",
        // [sp] = acc, [sp, #4] = end of the weights.
        "  add r3, r1, r3",
        "  push {{r0, r3, r4-r11, lr}}",
        "  .if \\p == 7",
        "  ldm r0, {{r4-r10}}",
        "  .else",
        "  ldm r0, {{r4-r9}}",
        "  .endif",
        "  mov r0, r2",
        "  mov r12, #0x8000",
        "1:",
        "  firmware_core_m3_group \\s, \\p",
        "  firmware_core_m3_group \\s, \\p",
        "  ldr r2, [sp, #4]",
        "  cmp r1, r2",
        "  bne 1b",
        "  pop {{r0, r3}}",
        "  .if \\p == 7",
        "  stm r0, {{r4-r10}}",
        "  .else",
        "  stm r0, {{r4-r9}}",
        "  .endif",
        "  pop {{r4-r11, pc}}",
        "  .size \\name, . - \\name",
        ".endm",
        "firmware_core_m3_tap firmware_core_m3_tap7_s128, 128, 7",
        "firmware_core_m3_tap firmware_core_m3_tap6_s128, 128, 6",
        "firmware_core_m3_tap firmware_core_m3_tap7_s64, 64, 7",
        "firmware_core_m3_tap firmware_core_m3_tap6_s64, 64, 6",
        ".text",
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    struct Packed;
    impl TapImpl for Packed {
        fn run<const CIN: usize, const PX: usize, const P: usize>(
            case: &Case<CIN, PX, P>,
        ) -> [i32; P] {
            let mut rows = Rows::new();
            rows.load::<CIN, PX>(1, &case.row);
            let mut acc = case.acc;
            rows.tap::<CIN, PX, P>(1, &mut acc, &case.w, case.first);
            acc
        }
    }

    #[test]
    fn slot_is_pixel_major() {
        let mut rows = Rows::new();
        // 2 pixels × 4 channels.
        rows.load::<4, 2>(0, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            rows.slots[0][..4],
            [pack(1, 2), pack(3, 4), pack(5, 6), pack(7, 8)]
        );
    }

    #[test]
    fn matches_reference_on_relu_outputs() {
        check_layer_shapes::<Packed>(false);
    }
}
