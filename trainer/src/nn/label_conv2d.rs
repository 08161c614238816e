//! A 2-D convolution whose last `L` input channels are constant *label planes*, fused: the input
//! is a row of image pixels followed by `L` label values, and plane `l` is the value `l` repeated
//! over the whole image, as a class-conditional discriminator gets its one-hot class.
//!
//! `LabelConv2D<IN, L, OUT, K, S, P, H, W>` computes exactly what
//! `(Unflatten<IN, H, W>, Conv2D<IN, OUT, K, S, P>)` computes on the concatenation of the image
//! (`IN − L` channels of `H × W`) and the `L` filled planes, with the same weight `(OUT, IN, K, K)`,
//! bias, names and initialisation (so models, checkpoints and their random initial values are the
//! same), but never builds the planes:
//!
//! * a constant plane contributes `value · Σ w[o][c][ky][kx]` over the kernel offsets that fall
//!   inside the image at that output position, a per-position kernel sum `S[l][o][y][x]` (the
//!   full kernel sum inside, partial sums at the borders); the forward pass adds
//!   `labels (B × L) · S (L × OUT·H'·W')` to the image convolution;
//! * the backward pass needs, per output plane, the sums of its gradient over the positions where
//!   each kernel offset lies inside the image (`R[b][o][ky][kx]`); from them the label weights'
//!   gradient (`Σ_b value · R`) and the label values' gradient (`Σ_o Σ w · R`) follow.
//!
//! So the im2col, the matrix products and col2im run over the image channels only (one instead of
//! eleven for MNIST), and there is no concatenation. Every sum runs in a fixed order, split over
//! the threads by independent outputs only.
//!
//! [`try_append_columns`] builds such input rows from a traced image batch: its backward pass
//! hands the image part of the gradient through and drops the appended columns' part.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::channel_layout::{add_bias_grad, batch_to_channel_major};
use super::conv2d::host_copy;
use super::dims::ConvDim;
use super::float::{NnDevice, NnFloat};
use super::gradients::{input_grad_wanted, parameter_grads_wanted, put_grads, take_grads};
use super::im2col::{col2im_of_product, Geometry, Im2Col};
use super::init::{uniform_fan_in, FanIn};
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::{recycle, scratch};

/// Builder for [`DeviceLabelConv2D`]: `Conv2D<IN, OUT, K, S, P>` on `H × W` images whose last `L`
/// of the `IN` input channels are constant label planes, taking rows `(B, (IN − L)·H·W + L)`
/// (image, then the `L` label values). See the module docs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LabelConv2D<
    const IN: usize,
    const L: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
>;

impl<
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        E,
        D,
    > BuildOnDevice<D, E> for LabelConv2D<IN, L, OUT, K, S, P, H, W>
where
    E: NnFloat,
    D: NnDevice<E>,
{
    type Built = DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E, D>;
}

/// A built [`LabelConv2D`]: the weight `(OUT, IN, K, K)` and bias `(OUT,)` of the equivalent
/// `Conv2D<IN, OUT, K, S, P>`, initialised and visited exactly like it.
#[derive(Debug, Clone)]
pub struct DeviceLabelConv2D<
    const IN: usize,
    const L: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// Kernel, `(OUT, IN, K, K)`; input channels `IN − L..IN` are the label planes'.
    pub weight: Tensor<Rank4<OUT, IN, K, K>, E, D>,
    /// Bias, `(OUT,)`.
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        E: Dtype,
        D: Storage<E>,
    > NonMutableModule for DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E, D>
{
}

impl<
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        E: Dtype,
        D: Storage<E>,
    > FanIn for DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E, D>
{
    // The label planes count: they are input channels of the convolution this layer fuses.
    const FAN_IN: usize = IN * K * K;
}

impl<
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        E: NnFloat,
        D: NnDevice<E>,
    > TensorCollection<E, D> for DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        // As `Conv2D`: same names, order and initialisation.
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    uniform_fan_in::<Self, _, _, _>(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    uniform_fan_in::<Self, _, _, _>(),
                ),
            ),
            |(weight, bias)| DeviceLabelConv2D { weight, bias },
        )
    }
}

impl<
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const N: usize,
        E,
        D,
        B,
        T,
    > Module<Tensor<(B, Const<N>), E, D, T>> for DeviceLabelConv2D<IN, L, OUT, K, S, P, H, W, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    Const<H>: ConvDim<K, S, P>,
    Const<W>: ConvDim<K, S, P>,
    T: Tape<E, D>,
{
    #[allow(clippy::type_complexity)]
    type Output = Tensor<
        (
            B,
            Const<OUT>,
            <Const<H> as ConvDim<K, S, P>>::Out,
            <Const<W> as ConvDim<K, S, P>>::Out,
        ),
        E,
        D,
        T,
    >;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<N>), E, D, T>) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                L <= IN,
                "LabelConv2D: more label planes than input channels"
            );
            assert!(
                N == (IN - L) * H * W + L,
                "LabelConv2D: the input size must equal (IN - L) * H * W + L"
            );
        };
        let x = x.try_contiguous()?;
        let (x, mut tape) = x.split_tape();
        let batch = x.shape().0;
        let g = Geometry {
            batch: batch.size(),
            chan: IN - L,
            img_h: H,
            img_w: W,
            grid_h: <<Const<H> as ConvDim<K, S, P>>::Out as ConstDim>::SIZE,
            grid_w: <<Const<W> as ConvDim<K, S, P>>::Out as ConstDim>::SIZE,
            k: K,
            s: S,
            p: P,
        };
        let lg = LabelGeometry {
            g,
            labels: L,
            out_chan: OUT,
        };
        let w = host_copy(&self.weight);
        let xs = host_copy(&x);
        let fwd = forward_host(&lg, &xs, &w, &host_copy(&self.bias));
        recycle(xs);
        let out = x.device().try_tensor_from_vec(
            fwd.out,
            (batch, Const::<OUT>, Default::default(), Default::default()),
        )?;
        if T::OWNS_TAPE {
            let (x_g, w_g, b_g, out_g) = (
                x.ghost(),
                self.weight.ghost(),
                self.bias.ghost(),
                out.ghost(),
            );
            let (cols, labels) = (fwd.cols, fwd.labels);
            let (params, input) = (parameter_grads_wanted(), input_grad_wanted());
            tape.add_backward_op(move |grads| {
                let mut taken = take_grads!(
                    grads,
                    D,
                    &out_g,
                    input.then_some(&x_g),
                    params.then_some((&w_g, &b_g))
                );
                let (grad_out, grad_x, grad_wb) = taken.split();
                backward_host(&lg, cols, &labels, &w, grad_out, grad_x, grad_wb);
                put_grads!(grads, D, taken, &out_g, &x_g, (&w_g, &b_g));
                Ok(())
            });
        }
        Ok(out.put_tape(tape))
    }
}

/// The image geometry (`g.chan` image channels) plus the label planes and output channels.
#[derive(Clone, Copy, Debug)]
struct LabelGeometry {
    g: Geometry,
    labels: usize,
    out_chan: usize,
}

impl LabelGeometry {
    /// Input channels of the equivalent convolution: image channels plus label planes.
    fn in_total(&self) -> usize {
        self.g.chan + self.labels
    }
    /// Values per weight row (one output channel): `in_total · k · k`.
    fn w_row(&self) -> usize {
        self.in_total() * self.g.k * self.g.k
    }
    /// Values per input row: the image, then the labels.
    fn x_row(&self) -> usize {
        self.g.chan * self.g.img_h * self.g.img_w + self.labels
    }
    /// For each grid position along an axis of `img` pixels, the kernel offsets inside the image:
    /// `valid[pos]` is the range of offsets `o` with `0 ≤ pos·s + o − p < img`.
    fn valid(&self, grid: usize, img: usize) -> Vec<std::ops::Range<usize>> {
        let (k, s, p) = (self.g.k, self.g.s, self.g.p);
        (0..grid)
            .map(|pos| {
                let start = (pos * s) as isize - p as isize;
                let lo = (-start).clamp(0, k as isize) as usize;
                let hi = (img as isize - start).clamp(lo as isize, k as isize) as usize;
                lo..hi
            })
            .collect()
    }
    /// The converse of [`Self::valid`]: for each kernel offset `o`, the grid positions at which it
    /// lies inside the image (a contiguous range: `pos·s + o − p` grows with `pos`).
    fn positions(&self, grid: usize, img: usize) -> Vec<std::ops::Range<usize>> {
        let valid = self.valid(grid, img);
        (0..self.g.k)
            .map(|o| {
                let mut inside = (0..grid).filter(|&pos| valid[pos].contains(&o));
                match inside.next() {
                    Some(first) => {
                        let last = inside.next_back().unwrap_or(first);
                        debug_assert!((first..=last).all(|pos| valid[pos].contains(&o)));
                        first..last + 1
                    }
                    None => 0..0,
                }
            })
            .collect()
    }
}

struct Forward<E> {
    out: Vec<E>,
    cols: Im2Col<E>,
    labels: Vec<E>,
}

/// Forward pass on host slices: the NCHW output, the image column matrix and the label values
/// (both kept for backward).
fn forward_host<E: NnFloat>(lg: &LabelGeometry, x: &[E], w: &[E], bias: &[E]) -> Forward<E> {
    let g = &lg.g;
    let (out_chan, nl, batch) = (lg.out_chan, lg.labels, g.batch);
    let (rows, n, grid) = (g.rows(), g.cols(), g.grid_h * g.grid_w);
    let img_len = g.chan * g.img_h * g.img_w;
    assert_eq!(x.len(), batch * lg.x_row(), "label conv: input length");
    let mut img = Vec::with_capacity(batch * img_len);
    let mut labels = Vec::with_capacity(batch * nl);
    for row in x.chunks_exact(lg.x_row()) {
        img.extend_from_slice(&row[..img_len]);
        labels.extend_from_slice(&row[img_len..]);
    }
    // The label part, straight in the output layout: out (B × OUT·grid) = labels · S.
    let mut out = vec![E::default(); batch * out_chan * grid];
    if nl > 0 {
        let sums = label_kernel_sums(lg, w);
        matmul(
            MatMut::row_major(&mut out, batch, out_chan * grid),
            false,
            MatRef::row_major(&labels, batch, nl),
            MatRef::row_major(&sums, nl, out_chan * grid),
        );
    }
    // The image part: out_cm (OUT × B·grid) = W_img (OUT × rows) · cols (rows × B·grid), where
    // W_img is the first `rows` columns of each weight row.
    let cols = Im2Col::new(g, &img);
    // Overwritten completely by the (non-accumulating) product.
    let mut out_cm = scratch(out_chan * n);
    matmul(
        MatMut::row_major(&mut out_cm, out_chan, n),
        false,
        MatRef::new(w, (out_chan, rows), (lg.w_row(), 1)),
        cols.matrix(),
    );
    if grid > 0 {
        out.par_chunks_mut(grid).enumerate().for_each(|(bo, dst)| {
            let (bi, o) = (bo / out_chan, bo % out_chan);
            for (d, &v) in dst.iter_mut().zip(&out_cm[o * n + bi * grid..][..grid]) {
                *d += v + bias[o];
            }
        });
    }
    recycle(out_cm);
    Forward { out, cols, labels }
}

/// `S[l][o][y][x]`, `(L × OUT·grid)`: the sum of the weights of label plane `l` for output
/// channel `o` over the kernel offsets inside the image at output position `(y, x)` (row by row).
fn label_kernel_sums<E: NnFloat>(lg: &LabelGeometry, w: &[E]) -> Vec<E> {
    let g = &lg.g;
    let (k, grid) = (g.k, g.grid_h * g.grid_w);
    let (vy, vx) = (lg.valid(g.grid_h, g.img_h), lg.valid(g.grid_w, g.img_w));
    let mut sums = vec![E::default(); lg.labels * lg.out_chan * grid];
    if grid == 0 {
        return sums;
    }
    sums.par_chunks_mut(grid)
        .enumerate()
        .for_each(|(lo, plane)| {
            let (l, o) = (lo / lg.out_chan, lo % lg.out_chan);
            let kernel = &w[o * lg.w_row() + (g.chan + l) * k * k..][..k * k];
            for (gy, ry) in vy.iter().enumerate() {
                for (gx, rx) in vx.iter().enumerate() {
                    let mut acc = E::default();
                    for ky in ry.clone() {
                        for kx in rx.clone() {
                            acc += kernel[ky * k + kx];
                        }
                    }
                    plane[gy * g.grid_w + gx] = acc;
                }
            }
        });
    sums
}

/// `R[b][o][ky][kx]`, `(B·OUT × k·k)`: the sum of the output gradient of plane `(b, o)` over the
/// positions where kernel offset `(ky, kx)` lies inside the image (rows first, then columns).
fn gradient_window_sums<E: NnFloat>(lg: &LabelGeometry, grad_out: &[E]) -> Vec<E> {
    let g = &lg.g;
    let (k, grid) = (g.k, g.grid_h * g.grid_w);
    let (py, px) = (
        lg.positions(g.grid_h, g.img_h),
        lg.positions(g.grid_w, g.img_w),
    );
    let mut sums = vec![E::default(); g.batch * lg.out_chan * k * k];
    if grid == 0 || k == 0 {
        return sums;
    }
    sums.par_chunks_mut(k * k)
        .zip(grad_out.par_chunks(grid))
        .for_each_init(Vec::new, |row_sums, (r, plane)| {
            // row_sums[gy·k + kx] = Σ over the columns gx where kx is inside (front to back).
            row_sums.clear();
            row_sums.resize(g.grid_h * k, E::default());
            for (gy, row) in plane.chunks_exact(g.grid_w).enumerate() {
                for (kx, cols) in px.iter().enumerate() {
                    let mut acc = E::default();
                    for v in &row[cols.clone()] {
                        acc += *v;
                    }
                    row_sums[gy * k + kx] = acc;
                }
            }
            for (ky, rows) in py.iter().enumerate() {
                for kx in 0..k {
                    let mut acc = E::default();
                    for gy in rows.clone() {
                        acc += row_sums[gy * k + kx];
                    }
                    r[ky * k + kx] = acc;
                }
            }
        });
    sums
}

/// Backward pass on host slices; accumulates into `gx` (rows: image, labels) unless the input is
/// data (`None`) and, unless the parameters are frozen (`None`), into their gradients `(gw, gb)`.
/// Consumes the image column matrix.
fn backward_host<E: NnFloat>(
    lg: &LabelGeometry,
    cols: Im2Col<E>,
    labels: &[E],
    w: &[E],
    grad_out: &[E],
    mut gx: Option<&mut [E]>,
    mut params: Option<(&mut [E], &mut [E])>,
) {
    let g = &lg.g;
    let (out_chan, nl, batch, kk) = (lg.out_chan, lg.labels, g.batch, g.k * g.k);
    let (rows, n, grid) = (g.rows(), g.cols(), g.grid_h * g.grid_w);
    let img_len = g.chan * g.img_h * g.img_w;
    // Image channels: as `Conv2D`, on the image columns of the weight.
    let g_cm = batch_to_channel_major(grad_out, batch, out_chan, grid);
    if let Some((gw, gb)) = params.as_mut() {
        add_bias_grad(grad_out, out_chan, grid, gb);
        matmul(
            MatMut::new(gw, (out_chan, rows), lg.w_row()),
            true,
            MatRef::row_major(&g_cm, out_chan, n),
            cols.matrix().transposed(),
        );
    }
    cols.recycle();
    if let (true, Some(gx)) = (rows > 0, gx.as_deref_mut()) {
        let mut g_img = vec![E::default(); batch * img_len];
        col2im_of_product(
            g,
            MatRef::new(w, (out_chan, rows), (lg.w_row(), 1)).transposed(),
            MatRef::row_major(&g_cm, out_chan, n),
            &mut g_img,
        );
        for (dst, src) in gx
            .chunks_exact_mut(lg.x_row())
            .zip(g_img.chunks_exact(img_len))
        {
            for (d, s) in dst.iter_mut().zip(src) {
                *d += *s;
            }
        }
    }
    recycle(g_cm);

    // Label planes, through the window sums of the output gradient.
    if nl == 0 || kk == 0 || (params.is_none() && gx.is_none()) {
        return;
    }
    let r = gradient_window_sums(lg, grad_out);
    // gw[o][C + l][kk] += Σ_b labels[b][l] · R[b][o][kk]: output channels in parallel.
    if let Some((gw, _)) = params {
        label_weight_grad(lg, labels, &r, gw);
    }
    // gx[b][labels l] += Σ_o Σ_kk w[o][C + l][kk] · R[b][o][kk]: images in parallel.
    let Some(gx) = gx else { return };
    gx.par_chunks_mut(lg.x_row())
        .enumerate()
        .for_each(|(b, x_row)| {
            for (l, d) in x_row[img_len..].iter_mut().enumerate() {
                let mut acc = E::default();
                for o in 0..out_chan {
                    let kernel = &w[o * lg.w_row() + (g.chan + l) * kk..][..kk];
                    let rs = &r[(b * out_chan + o) * kk..][..kk];
                    for (a, v) in kernel.iter().zip(rs) {
                        acc += *a * *v;
                    }
                }
                *d += acc;
            }
        });
}

/// `gw[o][C + l][kk] += Σ_b labels[b][l] · R[b][o][kk]`, output channels in parallel.
fn label_weight_grad<E: NnFloat>(lg: &LabelGeometry, labels: &[E], r: &[E], gw: &mut [E]) {
    let g = &lg.g;
    let (out_chan, nl, batch, kk) = (lg.out_chan, lg.labels, g.batch, g.k * g.k);
    gw.par_chunks_mut(lg.w_row())
        .enumerate()
        .for_each(|(o, w_row)| {
            for l in 0..nl {
                let dst = &mut w_row[(g.chan + l) * kk..][..kk];
                for (j, d) in dst.iter_mut().enumerate() {
                    let mut acc = E::default();
                    for b in 0..batch {
                        acc += labels[b * nl + l] * r[(b * out_chan + o) * kk + j];
                    }
                    *d += acc;
                }
            }
        });
}

/// Appends `extra.len() / B` columns to the rows of `x`: `(B, N)` → `(B, N + extra/B)`, row `b`
/// followed by `extra[b·cols..(b + 1)·cols]`. Recorded on `x`'s tape; the backward pass adds the
/// first `N` columns of the gradient to `x`'s (the appended values are constants).
///
/// # Errors
/// Allocation errors from the device.
///
/// # Panics
/// If `extra.len()` is not a multiple of the batch size (or non-empty for an empty batch).
#[allow(clippy::type_complexity)] // the output type spelled out is the clearest documentation
pub fn try_append_columns<const N: usize, E, D, B, T>(
    x: Tensor<(B, Const<N>), E, D, T>,
    extra: &[E],
) -> Result<Tensor<(B, usize), E, D, T>, D::Err>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    T: Tape<E, D>,
{
    let x = x.try_contiguous()?;
    let (x, mut tape) = x.split_tape();
    let batch = x.shape().0;
    let rows = batch.size();
    let add = if rows == 0 {
        assert!(
            extra.is_empty(),
            "append_columns: values for an empty batch"
        );
        0
    } else {
        assert_eq!(
            extra.len() % rows,
            0,
            "append_columns: ragged extra columns"
        );
        extra.len() / rows
    };
    let width = N + add;
    let xs = host_copy(&x);
    let mut y = Vec::with_capacity(rows * width);
    for b in 0..rows {
        y.extend_from_slice(&xs[b * N..][..N]);
        y.extend_from_slice(&extra[b * add..][..add]);
    }
    let out = x.device().try_tensor_from_vec(y, (batch, width))?;
    if T::OWNS_TAPE {
        // Takes a `data_input` mark like every layer; the copy backward costs next to nothing.
        let _ = input_grad_wanted();
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = std::mem::take(D::host_vec_mut(grads.get_or_alloc_mut(&out_g)?));
            let gx = D::host_vec_mut(grads.get_or_alloc_mut(&x_g)?);
            for (dst, src) in gx.chunks_exact_mut(N).zip(go.chunks_exact(width)) {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += *s;
                }
            }
            *D::host_vec_mut(grads.get_or_alloc_mut(&out_g)?) = go;
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::dims::conv_dims;
    use crate::nn::testing::*;
    use crate::nn::{Conv2D, Unflatten};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    conv_dims!(k = 3, s = 2, p = 0: 9);
    conv_dims!(k = 5, s = 3, p = 2: 9);

    type Taped<S> = Tensor<S, f64, Cpu, OwnedTape<f64, Cpu>>;

    /// The reference: the label values spread into full planes after the image channels, then
    /// the plain `Conv2D` with the same weight and bias.
    fn planes(x: &[f64], batch: usize, c: usize, hw: usize, l: usize) -> Vec<f64> {
        let mut v = Vec::new();
        for row in x.chunks_exact(c * hw + l) {
            v.extend_from_slice(&row[..c * hw]);
            for &value in &row[c * hw..] {
                v.extend(std::iter::repeat_n(value, hw));
            }
        }
        assert_eq!(v.len(), batch * (c + l) * hw);
        v
    }

    /// Forward values and the gradients of input (image part and each label value: the sum of
    /// its plane's gradient), weight and bias, fused against reference, for one geometry.
    fn check<
        const BATCH: usize,
        const IN: usize,
        const L: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const N: usize,
        const M: usize,
    >(
        seed: u64,
        one_hot: bool,
    ) where
        Const<H>: ConvDim<K, S, P>,
        Const<W>: ConvDim<K, S, P>,
    {
        let dev = Cpu::seed_from_u64(seed);
        let fused = dev.build_module::<LabelConv2D<IN, L, OUT, K, S, P, H, W>, f64>();
        // Same initialisation as Conv2D from the same seed.
        let plain = Cpu::seed_from_u64(seed).build_module::<Conv2D<IN, OUT, K, S, P>, f64>();
        assert_eq!(fused.weight.as_vec(), plain.weight.as_vec());
        assert_eq!(fused.bias.as_vec(), plain.bias.as_vec());

        let mut rng = StdRng::seed_from_u64(seed + 100);
        let (c, hw) = (IN - L, H * W);
        let mut xv = Vec::new();
        for _ in 0..BATCH {
            xv.extend((0..c * hw).map(|_| rng.gen_range(-1.0..1.0)));
            if one_hot {
                let class = rng.gen_range(0..L);
                xv.extend((0..L).map(|i| f64::from(u8::from(i == class))));
            } else {
                xv.extend((0..L).map(|_| rng.gen_range(-1.0..1.0)));
            }
        }
        let x: Tensor<Rank2<BATCH, N>, f64, _> = dev.tensor_from_vec(xv.clone(), (Const, Const));
        let xp: Tensor<Rank2<BATCH, M>, f64, _> =
            dev.tensor_from_vec(planes(&xv, BATCH, c, hw, L), (Const, Const));

        let reference = (Unflatten::<IN, H, W>, plain.clone());
        let y_fused = fused.forward(x.clone());
        let y_ref = reference.forward(xp.clone());
        assert_close(&y_fused.as_vec(), &y_ref.as_vec(), 1e-12);

        let r: Vec<f64> = (0..y_ref.shape().num_elements())
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let rt = dev.tensor_from_vec(r, *y_ref.shape());
        let gf = (fused.forward(x.leaky_trace()) * rt.clone())
            .sum()
            .backward();
        let yr: Taped<_> = reference.forward(xp.leaky_trace());
        let gr = (yr * rt).sum().backward();
        assert_close(
            &gf.get(&fused.weight).as_vec(),
            &gr.get(&plain.weight).as_vec(),
            1e-12,
        );
        assert_close(
            &gf.get(&fused.bias).as_vec(),
            &gr.get(&plain.bias).as_vec(),
            1e-12,
        );
        let gx_ref = gr.get(&xp).as_vec();
        let mut expected = Vec::new();
        for row in gx_ref.chunks_exact((c + L) * hw) {
            expected.extend_from_slice(&row[..c * hw]);
            for plane in row[c * hw..].chunks_exact(hw) {
                expected.push(plane.iter().sum());
            }
        }
        assert_close(&gf.get(&x).as_vec(), &expected, 1e-12);
    }

    #[test]
    fn matches_conv2d_on_concatenated_planes() {
        // The two presets' first layers (batch reduced), one-hot and general label values.
        check::<3, 11, 10, 8, 4, 2, 1, 28, 28, 794, 8624>(1, true);
        check::<2, 11, 10, 5, 4, 2, 1, 28, 28, 794, 8624>(2, false);
        // Other geometries: several image channels, no padding, wide kernels, odd sizes.
        check::<2, 3, 1, 4, 3, 2, 0, 9, 7, 127, 189>(3, false);
        check::<2, 4, 2, 3, 5, 3, 2, 9, 8, 146, 288>(4, true);
        check::<3, 3, 2, 2, 4, 2, 1, 6, 7, 44, 126>(5, false);
        // Labels only, no image channels.
        check::<2, 2, 2, 3, 3, 2, 0, 9, 9, 2, 162>(6, false);
    }

    #[test]
    fn gradients_match_finite_differences_and_accumulate() {
        let dev = Cpu::seed_from_u64(7);
        let m = dev.build_module::<LabelConv2D<3, 2, 3, 4, 2, 1, 6, 7>, f64>();
        let x: Tensor<Rank2<2, 44>, f64, _> = dev.sample_normal();
        gradcheck(&m, x.clone(), |m| &mut m.weight, |m| &mut m.bias);
        check_accumulates(&m, x, |m| &m.weight, |m| &m.bias);
    }

    #[test]
    fn f32_matches_f64_on_the_preset_shape() {
        // The f32 path (own matrix kernel where available) against the f64 one.
        let dev = Cpu::seed_from_u64(8);
        let m64 = dev.build_module::<LabelConv2D<11, 10, 64, 4, 2, 1, 28, 28>, f64>();
        let m32 = DeviceLabelConv2D::<11, 10, 64, 4, 2, 1, 28, 28, f32, Cpu> {
            weight: dev.tensor_from_vec(
                m64.weight.as_vec().iter().map(|&v| v as f32).collect(),
                Default::default(),
            ),
            bias: dev.tensor_from_vec(
                m64.bias.as_vec().iter().map(|&v| v as f32).collect(),
                Default::default(),
            ),
        };
        let mut rng = StdRng::seed_from_u64(9);
        let mut xv = Vec::new();
        for b in 0..16 {
            xv.extend((0..784).map(|_| rng.gen_range(-1.0..1.0)));
            xv.extend((0..10).map(|i| f64::from(u8::from(i == b % 10))));
        }
        let x64: Tensor<(usize, Const<794>), f64, _> = dev.tensor_from_vec(xv.clone(), (16, Const));
        let x32: Tensor<(usize, Const<794>), f32, _> =
            dev.tensor_from_vec(xv.iter().map(|&v| v as f32).collect(), (16, Const));
        let (y64, y32) = (m64.forward(x64.clone()), m32.forward(x32.clone()));
        let y32: Vec<f64> = y32.as_vec().iter().map(|&v| f64::from(v)).collect();
        assert_close(&y32, &y64.as_vec(), 1e-5);

        let g64 = m64.forward(x64.leaky_trace()).square().sum().backward();
        let g32 = m32.forward(x32.leaky_trace()).square().sum().backward();
        let widen = |v: Vec<f32>| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        let gw = g64.get(&m64.weight).as_vec();
        let scale = gw.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (a, b) in widen(g32.get(&m32.weight).as_vec()).iter().zip(&gw) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
        let gx = g64.get(&x64).as_vec();
        let scale = gx.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (a, b) in widen(g32.get(&x32).as_vec()).iter().zip(&gx) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
    }

    #[test]
    fn append_columns_values_and_gradients() {
        let dev: Cpu = Default::default();
        let x: Tensor<(usize, Const<3>), f64, _> =
            dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (2, Const));
        let y = try_append_columns(x.clone(), &[7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(*y.shape(), (2, 5));
        assert_eq!(
            y.as_vec(),
            [1.0, 2.0, 3.0, 7.0, 8.0, 4.0, 5.0, 6.0, 9.0, 10.0]
        );
        let w = dev.tensor_from_vec((1..=10).map(f64::from).collect(), (2, 5));
        let yt = try_append_columns(x.leaky_trace(), &[7.0, 8.0, 9.0, 10.0]).unwrap();
        let grads = (yt * w).sum().backward();
        assert_eq!(grads.get(&x).as_vec(), [1.0, 2.0, 3.0, 6.0, 7.0, 8.0]);
    }
}
