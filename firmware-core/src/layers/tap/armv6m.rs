//! Tap kernel for Cortex-M0/M0+ (ARMv6-M): two MACs per `MULS`.
//!
//! ARMv6-M has no multiply-accumulate and no SIMD, and Thumb-1 gives most instructions only
//! r0–r7; a plain kernel pays a load, a `MULS` and an add for every MAC. This one halves the
//! multiplies with a packing trick that is exact for the ranges involved.
//!
//! # The trick
//!
//! For a pair of channels `c, c+1`, pack the activations as `X = x_c + x_{c+1}·2¹⁶` (what a slot
//! stores) and the weights as `W = w_c·2¹⁶ + w_{c+1}` (built from two weight bytes, once per run
//! of pixels). Modulo 2³²,
//!
//! ```text
//! X·W ≡ D·2¹⁶ + L,   D = x_c·w_c + x_{c+1}·w_{c+1}   (the wanted two-term dot product)
//!                    L = x_c·w_{c+1}                  (a cross term)
//! ```
//!
//! (the `x_{c+1}·w_c·2³²` term vanishes). With activations in `0..=127` (ReLU outputs: the only
//! inputs of the transposed convolutions) and weights in `−128..=127`, `|L| ≤ 127·128 < 2¹⁵` and
//! `D ∈ [−32 512, 32 258]`, so `D·2¹⁶ + L` fits in an `i32` and equals `X·W` as computed by
//! `MULS`; adding `2¹⁵` makes the low half `L + 2¹⁵ ∈ [0, 2¹⁶)`, and an arithmetic shift right by
//! 16 leaves exactly `D`. Per pixel and channel pair: `LDR`, `MULS`, `ADD`, `ASRS`, `ADD` — five
//! instructions for two MACs — plus six per channel pair to build `W`, shared by the run: 41
//! instructions for 14 MACs at `P` = 7, 2.93 per MAC, against 3.4 for load + `MULS` + add.
//! Activations outside `0..=127` give wrong sums (never a panic or an out-of-bounds access).
//!
//! # Layout
//!
//! A slot holds one input row channel-pair-major: word `u·PX + p` is `X` of channels `2u, 2u+1`
//! at pixel `p`, so the `P` pixels of a run are consecutive words, reachable with `LDR`'s 5-bit
//! immediate offsets.
//!
//! # Registers and soundness
//!
//! The kernel keeps the `P` accumulators in r4–r7 and r8–r10, `2¹⁵` in r11 and the end of the
//! weights in r12, so it is a whole function (`global_asm!`, AAPCS: r0 = `acc`, r1 = `w`,
//! r2 = `x`, r3 = `cin`; it saves r4–r11 and lr). The only `unsafe` is its call in [`Rows::tap`].
//! It reads `cin` weight bytes (`LDRB`, any alignment; two channel pairs per loop pass until
//! `w + cin`, `cin` a non-zero multiple of 4, checked at compile time), for each of the
//! `cin / 2` channel pairs `u` the `P` words at `x + 4·(u·PX + j)`, and reads then writes the
//! `P` words at `acc`. The caller passes `acc` from a `&mut [i32; P]`, `w` from a `&[u8; CIN]`
//! and `x` from a slot slice that ends after the last word read (checked), so every access is
//! in bounds; `LDR`/`LDM`/`STM` need word alignment, which `u32`/`i32` arrays have. It restores
//! r4–r11 and the stack pointer and returns through the saved lr.
//!
//! [`model`] replays the arithmetic in Rust for the host tests; the QEMU runs check the real
//! instructions bit-exactly.

use super::ROW_VALUES;

/// Two input-row slots, channel-pair-major (see the module docs).
pub(crate) struct Rows {
    slots: [[u32; ROW_VALUES / 2]; 2],
}

/// `x_c + x_{c+1}·2¹⁶`, each half sign-extended to 16 bits.
#[inline(always)]
fn pack(lo: i8, hi: i8) -> u32 {
    u32::from(i16::from(lo) as u16) | u32::from(i16::from(hi) as u16) << 16
}

#[cfg(firmware_core_armv6m)]
type TapFn = unsafe extern "C" fn(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);

#[cfg(firmware_core_armv6m)]
extern "C" {
    fn firmware_core_m0_tap7_r7(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m0_tap6_r7(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m0_tap7_r14(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m0_tap6_r14(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
}

/// The assembly kernel for rows of `PX` pixels and runs of `P`, if there is one (the shapes
/// of `up1` and `up2`); other shapes (tests only) run the [`model`].
#[cfg(firmware_core_armv6m)]
const fn kernel<const PX: usize, const P: usize>() -> Option<TapFn> {
    match (PX, P) {
        (7, 7) => Some(firmware_core_m0_tap7_r7),
        (7, 6) => Some(firmware_core_m0_tap6_r7),
        (14, 7) => Some(firmware_core_m0_tap7_r14),
        (14, 6) => Some(firmware_core_m0_tap6_r14),
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
        const { assert!(CIN.is_multiple_of(2) && PX > 0 && CIN * PX <= ROW_VALUES) };
        let Some(dst) = self.slots.get_mut(slot % 2) else {
            return;
        };
        for (p, px) in row.chunks_exact(CIN).take(PX).enumerate() {
            // Pixel `p` of every channel pair: words p, p + PX, p + 2·PX, …
            for (word, pair) in dst.iter_mut().skip(p).step_by(PX).zip(px.chunks_exact(2)) {
                if let &[lo, hi] = pair {
                    *word = pack(lo, hi);
                }
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
        const { assert!(CIN.is_multiple_of(4) && CIN > 0 && P > 0 && CIN * PX <= ROW_VALUES) };
        // The last word read is pair CIN/2 − 1, pixel first + P − 1.
        let last_pair_start = const { (CIN / 2 - 1) * PX };
        let run = self.slots.get(slot % 2).and_then(|s| {
            let run_end = first.checked_add(P)?;
            (run_end <= PX).then_some(())?;
            s.get(first..last_pair_start.checked_add(run_end)?)
        });
        let Some(x) = run else { return };
        #[cfg(firmware_core_armv6m)]
        if let Some(f) = const { kernel::<PX, P>() } {
            // SAFETY: see the module docs: `acc` is `P` aligned words, `w` is `CIN` bytes, `x`
            // ends after the last word the kernel reads (checked above), `CIN` is a non-zero
            // multiple of 4.
            #[allow(unsafe_code)]
            unsafe {
                f(acc.as_mut_ptr(), w.as_ptr(), x.as_ptr(), CIN)
            };
            return;
        }
        model::<PX, P>(acc, w, x);
    }
}

/// The kernel's arithmetic in Rust: per channel pair build `W`, then per pixel
/// `acc += (X·W + 2¹⁵) >> 16` in wrapping 32-bit arithmetic.
fn model<const PX: usize, const P: usize>(acc: &mut [i32; P], w: &[u8], x: &[u32]) {
    for (pair_w, pair_x) in w.chunks_exact(2).zip(x.chunks(PX)) {
        let &[wc, wc1] = pair_w else { continue };
        let packed_w = (i32::from(wc as i8) << 16).wrapping_add(i32::from(wc1 as i8));
        for (a, &packed_x) in acc.iter_mut().zip(pair_x) {
            let v = (packed_x as i32).wrapping_mul(packed_w);
            *a = a.wrapping_add(v.wrapping_add(1 << 15) >> 16);
        }
    }
}

// The assembly defines functions; it runs only when `Rows::tap` calls them (see "Soundness").
#[cfg(firmware_core_armv6m)]
#[allow(unsafe_code)]
mod asm {
    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One pixel: r0 = (X·W + 2¹⁵) >> 16, added to its accumulator (r4–r7 low, r8–r10 high).
        ".macro firmware_core_m0_px off, acc, high",
        "  ldr r0, [r2, #\\off]",
        "  muls r0, r3, r0",
        "  add r0, r11",
        "  asrs r0, r0, #16",
        "  .if \\high",
        "  add \\acc, r0",
        "  .else",
        "  adds \\acc, \\acc, r0",
        "  .endif",
        ".endm",
        // One channel pair: r3 = W = w_c·2¹⁶ + w_{c+1}, then every pixel of the run.
        ".macro firmware_core_m0_pair wofs, xofs, p",
        "  ldrb r3, [r1, #\\wofs]",
        "  lsls r3, r3, #24",
        "  asrs r3, r3, #8",
        "  ldrb r0, [r1, #(\\wofs + 1)]",
        "  sxtb r0, r0",
        "  adds r3, r3, r0",
        "  firmware_core_m0_px (\\xofs + 0), r4, 0",
        "  firmware_core_m0_px (\\xofs + 4), r5, 0",
        "  firmware_core_m0_px (\\xofs + 8), r6, 0",
        "  firmware_core_m0_px (\\xofs + 12), r7, 0",
        "  firmware_core_m0_px (\\xofs + 16), r8, 1",
        "  firmware_core_m0_px (\\xofs + 20), r9, 1",
        "  .if \\p == 7",
        "  firmware_core_m0_px (\\xofs + 24), r10, 1",
        "  .endif",
        ".endm",
        // fn(acc: *mut i32 [p], w: *const u8 [cin], x: *const u32 [rows of rp words], cin)
        ".macro firmware_core_m0_tap name, rp, p",
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
        "  push {{r0}}",
        "  adds r3, r1, r3",
        "  mov r12, r3",
        "  movs r3, #1",
        "  lsls r3, r3, #15",
        "  mov r11, r3",
        "  ldm r0!, {{r4-r7}}",
        "  ldr r3, [r0, #0]",
        "  mov r8, r3",
        "  ldr r3, [r0, #4]",
        "  mov r9, r3",
        "  .if \\p == 7",
        "  ldr r3, [r0, #8]",
        "  mov r10, r3",
        "  .endif",
        "1:",
        "  firmware_core_m0_pair 0, 0, \\p",
        "  firmware_core_m0_pair 2, (\\rp * 4), \\p",
        "  adds r1, #4",
        "  adds r2, #(\\rp * 8)",
        "  cmp r1, r12",
        "  bne 1b",
        "  pop {{r0}}",
        "  stm r0!, {{r4-r7}}",
        "  mov r3, r8",
        "  str r3, [r0, #0]",
        "  mov r3, r9",
        "  str r3, [r0, #4]",
        "  .if \\p == 7",
        "  mov r3, r10",
        "  str r3, [r0, #8]",
        "  .endif",
        "  pop {{r4-r7}}",
        "  mov r8, r4",
        "  mov r9, r5",
        "  mov r10, r6",
        "  mov r11, r7",
        "  pop {{r4-r7, pc}}",
        "  .size \\name, . - \\name",
        ".endm",
        "firmware_core_m0_tap firmware_core_m0_tap7_r7, 7, 7",
        "firmware_core_m0_tap firmware_core_m0_tap6_r7, 7, 6",
        "firmware_core_m0_tap firmware_core_m0_tap7_r14, 14, 7",
        "firmware_core_m0_tap firmware_core_m0_tap6_r14, 14, 6",
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
    fn slot_is_channel_pair_major() {
        let mut rows = Rows::new();
        // 2 pixels × 4 channels.
        rows.load::<4, 2>(0, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            rows.slots[0][..4],
            [pack(1, 2), pack(5, 6), pack(3, 4), pack(7, 8)]
        );
    }

    #[test]
    fn matches_reference_on_relu_outputs() {
        check_layer_shapes::<Packed>(false);
    }

    /// The trick's bound is tight: every pair of extremes gives exactly `D`.
    #[test]
    fn packing_is_exact_over_the_whole_input_range() {
        for xc in [0i8, 1, 126, 127] {
            for xc1 in [0i8, 1, 126, 127] {
                for wc in [-128i8, -127, -1, 0, 1, 127] {
                    for wc1 in [-128i8, -127, -1, 0, 1, 127] {
                        let mut acc = [0i32; 1];
                        let w = [wc as u8, wc1 as u8];
                        model::<1, 1>(&mut acc, &w, &[pack(xc, xc1)]);
                        let d = i32::from(xc) * i32::from(wc) + i32::from(xc1) * i32::from(wc1);
                        assert_eq!(acc[0], d, "x ({xc}, {xc1}) w ({wc}, {wc1})");
                    }
                }
            }
        }
    }
}
