//! Host-side building blocks shared by the layers: the supported element types ([`NnFloat`]) and
//! devices ([`NnDevice`]), a bounds-checked wrapper around `gemm`, and the im2col / col2im pair the
//! convolutions are made of.
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

use dfdx::prelude::{Cpu, Device, Dtype, Storage};
use rand_distr::uniform::SampleUniform;
use rayon::prelude::*;

mod sealed {
    use super::{MatRef, Rhs};

    // `MatRef` is crate-private, and so is this trait in effect: it cannot be named outside.
    #[allow(private_interfaces)]
    pub trait Sealed: Sized {
        /// Square root (the float types' own).
        fn nn_sqrt(self) -> Self;
        /// `max(self, 0)`, the float types' own `max` (as dfdx's `ReLU` computes it).
        fn nn_relu(self) -> Self;
        /// This type's pool of reusable temporaries (see [`super::scratch`]).
        fn pool() -> &'static std::sync::Mutex<Vec<Vec<Self>>>;
        /// The product on this crate's own kernel, if it has one for this type, CPU and shape;
        /// `false` (nothing written) sends it to `gemm`. Arguments as [`super::matmul`].
        fn own_matmul(
            _dims: (usize, usize, usize),
            _dst: &mut [Self],
            _dst_rs: usize,
            _accumulate: bool,
            _a: MatRef<'_, Self>,
            _b: Rhs<'_, Self>,
        ) -> bool {
            false
        }
    }
    #[allow(private_interfaces)]
    impl Sealed for f32 {
        fn nn_sqrt(self) -> Self {
            self.sqrt()
        }
        fn nn_relu(self) -> Self {
            self.max(0.0)
        }
        fn pool() -> &'static std::sync::Mutex<Vec<Vec<Self>>> {
            static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
            &POOL
        }
        fn own_matmul(
            dims: (usize, usize, usize),
            dst: &mut [f32],
            dst_rs: usize,
            accumulate: bool,
            a: MatRef<'_, f32>,
            b: Rhs<'_, f32>,
        ) -> bool {
            super::super::sgemm::sgemm(dims, dst, dst_rs, accumulate, a, b)
        }
    }
    // f64 (the tests' type) stays on `gemm`.
    impl Sealed for f64 {
        fn nn_sqrt(self) -> Self {
            self.sqrt()
        }
        fn nn_relu(self) -> Self {
            self.max(0.0)
        }
        fn pool() -> &'static std::sync::Mutex<Vec<Vec<Self>>> {
            static POOL: std::sync::Mutex<Vec<Vec<f64>>> = std::sync::Mutex::new(Vec::new());
            &POOL
        }
    }
}

/// Element types the layers in this module support: `f32` and `f64`.
///
/// Sealed, because the matrix products go to the `gemm` crate, which only has kernels for these
/// (and complex / half types this module does not use).
pub trait NnFloat: Dtype + std::ops::Neg<Output = Self> + SampleUniform + sealed::Sealed {}
impl NnFloat for f32 {}
impl NnFloat for f64 {}

/// Buffers of at least this many elements go back to the pool ([`recycle`]); smaller ones are
/// cheap to allocate.
const POOL_MIN_LEN: usize = 1 << 14;
/// Buffers the pool of each element type keeps at most (a D forward pass keeps its column
/// matrices until its backward pass, so several are in use at once).
const POOL_KEEP: usize = 12;

/// A buffer of `len` elements whose contents are unspecified (stale values of an earlier use, or
/// zeros): for temporaries that the caller overwrites completely before reading, such as the
/// column matrices and the outputs of non-accumulating matrix products.
///
/// Taken from the pool that [`recycle`] fills (the smallest buffer that is large enough), so
/// that the 13 MB column matrices of the DCGAN layers are neither zeroed (`calloc`'s `memset`)
/// nor faulted in afresh on every use. Which buffer is reused can depend on timing, but no value
/// in it is ever read before being written, so results cannot.
pub(crate) fn scratch<E: NnFloat>(len: usize) -> Vec<E> {
    let mut v = if len >= POOL_MIN_LEN {
        let mut pool = E::pool().lock().unwrap_or_else(|e| e.into_inner());
        // At most twice the size asked for: a buffer that ends up in a tensor is not given back,
        // and should not hold on to much more memory than it uses.
        let best = (0..pool.len())
            .filter(|&i| (len..=2 * len).contains(&pool[i].capacity()))
            .min_by_key(|&i| pool[i].capacity());
        best.map(|i| pool.swap_remove(i)).unwrap_or_default()
    } else {
        Vec::new()
    };
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, E::default());
    }
    v
}

/// Hands a temporary back for [`scratch`] to reuse (dropped if small, or if the pool is full).
pub(crate) fn recycle<E: NnFloat>(v: Vec<E>) {
    if v.len() < POOL_MIN_LEN {
        return;
    }
    let mut pool = E::pool().lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_KEEP {
        pool.push(v);
    }
}

/// A dfdx device whose tensor and gradient buffers live in host memory, so that the CPU kernels in
/// this module can work on them. Implemented for [`Cpu`].
///
/// dfdx keeps a tensor's storage private; the layers read tensors with the public
/// `Tensor::copy_into`, create them with `TensorFromVec`, and reach gradient buffers through
/// `Gradients::get_or_alloc_mut` plus this trait.
pub trait NnDevice<E: NnFloat>: Device<E> {
    /// The host vector behind a gradient buffer of this device.
    fn host_vec_mut(buf: &mut <Self as Storage<E>>::Vec) -> &mut Vec<E>;
}

impl NnDevice<f32> for Cpu {
    fn host_vec_mut(buf: &mut <Self as Storage<f32>>::Vec) -> &mut Vec<f32> {
        buf
    }
}

impl NnDevice<f64> for Cpu {
    fn host_vec_mut(buf: &mut <Self as Storage<f64>>::Vec) -> &mut Vec<f64> {
        buf
    }
}

thread_local! {
    /// How many [`FrozenParameters`] guards are alive on this thread.
    static FROZEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// While a value of this type lives, the layers of this module that are run on this thread record
/// no gradients for their parameters: their backward passes still compute the gradient of their
/// input (so gradients reach whatever came before), but skip the weight and bias gradients and
/// leave them out of the gradient store. Made by [`freeze_parameters`].
///
/// For a GAN's generator step, where the discriminator only passes gradients through to the
/// generator and its own parameter gradients would be thrown away. It is the layer's *forward*
/// pass that looks at the guard (what it records then holds for its backward pass).
#[derive(Debug)]
#[must_use = "parameters are frozen only while the guard lives"]
pub struct FrozenParameters {
    // Thread-bound: the count is per thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Freezes the parameters of this module's layers run on this thread until the guard is dropped
/// (see [`FrozenParameters`]).
pub fn freeze_parameters() -> FrozenParameters {
    FROZEN.with(|f| f.set(f.get() + 1));
    FrozenParameters {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for FrozenParameters {
    fn drop(&mut self) {
        FROZEN.with(|f| f.set(f.get() - 1));
    }
}

/// Whether a layer recording its backward pass now should compute its parameters' gradients.
pub(crate) fn parameter_grads_wanted() -> bool {
    FROZEN.with(|f| f.get() == 0)
}

thread_local! {
    /// Whether the next layer recorded on this thread gets data as input (see [`data_input`]).
    static DATA_INPUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While a value of this type lives, the *next* layer of this module that records a backward pass
/// on this thread treats its input as data: it computes no gradient for it (its parameters'
/// gradients are unchanged). Made by [`data_input`].
///
/// For a discriminator step on a batch of images: nothing needs the gradient with respect to the
/// images, and for the first convolution it is a matrix product and a col2im per batch. Every
/// layer of this module takes the mark when it records (those with a cheap input gradient then
/// simply ignore it), so it can only ever reach the first of them; whatever runs before that layer
/// must not need gradients either (dfdx's parameter-free ops such as reshapes are fine). Dropping
/// the guard clears an unused mark.
#[derive(Debug)]
#[must_use = "the input counts as data only while the guard lives"]
pub struct DataInput {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Marks the input of the next layer recorded on this thread as data (see [`DataInput`]).
pub fn data_input() -> DataInput {
    DATA_INPUT.with(|f| f.set(true));
    DataInput {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for DataInput {
    fn drop(&mut self) {
        DATA_INPUT.with(|f| f.set(false));
    }
}

/// Whether a layer recording its backward pass now should compute its input's gradient; takes
/// the [`data_input`] mark (every layer of this module calls it once when it records).
pub(crate) fn input_grad_wanted() -> bool {
    !DATA_INPUT.with(|f| f.replace(false))
}

/// The gradient buffers of a weight layer's backward pass, moved out of dfdx's gradient store
/// ([`take_grads!`]) so that the output gradient can be read while the input's and the
/// parameters' are written, and put back afterwards ([`put_grads!`]). No copies.
pub(crate) struct TakenGrads<E> {
    /// The output's gradient.
    pub out: Vec<E>,
    /// The input's, unless the input is data.
    pub input: Option<Vec<E>>,
    /// The weight's and the bias's, unless the parameters are frozen.
    pub params: Option<(Vec<E>, Vec<E>)>,
}

impl<E> TakenGrads<E> {
    /// The output gradient to read, and the input and parameter gradients to accumulate into.
    #[allow(clippy::type_complexity)]
    pub fn split(&mut self) -> (&[E], Option<&mut [E]>, Option<(&mut [E], &mut [E])>) {
        (
            &self.out,
            self.input.as_deref_mut(),
            self.params.as_mut().map(|(w, b)| (&mut w[..], &mut b[..])),
        )
    }
}

// Macros, not functions, because dfdx's ghost tensors and the trait `get_or_alloc_mut` takes are
// crate-private: a function could not name them. Each `?`s the store's errors out of the backward
// op it is used in.

/// `take_grad!(grads, D, &ghost)`: moves one tensor's gradient buffer out of the store (a zeroed
/// one is allocated first if it has none).
macro_rules! take_grad {
    ($grads:expr, $D:ty, $tensor:expr) => {
        std::mem::take(<$D>::host_vec_mut($grads.get_or_alloc_mut($tensor)?))
    };
}
pub(crate) use take_grad;

/// `take_grads!(grads, D, &out, input.then_some(&x), params.then_some((&w, &b)))`: a
/// [`TakenGrads`] of the output's gradient and, where asked for, the input's and the parameters'.
macro_rules! take_grads {
    ($grads:expr, $D:ty, $out:expr, $input:expr, $params:expr) => {
        $crate::nn::kernel::TakenGrads {
            out: $crate::nn::kernel::take_grad!($grads, $D, $out),
            input: match $input {
                Some(x) => Some($crate::nn::kernel::take_grad!($grads, $D, x)),
                None => None,
            },
            params: match $params {
                Some((w, b)) => Some((
                    $crate::nn::kernel::take_grad!($grads, $D, w),
                    $crate::nn::kernel::take_grad!($grads, $D, b),
                )),
                None => None,
            },
        }
    };
}
pub(crate) use take_grads;

/// `put_grads!(grads, D, taken, &out, &x, (&w, &b))`: puts the buffers of a [`TakenGrads`] back
/// (only those that were taken).
macro_rules! put_grads {
    ($grads:expr, $D:ty, $taken:expr, $out:expr, $input:expr, ($w:expr, $b:expr)) => {{
        let taken: $crate::nn::kernel::TakenGrads<_> = $taken;
        *<$D>::host_vec_mut($grads.get_or_alloc_mut($out)?) = taken.out;
        if let Some(x) = taken.input {
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($input)?) = x;
        }
        if let Some((w, b)) = taken.params {
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($w)?) = w;
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($b)?) = b;
        }
    }};
}
pub(crate) use put_grads;

/// Converts an `f64` constant to `E` (exact for the small constants used here).
pub(crate) fn cast<E: NnFloat>(v: f64) -> E {
    // `FromPrimitive` is a supertrait of `Dtype`; for f32/f64 this never fails.
    E::from_f64(v).expect("f32/f64 accept every f64 constant")
}

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

/// `(batch, chan, plane)` → `(chan, batch·plane)`: writes `dst[c][b·plane + i] = src[b][c][i]`.
/// The result comes from [`scratch`] (every element is overwritten); [`recycle`] it when done.
pub(crate) fn batch_to_channel_major<E: NnFloat>(
    src: &[E],
    batch: usize,
    chan: usize,
    plane: usize,
) -> Vec<E> {
    assert_eq!(src.len(), batch * chan * plane);
    if batch == 1 || plane == 0 {
        return src.to_vec();
    }
    let mut dst = scratch(src.len());
    dst.par_chunks_mut(batch * plane)
        .enumerate()
        .for_each(|(c, out)| {
            for (b, d) in out.chunks_exact_mut(plane).enumerate() {
                d.copy_from_slice(&src[(b * chan + c) * plane..][..plane]);
            }
        });
    dst
}

/// `(chan, batch·plane)` added into `(batch, chan, plane)`: `dst[b][c][i] += src[c][b·plane + i]`.
pub(crate) fn add_channel_major_to_batch<E: Dtype>(
    src: &[E],
    batch: usize,
    chan: usize,
    plane: usize,
    dst: &mut [E],
) {
    assert_eq!(src.len(), batch * chan * plane);
    assert_eq!(dst.len(), src.len());
    if plane == 0 {
        return;
    }
    dst.par_chunks_mut(plane).enumerate().for_each(|(bc, d)| {
        let (b, c) = (bc / chan, bc % chan);
        let s = &src[(c * batch + b) * plane..][..plane];
        for (dv, sv) in d.iter_mut().zip(s) {
            *dv += *sv;
        }
    });
}

/// `grad_bias[c] += Σ_b Σ_i grad_out[b][c][i]` for an NCHW gradient with `plane = H·W`: per
/// channel, image by image (channels in parallel; each channel's sum keeps that order).
pub(crate) fn add_bias_grad<E: Dtype>(grad_out: &[E], chan: usize, plane: usize, gb: &mut [E]) {
    assert_eq!(gb.len(), chan);
    if chan * plane == 0 {
        return;
    }
    assert_eq!(grad_out.len() % (chan * plane), 0);
    gb.par_iter_mut().enumerate().for_each(|(c, g)| {
        for img in grad_out.chunks_exact(chan * plane) {
            let mut acc = E::default();
            for v in &img[c * plane..][..plane] {
                acc += *v;
            }
            *g += acc;
        }
    });
}

/// A read-only strided matrix: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef<'a, E> {
    pub data: &'a [E],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, E> MatRef<'a, E> {
    /// A row-major matrix with `ncols` columns.
    pub fn row_major(data: &'a [E], ncols: usize) -> Self {
        Self {
            data,
            rs: ncols,
            cs: 1,
        }
    }
    /// The transpose of the row-major matrix with `ncols` columns stored in `data`.
    pub fn transposed(data: &'a [E], ncols: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: ncols,
        }
    }
    /// Panics unless every element of a `rows × cols` matrix lies inside `data`.
    fn check(&self, rows: usize, cols: usize, what: &str) {
        let last = (rows - 1).checked_mul(self.rs).and_then(|r| {
            (cols - 1)
                .checked_mul(self.cs)
                .and_then(|c| r.checked_add(c))
        });
        assert!(
            matches!(last, Some(i) if i < self.data.len()),
            "matmul: {what} ({rows}×{cols}, strides {}/{}) does not fit in {} elements",
            self.rs,
            self.cs,
            self.data.len()
        );
        assert!(self.rs <= isize::MAX as usize && self.cs <= isize::MAX as usize);
    }
}

/// A read-only matrix addressed through two offset tables: element `(i, j)` is
/// `data[rows[i] + cols[j]]`. An [`Im2Col`] column matrix, or (swapping the tables) its
/// transpose, read in place.
///
/// Invariant (checked by [`Gathered::new`], the only way to make one): every `rows[i] + cols[j]`
/// lies inside `data`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gathered<'a, E> {
    data: &'a [E],
    rows: &'a [u32],
    cols: &'a [u32],
}

impl<'a, E: Copy> Gathered<'a, E> {
    /// # Panics
    /// Unless every element lies inside `data` (the largest row offset plus the largest column
    /// offset is below its length).
    pub fn new(data: &'a [E], rows: &'a [u32], cols: &'a [u32]) -> Self {
        let max = |t: &[u32]| t.iter().copied().max().map(|v| v as usize);
        if let (Some(r), Some(c)) = (max(rows), max(cols)) {
            assert!(
                r + c < data.len(),
                "gathered matrix: offsets {r} + {c} out of {} elements",
                data.len()
            );
        }
        Self { data, rows, cols }
    }

    /// The elements the offsets point into.
    pub fn data(&self) -> &'a [E] {
        self.data
    }

    /// The row offsets (one per row).
    pub fn rows(&self) -> &'a [u32] {
        self.rows
    }

    /// The column offsets (one per column).
    pub fn cols(&self) -> &'a [u32] {
        self.cols
    }

    /// The transposed matrix (the same elements, the tables swapped).
    pub fn transposed(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
        }
    }

    /// The matrix written out row-major, in a [`scratch`] buffer.
    pub fn to_row_major(self) -> Vec<E>
    where
        E: NnFloat,
    {
        let mut out = scratch(self.rows.len() * self.cols.len());
        if !self.cols.is_empty() {
            for (dst, &r) in out.chunks_exact_mut(self.cols.len()).zip(self.rows) {
                let src = &self.data[r as usize..];
                for (d, &c) in dst.iter_mut().zip(self.cols) {
                    *d = src[c as usize];
                }
            }
        }
        out
    }
}

/// The right-hand operand of [`matmul`]: a strided matrix, or one gathered through offsets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rhs<'a, E> {
    Strided(MatRef<'a, E>),
    Gathered(Gathered<'a, E>),
}

impl<'a, E> From<MatRef<'a, E>> for Rhs<'a, E> {
    fn from(m: MatRef<'a, E>) -> Self {
        Self::Strided(m)
    }
}

impl<'a, E> From<Gathered<'a, E>> for Rhs<'a, E> {
    fn from(m: Gathered<'a, E>) -> Self {
        Self::Gathered(m)
    }
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`), where `a` is `m × k`, `b` is `k × n` and
/// `dst` is `m × n`, row-major with row stride `dst_rs`. f32 products run on this crate's AVX-512
/// kernel where the CPU has it ([`super::sgemm`]), which reads a [`Gathered`] `b` in place; the
/// rest on `gemm` with dfdx's threading (rayon, which `gemm` only uses for products large enough
/// to profit), a gathered `b` written out first.
///
/// # Panics
/// If a matrix does not fit in its slice.
pub(crate) fn matmul<'b, E: NnFloat>(
    (m, k, n): (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    a: MatRef<'_, E>,
    b: impl Into<Rhs<'b, E>>,
) {
    let b = b.into();
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_rs >= n && dst_rs <= isize::MAX as usize,
        "matmul: dst row stride"
    );
    assert!(
        (m - 1)
            .checked_mul(dst_rs)
            .and_then(|i| i.checked_add(n))
            .is_some_and(|end| end <= dst.len()),
        "matmul: dst ({m}×{n}, row stride {dst_rs}) does not fit in {} elements",
        dst.len()
    );
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(E::default());
            }
        }
        return;
    }
    a.check(m, k, "lhs");
    match b {
        Rhs::Strided(b) => b.check(k, n, "rhs"),
        Rhs::Gathered(g) => assert!(
            g.rows.len() == k && g.cols.len() == n,
            "matmul: gathered rhs is {}×{}, not {k}×{n}",
            g.rows.len(),
            g.cols.len()
        ),
    }
    if E::own_matmul((m, k, n), dst, dst_rs, accumulate, a, b) {
        return;
    }
    let written = match b {
        Rhs::Gathered(g) => g.to_row_major(),
        Rhs::Strided(_) => Vec::new(),
    };
    let b = match b {
        Rhs::Strided(b) => b,
        Rhs::Gathered(_) => MatRef::row_major(&written, n),
    };
    let (zero, one) = (E::default(), E::ONE);
    // SAFETY: `E` is f32 or f64 (`NnFloat` is sealed), the element types `gemm::gemm` dispatches on.
    // The checks above prove that every element `gemm` addresses — (i, j) at
    // `ptr + i·rs + j·cs` for i < rows, j < cols of each operand — lies inside its slice, and all
    // strides fit in `isize`. `dst` is borrowed mutably and `a`, `b` immutably, so the output does
    // not alias the inputs. `gemm` only reads `dst` when `accumulate` (read_dst) is set.
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
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
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
            assert_eq!(cols.matrix().to_row_major(), want, "{g:?}");
            // The transpose reads the same elements.
            let t = cols.matrix().transposed().to_row_major();
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
        // images, a written-out column matrix, a layout change and a non-accumulating product
        // must not let any of it through. (Other tests share the pool; whatever they leave there
        // is overwritten the same way.)
        let stale = |len: usize| {
            assert!(len >= POOL_MIN_LEN, "{len} elements would not be pooled");
            for _ in 0..POOL_KEEP {
                recycle(vec![f64::NAN; len]);
            }
        };
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
        stale(g.batch * g.chan * ph * pw);
        let cols = Im2Col::new(&g, &img);
        stale(g.cols_len());
        assert_eq!(cols.matrix().to_row_major(), im2col_reference(&g, &img));
        cols.recycle();
        let plane = g.img_h * g.img_w;
        stale(img.len());
        let cm = batch_to_channel_major(&img, g.batch, g.chan, plane);
        for b in 0..g.batch {
            for c in 0..g.chan {
                assert_eq!(
                    cm[(c * g.batch + b) * plane..][..plane],
                    img[(b * g.chan + c) * plane..][..plane]
                );
            }
        }
        recycle(cm);
        let (m, k, n) = (64, 16, 300);
        let (a, b) = (random(&mut rng, m * k), random(&mut rng, k * n));
        stale(m * n);
        let mut dst = scratch::<f64>(m * n);
        matmul(
            (m, k, n),
            &mut dst,
            n,
            false,
            MatRef::row_major(&a, k),
            MatRef::row_major(&b, n),
        );
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((dst[i * n + j] - want).abs() < 1e-12, "({i}, {j})");
            }
        }
    }

    #[test]
    fn col2im_is_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for random x, y.
        let mut rng = StdRng::seed_from_u64(2);
        for g in geometries() {
            let x = random(&mut rng, g.img_len());
            let y = random(&mut rng, g.cols_len());
            let cols = Im2Col::new(&g, &x).matrix().to_row_major();
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

    #[test]
    fn matmul_matches_naive_with_strides() {
        let mut rng = StdRng::seed_from_u64(4);
        let (m, k, n) = (7, 5, 9);
        let a = random(&mut rng, m * k); // row-major m×k
        let bt = random(&mut rng, n * k); // row-major n×k, used transposed as k×n
        let naive = |i: usize, j: usize| (0..k).map(|l| a[i * k + l] * bt[j * k + l]).sum::<f64>();
        let dst_rs = n + 3;
        let mut dst = vec![1.0; m * dst_rs];
        matmul(
            (m, k, n),
            &mut dst,
            dst_rs,
            true,
            MatRef::row_major(&a, k),
            MatRef::transposed(&bt, k),
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
            (m, k, n),
            &mut fresh,
            n,
            false,
            MatRef::row_major(&a, k),
            MatRef::transposed(&bt, k),
        );
        for i in 0..m {
            for j in 0..n {
                assert!((fresh[i * n + j] - naive(i, j)).abs() < 1e-12);
            }
        }
        // f32 goes through the same wrapper.
        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = bt.iter().map(|&v| v as f32).collect();
        let mut d32 = vec![0.0f32; m * n];
        matmul(
            (m, k, n),
            &mut d32,
            n,
            false,
            MatRef::row_major(&a32, k),
            MatRef::transposed(&b32, k),
        );
        assert!((d32[n + 2] as f64 - naive(1, 2)).abs() < 1e-5);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn matmul_rejects_short_slices() {
        let a = [1.0f64; 6];
        let b = [1.0f64; 5];
        let mut d = [0.0f64; 6];
        matmul(
            (2, 3, 2),
            &mut d,
            2,
            false,
            MatRef::row_major(&a, 3),
            MatRef::row_major(&b, 2),
        );
    }
}
