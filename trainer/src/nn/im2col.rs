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
use super::matmul::Gathered;
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

/// The window positions of a [`Geometry`] precomputed on a zero-padded copy of one image plane.
///
/// The padded plane is `ph × pw`, with the image at offset `(p, p)`; it is large enough for every
/// position any kernel window touches, so gathering and scattering through `index` need no
/// bounds logic. `index[(ky·k + kx)·grid + gy·grid_w + gx]` is the padded-plane offset of
/// `(gy·s + ky, gx·s + kx)`.
struct Gather {
    ph: usize,
    pw: usize,
    index: Vec<u32>,
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

impl Gather {
    fn new(g: &Geometry) -> Self {
        let (ph, pw) = padded_size(g);
        assert!(ph * pw <= u32::MAX as usize, "image plane too large");
        let mut index = Vec::with_capacity(g.k * g.k * g.grid_h * g.grid_w);
        for ky in 0..g.k {
            for kx in 0..g.k {
                for gy in 0..g.grid_h {
                    let row = (gy * g.s + ky) * pw + kx;
                    index.extend((0..g.grid_w).map(|gx| (row + gx * g.s) as u32));
                }
            }
        }
        Self { ph, pw, index }
    }

    /// The index block of kernel offset `kk = ky·k + kx`.
    fn block(&self, kk: usize, grid: usize) -> &[u32] {
        &self.index[kk * grid..][..grid]
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
/// Each image plane `(b, c)` gathers only its own columns, so planes are done in parallel; each
/// sums its `k·k` contributions in a zeroed padded plane, in row order, and then adds the interior
/// to the image.
///
/// # Panics
/// If the slice lengths do not match `g`.
pub(crate) fn col2im<E: Dtype>(g: &Geometry, cols: &[E], img: &mut [E]) {
    assert_eq!(img.len(), g.img_len(), "col2im: image length");
    assert_eq!(cols.len(), g.cols_len(), "col2im: column matrix length");
    let gather = Gather::new(g);
    let (grid, kk, plane, ncols) = (g.grid_h * g.grid_w, g.k * g.k, g.img_h * g.img_w, g.cols());
    if plane == 0 || ncols == 0 {
        return;
    }
    img.par_chunks_mut(plane)
        .enumerate()
        .for_each_init(Vec::new, |pad, (bc, dst)| {
            let (b, c) = (bc / g.chan, bc % g.chan);
            pad.clear();
            pad.resize(gather.ph * gather.pw, E::default());
            for k in 0..kk {
                let seg = &cols[(c * kk + k) * ncols + b * grid..][..grid];
                for (v, &i) in seg.iter().zip(gather.block(k, grid)) {
                    pad[i as usize] += *v;
                }
            }
            for (y, row) in dst.chunks_exact_mut(g.img_w).enumerate() {
                let prow = &pad[(y + g.p) * gather.pw + g.p..][..g.img_w];
                for (d, s) in row.iter_mut().zip(prow) {
                    *d += *s;
                }
            }
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
