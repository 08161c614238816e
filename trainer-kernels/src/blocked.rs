//! The blocked f32 product (Goto/BLIS): blocks of `B` (`kc × nc`) and all of `A` are packed into
//! zero-padded panels (`pack`), and a register tile ([`TileKernel`]) multiplies one panel
//! of each at a time. The output's columns are split over the rayon threads, each thread writing
//! its own [`MatMut::split_at_col`] part.
//!
//! Determinism: every output element is reduced over `k` in the same order (`kc` blocks in
//! sequence, each summed front to back in one accumulator lane) whichever thread computes it,
//! however the columns are split and whichever tile kernel runs, so results depend neither on the
//! thread count nor on timing nor on the SIMD path.

use crate::pack::{pack_a, pack_b};
use crate::tile::TileKernel;
use crate::view::{assert_chain, MatMut, MatRef, Rhs};
use rayon::prelude::*;

/// The block sizes of the product.
#[derive(Clone, Copy, Debug)]
pub struct Blocking {
    /// Depth of one packed block.
    pub kc: usize,
    /// Columns of `B` packed at once.
    pub nc: usize,
    /// Products with fewer multiply-adds run on one thread: splitting costs more than it saves.
    pub parallel_min: usize,
}

/// The block sizes for this machine's caches: a `12 × 256` panel of `A` (12 KiB) stays in L1, a
/// `256 × 512` block of `B` (512 KiB) in the 1 MiB L2.
pub const BLOCKING: Blocking = Blocking {
    kc: 256,
    nc: 512,
    parallel_min: 1 << 18,
};

thread_local! {
    /// Packing buffers, reused across calls so that products allocate and fault in nothing.
    static PACKS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`) with `kernel`'s `MR × NR` tile.
///
/// # Panics
/// If the shapes do not chain (`a` is `dst.rows() × k`, `b` is `k × dst.cols()`), or a block size
/// is zero.
pub fn product<K, const MR: usize, const NR: usize>(
    kernel: K,
    blocking: Blocking,
    mut dst: MatMut<'_, f32>,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) where
    K: TileKernel<MR, NR>,
{
    assert_chain("product", &dst, &a, &b);
    let (m, k, n) = (dst.rows(), a.cols(), dst.cols());
    assert!(
        blocking.kc > 0 && blocking.nc > 0 && MR > 0 && NR > 0,
        "product: empty blocks"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // Split the columns into NR-aligned ranges, one per thread.
    let panels = n.div_ceil(NR);
    let work = m.saturating_mul(n).saturating_mul(k);
    let parts = if work >= blocking.parallel_min {
        rayon::current_num_threads().clamp(1, panels)
    } else {
        1
    };
    if parts == 1 {
        block(kernel, blocking, 0, dst, accumulate, a, b);
        return;
    }
    let mut views = Vec::with_capacity(parts);
    let (mut rest, mut lo) = (dst, 0);
    for t in 0..parts {
        // `panels / parts` panels each, one more for the first `panels % parts`.
        let width = ((panels / parts + usize::from(t < panels % parts)) * NR).min(n - lo);
        let (part, right) = rest.split_at_col(width);
        views.push((lo, part));
        (rest, lo) = (right, lo + width);
    }
    views
        .into_par_iter()
        .for_each(|(lo, part)| block(kernel, blocking, lo, part, accumulate, a, b));
}

/// Columns `lo..lo + dst.cols()` of the product, on this thread.
///
/// All of `a` is packed first (it is small beside `b`, and every column block reuses it); then
/// `b` one `kc × nc` block at a time, each multiplied with every `MR`-row panel of `a`.
fn block<K, const MR: usize, const NR: usize>(
    kernel: K,
    blocking: Blocking,
    lo: usize,
    mut dst: MatMut<'_, f32>,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) where
    K: TileKernel<MR, NR>,
{
    let (m, k, n) = (dst.rows(), a.cols(), dst.cols());
    PACKS.with(|packs| {
        let (pa, pb) = &mut *packs.borrow_mut();
        // `a` as `MR`-row panels, `kc` block by `kc` block: block `pc` starts at `pc · m_padded`
        // and its panel of rows `i..i+MR` at `i · kc` within it.
        let m_padded = m.div_ceil(MR) * MR;
        let a_len = m_padded
            .checked_mul(k)
            .expect("product: packed A too large");
        if pa.len() < a_len {
            pa.resize(a_len, 0.0);
        }
        for pc in (0..k).step_by(blocking.kc) {
            let kc = blocking.kc.min(k - pc);
            pack_a::<MR>(a, (pc, kc), &mut pa[pc * m_padded..][..m_padded * kc]);
        }
        for jc in (0..n).step_by(blocking.nc) {
            let nc = blocking.nc.min(n - jc);
            for pc in (0..k).step_by(blocking.kc) {
                let kc = blocking.kc.min(k - pc);
                let pb = pack_b::<NR>(b, (pc, kc), (lo + jc, nc), pb);
                // The first k block overwrites unless accumulating; later ones add.
                let load_c = accumulate || pc > 0;
                for ir in (0..m).step_by(MR) {
                    let (a_panel, _) = pa[pc * m_padded + ir * kc..][..kc * MR].as_chunks::<MR>();
                    for jr in (0..nc).step_by(NR) {
                        let (b_panel, _) = pb[jr * kc..][..kc * NR].as_chunks::<NR>();
                        let c = dst.submatrix((ir, jc + jr), (MR.min(m - ir), NR.min(nc - jr)));
                        kernel.tile(a_panel, b_panel, c, load_c);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avx2::Avx2Tile;
    use crate::avx512::Avx512Tile;
    use crate::simd::Simd;
    use crate::tile::Portable;
    use crate::view::Gathered;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// A small tile and block sizes that put every edge within a few elements, so that small
    /// products (quick under Miri) cross all of them: ragged tiles, several `kc` blocks, several
    /// column blocks.
    const TM: usize = 4;
    const TN: usize = 8;
    const SMALL: Blocking = Blocking {
        kc: 3,
        nc: 2 * TN,
        parallel_min: usize::MAX,
    };
    /// The same, every product split over the threads of the pool it runs in.
    const SMALL_PARALLEL: Blocking = Blocking {
        parallel_min: 0,
        ..SMALL
    };

    fn random(rng: &mut StdRng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// The portable product with the small tile.
    fn portable(
        blocking: Blocking,
        dst: MatMut<'_, f32>,
        accumulate: bool,
        a: MatRef<'_, f32>,
        b: Rhs<'_, f32>,
    ) {
        product::<_, TM, TN>(Portable, blocking, dst, accumulate, a, b);
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
    }

    /// `a · b` in f64, loops only.
    fn reference(a: MatRef<'_, f32>, b: MatRef<'_, f32>) -> Vec<f64> {
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| f64::from(a.get(i, p)) * f64::from(b.get(p, j)))
                    .sum();
            }
        }
        c
    }

    /// `kernel`'s product against the f64 reference, `a` and `b` in either layout, with a
    /// destination row stride wider than the matrix (the gap must stay untouched).
    fn check<K: TileKernel<R, C>, const R: usize, const C: usize>(
        kernel: K,
        blocking: Blocking,
        (m, k, n): (usize, usize, usize),
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (ad, bd) = (random(&mut rng, m * k), random(&mut rng, k * n));
        for (a_t, b_t, accumulate) in [
            (false, false, false),
            (true, false, true),
            (false, true, true),
            (true, true, false),
        ] {
            let a = MatRef::stored(&ad, (m, k), a_t);
            let b = MatRef::stored(&bd, (k, n), b_t);
            let rs = n + 3;
            let init = random(&mut rng, m * rs);
            let mut dst = init.clone();
            let view = MatMut::new(&mut dst, (m, n), rs);
            product::<_, R, C>(kernel, blocking, view, accumulate, a, b.into());
            let expected = reference(a, b);
            for i in 0..m {
                for j in 0..rs {
                    let (got, old) = (dst[i * rs + j], init[i * rs + j]);
                    if j >= n {
                        assert_eq!(got, old, "gap ({i}, {j}) written");
                        continue;
                    }
                    let want = expected[i * n + j] + if accumulate { f64::from(old) } else { 0.0 };
                    let tolerance = 1e-5 * (k as f64).sqrt() * (1.0 + want.abs());
                    assert!(
                        (f64::from(got) - want).abs() <= tolerance,
                        "{m}×{k}×{n} a_t={a_t} b_t={b_t} acc={accumulate}: ({i}, {j}) {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn portable_product_matches_the_reference_across_every_block_edge() {
        let shapes = [(1, 1, 1), (5, 4, 9), (4, 3, 8), (9, 7, 33), (2, 2, 17)];
        for (seed, &shape) in shapes.iter().enumerate() {
            check::<_, TM, TN>(Portable, SMALL, shape, seed as u64);
        }
    }

    #[test]
    fn gathered_operand_gives_the_bits_of_its_written_out_matrix() {
        let mut rng = StdRng::seed_from_u64(5);
        let (m, k, n) = (5, 4, 20);
        let data = random(&mut rng, 100);
        let rows: Vec<u32> = (0..k).map(|_| rng.gen_range(0..50)).collect();
        for runs in [false, true] {
            let mut cols: Vec<u32> = (0..n).map(|_| rng.gen_range(0..46)).collect();
            if runs {
                // Runs of 4 adjacent offsets, as in a transposed k = 4 column matrix (the last
                // panel ends in part of a run).
                for j in 0..n {
                    cols[j] = cols[j / 4 * 4] + (j % 4) as u32;
                }
            }
            let ad = random(&mut rng, m * k);
            let a = MatRef::row_major(&ad, m, k);
            let g = Gathered::new(&data, &rows, &cols);
            let mut written = vec![0.0; k * n];
            g.write_row_major(&mut written);
            let b = MatRef::row_major(&written, k, n);
            for accumulate in [false, true] {
                let init = random(&mut rng, m * n);
                let (mut want, mut got) = (init.clone(), init);
                portable(
                    SMALL,
                    MatMut::row_major(&mut want, m, n),
                    accumulate,
                    a,
                    b.into(),
                );
                portable(
                    SMALL,
                    MatMut::row_major(&mut got, m, n),
                    accumulate,
                    a,
                    g.into(),
                );
                assert_eq!(got, want, "runs={runs} accumulate={accumulate}");
            }
        }
    }

    /// (Named for Miri's runs: these are the tests that use rayon's threads.)
    #[test]
    fn threaded_products_are_right_and_do_not_depend_on_the_thread_count() {
        // Split over two threads, each packing its own columns of `b`.
        pool(2).install(|| check::<_, TM, TN>(Portable, SMALL_PARALLEL, (5, 4, 33), 9));
        let (m, k, n) = (6, 4, 40);
        let mut rng = StdRng::seed_from_u64(9);
        let (ad, bd) = (random(&mut rng, m * k), random(&mut rng, k * n));
        let run = |threads: usize| {
            let mut dst = vec![0.0f32; m * n];
            pool(threads).install(|| {
                let (a, b) = (MatRef::row_major(&ad, m, k), MatRef::row_major(&bd, k, n));
                portable(
                    SMALL_PARALLEL,
                    MatMut::row_major(&mut dst, m, n),
                    false,
                    a,
                    b.into(),
                );
            });
            dst
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn stale_packing_buffers_do_not_leak_into_results() {
        // One thread (no splitting), so that every product packs into the same (reused, never
        // cleared) buffers: first a larger product of NaNs, then ragged ones that use only part
        // of them.
        let (m, k, n) = (9, 7, 33);
        let nan = vec![f32::NAN; m.max(n) * k];
        let mut dst = vec![0.0f32; m * n];
        let (a, b) = (MatRef::row_major(&nan, m, k), MatRef::row_major(&nan, k, n));
        portable(SMALL, MatMut::row_major(&mut dst, m, n), false, a, b.into());
        check::<_, TM, TN>(Portable, SMALL, (5, 4, 9), 1000);
        check::<_, TM, TN>(Portable, SMALL, (2, 2, 17), 1001);
    }

    #[test]
    fn empty_depth_clears_or_keeps_the_output() {
        let mut dst = vec![1.0f32; 6];
        let none: [f32; 0] = [];
        let (a, b) = (
            MatRef::row_major(&none, 2, 0),
            MatRef::row_major(&none, 0, 3),
        );
        portable(SMALL, MatMut::row_major(&mut dst, 2, 3), true, a, b.into());
        assert_eq!(dst, [1.0; 6]);
        portable(SMALL, MatMut::row_major(&mut dst, 2, 3), false, a, b.into());
        assert_eq!(dst, [0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "product")]
    fn shapes_that_do_not_chain_are_refused() {
        let data = [0.0f32; 12];
        let mut dst = [0.0f32; 6];
        let (a, b) = (
            MatRef::row_major(&data, 2, 4),
            MatRef::row_major(&data, 3, 3),
        );
        portable(SMALL, MatMut::row_major(&mut dst, 2, 3), false, a, b.into());
    }

    /// `kernel`'s product against the reference, and bit for bit against the portable tile of
    /// the same shape, at the block sizes used in training and at small ones, on ragged shapes,
    /// and split over two threads.
    fn simd_tile_gives_the_portable_bits<K: TileKernel<R, C>, const R: usize, const C: usize>(
        kernel: K,
        name: &str,
    ) {
        let mut rng = StdRng::seed_from_u64(11);
        let small = Blocking { nc: 2 * C, ..SMALL };
        for blocking in [small, BLOCKING] {
            for &(m, k, n) in &[
                (1, 1, 1),
                (R, 256, C),
                (R + 1, 257, C + 1),
                (5, 3, 47),
                (121, 300, 65),
                (130, 513, 600),
                (7, 1000, 1030),
            ] {
                let (ad, bd) = (random(&mut rng, m * k), random(&mut rng, k * n));
                let init = random(&mut rng, m * n);
                let a = MatRef::row_major(&ad, m, k);
                let b = MatRef::row_major(&bd, n, k).transposed();
                for accumulate in [false, true] {
                    let (mut fast, mut portable) = (init.clone(), init.clone());
                    let dst = MatMut::row_major(&mut fast, m, n);
                    product::<_, R, C>(kernel, blocking, dst, accumulate, a, b.into());
                    let dst = MatMut::row_major(&mut portable, m, n);
                    product::<_, R, C>(Portable, blocking, dst, accumulate, a, b.into());
                    assert!(
                        fast.iter()
                            .zip(&portable)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{name}: {m}×{k}×{n} accumulate={accumulate} {blocking:?}"
                    );
                }
            }
            check::<_, R, C>(kernel, blocking, (130, 513, 600), 12);
        }
        let parallel = Blocking {
            parallel_min: 0,
            ..BLOCKING
        };
        pool(2).install(|| check::<_, R, C>(kernel, parallel, (13, 40, 200), 13));
    }

    /// Every SIMD path this CPU runs (whatever `TRAINER_SIMD` says), against the portable tile.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs the portable path only")]
    fn every_simd_tile_this_cpu_runs_gives_the_portable_bits() {
        for simd in Simd::available() {
            match simd {
                Simd::Avx512(token) => {
                    simd_tile_gives_the_portable_bits(Avx512Tile(token), "avx512");
                }
                Simd::Avx2(token) => simd_tile_gives_the_portable_bits(Avx2Tile(token), "avx2"),
                Simd::Portable => {}
            }
            eprintln!("{simd}: checked");
        }
    }
}
