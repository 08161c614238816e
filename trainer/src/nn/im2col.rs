//! im2col and col2im, the pair the convolutions are made of.
//!
//! # Layouts
//! Images are NCHW, row-major and contiguous. For a convolution with kernel `k`, stride `s` and
//! padding `p` whose kernel window visits a `grid_h × grid_w` grid of positions on an
//! `img_h × img_w` image, the *column matrix* is row-major with
//! `rows = chan·k·k` (row `(c, ky, kx)`) and `cols = batch·grid_h·grid_w` (column `(b, gy, gx)`),
//! and holds `img[b][c][gy·s + ky − p][gx·s + kx − p]`, or zero where that falls into the padding.
//! [`Im2Col`] presents it to the matrix products without writing it out; [`col2im`] is its
//! adjoint (the transpose of the same linear map) and scatter-adds a column matrix back into an
//! image.
//!
//! For [`Conv2D`](super::Conv2D) the image is the layer input and the grid its output; for
//! [`ConvTrans2D`](super::ConvTrans2D) it is the other way round, which is why one pair of
//! functions serves both layers (and each layer's backward pass is the other layer's forward).

use dfdx::prelude::Dtype;
use rayon::prelude::*;

use super::float::NnFloat;
use super::matmul::{matmul, Gathered, MatMut, MatRef};
use super::scratch::{recycle, scratch};

/// Where the kernel window of a convolution lands: see the module docs for the meaning of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub chan: usize,
    pub img_h: usize,
    pub img_w: usize,
    pub grid_h: usize,
    pub grid_w: usize,
    pub k: usize,
    pub s: usize,
    pub p: usize,
}

impl Geometry {
    /// Number of elements of one image tensor `(batch, chan, img_h, img_w)`.
    pub fn img_len(&self) -> usize {
        self.batch * self.chan * self.img_h * self.img_w
    }
    /// Rows of the column matrix: `chan·k·k`.
    pub fn rows(&self) -> usize {
        self.chan * self.k * self.k
    }
    /// Columns of the column matrix: `batch·grid_h·grid_w`.
    pub fn cols(&self) -> usize {
        self.batch * self.grid_h * self.grid_w
    }
    /// Number of elements of the column matrix.
    pub fn cols_len(&self) -> usize {
        self.rows() * self.cols()
    }
}

/// Height and width of the zero-padded image plane: the image at offset `(p, p)`, and room for
/// every position any kernel window touches.
fn padded_size(g: &Geometry) -> (usize, usize) {
    assert!(g.s > 0, "stride must be positive");
    let span = |grid: usize| if grid == 0 { 0 } else { (grid - 1) * g.s + g.k };
    (
        (g.img_h + g.p).max(span(g.grid_h)),
        (g.img_w + g.p).max(span(g.grid_w)),
    )
}

/// A zero-padded image plane split into its `s × s` stride phases, where [`col2im`] sums.
///
/// The padded plane is `ph × pw` with the image at offset `(p, p)` (see [`padded_size`]).
/// Phase `(ry, rx)` holds the padded positions `(y, x)` with `y mod s = ry` and `x mod s = rx`, at
/// `(y / s, x / s)` of a `rows × cols` plane. The contribution of kernel offset `(ky, kx)` at grid
/// position `(gy, gx)` lands on padded `(gy·s + ky, gx·s + kx)`, that is on row `gy + ky / s`,
/// column `gx + kx / s` of phase `(ky mod s, kx mod s)`: one grid row is one contiguous run of a
/// phase row, which the compiler vectorises, where the padded plane itself would take every
/// `s`-th element.
struct Phases {
    s: usize,
    rows: usize,
    cols: usize,
}

impl Phases {
    fn new(g: &Geometry) -> Self {
        let (ph, pw) = padded_size(g);
        Self {
            s: g.s,
            rows: ph.div_ceil(g.s),
            cols: pw.div_ceil(g.s),
        }
    }

    /// Elements of all phases together.
    fn len(&self) -> usize {
        self.s * self.s * self.rows * self.cols
    }

    /// Offset of padded position `(y, x)` in the phases.
    fn offset(&self, y: usize, x: usize) -> usize {
        (((y % self.s) * self.s + x % self.s) * self.rows + y / self.s) * self.cols + x / self.s
    }
}

/// The column matrix of a batch of images (see the module docs), never written out: the images,
/// zero-padded once, and two offset tables through which the matrix products read it as a
/// [`Gathered`] matrix — element `(row, col)` is `padded[row_off[row] + col_off[col]]`.
///
/// This saves writing the column matrix (13 MB for a DCGAN layer, `k²/s²` = 4 times its input)
/// and copying it once more into the matrix kernel's packed panels; a backward pass keeps this
/// (the padded images, about 1.3 times the input) instead.
pub(crate) struct Im2Col<E> {
    /// The images `(batch, chan, ph, pw)`, each plane zero-padded as in [`padded_size`].
    padded: Vec<E>,
    /// Row `(c, ky, kx)` starts at `c·ph·pw + ky·pw + kx`.
    row_off: Vec<u32>,
    /// Column `(b, gy, gx)` adds `b·chan·ph·pw + gy·s·pw + gx·s`.
    col_off: Vec<u32>,
}

impl<E: NnFloat> Im2Col<E> {
    /// Pads the images `img` (planes in parallel) and lays out the offsets.
    ///
    /// # Panics
    /// If the image length does not match `g`, or the padded images have more than `u32::MAX`
    /// elements.
    pub fn new(g: &Geometry, img: &[E]) -> Self {
        assert_eq!(img.len(), g.img_len(), "im2col: image length");
        let (ph, pw) = padded_size(g);
        let plane = ph * pw;
        let len = g.batch * g.chan * plane;
        assert!(len <= u32::MAX as usize, "im2col: padded images too large");
        // Every element is written below (each padded row once: zeros, or zeros around an image
        // row), so stale contents are fine.
        let mut padded = scratch(len);
        let img_plane = g.img_h * g.img_w;
        if img_plane == 0 {
            padded.fill(E::default());
        } else if plane > 0 {
            padded
                .par_chunks_mut(plane)
                .zip(img.par_chunks(img_plane))
                .for_each(|(dst, src)| {
                    for (y, row) in dst.chunks_exact_mut(pw).enumerate() {
                        match y.checked_sub(g.p).filter(|&iy| iy < g.img_h) {
                            Some(iy) => {
                                let (left, rest) = row.split_at_mut(g.p);
                                let (mid, right) = rest.split_at_mut(g.img_w);
                                left.fill(E::default());
                                mid.copy_from_slice(&src[iy * g.img_w..][..g.img_w]);
                                right.fill(E::default());
                            }
                            None => row.fill(E::default()),
                        }
                    }
                });
        }
        let mut row_off = Vec::with_capacity(g.rows());
        for c in 0..g.chan {
            for ky in 0..g.k {
                row_off.extend((0..g.k).map(|kx| (c * plane + ky * pw + kx) as u32));
            }
        }
        let mut col_off = Vec::with_capacity(g.cols());
        for b in 0..g.batch {
            for gy in 0..g.grid_h {
                let row = b * g.chan * plane + gy * g.s * pw;
                col_off.extend((0..g.grid_w).map(|gx| (row + gx * g.s) as u32));
            }
        }
        Self {
            padded,
            row_off,
            col_off,
        }
    }

    /// The column matrix, `chan·k·k × batch·grid_h·grid_w`.
    pub fn matrix(&self) -> Gathered<'_, E> {
        Gathered::new(&self.padded, &self.row_off, &self.col_off)
    }

    /// Gives the padded images back to the pool of temporaries.
    pub fn recycle(self) {
        recycle(self.padded);
    }
}

/// Adds the column matrix `cols` into the images `img` (the adjoint of [`Im2Col`]: every column
/// entry is added to the pixel it was read from; entries that fall into the padding are dropped).
///
/// Each channel gathers only its own rows of `cols`, so channels are done in parallel; each plane
/// `(b, c)` sums its `k·k` contributions in a zeroed padded plane split into stride phases
/// ([`Phases`]), kernel offset by kernel offset, and then adds the interior to the image.
///
/// # Panics
/// If the slice lengths do not match `g`.
pub(crate) fn col2im<E: Dtype>(g: &Geometry, cols: &[E], img: &mut [E]) {
    assert_eq!(img.len(), g.img_len(), "col2im: image length");
    assert_eq!(cols.len(), g.cols_len(), "col2im: column matrix length");
    let phases = Phases::new(g);
    let (grid, kk, plane, ncols) = (g.grid_h * g.grid_w, g.k * g.k, g.img_h * g.img_w, g.cols());
    if plane == 0 || ncols == 0 || g.grid_w == 0 || g.chan == 0 {
        return;
    }
    // One task per channel: its k·k rows of `cols` are read front to back (a plane at a time, the
    // same rows would be visited in 16 short pieces a page apart), and its planes of every image
    // are summed in `pads`, small enough to stay in cache.
    let mut by_channel: Vec<Vec<&mut [E]>> = (0..g.chan).map(|_| Vec::new()).collect();
    for (bc, dst) in img.chunks_exact_mut(plane).enumerate() {
        by_channel[bc % g.chan].push(dst);
    }
    by_channel
        .into_par_iter()
        .enumerate()
        .for_each_init(Vec::new, |pads, (c, mut planes)| {
            pads.clear();
            pads.resize(g.batch * phases.len(), E::default());
            // Kernel offsets in order, so that every pixel sums its contributions in the same
            // order as an element-by-element scatter would.
            for k in 0..kk {
                // Grid row gy lands on row gy + ky / s of the phase: one phase row further each.
                let first = phases.offset(k / g.k, k % g.k);
                let row = &cols[(c * kk + k) * ncols..][..ncols];
                for (pad, seg) in pads
                    .chunks_exact_mut(phases.len())
                    .zip(row.chunks_exact(grid))
                {
                    let pad = &mut pad[first..];
                    // Fixed widths unrolled: the runs are short, and a loop of unknown length
                    // spent more on its own bookkeeping than on the additions.
                    match g.grid_w {
                        7 => add_runs::<E, 7>(pad, phases.cols, seg),
                        14 => add_runs::<E, 14>(pad, phases.cols, seg),
                        w => {
                            for (run, src) in pad.chunks_mut(phases.cols).zip(seg.chunks_exact(w)) {
                                for (d, v) in run[..w].iter_mut().zip(src) {
                                    *d += *v;
                                }
                            }
                        }
                    }
                }
            }
            for (dst, pad) in planes.iter_mut().zip(pads.chunks_exact(phases.len())) {
                for (y, row) in dst.chunks_exact_mut(g.img_w).enumerate() {
                    if g.s == 2 {
                        // Stride 2 (every strided layer here): the row interleaves two phase
                        // rows, added pair by pair.
                        let from = |x| pad.get(phases.offset(y + g.p, x)..).unwrap_or(&[]);
                        let px = g.p;
                        let (even, odd) = (from(px), from(px + 1));
                        let (pairs, last) = row.as_chunks_mut::<2>();
                        for (pair, (e, o)) in pairs.iter_mut().zip(even.iter().zip(odd)) {
                            pair[0] += *e;
                            pair[1] += *o;
                        }
                        if let (Some(d), Some(e)) = (last.first_mut(), even.get(pairs.len())) {
                            *d += *e;
                        }
                        continue;
                    }
                    // The pixels of one phase are every s-th of the row, consecutive in the phase.
                    for x0 in 0..g.s.min(g.img_w) {
                        let at = phases.offset(y + g.p, x0 + g.p);
                        for (d, s) in row.iter_mut().skip(x0).step_by(g.s).zip(&pad[at..]) {
                            *d += *s;
                        }
                    }
                }
            }
        });
}

/// Adds the runs of `W` elements of `seg` to `pad`, one every `stride` elements.
fn add_runs<E: Dtype, const W: usize>(pad: &mut [E], stride: usize, seg: &[E]) {
    let (runs, _) = seg.as_chunks::<W>();
    for (i, src) in runs.iter().enumerate() {
        let Some(dst) = pad
            .get_mut(i * stride..)
            .and_then(|p| p.first_chunk_mut::<W>())
        else {
            break;
        };
        for (d, v) in dst.iter_mut().zip(src) {
            *d += *v;
        }
    }
}

/// Columns of the column matrix that [`col2im_of_product`] computes at once, about: a block of
/// this many columns of a DCGAN layer (1,024 rows) is 2 MB, which stays in a core's L2 cache from
/// the product that writes it to the col2im that reads it.
const COLUMNS_AT_ONCE: usize = 512;

/// `img += col2im(a · b)` for the column matrix `a · b` (`a`: `g.rows() × k`, `b`: `k × g.cols()`),
/// computed a few whole images at a time so that it is never written out whole.
///
/// Whole as a column matrix (13 MB for a DCGAN layer) it went to memory and came back for the
/// scatter-add; a block of images' columns stays in cache. The result is bit for bit that of the
/// product followed by [`col2im`]: the blocked product sums every element in the same order however
/// its columns are split, and each image's pixels gather only that image's columns, in the same
/// order. Blocks are whole images and at least a tile wide, so that every block runs on the same
/// product kernel.
///
/// # Panics
/// If the shapes do not match `g`.
pub(crate) fn col2im_of_product<E: NnFloat>(
    g: &Geometry,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    img: &mut [E],
) {
    assert_eq!(img.len(), g.img_len(), "col2im_of_product: image length");
    assert_eq!(a.rows(), g.rows(), "col2im_of_product: rows of a");
    assert_eq!(b.cols(), g.cols(), "col2im_of_product: columns of b");
    let (grid, image) = (g.grid_h * g.grid_w, g.chan * g.img_h * g.img_w);
    if grid == 0 || image == 0 || g.batch == 0 {
        return;
    }
    // Images per block: enough for the product's widest tile (16 columns), else a cache's worth.
    let per = (COLUMNS_AT_ONCE / grid).max(16usize.div_ceil(grid)).max(1);
    let mut blocks = Vec::with_capacity(g.batch.div_ceil(per));
    let (mut rest, mut first) = (img, 0);
    while first < g.batch {
        let mut count = per.min(g.batch - first);
        // A last block narrower than a tile joins the one before it.
        if g.batch - first - count > 0 && (g.batch - first - count) * grid < 16 {
            count = g.batch - first;
        }
        let (dst, right) = rest.split_at_mut(count * image);
        blocks.push((first, count, dst));
        (rest, first) = (right, first + count);
    }
    let k = b.rows();
    // Every block asks the pool for the widest block's size, so that its buffers are reused
    // without being lengthened (which zero-fills).
    let widest = blocks.iter().map(|&(_, count, _)| count).max().unwrap_or(0);
    blocks.into_par_iter().for_each(|(first, count, dst)| {
        let cols = count * grid;
        // Columns `first·grid..` of `b`: the same rows, fewer columns.
        let part = MatRef::new(
            &b.data()[first * grid * b.col_stride()..],
            (k, cols),
            (b.row_stride(), b.col_stride()),
        );
        // Overwritten completely by the (non-accumulating) product.
        let mut buffer = scratch(g.rows() * widest * grid);
        let block = &mut buffer[..g.rows() * cols];
        matmul(MatMut::row_major(block, g.rows(), cols), false, a, part);
        col2im(&Geometry { batch: count, ..*g }, block, dst);
        recycle(buffer);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::matmul::written_out;
    use crate::nn::scratch::poison_pool;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn random(rng: &mut StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// im2col written the obvious way, element by element.
    fn im2col_reference(g: &Geometry, img: &[f64]) -> Vec<f64> {
        let mut cols = vec![0.0; g.cols_len()];
        for c in 0..g.chan {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    for b in 0..g.batch {
                        for gy in 0..g.grid_h {
                            for gx in 0..g.grid_w {
                                let iy = (gy * g.s + ky) as isize - g.p as isize;
                                let ix = (gx * g.s + kx) as isize - g.p as isize;
                                let row = (c * g.k + ky) * g.k + kx;
                                let col = (b * g.grid_h + gy) * g.grid_w + gx;
                                if iy >= 0
                                    && ix >= 0
                                    && (iy as usize) < g.img_h
                                    && (ix as usize) < g.img_w
                                {
                                    let i = ((b * g.chan + c) * g.img_h + iy as usize) * g.img_w
                                        + ix as usize;
                                    cols[row * g.cols() + col] = img[i];
                                }
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    fn geometries() -> Vec<Geometry> {
        let mut v = Vec::new();
        // (img_h, img_w, k, s, p) with the grid size from the conv formula, plus odd cases.
        for &(ih, iw, k, s, p) in &[
            (28, 28, 4, 2, 1),
            (14, 14, 4, 2, 1),
            (7, 6, 4, 2, 1),
            (5, 6, 3, 2, 1),
            (5, 5, 3, 1, 1),
            (7, 8, 3, 2, 0),
            (8, 7, 5, 3, 2),
            (3, 3, 2, 1, 0),
            (2, 3, 4, 1, 2),
            (4, 4, 1, 1, 0),
            (6, 5, 3, 3, 3),
            (5, 7, 3, 2, 1),
            (4, 1, 2, 2, 1),
        ] {
            v.push(Geometry {
                batch: 2,
                chan: 3,
                img_h: ih,
                img_w: iw,
                grid_h: (ih + 2 * p - k) / s + 1,
                grid_w: (iw + 2 * p - k) / s + 1,
                k,
                s,
                p,
            });
        }
        // A grid that does not come from the conv formula (as in transposed convs with uneven sizes).
        v.push(Geometry {
            batch: 1,
            chan: 2,
            img_h: 6,
            img_w: 6,
            grid_h: 2,
            grid_w: 4,
            k: 4,
            s: 2,
            p: 1,
        });
        v
    }

    #[test]
    fn im2col_matches_reference() {
        let mut rng = StdRng::seed_from_u64(1);
        for g in geometries() {
            let img = random(&mut rng, g.img_len());
            let cols = Im2Col::new(&g, &img);
            let want = im2col_reference(&g, &img);
            assert_eq!(written_out(cols.matrix()), want, "{g:?}");
            // The transpose reads the same elements.
            let t = written_out(cols.matrix().transposed());
            let (rows, n) = (g.rows(), g.cols());
            for i in 0..rows {
                for j in 0..n {
                    assert_eq!(t[j * rows + i], want[i * n + j], "{g:?} ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn pooled_temporaries_are_fully_overwritten() {
        // Stale NaN-filled buffers in the pool, of exactly the size asked for next: the padded
        // images and a written-out column matrix must not let any of it through. (Other tests
        // share the pool; whatever they leave there is overwritten the same way.)
        let mut rng = StdRng::seed_from_u64(7);
        let g = Geometry {
            batch: 4,
            chan: 16,
            img_h: 16,
            img_w: 16,
            grid_h: 8,
            grid_w: 8,
            k: 4,
            s: 2,
            p: 1,
        };
        let img = random(&mut rng, g.img_len());
        let (ph, pw) = padded_size(&g);
        poison_pool::<f64>(g.batch * g.chan * ph * pw);
        let cols = Im2Col::new(&g, &img);
        poison_pool::<f64>(g.cols_len());
        assert_eq!(written_out(cols.matrix()), im2col_reference(&g, &img));
        cols.recycle();
    }

    #[test]
    fn col2im_is_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for random x, y.
        let mut rng = StdRng::seed_from_u64(2);
        for g in geometries() {
            let x = random(&mut rng, g.img_len());
            let y = random(&mut rng, g.cols_len());
            let cols = written_out(Im2Col::new(&g, &x).matrix());
            let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
            let mut back = vec![0.0; g.img_len()];
            col2im(&g, &y, &mut back);
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() <= 1e-12 * (1.0 + lhs.abs()),
                "{g:?}: {lhs} vs {rhs}"
            );
        }
    }

    /// col2im written the obvious way: each plane's contributions scattered into a zeroed padded
    /// plane, kernel offset by kernel offset, then its interior added to the image.
    fn col2im_reference(g: &Geometry, cols: &[f32], img: &mut [f32]) {
        let (ph, pw) = padded_size(g);
        for b in 0..g.batch {
            for c in 0..g.chan {
                let mut pad = vec![0.0f32; ph * pw];
                for ky in 0..g.k {
                    for kx in 0..g.k {
                        let row = (c * g.k + ky) * g.k + kx;
                        for gy in 0..g.grid_h {
                            for gx in 0..g.grid_w {
                                let col = (b * g.grid_h + gy) * g.grid_w + gx;
                                pad[(gy * g.s + ky) * pw + gx * g.s + kx] +=
                                    cols[row * g.cols() + col];
                            }
                        }
                    }
                }
                for y in 0..g.img_h {
                    for x in 0..g.img_w {
                        img[((b * g.chan + c) * g.img_h + y) * g.img_w + x] +=
                            pad[(y + g.p) * pw + x + g.p];
                    }
                }
            }
        }
    }

    #[test]
    fn col2im_sums_in_the_reference_order() {
        // Bit for bit in f32: the phase split changes where the sums are kept, not their order.
        let mut rng = StdRng::seed_from_u64(4);
        for g in geometries() {
            let cols: Vec<f32> = (0..g.cols_len())
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect();
            let start: Vec<f32> = (0..g.img_len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let (mut fast, mut slow) = (start.clone(), start);
            col2im(&g, &cols, &mut fast);
            col2im_reference(&g, &cols, &mut slow);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "{g:?}");
        }
    }

    #[test]
    #[ignore = "timing, not a check: cargo test --release -p trainer --lib col2im_speed -- --ignored --nocapture"]
    fn col2im_speed() {
        // The DCGAN's largest col2im: conv2's input gradient and convT1's forward pass.
        let g = Geometry {
            batch: 64,
            chan: 64,
            img_h: 14,
            img_w: 14,
            grid_h: 7,
            grid_w: 7,
            k: 4,
            s: 2,
            p: 1,
        };
        for batch in [64, 8] {
            let g = Geometry { batch, ..g };
            let cols = vec![0.5f32; g.cols_len()];
            let mut img = vec![0.0f32; g.img_len()];
            let start = std::time::Instant::now();
            for _ in 0..20 {
                col2im(&g, &cols, &mut img);
            }
            let per_call = start.elapsed() / 20;
            let per_add = per_call.as_secs_f64() * 1e9 / g.cols_len() as f64;
            println!("col2im, batch {batch}: {per_call:?} per call, {per_add:.2} ns per element");
        }
    }

    #[test]
    fn col2im_accumulates() {
        let g = geometries()[0];
        let mut rng = StdRng::seed_from_u64(3);
        let y = random(&mut rng, g.cols_len());
        let mut once = vec![0.0; g.img_len()];
        col2im(&g, &y, &mut once);
        let mut twice = once.clone();
        col2im(&g, &y, &mut twice);
        for (a, b) in once.iter().zip(&twice) {
            assert!((2.0 * a - b).abs() < 1e-12);
        }
    }
}
