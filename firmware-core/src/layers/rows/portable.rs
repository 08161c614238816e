//! The portable row kernel (Cortex-M3, RISC-V, the host…): blocks of eight rows in plain Rust,
//! so each element of `x` is loaded once for eight multiply-adds and the sums stay in
//! registers (ARMv6-M, whose eight low registers cannot hold them, has its own kernel).

/// Rows per block: eight sums, eight row pointers and the operands fit in the registers of
/// RV32 (31) and, with a few spills, ARMv7-M (13).
const ROWS: usize = 8;

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
        let blocks = acc
            .chunks_exact_mut(ROWS)
            .zip(weights.chunks_exact(const { ROWS * N }));
        let mut done = 0usize;
        let zeros = [0u8; N];
        for (a, rows) in blocks {
            let mut it = rows
                .chunks_exact(N)
                .filter_map(|r| <&[u8; N]>::try_from(r).ok());
            // `rows` holds exactly ROWS rows of N bytes: `zeros` is never used.
            let rows: [&[u8; N]; ROWS] = core::array::from_fn(|_| it.next().unwrap_or(&zeros));
            let mut sums = [0i32; ROWS];
            for (i, &x) in self.x.iter().enumerate() {
                let x = i32::from(x);
                // `i < N`: it indexes `self.x`, an array of the rows' length.
                for (sum, row) in sums.iter_mut().zip(&rows) {
                    let w = row.get(i).map_or(0, |&w| i32::from(w as i8));
                    *sum = sum.wrapping_add(w.wrapping_mul(x));
                }
            }
            for (a, s) in a.iter_mut().zip(sums) {
                *a = s;
            }
            // At most acc.len() / ROWS blocks: the count stays far below usize::MAX.
            done = done.saturating_add(ROWS);
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
