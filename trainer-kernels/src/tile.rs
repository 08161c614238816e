//! The register tile, the innermost step of the blocked product: what each SIMD path provides
//! ([`TileKernel`]), and the portable one every other path is tested against ([`Portable`]).

use crate::view::MatMut;

/// A kernel for one `MR × NR` tile of the product, over a depth of `kc` packed steps.
///
/// Every implementation computes, for `i < c.rows()` and `j < c.cols()`,
/// `c[i][j] = (load_c ? c[i][j] : 0) + acc`, where `acc` starts at zero and takes
/// `acc = fma(a[p][i], b[p][j], acc)` for `p = 0, 1, …, kc − 1` in that order (one fused
/// multiply-add each). Since that fixes every rounding, all paths give the same bits.
pub trait TileKernel<const MR: usize, const NR: usize>: Copy + Send + Sync {
    /// `c (+)= a · b` for packed panels `a` (`kc` steps of `MR` values of the left operand's
    /// column) and `b` (`kc` steps of `NR` values of the right operand's row).
    ///
    /// # Panics
    /// If `a` and `b` differ in depth, or `c` is larger than `MR × NR`.
    fn tile(self, a: &[[f32; MR]], b: &[[f32; NR]], c: MatMut<'_, f32>, load_c: bool);
}

/// Checks what [`TileKernel::tile`] promises to check.
pub(crate) fn check_tile<const MR: usize, const NR: usize>(
    a: &[[f32; MR]],
    b: &[[f32; NR]],
    c: &MatMut<'_, f32>,
) {
    assert!(
        a.len() == b.len() && c.rows() <= MR && c.cols() <= NR,
        "tile: panels of depth {} and {}, output {}×{} for a {MR}×{NR} tile",
        a.len(),
        b.len(),
        c.rows(),
        c.cols()
    );
}

/// The tile in plain Rust, for any CPU: the reference the SIMD paths are tested against, and the
/// path Miri checks. (Without hardware FMA, `mul_add` is a library call: slow, but exact.)
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl<const MR: usize, const NR: usize> TileKernel<MR, NR> for Portable {
    fn tile(self, a: &[[f32; MR]], b: &[[f32; NR]], mut c: MatMut<'_, f32>, load_c: bool) {
        check_tile(a, b, &c);
        let mut acc = [[0.0f32; NR]; MR];
        for (ap, bp) in a.iter().zip(b) {
            for (row, &ai) in acc.iter_mut().zip(ap) {
                for (x, &bj) in row.iter_mut().zip(bp) {
                    *x = ai.mul_add(bj, *x);
                }
            }
        }
        for (i, sums) in acc.iter().enumerate().take(c.rows()) {
            for (out, &sum) in c.row_mut(i).iter_mut().zip(sums) {
                *out = if load_c { *out + sum } else { sum };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_tile_sums_fused_products_into_the_ragged_corner() {
        // 2 steps of a 3×4 tile on a 2×3 output in a stride of 5.
        let a = [[1.0, 2.0, 3.0], [0.5, 0.25, 0.0]];
        let b = [[1.0, 10.0, 100.0, 1000.0], [4.0, 8.0, 0.0, 0.0]];
        let mut data = vec![1.0f32; 10];
        let c = MatMut::new(&mut data, (2, 3), 5);
        TileKernel::<3, 4>::tile(Portable, &a, &b, c, true);
        // (i, j) = 1 + Σ_p a[p][i]·b[p][j]
        assert_eq!(
            data,
            [4.0, 15.0, 101.0, 1.0, 1.0, 4.0, 23.0, 201.0, 1.0, 1.0]
        );
        let c = MatMut::new(&mut data, (1, 1), 5);
        TileKernel::<3, 4>::tile(Portable, &a, &b, c, false);
        assert_eq!(data[0], 3.0);
    }

    #[test]
    #[should_panic(expected = "tile")]
    fn portable_tile_refuses_an_output_larger_than_the_tile() {
        let mut data = vec![0.0f32; 8];
        let c = MatMut::new(&mut data, (2, 4), 4);
        TileKernel::<1, 4>::tile(Portable, &[[1.0]], &[[1.0; 4]], c, false);
    }
}
