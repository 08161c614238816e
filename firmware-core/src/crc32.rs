//! CRC-32/ISO-HDLC (the blob trailer's checksum), four bytes per step.
//!
//! The `crc` crate offers a 256-entry table (one byte per step: about 6.5 instructions per byte
//! on a Cortex-M4, 0.96 M for the shipped 147 KB blob, nearly all of `Generator::new`) or a
//! 16 KiB sixteen-table variant (too much flash for a 256 KiB part). This is the classic
//! "slicing-by-4" in between: four 256-entry tables (4 KiB, built at compile time from the `crc`
//! crate's own table), one word per step, about 3.3 instructions per byte on a Cortex-M4 (3.13
//! with the assembly used there). The `crc` crate stays the reference it is tested against.

use crc::{Crc, CRC_32_ISO_HDLC};

/// The reference implementation (and the source of the first table).
const REFERENCE: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

const _: () = assert!(
    CRC_32_ISO_HDLC.refin && CRC_32_ISO_HDLC.refout,
    "the slicing below is written for a reflected CRC"
);

/// `TABLES[k][b]`: the CRC register after feeding byte `b` followed by `k` zero bytes into a
/// zero register. `TABLES[0]` is the `crc` crate's table. Four statics rather than one array, so
/// each table's address is a constant the compiler keeps in its own register.
const TABLES: [[u32; 256]; 4] = tables();
static T0: [u32; 256] = TABLES[0];
static T1: [u32; 256] = TABLES[1];
static T2: [u32; 256] = TABLES[2];
static T3: [u32; 256] = TABLES[3];

// Evaluated at compile time only (it initialises a `const`): an index out of bounds or an
// overflow here is a build error, never a run-time panic.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn tables() -> [[u32; 256]; 4] {
    let [first] = *REFERENCE.table();
    let mut t = [first; 4];
    let mut k = 1;
    while k < 4 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev >> 8) ^ first[(prev & 0xFF) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

/// Entry `b` of table `K`; `b` is masked to a byte, so the lookup never fails (the compiler
/// drops the bounds check).
#[inline(always)]
fn entry<const K: usize>(b: u32) -> u32 {
    let table = match K {
        0 => &T0,
        1 => &T1,
        2 => &T2,
        _ => &T3,
    };
    table.get((b & 0xFF) as usize).copied().unwrap_or(0)
}

/// The register after one little-endian word of input.
#[inline(always)]
fn step_word(crc: u32, word: [u8; 4]) -> u32 {
    let v = crc ^ u32::from_le_bytes(word);
    entry::<3>(v) ^ entry::<2>(v >> 8) ^ entry::<1>(v >> 16) ^ entry::<0>(v >> 24)
}

/// One byte through the first table.
#[inline(always)]
fn step_byte(crc: u32, byte: u8) -> u32 {
    entry::<0>(crc ^ u32::from(byte)) ^ (crc >> 8)
}

/// CRC-32/ISO-HDLC of `bytes` (what `crc::Crc::<u32>::new(&CRC_32_ISO_HDLC).checksum` returns).
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    let crc = CRC_32_ISO_HDLC.init;
    // Cores without unaligned loads (ARMv6-M) would assemble every word from four byte loads,
    // which is slower than the one-table loop: they stay with one byte per step.
    let crc = if cfg!(firmware_core_strict_align) {
        bytes.iter().fold(crc, |crc, &b| step_byte(crc, b))
    } else {
        by_words(crc, bytes)
    };
    crc ^ CRC_32_ISO_HDLC.xorout
}

/// Four bytes per step (the bytes past the last whole 16-byte block one at a time).
#[cfg(not(any(firmware_core_dsp, firmware_core_armv7m)))]
fn by_words(crc: u32, bytes: &[u8]) -> u32 {
    by_words_portable(crc, bytes)
}

/// Four bytes per step; on ARMv7-M and ARMv7E-M (Cortex-M3/M4/M7) the 32-byte blocks of the
/// word-aligned middle run in
/// assembly: two `LDM`s of four words per block and one compare and branch, 3.13 instructions
/// per byte against 3.35 for the compiled Rust (what keeps `Generator::new` well under 0.5 M
/// instructions on a Cortex-M4).
#[cfg(any(firmware_core_dsp, firmware_core_armv7m))]
fn by_words(crc: u32, bytes: &[u8]) -> u32 {
    let head_len = bytes.as_ptr().align_offset(4).min(bytes.len());
    let (head, rest) = bytes.split_at(head_len);
    let crc = head.iter().fold(crc, |crc, &b| step_byte(crc, b));
    let blocks_len = rest.len() & !31;
    let (blocks, tail) = rest.split_at(blocks_len);
    let mut crc = crc;
    if !blocks.is_empty() {
        let range = blocks.as_ptr_range();
        // SAFETY: see `asm` below: `blocks` is word-aligned (`align_offset` above) and a whole
        // number of 32-byte blocks, at least one; the function reads exactly those bytes.
        #[allow(unsafe_code)]
        {
            crc = unsafe { firmware_core_v7m_crc32_blocks(crc, range.start, range.end) };
        }
    }
    tail.iter().fold(crc, |crc, &b| step_byte(crc, b))
}

#[cfg(any(firmware_core_dsp, firmware_core_armv7m))]
extern "C" {
    /// The CRC register after the 32-byte blocks from `start` to `end` (word-aligned, `end −
    /// start` a non-zero multiple of 32), one word at a time as in [`step_word`].
    fn firmware_core_v7m_crc32_blocks(crc: u32, start: *const u8, end: *const u8) -> u32;
}

// The function reads the words from `start` up to `end` (post-incremented `LDM`s of four words,
// two per pass, until the pointer equals `end`: the caller's length is a multiple of 32 and at
// least 32) and the four 1 KiB tables at indices `0..=255` (every index is a byte extracted by
// `UXTB`/`UBFX`/`LSR #24`). It writes no memory besides its own stack frame, restores r4–r11
// and returns through the saved lr (AAPCS: r0 = crc in and out, r1 = start, r2 = end). It runs
// only when `by_words` calls it.
#[cfg(any(firmware_core_dsp, firmware_core_armv7m))]
#[allow(unsafe_code)]
mod asm {
    use super::{T0, T1, T2, T3};

    core::arch::global_asm!(
        ".syntax unified",
        ".thumb",
        // One word (already loaded into `w`) through the four tables: r0 = crc, r8–r11 = T0–T3.
        ".macro firmware_core_v7m_crc_word w",
        "  eor \\w, \\w, r0",
        "  uxtb r7, \\w",
        "  ldr r0, [r11, r7, lsl #2]",
        "  ubfx r7, \\w, #8, #8",
        "  ldr r7, [r10, r7, lsl #2]",
        "  eor r0, r0, r7",
        "  ubfx r7, \\w, #16, #8",
        "  ldr r7, [r9, r7, lsl #2]",
        "  eor r0, r0, r7",
        "  lsr r7, \\w, #24",
        "  ldr r7, [r8, r7, lsl #2]",
        "  eor r0, r0, r7",
        ".endm",
        ".section .text.firmware_core_v7m_crc32_blocks, \"ax\", %progbits",
        ".globl firmware_core_v7m_crc32_blocks",
        ".type firmware_core_v7m_crc32_blocks, %function",
        ".p2align 2",
        ".thumb_func",
        "firmware_core_v7m_crc32_blocks:",
        "  push {{r4-r11, lr}}",
        "  movw r8, :lower16:{t0}",
        "  movt r8, :upper16:{t0}",
        "  movw r9, :lower16:{t1}",
        "  movt r9, :upper16:{t1}",
        "  movw r10, :lower16:{t2}",
        "  movt r10, :upper16:{t2}",
        "  movw r11, :lower16:{t3}",
        "  movt r11, :upper16:{t3}",
        "1:",
        "  ldm r1!, {{r3-r6}}",
        "  firmware_core_v7m_crc_word r3",
        "  firmware_core_v7m_crc_word r4",
        "  firmware_core_v7m_crc_word r5",
        "  firmware_core_v7m_crc_word r6",
        "  ldm r1!, {{r3-r6}}",
        "  firmware_core_v7m_crc_word r3",
        "  firmware_core_v7m_crc_word r4",
        "  firmware_core_v7m_crc_word r5",
        "  firmware_core_v7m_crc_word r6",
        "  cmp r1, r2",
        "  bne 1b",
        "  pop {{r4-r11, pc}}",
        ".size firmware_core_v7m_crc32_blocks, . - firmware_core_v7m_crc32_blocks",
        ".text",
        t0 = sym T0,
        t1 = sym T1,
        t2 = sym T2,
        t3 = sym T3,
    );
}

/// Four bytes per step in Rust (also the reference for the assembly above).
#[cfg_attr(any(firmware_core_dsp, firmware_core_armv7m), allow(dead_code))]
fn by_words_portable(mut crc: u32, bytes: &[u8]) -> u32 {
    // Four words per iteration spreads the loop overhead.
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        for word in block.chunks_exact(4) {
            if let Ok(word) = <[u8; 4]>::try_from(word) {
                crc = step_word(crc, word);
            }
        }
    }
    blocks
        .remainder()
        .iter()
        .fold(crc, |crc, &b| step_byte(crc, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::SplitMix32;

    #[test]
    fn check_value() {
        assert_eq!(checksum(b"123456789"), CRC_32_ISO_HDLC.check);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn matches_the_crc_crate_at_every_length_and_offset() {
        let mut rng = SplitMix32::new(11);
        let len = if cfg!(miri) { 40 } else { 200 };
        let data: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let s = &data[start..end];
                let want = REFERENCE.checksum(s);
                assert_eq!(checksum(s), want, "{start}..{end}");
                let bytewise = s.iter().fold(CRC_32_ISO_HDLC.init, |c, &b| step_byte(c, b));
                assert_eq!(bytewise ^ CRC_32_ISO_HDLC.xorout, want);
            }
        }
    }
}
