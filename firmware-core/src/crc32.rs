//! CRC-32/ISO-HDLC (the blob trailer's checksum), four bytes per step.
//!
//! The `crc` crate offers a 256-entry table (one byte per step: about 6.5 instructions per byte
//! on a Cortex-M4, 0.96 M for the shipped 147 KB blob, nearly all of `Generator::new`) or a
//! 16 KiB sixteen-table variant (too much flash for a 256 KiB part). This is the classic
//! "slicing-by-4" in between: four 256-entry tables (4 KiB, built at compile time from the `crc`
//! crate's own table), one word per step, about 3.3 instructions per byte on a Cortex-M4. The
//! `crc` crate stays the reference it is tested against.

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
#[cfg(not(firmware_core_dsp))]
fn by_words(crc: u32, bytes: &[u8]) -> u32 {
    by_words_portable(crc, bytes)
}

/// Four bytes per step; on ARMv7E-M the 16-byte blocks of the word-aligned middle run in
/// assembly: two `LDRD`s per block and no loop bookkeeping beyond a compare and a branch,
/// 3.25 instructions per byte against 3.35 for the compiled Rust (the difference is what keeps
/// `Generator::new` under 0.5 M instructions on a Cortex-M4).
#[cfg(firmware_core_dsp)]
fn by_words(crc: u32, bytes: &[u8]) -> u32 {
    let head_len = bytes.as_ptr().align_offset(4).min(bytes.len());
    let (head, rest) = bytes.split_at(head_len);
    let crc = head.iter().fold(crc, |crc, &b| step_byte(crc, b));
    let blocks_len = rest.len() & !15;
    let (blocks, tail) = rest.split_at(blocks_len);
    let mut crc = crc;
    if !blocks.is_empty() {
        // SAFETY: the assembly reads `blocks` (word-aligned: `align_offset` above; a whole number
        // of 16-byte blocks, at least one) with post-incremented `LDRD`s until the pointer
        // reaches its end, and reads the four 1 KiB tables at indices `0..=255` (every index is
        // a byte extracted by `UXTB`/`UBFX`/`LSR #24`). It writes only the registers it
        // declares, uses no stack and leaves the flags clobbered (not preserved).
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!(
                "2:",
                "ldrd {w0}, {w1}, [{p}], #8",
                "eor {w0}, {w0}, {crc}",
                "uxtb {t}, {w0}",
                "ldr {crc}, [{t3}, {t}, lsl #2]",
                "ubfx {t}, {w0}, #8, #8",
                "ldr {t}, [{t2}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "ubfx {t}, {w0}, #16, #8",
                "ldr {t}, [{t1}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "lsr {t}, {w0}, #24",
                "ldr {t}, [{t0}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "eor {w1}, {w1}, {crc}",
                "uxtb {t}, {w1}",
                "ldr {crc}, [{t3}, {t}, lsl #2]",
                "ubfx {t}, {w1}, #8, #8",
                "ldr {t}, [{t2}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "ubfx {t}, {w1}, #16, #8",
                "ldr {t}, [{t1}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "lsr {t}, {w1}, #24",
                "ldr {t}, [{t0}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "ldrd {w0}, {w1}, [{p}], #8",
                "eor {w0}, {w0}, {crc}",
                "uxtb {t}, {w0}",
                "ldr {crc}, [{t3}, {t}, lsl #2]",
                "ubfx {t}, {w0}, #8, #8",
                "ldr {t}, [{t2}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "ubfx {t}, {w0}, #16, #8",
                "ldr {t}, [{t1}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "lsr {t}, {w0}, #24",
                "ldr {t}, [{t0}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "eor {w1}, {w1}, {crc}",
                "uxtb {t}, {w1}",
                "ldr {crc}, [{t3}, {t}, lsl #2]",
                "ubfx {t}, {w1}, #8, #8",
                "ldr {t}, [{t2}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "ubfx {t}, {w1}, #16, #8",
                "ldr {t}, [{t1}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "lsr {t}, {w1}, #24",
                "ldr {t}, [{t0}, {t}, lsl #2]",
                "eor {crc}, {crc}, {t}",
                "cmp {p}, {end}",
                "bne 2b",
                p = inout(reg) blocks.as_ptr() => _,
                end = in(reg) blocks.as_ptr_range().end,
                crc = inout(reg) crc,
                w0 = out(reg) _,
                w1 = out(reg) _,
                t = out(reg) _,
                t0 = in(reg) T0.as_ptr(),
                t1 = in(reg) T1.as_ptr(),
                t2 = in(reg) T2.as_ptr(),
                t3 = in(reg) T3.as_ptr(),
                options(readonly, nostack),
            );
        }
    }
    tail.iter().fold(crc, |crc, &b| step_byte(crc, b))
}

/// Four bytes per step in Rust (also the reference for the assembly above).
#[cfg_attr(firmware_core_dsp, allow(dead_code))]
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
