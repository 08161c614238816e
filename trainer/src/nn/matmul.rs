//! The matrix products behind every layer: `dst (+)= a · b` on checked views ([`MatRef`],
//! [`Gathered`], [`MatMut`], from `trainer-kernels`). f32 products run on that crate's blocked
//! kernel where it has a fast tile for the path the process runs ([`trainer_kernels::product_f32`]:
//! AVX-512 or AVX2 + FMA, chosen at run time or forced with `TRAINER_SIMD`), which reads a
//! [`Gathered`] operand in place; the rest (every f64 product, and f32 where the
//! kernel declines) on the `gemm` crate, dfdx's own kernel (AVX2 on stable Rust), with a gathered
//! operand written out first.

pub(crate) use trainer_kernels::{Gathered, MatMut, MatRef, Rhs};

use crate::nn::float::NnFloat;
use crate::nn::scratch::{recycle, scratch};
use trainer_kernels::view::assert_chain;

/// `dst = a · b` (or `dst += a · b` with `accumulate`).
///
/// # Panics
/// If the shapes do not chain: `a` must be `dst.rows() × k` and `b` `k × dst.cols()`.
pub(crate) fn matmul<'b, E: NnFloat>(
    dst: MatMut<'_, E>,
    accumulate: bool,
    a: MatRef<'_, E>,
    b: impl Into<Rhs<'b, E>>,
) {
    let b = b.into();
    assert_chain("matmul", &dst, &a, &b);
    if let Err(dst) = E::own_product(dst, accumulate, a, b) {
        gemm_product(dst, accumulate, a, b);
    }
}

/// A gathered matrix written out row-major, in a [`scratch`] buffer.
pub(crate) fn written_out<E: NnFloat>(g: Gathered<'_, E>) -> Vec<E> {
    let mut out = scratch(g.rows() * g.cols());
    g.write_row_major(&mut out);
    out
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`); a gathered `b` is written out first.
///
/// # Panics
/// If the shapes do not chain (`a` is `dst.rows() × k`, `b` is `k × dst.cols()`).
fn gemm_product<E: NnFloat>(
    mut dst: MatMut<'_, E>,
    accumulate: bool,
    a: MatRef<'_, E>,
    b: Rhs<'_, E>,
) {
    assert_chain("gemm", &dst, &a, &b);
    let (m, k, n) = (dst.rows(), a.cols(), dst.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // `gemm` would scale `dst` by 0, which keeps NaNs of a stale buffer.
        if !accumulate {
            dst.fill(E::default());
        }
        return;
    }
    let written = match b {
        Rhs::Gathered(g) => written_out(g),
        Rhs::Strided(_) => Vec::new(),
    };
    let b = match b {
        Rhs::Strided(b) => b,
        Rhs::Gathered(_) => MatRef::row_major(&written, k, n),
    };
    let (zero, one) = (E::default(), E::ONE);
    let dst_rs = dst.row_stride();
    // SAFETY: `E` is f32 or f64 (`NnFloat` is sealed), the element types `gemm::gemm` dispatches
    // on. The views' invariants make every element `gemm` addresses — `(i, j)` at
    // `ptr + i·rs + j·cs` for `i < rows`, `j < cols` of each operand, with the shapes checked to
    // chain above and `m, k, n > 0` — lie inside its slice, with strides that fit `isize`. `dst`
    // has exclusive access to its elements while `a` and `b` are shared borrows, so the output
    // aliases neither input; `gemm` writes only the `m × n` elements (never the gaps between
    // rows) and reads them only when `accumulate` (read_dst) is set.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data().as_ptr(),
            a.col_stride() as isize,
            a.row_stride() as isize,
            b.data().as_ptr(),
            b.col_stride() as isize,
            b.row_stride() as isize,
            if accumulate { one } else { zero },
            one,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
    recycle(written);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::scratch::poison_pool;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn random(rng: &mut StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    #[test]
    #[cfg_attr(miri, ignore = "gemm's SIMD kernels are not the code under test")]
    fn matmul_matches_naive_with_strides() {
        let mut rng = StdRng::seed_from_u64(4);
        let (m, k, n) = (7, 5, 9);
        let a = random(&mut rng, m * k); // row-major m×k
        let bt = random(&mut rng, n * k); // row-major n×k, used transposed as k×n
        let naive = |i: usize, j: usize| (0..k).map(|l| a[i * k + l] * bt[j * k + l]).sum::<f64>();
        let dst_rs = n + 3;
        let mut dst = vec![1.0; m * dst_rs];
        matmul(
            MatMut::new(&mut dst, (m, n), dst_rs),
            true,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&bt, n, k).transposed(),
        );
        for i in 0..m {
            for j in 0..n {
                assert!((dst[i * dst_rs + j] - 1.0 - naive(i, j)).abs() < 1e-12);
            }
            for j in n..dst_rs {
                assert_eq!(
                    dst[i * dst_rs + j],
                    1.0,
                    "padding between rows is untouched"
                );
            }
        }
        let mut fresh = vec![f64::NAN; m * n];
        matmul(
            MatMut::row_major(&mut fresh, m, n),
            false,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&bt, n, k).transposed(),
        );
        for i in 0..m {
            for j in 0..n {
                assert!((fresh[i * n + j] - naive(i, j)).abs() < 1e-12);
            }
        }
        // f32 goes through the same entry point, thin (gemm) and wide (own kernel where fast).
        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = (0..40 * k).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        for n in [n, 40] {
            let mut d32 = vec![0.0f32; m * n];
            matmul(
                MatMut::row_major(&mut d32, m, n),
                false,
                MatRef::row_major(&a32, m, k),
                MatRef::row_major(&b32, n, k).transposed(),
            );
            for (i, j) in [(0, 0), (1, 2), (m - 1, n - 1)] {
                let want: f64 = (0..k)
                    .map(|l| f64::from(a32[i * k + l]) * f64::from(b32[j * k + l]))
                    .sum();
                assert!(
                    (f64::from(d32[i * n + j]) - want).abs() < 1e-5,
                    "({i}, {j}) of {n}"
                );
            }
        }
    }

    /// `dst = a · b` for row-major `a` (`m × k`) and `b` (`k × n`) into `dst` (which holds
    /// anything), checked element by element against the sum in f64.
    fn assert_row_major_product<E: NnFloat + Into<f64>>(
        (m, k, n): (usize, usize, usize),
        a: &[E],
        b: &[E],
        mut dst: Vec<E>,
        tolerance: f64,
    ) {
        let dst_view = MatMut::row_major(&mut dst, m, n);
        matmul(
            dst_view,
            false,
            MatRef::row_major(a, m, k),
            MatRef::row_major(b, k, n),
        );
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k)
                    .map(|p| a[i * k + p].into() * b[p * n + j].into())
                    .sum();
                let got: f64 = dst[i * n + j].into();
                assert!(
                    (got - want).abs() <= tolerance,
                    "{m}×{k}×{n} ({i}, {j}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "gemm's SIMD kernels are not the code under test")]
    fn non_accumulating_products_overwrite_stale_temporaries() {
        let mut rng = StdRng::seed_from_u64(7);
        let (m, k, n) = (64, 16, 300);
        let (a, b) = (random(&mut rng, m * k), random(&mut rng, k * n));
        poison_pool::<f64>(m * n);
        assert_row_major_product((m, k, n), &a, &b, scratch(m * n), 1e-12);
    }

    #[test]
    fn f32_products_of_every_width_and_depth_are_right() {
        // Under Miri these run on the blocked kernel with the portable tile, elsewhere on the
        // path this CPU takes; an empty depth clears the output. (Small integers: exact sums.)
        for (m, k, n) in [(3, 2, 5), (2, 3, 40), (4, 0, 33)] {
            let a: Vec<f32> = (0..m * k).map(|i| i as f32).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
            assert_row_major_product((m, k, n), &a, &b, vec![f32::NAN; m * n], 0.0);
        }
    }

    #[test]
    #[should_panic(expected = "matmul: 2×3 · 2×2 into 2×2")]
    fn matmul_rejects_shapes_that_do_not_chain() {
        let a = [1.0f64; 6];
        let b = [1.0f64; 4];
        let mut d = [0.0f64; 4];
        matmul(
            MatMut::row_major(&mut d, 2, 2),
            false,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 2, 2),
        );
    }
}

/// Throughput of each path on the products the presets make (run by hand:
/// `cargo test --release -p trainer --lib matmul::speed -- --ignored --nocapture`).
#[cfg(test)]
mod speed {
    use super::*;
    use std::time::Instant;
    use trainer_kernels::avx2::Avx2Tile;
    use trainer_kernels::avx512::{Avx512Tile, MR, NR};
    use trainer_kernels::blocked::{product, BLOCKING};
    use trainer_kernels::tile::Portable;
    use trainer_kernels::Simd;

    #[test]
    #[ignore = "a benchmark"]
    fn speed() {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            for &(name, m, k, n, a_t, b_t) in &[
                ("conv2 fwd", 128, 1024, 3136, false, false),
                ("conv2 dW", 128, 3136, 1024, false, true),
                ("conv2 dX / convT1 fwd", 1024, 128, 3136, true, false),
                ("linear 100→6272", 64, 100, 6272, false, true),
                ("conv1 fwd", 64, 16, 12544, false, false),
                ("convT2 fwd", 16, 64, 12544, true, false),
                ("mlp 784→512", 64, 784, 512, false, true),
                ("mlp dW 512x784", 512, 64, 784, true, false),
            ] {
                let ad = vec![0.5f32; m * k];
                let bd = vec![0.25f32; k * n];
                let a = MatRef::stored(&ad, (m, k), a_t);
                let b = MatRef::stored(&bd, (k, n), b_t);
                let mut dst = vec![0.0f32; m * n];
                let best = |f: &mut dyn FnMut()| -> f64 {
                    (0..7)
                        .map(|_| {
                            let t = Instant::now();
                            f();
                            t.elapsed().as_secs_f64()
                        })
                        .fold(f64::MAX, f64::min)
                };
                let gflops = |seconds: f64| 2.0 * (m * k * n) as f64 / seconds / 1e9;
                let mut line = format!("{threads} thr {name:24}");
                let mut time = |label: &str, f: &mut (dyn FnMut(MatMut<'_, f32>) + Send)| {
                    let s = pool.install(|| best(&mut || f(MatMut::row_major(&mut dst, m, n))));
                    line += &format!("  {label} {:6.1} GFLOP/s", gflops(s));
                };
                for simd in Simd::available() {
                    match simd {
                        Simd::Avx512(token) => time("avx512", &mut |d| {
                            product(Avx512Tile(token), BLOCKING, d, false, a, b.into())
                        }),
                        Simd::Avx2(token) => time("avx2", &mut |d| {
                            product(Avx2Tile(token), BLOCKING, d, false, a, b.into())
                        }),
                        Simd::Portable => {}
                    }
                }
                time("portable", &mut |d| {
                    product::<_, MR, NR>(Portable, BLOCKING, d, false, a, b.into())
                });
                time("gemm", &mut |d| gemm_product(d, false, a, b.into()));
                eprintln!("{line}");
            }
        }
    }
}
