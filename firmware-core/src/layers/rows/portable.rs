//! The portable row kernel (Cortex-M3, RISC-V, the host…): blocks of four rows in plain Rust,
//! so each element of `x` is loaded once for four multiply-adds and the four sums stay in
//! registers (with 16 or 31 registers; ARMv6-M, whose eight low registers cannot hold them, has
//! its own kernel).

use super::BLOCK_ROWS;

/// The activation vector, kept as it is.
pub(crate) struct Prepared<const N: usize> {
    x: [i8; N],
}

impl<const N: usize> Prepared<N> {
    #[inline(always)]
    pub fn new(x: &[i8; N]) -> Self {
        Self { x: *x }
    }

    /// `acc[k] = rows[k]·x` (wrapping) for the rows of `N` bytes at the start of `weights`, as
    /// many as both `acc` and `weights` hold; other accumulators are left alone.
    #[inline(always)]
    pub fn dots(&self, acc: &mut [i32], weights: &[u8]) {
        let mut blocks = acc
            .chunks_exact_mut(BLOCK_ROWS)
            .zip(weights.chunks_exact(const { BLOCK_ROWS * N }));
        let mut done = 0usize;
        for (a, rows) in &mut blocks {
            let mut it = rows
                .chunks_exact(N)
                .filter_map(|r| <&[u8; N]>::try_from(r).ok());
            let (Some(r0), Some(r1), Some(r2), Some(r3)) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                continue;
            };
            let mut sums = [0i32; BLOCK_ROWS];
            for (i, &x) in self.x.iter().enumerate() {
                let x = i32::from(x);
                // `i < N`: it indexes `self.x`, an array of the rows' length.
                for (sum, row) in sums.iter_mut().zip([r0, r1, r2, r3]) {
                    let w = row.get(i).map_or(0, |&w| i32::from(w as i8));
                    *sum = sum.wrapping_add(w.wrapping_mul(x));
                }
            }
            for (a, s) in a.iter_mut().zip(sums) {
                *a = s;
            }
            // At most acc.len() / 4 blocks: the count stays far below usize::MAX.
            done = done.saturating_add(BLOCK_ROWS);
        }
        // Rows past the last whole block.
        let rest = acc.iter_mut().zip(weights.chunks_exact(N)).skip(done);
        for (a, row) in rest {
            *a = super::super::dot_scalar(row, &self.x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    struct Portable;
    impl RowsImpl for Portable {
        fn run<const N: usize>(x: &[i8; N], acc: &mut [i32], weights: &[u8]) {
            Prepared::new(x).dots(acc, weights);
        }
    }

    #[test]
    fn matches_reference() {
        check_layer_shapes::<Portable>();
    }
}
