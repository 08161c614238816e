//! The f32 matrix product behind every layer: an AVX-512 kernel chosen at run time, split over
//! the rayon threads.
//!
//! `gemm` 0.15 (dfdx's) only uses AVX2 on stable Rust; its AVX-512 path needs a nightly feature.
//! This kernel is the usual packed design (Goto/BLIS): blocks of `B` (`KC × NC`) and `A`
//! (`MC × KC`) are copied into zero-padded panels, and a `12 × 32` register tile (24 zmm
//! accumulators) is updated with one embedded-broadcast FMA per element of `A`. Ragged edges use
//! masked loads and stores. Where AVX-512 is missing, or for shapes too thin for the tile (fewer
//! than 32 columns), [`super::kernel::matmul`] stays on `gemm`.
//!
//! Determinism: every output element is reduced over `k` in the same order (`KC` blocks in
//! sequence, each summed front to back in one accumulator lane) whichever thread computes it and
//! however the columns are split, so results do not depend on the thread count or on timing.
#![allow(unsafe_code)] // SIMD intrinsics and the disjoint writes of the threads; see each SAFETY

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::kernel::{MatRef, Rhs};

/// Rows of the register tile.
const MR: usize = 12;
/// Columns of the register tile (two zmm registers).
pub(crate) const NR: usize = 32;
/// Depth of one packed block: a `MR × KC` panel of `A` (12 KiB) stays in L1.
const KC: usize = 256;
/// Columns of `B` packed at once (`KC × NC` = 512 KiB, in the 1 MiB L2).
const NC: usize = 512;
/// Products smaller than this (multiply-adds) run on one thread: splitting costs more than it saves.
const PARALLEL_MIN: usize = 1 << 18;

/// Whether this CPU runs the AVX-512 kernel (checked once).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A raw output pointer shared by threads that write disjoint column ranges.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: each thread writes only its own columns of the output (see `sgemm`), so sharing the
// pointer across threads creates no overlapping writes.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `dst = a · b` (or `dst += a · b` with `accumulate`): `a` is `m × k`, `b` is `k × n` (strided,
/// or gathered through offset tables), `dst` is `m × n` row-major with row stride `dst_rs`.
/// Returns `false`, touching nothing, when the AVX-512 kernel is unavailable or the shape does not
/// suit it; the caller then uses `gemm`.
///
/// The caller has checked that every operand fits in its slice (`MatRef::check`,
/// `Gathered::new` and the `dst` bounds in `kernel::matmul`) and that `m, k, n > 0`. The packing
/// reads the operands with bounds-checked indexing, so only `dst` relies on these checks.
pub(crate) fn sgemm(
    (m, k, n): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) -> bool {
    if !available() || n < NR || m == 0 || k == 0 {
        return false;
    }
    assert!((m - 1) * dst_rs + n <= dst.len(), "sgemm: dst too short");
    let out = Out(dst.as_mut_ptr());
    let threads = rayon::current_num_threads().max(1);
    // Split the columns into NR-aligned ranges, one per thread.
    let panels = n.div_ceil(NR);
    let parts = if m * n * k >= PARALLEL_MIN {
        threads.min(panels)
    } else {
        1
    };
    let range = |t: usize| {
        let lo = (panels * t / parts) * NR;
        let hi = ((panels * (t + 1) / parts) * NR).min(n);
        (lo, hi)
    };
    let run = |t: usize| {
        let (lo, hi) = range(t);
        // SAFETY: AVX-512F is available (checked above). The column ranges of the parts are
        // disjoint, so no two threads write the same element of `dst`; every element written
        // (row < m, column < n) lies in `dst` (asserted above).
        unsafe { block(m, k, lo, hi, out, dst_rs, accumulate, a, b) }
    };
    if parts == 1 {
        run(0);
    } else {
        use rayon::prelude::*;
        (0..parts).into_par_iter().for_each(run);
    }
    true
}

thread_local! {
    /// Packing buffers, reused across calls so that products allocate and fault in nothing.
    static PACKS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Columns `lo..hi` of the product, on this thread.
///
/// All of `a` is packed first (it is small beside `b`, and every column block reuses it); then
/// `b` one `KC × NC` block at a time, each multiplied with every `MR`-row panel of `a`.
///
/// # Safety
/// AVX-512F must be available; `out` must be valid for writes of rows `< m` (stride `dst_rs`) and
/// columns `lo..hi`, with no other thread writing them.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    m: usize,
    k: usize,
    lo: usize,
    hi: usize,
    out: Out,
    dst_rs: usize,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) {
    PACKS.with(|packs| {
        let (pa, pb) = &mut *packs.borrow_mut();
        // `a` as `MR`-row panels, `KC` block by `KC` block: block `pc` starts at `pc · m_padded`
        // and its panel of rows `i..i+MR` at `i · kc` within it.
        let m_padded = m.div_ceil(MR) * MR;
        if pa.len() < m_padded * k {
            pa.resize(m_padded * k, 0.0);
        }
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack_a(a, m, pc, kc, &mut pa[pc * m_padded..][..m_padded * kc]);
        }
        for jc in (lo..hi).step_by(NC) {
            let nc = NC.min(hi - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                pack_b(b, pc, kc, jc, nc, pb);
                // The first k block overwrites unless accumulating; later ones add.
                let load_c = accumulate || pc > 0;
                for ir in (0..m).step_by(MR) {
                    let pa_panel = pa.as_ptr().add(pc * m_padded + ir * kc);
                    for jr in (0..nc).step_by(NR) {
                        let c = out.0.add(ir * dst_rs + jc + jr);
                        micro(
                            kc,
                            pa_panel,
                            pb.as_ptr().add(jr * kc),
                            c,
                            dst_rs,
                            load_c,
                            MR.min(m - ir),
                            NR.min(nc - jr),
                        );
                    }
                }
            }
        }
    });
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    _: usize,
    _: usize,
    _: usize,
    _: usize,
    _: Out,
    _: usize,
    _: bool,
    _: MatRef<'_, f32>,
    _: Rhs<'_, f32>,
) {
    unreachable!("sgemm: `available()` is false off x86_64")
}

/// Packs rows `pc..pc+kc`, columns `jc..jc+nc` of `b` as `NR`-column panels, each `kc × NR`
/// row-major, zero-padded to a whole panel.
fn pack_b(b: Rhs<'_, f32>, pc: usize, kc: usize, jc: usize, nc: usize, out: &mut Vec<f32>) {
    let panels = nc.div_ceil(NR);
    // Every element is written below (the padding of a ragged last panel with zeros), so the
    // reused buffer is only grown, never cleared.
    if out.len() < panels * kc * NR {
        out.resize(panels * kc * NR, 0.0);
    }
    for (pi, panel) in out[..panels * kc * NR]
        .chunks_exact_mut(kc * NR)
        .enumerate()
    {
        let j0 = jc + pi * NR;
        let w = NR.min(jc + nc - j0);
        if w < NR {
            for row in panel.chunks_exact_mut(NR) {
                row[w..].fill(0.0);
            }
        }
        let b = match b {
            Rhs::Strided(b) => b,
            Rhs::Gathered(g) => {
                // im2col on the fly: each row of the panel reads its `w` elements through the
                // column offsets from where the row offset points.
                // (Bounds-checked loads: unchecked ones and AVX-512 gathers were no faster here.)
                let cols = &g.cols()[j0..j0 + w];
                let rows = &g.rows()[pc..pc + kc];
                // A transposed column matrix has runs of `k` adjacent offsets (one kernel row);
                // runs of 4 (k = 4) are copied 4 floats at a time.
                let runs_of_4 = cols.len() % 4 == 0
                    && cols
                        .chunks_exact(4)
                        .all(|q| q[1] == q[0] + 1 && q[2] == q[0] + 2 && q[3] == q[0] + 3);
                for (row, &r) in panel.chunks_exact_mut(NR).zip(rows) {
                    let src = &g.data()[r as usize..];
                    if runs_of_4 {
                        for (dst, q) in row.chunks_exact_mut(4).zip(cols.chunks_exact(4)) {
                            let from: &[f32; 4] =
                                src[q[0] as usize..][..4].try_into().expect("4 floats");
                            let to: &mut [f32; 4] = dst.try_into().expect("4 floats");
                            *to = *from;
                        }
                    } else {
                        for (dst, &c) in row.iter_mut().zip(cols) {
                            *dst = src[c as usize];
                        }
                    }
                }
                continue;
            }
        };
        if b.cs == 1 && w == NR {
            // Whole panels: a copy of a fixed `NR` floats compiles to two vector moves, where
            // the `w`-sized copy below is a `memmove` call per 128-byte row.
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * b.rs + j0;
                let src: &[f32; NR] = b.data[base..base + NR].try_into().expect("NR floats");
                let dst: &mut [f32; NR] = row.try_into().expect("NR floats");
                *dst = *src;
            }
        } else if b.cs == 1 {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * b.rs + j0;
                row[..w].copy_from_slice(&b.data[base..base + w]);
            }
        } else if b.rs == 1 {
            // Column-major source (a transposed matrix, e.g. a Linear weight): read each column
            // front to back and scatter it down the panel.
            for j in 0..w {
                let col = &b.data[(j0 + j) * b.cs + pc..][..kc];
                for (dst, &v) in panel[j..].iter_mut().step_by(NR).zip(col) {
                    *dst = v;
                }
            }
        } else {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * b.rs + j0 * b.cs;
                for (j, v) in row[..w].iter_mut().enumerate() {
                    *v = b.data[base + j * b.cs];
                }
            }
        }
    }
}

/// Packs rows `0..m`, columns `pc..pc+kc` of `a` into `out` as `MR`-row panels, each `kc × MR`
/// (column by column), the last zero-padded to a whole panel.
fn pack_a(a: MatRef<'_, f32>, m: usize, pc: usize, kc: usize, out: &mut [f32]) {
    // Every element is written below (the padding rows with zeros), so `out` may hold anything.
    for (pi, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = pi * MR;
        let h = MR.min(m - i0);
        if h < MR {
            for col in panel.chunks_exact_mut(MR) {
                col[h..].fill(0.0);
            }
        }
        if a.rs == 1 && h == MR {
            // As in `pack_b`: fixed-size copies instead of a `memmove` call per 48-byte column.
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                let base = i0 + (pc + p) * a.cs;
                let src: &[f32; MR] = a.data[base..base + MR].try_into().expect("MR floats");
                let dst: &mut [f32; MR] = col.try_into().expect("MR floats");
                *dst = *src;
            }
        } else if a.rs == 1 {
            // Column-major source (a transposed matrix): each column of the panel is contiguous.
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                let base = i0 + (pc + p) * a.cs;
                col[..h].copy_from_slice(&a.data[base..base + h]);
            }
        } else if a.cs == 1 && h == MR {
            // Row-major source: the panel's `MR` rows side by side, one column at a time (the
            // `MR` streams are read front to back; each column is one contiguous write).
            let rows: [&[f32]; MR] = std::array::from_fn(|i| &a.data[(i0 + i) * a.rs + pc..][..kc]);
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                for (dst, row) in col.iter_mut().zip(&rows) {
                    *dst = row[p];
                }
            }
        } else {
            for i in 0..h {
                let row = a.data[(i0 + i) * a.rs + pc * a.cs..].iter().step_by(a.cs);
                for (dst, &v) in panel[i..].iter_mut().step_by(MR).zip(row.take(kc)) {
                    *dst = v;
                }
            }
        }
    }
}

/// The register tile: `c[0..mr][0..nr] (+)= Σ_p a[p][i] · b[p][j]` over `kc` packed steps.
///
/// # Safety
/// AVX-512F must be available; `a` holds `kc × MR` and `b` `kc × NR` floats; `c` is valid for
/// reads and writes of `mr` rows (stride `c_rs`) of `nr` columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn micro(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    c_rs: usize,
    load_c: bool,
    mr: usize,
    nr: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..kc {
        let b0 = _mm512_loadu_ps(b.add(p * NR));
        let b1 = _mm512_loadu_ps(b.add(p * NR + 16));
        let ap = a.add(p * MR);
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm512_set1_ps(*ap.add(i));
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
    }
    let mask = |w: usize| -> __mmask16 { ((1u32 << w.min(16)) - 1) as __mmask16 };
    let (m0, m1) = (mask(nr), mask(nr.saturating_sub(16)));
    for (i, row) in acc.iter().enumerate().take(mr) {
        // `wrapping_add`: the second half may lie past the end of `c` when fully masked off;
        // masked-off lanes are never accessed.
        let p0 = c.add(i * c_rs);
        let p1 = p0.wrapping_add(16);
        let (mut v0, mut v1) = (row[0], row[1]);
        if load_c {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p0), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p1), v1);
        }
        _mm512_mask_storeu_ps(p0, m0, v0);
        _mm512_mask_storeu_ps(p1, m1, v1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::kernel::Gathered;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// `a · b` in f64, loops only.
    fn reference(
        (m, k, n): (usize, usize, usize),
        a: MatRef<'_, f32>,
        b: MatRef<'_, f32>,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| {
                        f64::from(a.data[i * a.rs + p * a.cs])
                            * f64::from(b.data[p * b.rs + j * b.cs])
                    })
                    .sum();
            }
        }
        c
    }

    fn check(m: usize, k: usize, n: usize, a_t: bool, b_t: bool, accumulate: bool, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rand =
            |len: usize| -> Vec<f32> { (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let (ad, bd) = (rand(m * k), rand(k * n));
        let a = if a_t {
            MatRef::transposed(&ad, m)
        } else {
            MatRef::row_major(&ad, k)
        };
        let b = if b_t {
            MatRef::transposed(&bd, k)
        } else {
            MatRef::row_major(&bd, n)
        };
        let dst_rs = n + 3; // a row stride wider than the matrix: the gap must stay untouched
        let init = rand(m * dst_rs);
        let mut dst = init.clone();
        assert!(sgemm((m, k, n), &mut dst, dst_rs, accumulate, a, b.into()));
        let expected = reference((m, k, n), a, b);
        for i in 0..m {
            for j in 0..dst_rs {
                let got = f64::from(dst[i * dst_rs + j]);
                if j >= n {
                    assert_eq!(
                        dst[i * dst_rs + j],
                        init[i * dst_rs + j],
                        "gap ({i}, {j}) written"
                    );
                    continue;
                }
                let want = expected[i * n + j]
                    + if accumulate {
                        f64::from(init[i * dst_rs + j])
                    } else {
                        0.0
                    };
                assert!(
                    (got - want).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()),
                    "{m}×{k}×{n} a_t={a_t} b_t={b_t} acc={accumulate}: ({i}, {j}) {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn matches_reference_on_ragged_shapes_and_layouts() {
        if !available() {
            eprintln!("no AVX-512 on this CPU: the kernel is not used here");
            return;
        }
        let mut seed = 0;
        // Edges of every blocking level: MR=12, NR=32, KC=256, MC=120, NC=512.
        for &(m, k, n) in &[
            (1, 1, 32),
            (12, 256, 32),
            (13, 257, 33),
            (5, 3, 47),
            (64, 100, 256),
            (121, 300, 65),
            (130, 513, 600),
            (7, 1000, 1030),
        ] {
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                for accumulate in [false, true] {
                    seed += 1;
                    check(m, k, n, a_t, b_t, accumulate, seed);
                }
            }
        }
    }

    #[test]
    fn stale_packing_buffers_do_not_leak_into_results() {
        if !available() {
            return;
        }
        // One thread, so that every product packs into the same (reused, never cleared)
        // buffers: first a large product of NaNs, then ragged ones that use only part of them.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("thread pool");
        pool.install(|| {
            let (m, k, n) = (130, 513, 600);
            let nan = vec![f32::NAN; m.max(n) * k];
            let mut dst = vec![0.0f32; m * n];
            assert!(sgemm(
                (m, k, n),
                &mut dst,
                n,
                false,
                MatRef::row_major(&nan, k),
                MatRef::row_major(&nan, n).into(),
            ));
            let mut seed = 1000;
            for &(m, k, n) in &[(13, 257, 33), (5, 3, 47), (121, 300, 65), (1, 1, 32)] {
                for (a_t, b_t) in [(false, false), (true, true)] {
                    seed += 1;
                    check(m, k, n, a_t, b_t, false, seed);
                }
            }
        });
    }

    #[test]
    fn gathered_operand_gives_the_bits_of_its_written_out_matrix() {
        if !available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(5);
        // Ragged at every blocking level; random column offsets, and runs of 4 adjacent ones
        // (as in a transposed k = 4 column matrix; the last panels of n = 33, 47 and 1030 end
        // in part of a run).
        let shapes = [(13, 257, 33), (5, 3, 47), (130, 513, 600), (12, 40, 1030)];
        for (&(m, k, n), runs) in shapes.iter().flat_map(|s| [(s, false), (s, true)]) {
            let data: Vec<f32> = (0..4096).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let rows: Vec<u32> = (0..k).map(|_| rng.gen_range(0..2048)).collect();
            let mut cols: Vec<u32> = (0..n).map(|_| rng.gen_range(0..2044)).collect();
            if runs {
                for j in 0..n {
                    cols[j] = cols[j / 4 * 4] + (j % 4) as u32;
                }
            }
            let ad: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let a = MatRef::row_major(&ad, k);
            let g = Gathered::new(&data, &rows, &cols);
            let written = g.to_row_major();
            for accumulate in [false, true] {
                let init: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let (mut want, mut got) = (init.clone(), init);
                assert!(sgemm(
                    (m, k, n),
                    &mut want,
                    n,
                    accumulate,
                    a,
                    MatRef::row_major(&written, n).into()
                ));
                assert!(sgemm((m, k, n), &mut got, n, accumulate, a, g.into()));
                assert_eq!(got, want, "{m}×{k}×{n} runs={runs} accumulate={accumulate}");
            }
            // The transpose: the same elements, read column for row.
            let t = g.transposed().to_row_major();
            for (i, j) in [(0, 0), (k - 1, n - 1), (k / 2, n / 3)] {
                assert_eq!(t[j * k + i], written[i * n + j]);
            }
        }
    }

    #[test]
    fn declines_thin_products() {
        let mut dst = vec![0.0f32; 64];
        let a = vec![1.0f32; 64 * 4];
        let b = vec![1.0f32; 4];
        assert!(!sgemm(
            (64, 4, 1),
            &mut dst,
            1,
            false,
            MatRef::row_major(&a, 4),
            MatRef::row_major(&b, 1).into()
        ));
        assert!(dst.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        if !available() {
            return;
        }
        let (m, k, n) = (70, 300, 1000);
        let mut rng = StdRng::seed_from_u64(9);
        let ad: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let bd: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut dst = vec![0.0f32; m * n];
            pool.install(|| {
                assert!(sgemm(
                    (m, k, n),
                    &mut dst,
                    n,
                    false,
                    MatRef::row_major(&ad, k),
                    MatRef::row_major(&bd, n).into()
                ))
            });
            dst
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}

/// Throughput of the kernel against `gemm` on the products the presets make (run by hand:
/// `cargo test --release -p trainer --lib sgemm::speed -- --ignored --nocapture`).
#[cfg(test)]
mod speed {
    use super::*;
    use std::time::Instant;

    fn gemm_crate(
        (m, k, n): (usize, usize, usize),
        dst: &mut [f32],
        a: MatRef<'_, f32>,
        b: MatRef<'_, f32>,
    ) {
        // SAFETY: the operands are full matrices of the stated sizes (built below).
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.data.as_ptr(),
                a.cs as isize,
                a.rs as isize,
                b.data.as_ptr(),
                b.cs as isize,
                b.rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
    }

    #[test]
    #[ignore]
    fn speed() {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
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
                let a = if a_t {
                    MatRef::transposed(&ad, m)
                } else {
                    MatRef::row_major(&ad, k)
                };
                let b = if b_t {
                    MatRef::transposed(&bd, k)
                } else {
                    MatRef::row_major(&bd, n)
                };
                let mut dst = vec![0.0f32; m * n];
                let best = |f: &mut dyn FnMut()| {
                    (0..7)
                        .map(|_| {
                            let t = Instant::now();
                            f();
                            t.elapsed().as_secs_f64()
                        })
                        .fold(f64::MAX, f64::min)
                };
                let flops = 2.0 * (m * k * n) as f64;
                let own = pool.install(|| {
                    best(&mut || {
                        sgemm((m, k, n), &mut dst, n, false, a, b.into());
                    })
                });
                let theirs = pool.install(|| best(&mut || gemm_crate((m, k, n), &mut dst, a, b)));
                eprintln!(
                    "{threads} thr {name:24} own {:6.1} GFLOP/s  gemm {:6.1} GFLOP/s",
                    flops / own / 1e9,
                    flops / theirs / 1e9
                );
            }
        }
    }
}
