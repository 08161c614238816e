//! Tap kernel for Arm cores with the DSP extension (ARMv7E-M: Cortex-M4/M7), `SMLAD` based.
//!
//! # Layout
//!
//! A slot holds one input row pixel-major, each pixel's `CIN` activations as int16 *lanes*: per
//! group of four channels `x0 x1 x2 x3`, one word with the halves `(x0, x2)` and one with
//! `(x1, x3)` — where `SXTB16` puts the matching weights: for a little-endian weight word
//! `w0 w1 w2 w3`, `SXTB16 w` gives `(w0, w2)` and `SXTB16 w, ROR #8` gives `(w1, w3)`. Widening
//! happens once per input row ([`Rows::load`]) instead of once per use.
//!
//! # Kernel
//!
//! `SMLAD a, w, x, a` adds `lo(w)·lo(x) + hi(w)·hi(x)` (signed 16-bit halves, modulo 2³²: the
//! same wrapping sum as the scalar twin). Per group of four channels the assembly loads one
//! weight word, splits it (two `SXTB16`), then for each of the `P` pixels loads its two lane
//! words (`LDRD`) and issues two `SMLAD`s, the `P` accumulators staying in registers: `3 + 3·P`
//! instructions for `4·P` MACs, 0.86 per MAC at `P` = 7 (plus two loop instructions per eight
//! channels and about 8 per call). That needs 14 registers, more than an `asm!` block may
//! claim, so the kernels are whole functions (`global_asm!`, AAPCS: r0 = `acc`, r1 = `w`,
//! r2 = `x`, r3 = `cin`; they save r4–r11 and lr).
//!
//! [`model`] replays the same instructions in Rust (`SXTB16`, `SMLAD` semantics); host tests
//! check it against the scalar twin, and the QEMU runs check the real instructions bit-exactly.
//!
//! # Soundness
//!
//! The only `unsafe` is the call of an assembly function, in [`Rows::tap`]. Each function reads
//! `cin` bytes from `w` (post-incremented `LDR`s until `w` reaches `w + cin`; `cin` is a non-zero
//! multiple of 8, checked at compile time, so the two-group loop lands on it exactly), reads the
//! `P · 2 · cin` bytes of `P` pixels from `x` (pixel `j` at `x + j·2·cin`, `cin / 4` `LDRD`s of 8
//! bytes each), and reads then writes the `P` words at `acc`. The caller passes `acc` from a
//! `&mut [i32; P]`, `w` from a `&[u8; CIN]` and `x` from a slice of exactly `P · CIN / 2` words
//! of the slot, so every access is in bounds. `LDRD`, `LDM` and `STM` need word alignment:
//! `acc` and the slot are `i32`/`u32` arrays. Weight words use plain `LDR`, which accepts any
//! address on ARMv7-M (firmware that enables the `UNALIGN_TRP` trap is unsupported, as for
//! Rust's own code on this target). The functions follow the AAPCS: they restore r4–r11 and
//! the stack pointer, touch no memory beyond the above and their own stack frame, and return
//! through the saved lr.

use super::ROW_VALUES;

/// Two input-row slots as int16 lanes (see the module docs), one `u32` per lane pair.
pub(crate) struct Rows {
    slots: [[u32; ROW_VALUES / 2]; 2],
}

/// One lane word: `lo` in the low half, `hi` in the high half, both sign-extended to 16 bits.
#[inline(always)]
fn lanes(lo: i8, hi: i8) -> u32 {
    u32::from(i16::from(lo) as u16) | u32::from(i16::from(hi) as u16) << 16
}

#[cfg(firmware_core_dsp)]
type TapFn = unsafe extern "C" fn(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);

#[cfg(firmware_core_dsp)]
extern "C" {
    fn firmware_core_m4_tap7_s128(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m4_tap6_s128(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m4_tap7_s64(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
    fn firmware_core_m4_tap6_s64(acc: *mut i32, w: *const u8, x: *const u32, cin: usize);
}

/// The assembly kernel for `CIN` channels and runs of `P` pixels, if there is one (the
/// shapes of `up1` and `up2`); other shapes (tests only) run the [`model`].
#[cfg(firmware_core_dsp)]
const fn kernel<const CIN: usize, const P: usize>() -> Option<TapFn> {
    match (CIN, P) {
        (64, 7) => Some(firmware_core_m4_tap7_s128),
        (64, 6) => Some(firmware_core_m4_tap6_s128),
        (32, 7) => Some(firmware_core_m4_tap7_s64),
        (32, 6) => Some(firmware_core_m4_tap6_s64),
        _ => None,
    }
}

impl Rows {
    pub const fn new() -> Self {
        Self {
            slots: [[0; ROW_VALUES / 2]; 2],
        }
    }

    /// Widens one HWC input row (`PX` pixels × `CIN` channels) into slot `slot % 2`.
    #[inline]
    pub fn load<const CIN: usize, const PX: usize>(&mut self, slot: usize, row: &[i8]) {
        let quads = const {
            assert!(CIN.is_multiple_of(4) && CIN * PX <= ROW_VALUES);
            CIN * PX / 4
        };
        let Some(dst) = self.slots.get_mut(slot % 2) else {
            return;
        };
        for (pair, quad) in dst.chunks_exact_mut(2).zip(row.chunks_exact(4)).take(quads) {
            if let ([even, odd], &[x0, x1, x2, x3]) = (pair, quad) {
                *even = lanes(x0, x2);
                *odd = lanes(x1, x3);
            }
        }
    }

    /// `acc[j] += Σ_ci w[ci] · x[first + j][ci]` (wrapping) for the row in slot `slot % 2`; does
    /// nothing if the run does not fit in the row.
    #[inline]
    pub fn tap<const CIN: usize, const PX: usize, const P: usize>(
        &self,
        slot: usize,
        acc: &mut [i32; P],
        w: &[u8; CIN],
        first: usize,
    ) {
        const { assert!(CIN.is_multiple_of(8) && CIN > 0 && P > 0 && CIN * PX <= ROW_VALUES) };
        let words_per_px = CIN / 2;
        let run = self.slots.get(slot % 2).and_then(|s| {
            let start = first.checked_mul(words_per_px)?;
            let end = first.checked_add(P)?.checked_mul(words_per_px)?;
            // The run must lie inside the row's `PX` pixels, not just inside the slot.
            (first.checked_add(P)? <= PX).then_some(())?;
            s.get(start..end)
        });
        let Some(x) = run else { return };
        #[cfg(firmware_core_dsp)]
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

/// `SXTB16 Rd, Rm, ROR #ror`.
#[inline(always)]
fn sxtb16(m: u32, ror: u32) -> u32 {
    let r = m.rotate_right(ror);
    lanes(r as u8 as i8, (r >> 16) as u8 as i8)
}

/// `SMLAD Rd, Rn, Rm, Ra`: `a + lo(n)·lo(m) + hi(n)·hi(m)`, modulo 2³².
#[inline(always)]
fn smlad(a: i32, n: u32, m: u32) -> i32 {
    let lo = |v: u32| i32::from(v as u16 as i16);
    let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
    a.wrapping_add(lo(n).wrapping_mul(lo(m)))
        .wrapping_add(hi(n).wrapping_mul(hi(m)))
}

/// The assembly kernel's instructions, replayed in Rust: per group of four channels one weight
/// word split by `SXTB16`, then two `SMLAD`s per pixel with that pixel's two lane words.
fn model<const P: usize>(acc: &mut [i32; P], w: &[u8], x: &[u32]) {
    let words_per_px = w.len() / 2;
    for (a, px) in acc.iter_mut().zip(x.chunks_exact(words_per_px.max(1))) {
        for (quad, lane) in w.chunks_exact(4).zip(px.chunks_exact(2)) {
            if let (Ok(quad), &[even, odd]) = (<[u8; 4]>::try_from(quad), lane) {
                let p = u32::from_le_bytes(quad);
                *a = smlad(*a, sxtb16(p, 0), even);
                *a = smlad(*a, sxtb16(p, 8), odd);
            }
        }
    }
}

// The assembly defines functions; it runs only when `Rows::tap` calls them (see "Soundness").
#[cfg(firmware_core_dsp)]
#[allow(unsafe_code)]
mod asm {
    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One pixel: its two lane words for this group, two SMLADs into its accumulator.
        ".macro firmware_core_m4_px off, acc",
        "  ldrd r2, r12, [r0, #\\off]",
        "  smlad \\acc, r11, r2, \\acc",
        "  smlad \\acc, lr, r12, \\acc",
        ".endm",
        // One group of four channels: split a weight word (r11 = (w0, w2), lr = (w1, w3)), then every
        // pixel; pixel 0 last, its LDRD post-increments x to the next group.
        ".macro firmware_core_m4_group s, p",
        "  ldr lr, [r1], #4",
        "  sxtb16 r11, lr",
        "  sxtb16 lr, lr, ror #8",
        "  firmware_core_m4_px (\\s*1), r5",
        "  firmware_core_m4_px (\\s*2), r6",
        "  firmware_core_m4_px (\\s*3), r7",
        "  firmware_core_m4_px (\\s*4), r8",
        "  firmware_core_m4_px (\\s*5), r9",
        "  .if \\p == 7",
        "  firmware_core_m4_px (\\s*6), r10",
        "  .endif",
        "  ldrd r2, r12, [r0], #8",
        "  smlad r4, r11, r2, r4",
        "  smlad r4, lr, r12, r4",
        ".endm",
        // fn(acc: *mut i32 [p], w: *const u8 [cin], x: *const u32 [p pixels, stride s bytes], cin)
        ".macro firmware_core_m4_tap name, s, p",
        "  .section .text.\\name, \"ax\", %progbits",
        "  .globl \\name",
        "  .type \\name, %function",
        "  .p2align 2",
        "  .thumb_func",
        "\\name:",
        "  push {{r0, r4-r11, lr}}",
        "  .if \\p == 7",
        "  ldm r0, {{r4-r10}}",
        "  .else",
        "  ldm r0, {{r4-r9}}",
        "  .endif",
        "  add r3, r1",
        "  mov r0, r2",
        "1:",
        "  firmware_core_m4_group \\s, \\p",
        "  firmware_core_m4_group \\s, \\p",
        "  cmp r1, r3",
        "  bne 1b",
        "  pop {{r0}}",
        "  .if \\p == 7",
        "  stm r0, {{r4-r10}}",
        "  .else",
        "  stm r0, {{r4-r9}}",
        "  .endif",
        "  pop {{r4-r11, pc}}",
        "  .size \\name, . - \\name",
        ".endm",
        "firmware_core_m4_tap firmware_core_m4_tap7_s128, 128, 7",
        "firmware_core_m4_tap firmware_core_m4_tap6_s128, 128, 6",
        "firmware_core_m4_tap firmware_core_m4_tap7_s64, 64, 7",
        "firmware_core_m4_tap firmware_core_m4_tap6_s64, 64, 6",
        ".text",
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    struct Lanes;
    impl TapImpl for Lanes {
        fn run<const CIN: usize, const PX: usize, const P: usize>(
            case: &Case<CIN, PX, P>,
        ) -> [i32; P] {
            let mut rows = Rows::new();
            rows.load::<CIN, PX>(0, &case.row);
            let mut acc = case.acc;
            rows.tap::<CIN, PX, P>(0, &mut acc, &case.w, case.first);
            acc
        }
    }

    #[test]
    fn lanes_hold_even_then_odd_pairs() {
        let mut rows = Rows::new();
        rows.load::<4, 2>(1, &[1, 2, 3, 4, -5, -6, -7, -128]);
        assert_eq!(
            rows.slots[1][..4],
            [lanes(1, 3), lanes(2, 4), lanes(-5, -7), lanes(-6, -128)]
        );
        assert_eq!(lanes(-1, 2), 0x0002_ffff);
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
        check_layer_shapes::<Lanes>(true);
    }
}
