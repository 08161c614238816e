//! The AVX-512 register tile: `12 × 32` (24 zmm accumulators), updated with one
//! embedded-broadcast FMA per element of the left panel; the ragged edges of the output are read
//! and written with masked loads and stores.

use crate::simd::Avx512;
use crate::tile::{check_tile, TileKernel};
use crate::view::MatMut;

/// Rows of the tile.
pub const MR: usize = 12;
/// Columns of the tile (two zmm registers).
pub const NR: usize = 32;

/// The AVX-512 tile; holding the [`Avx512`] token proves the CPU runs it.
#[derive(Clone, Copy, Debug)]
pub struct Avx512Tile(pub Avx512);

impl TileKernel<MR, NR> for Avx512Tile {
    fn tile(self, a: &[[f32; MR]], b: &[[f32; NR]], c: MatMut<'_, f32>, load_c: bool) {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: `tile` needs AVX-512F, and `self.0` exists only where `Simd::available` found
        // it.
        unsafe {
            tile(a, b, c, load_c)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (a, b, c, load_c);
            unreachable!("an Avx512 token exists only on x86_64");
        }
    }
}

/// See [`TileKernel::tile`]; compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn tile(a: &[[f32; MR]], b: &[[f32; NR]], mut c: MatMut<'_, f32>, load_c: bool) {
    use std::arch::x86_64::*;
    check_tile(a, b, &c);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for (ap, bp) in a.iter().zip(b) {
        // SAFETY: `bp` holds 32 floats; the loads read 0..16 and 16..32.
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_ps(bp.as_ptr()),
                _mm512_loadu_ps(bp.as_ptr().add(16)),
            )
        };
        for (row, &ai) in acc.iter_mut().zip(ap) {
            let ai = _mm512_set1_ps(ai);
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
    }
    // Lanes 0..w of a 16-lane half (w ≤ 16).
    let mask = |w: usize| -> __mmask16 { ((1u32 << w) - 1) as __mmask16 };
    let nr = c.cols();
    let (m0, m1) = (mask(nr.min(16)), mask(nr.saturating_sub(16)));
    for (i, sums) in acc.iter().enumerate().take(c.rows()) {
        let row = c.row_mut(i);
        let p = row.as_mut_ptr();
        // SAFETY: `row` holds `nr` floats; the first half's mask selects lanes below
        // `min(nr, 16)`, inside it, and masked-off lanes are neither read nor written.
        unsafe {
            let mut v = sums[0];
            if load_c {
                v = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), v);
            }
            _mm512_mask_storeu_ps(p, m0, v);
        }
        if nr > 16 {
            // SAFETY: as above for lanes 16..nr: `p + 16` is inside `row` (nr > 16), and the mask
            // selects the `nr − 16` lanes that follow it.
            unsafe {
                let p = p.add(16);
                let mut v = sums[1];
                if load_c {
                    v = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p), v);
                }
                _mm512_mask_storeu_ps(p, m1, v);
            }
        }
    }
}
