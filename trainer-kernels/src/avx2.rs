//! The AVX2 + FMA register tile: `6 × 16` (12 ymm accumulators, two for the row of the right
//! panel, one for the broadcast: 15 of the 16 registers), updated with one broadcast and two FMAs
//! per element of the left panel. Whole rows of the output are read and written with unaligned
//! vector loads and stores; a ragged row goes through a 16-float buffer (AVX2 has no cheap
//! masked store, and edges are a small part of the work).

use crate::simd::Avx2Fma;
use crate::tile::{check_tile, TileKernel};
use crate::view::MatMut;

/// Rows of the tile.
pub const MR: usize = 6;
/// Columns of the tile (two ymm registers).
pub const NR: usize = 16;

/// The AVX2 + FMA tile; holding the [`Avx2Fma`] token proves the CPU runs it.
#[derive(Clone, Copy, Debug)]
pub struct Avx2Tile(pub Avx2Fma);

impl TileKernel<MR, NR> for Avx2Tile {
    fn tile(self, a: &[[f32; MR]], b: &[[f32; NR]], c: MatMut<'_, f32>, load_c: bool) {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: `tile` needs AVX2 and FMA, and `self.0` exists only where `Simd::available`
        // found both.
        unsafe {
            tile(a, b, c, load_c)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (a, b, c, load_c);
            unreachable!("an Avx2Fma token exists only on x86_64");
        }
    }
}

/// See [`TileKernel::tile`]; compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)]
fn tile(a: &[[f32; MR]], b: &[[f32; NR]], mut c: MatMut<'_, f32>, load_c: bool) {
    use std::arch::x86_64::*;
    check_tile(a, b, &c);
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for (ap, bp) in a.iter().zip(b) {
        // SAFETY: `bp` holds 16 floats; the loads read 0..8 and 8..16.
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_ps(bp.as_ptr()),
                _mm256_loadu_ps(bp.as_ptr().add(8)),
            )
        };
        for (row, &ai) in acc.iter_mut().zip(ap) {
            let ai = _mm256_set1_ps(ai);
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
    }
    let nr = c.cols();
    for (i, sums) in acc.iter().enumerate().take(c.rows()) {
        let row = c.row_mut(i);
        if nr == NR {
            let p = row.as_mut_ptr();
            // SAFETY: `row` holds `NR` = 16 floats; the loads and stores touch 0..8 and 8..16.
            unsafe {
                let (mut v0, mut v1) = (sums[0], sums[1]);
                if load_c {
                    v0 = _mm256_add_ps(_mm256_loadu_ps(p), v0);
                    v1 = _mm256_add_ps(_mm256_loadu_ps(p.add(8)), v1);
                }
                _mm256_storeu_ps(p, v0);
                _mm256_storeu_ps(p.add(8), v1);
            }
        } else {
            let mut lanes = [0.0f32; NR];
            // SAFETY: `lanes` holds 16 floats; the stores write 0..8 and 8..16.
            unsafe {
                _mm256_storeu_ps(lanes.as_mut_ptr(), sums[0]);
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8), sums[1]);
            }
            for (out, &sum) in row.iter_mut().zip(&lanes) {
                *out = if load_c { *out + sum } else { sum };
            }
        }
    }
}
