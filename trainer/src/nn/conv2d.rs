//! 2-D convolution with bias, for dfdx on stable Rust (dfdx's own `Conv2D` needs its broken
//! `nightly` feature).
//!
//! Same semantics, parameter layout and default initialisation as PyTorch's
//! `nn.Conv2d(IN, OUT, K, stride=S, padding=P)`:
//! `out[b][o][y][x] = bias[o] + Σ_{c,ky,kx} weight[o][c][ky][kx] · in[b][c][y·S + ky − P][x·S + kx − P]`
//! (zero padding).
//!
//! The forward pass is one autograd op: one matrix product `(OUT × IN·K·K) · (IN·K·K × B·H'·W')`
//! with the column matrix of the input (im2col, read in place from the zero-padded input), then
//! bias and the NCHW layout in one pass. Its backward pass computes all three gradients (input,
//! weight, bias) from the saved padded input; the input gradient goes through col2im, the adjoint
//! of im2col.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::Conv2D;
//!
//! let dev: Cpu = Default::default();
//! let conv = dev.build_module::<Conv2D<1, 8, 4, 2, 1>, f32>();
//! let x: Tensor<Rank4<2, 1, 28, 28>, f32, _> = dev.sample_normal();
//! let y: Tensor<Rank4<2, 8, 14, 14>, f32, _> = conv.forward(x);
//! # let _ = y;
//! ```

use dfdx::prelude::*;

use super::channel_layout::{add_bias_grad, batch_to_channel_major};
use super::dims::ConvDim;
use super::float::{NnDevice, NnFloat};
use super::gradients::{input_grad_wanted, parameter_grads_wanted, put_grads, take_grads};
use super::im2col::{col2im_of_product, Geometry, Im2Col};
use super::init::{uniform_fan_in, FanIn};
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::{recycle, scratch};

/// Builder for [`DeviceConv2D`]: a 2-D convolution with `IN` input channels, `OUT` output channels,
/// a `K × K` kernel, stride `S` and zero padding `P` (PyTorch `nn.Conv2d(IN, OUT, K, S, P)`).
///
/// Zero-sized; use it in model types and build with `dev.build_module::<Model, f32>()`. The input
/// height and width must implement [`ConvDim<K, S, P>`](ConvDim), which fixes the output size at
/// compile time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Conv2D<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize>;

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    BuildOnDevice<D, E> for Conv2D<IN, OUT, K, S, P>
where
    E: NnFloat,
    D: NnDevice<E>,
{
    type Built = DeviceConv2D<IN, OUT, K, S, P, E, D>;
}

/// A built [`Conv2D`]: its weight `(OUT, IN, K, K)` and bias `(OUT,)`, in PyTorch's layout.
///
/// Initialised like PyTorch: weight and bias uniform in `±1/sqrt(IN·K·K)`. Visited as `"weight"`
/// and `"bias"` by dfdx's tensor visitors (optimisers, `ZeroGrads`, save/load).
///
/// Works on `(B, IN, H, W)` tensors with any batch dimension `B` (`usize` or `Const`) and any tape:
/// `forward` with a `NoneTape` tensor for inference, `forward_mut` or `forward` with an
/// `OwnedTape` tensor for training.
#[derive(Debug, Clone)]
pub struct DeviceConv2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// Kernel, `(OUT, IN, K, K)`.
    pub weight: Tensor<Rank4<OUT, IN, K, K>, E, D>,
    /// Bias, `(OUT,)`.
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    NonMutableModule for DeviceConv2D<IN, OUT, K, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D> FanIn
    for DeviceConv2D<IN, OUT, K, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    const FAN_IN: usize = IN * K * K;
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    TensorCollection<E, D> for DeviceConv2D<IN, OUT, K, S, P, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceConv2D<IN, OUT, K, S, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
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
            |(weight, bias)| DeviceConv2D { weight, bias },
        )
    }
}

impl<
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        E,
        D,
        B,
        H,
        W,
        T,
    > Module<Tensor<(B, Const<IN>, H, W), E, D, T>> for DeviceConv2D<IN, OUT, K, S, P, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    H: ConvDim<K, S, P>,
    W: ConvDim<K, S, P>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<OUT>, H::Out, W::Out), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        try_conv2d(x, &self.weight, &self.bias)
    }
}

/// Copies a contiguous tensor's elements to a host vector.
///
/// The buffer comes from [`scratch`] (`copy_into` overwrites all of it); callers that only need it
/// for the moment [`recycle`] it.
pub(crate) fn host_copy<S: Shape, E: NnFloat, D: NnDevice<E>, T>(t: &Tensor<S, E, D, T>) -> Vec<E> {
    let mut v = scratch(t.shape().num_elements());
    // For a contiguous tensor the storage order is the logical row-major order. (`copy_into`
    // panics if the storage length differs, e.g. for a broadcast tensor.)
    t.copy_into(&mut v);
    v
}

/// The convolution as a function: `x` `(B, IN, H, W)`, `weight` `(OUT, IN, K, K)`, `bias` `(OUT,)`
/// → `(B, OUT, H', W')`, recorded on `x`'s tape (gradients flow to `x`, `weight` and `bias`).
///
/// `weight` and `bias` must be contiguous, as dfdx-built parameters always are; `x` may be
/// anything (it is made contiguous first).
///
/// # Errors
/// Allocation errors from the device.
#[allow(clippy::type_complexity)] // the output type spelled out is the clearest documentation
pub fn try_conv2d<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    E,
    D,
    B,
    H,
    W,
    T,
>(
    x: Tensor<(B, Const<IN>, H, W), E, D, T>,
    weight: &Tensor<Rank4<OUT, IN, K, K>, E, D>,
    bias: &Tensor<Rank1<OUT>, E, D>,
) -> Result<Tensor<(B, Const<OUT>, H::Out, W::Out), E, D, T>, D::Err>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    H: ConvDim<K, S, P>,
    W: ConvDim<K, S, P>,
    T: Tape<E, D>,
{
    let x = x.try_contiguous()?;
    let (x, mut tape) = x.split_tape();
    let batch = x.shape().0;
    let g = Geometry {
        batch: batch.size(),
        chan: IN,
        img_h: H::SIZE,
        img_w: W::SIZE,
        grid_h: <H::Out as ConstDim>::SIZE,
        grid_w: <W::Out as ConstDim>::SIZE,
        k: K,
        s: S,
        p: P,
    };
    let w = host_copy(weight);
    let xs = host_copy(&x);
    let (out, cols) = forward_host(&g, OUT, &xs, &w, &host_copy(bias));
    recycle(xs);
    let out = x.device().try_tensor_from_vec(
        out,
        (batch, Const::<OUT>, H::Out::default(), W::Out::default()),
    )?;

    if T::OWNS_TAPE {
        let (params, input) = (parameter_grads_wanted(), input_grad_wanted());
        let (x_g, w_g, b_g, out_g) = (x.ghost(), weight.ghost(), bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let mut taken = take_grads!(
                grads,
                D,
                &out_g,
                input.then_some(&x_g),
                params.then_some((&w_g, &b_g))
            );
            let (grad_out, grad_x, grad_wb) = taken.split();
            backward_host(&g, OUT, cols, &w, grad_out, grad_x, grad_wb);
            put_grads!(grads, D, taken, &out_g, &x_g, (&w_g, &b_g));
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Forward pass on host slices: returns the NCHW output and the input's column matrix (kept for
/// backward).
fn forward_host<E: NnFloat>(
    g: &Geometry,
    out_chan: usize,
    x: &[E],
    w: &[E],
    b: &[E],
) -> (Vec<E>, Im2Col<E>) {
    let (rows, n, plane) = (g.rows(), g.cols(), g.grid_h * g.grid_w);
    let cols = Im2Col::new(g, x);
    // out_cm (OUT × B·H'·W') = W (OUT × IN·K·K) · cols (IN·K·K × B·H'·W')
    // Overwritten completely by the (non-accumulating) product.
    let mut out_cm = scratch(out_chan * n);
    matmul(
        MatMut::row_major(&mut out_cm, out_chan, n),
        false,
        MatRef::row_major(w, out_chan, rows),
        cols.matrix(),
    );
    // (OUT, B, H'W') → (B, OUT, H'W'), adding the bias on the way; planes in parallel.
    // Every element is written below (one task per `(b, o)` plane).
    let mut out = scratch(out_cm.len());
    if plane > 0 {
        use rayon::prelude::*;
        out.par_chunks_mut(plane).enumerate().for_each(|(bo, dst)| {
            let (bi, o) = (bo / out_chan, bo % out_chan);
            for (d, &v) in dst.iter_mut().zip(&out_cm[o * n + bi * plane..][..plane]) {
                *d = v + b[o];
            }
        });
    }
    recycle(out_cm);
    (out, cols)
}

/// Backward pass on host slices; accumulates into `gx` unless the input is data (`None`) and,
/// unless the parameters are frozen (`None`), into their gradients `(gw, gb)`. Consumes the
/// input's column matrix.
fn backward_host<E: NnFloat>(
    g: &Geometry,
    out_chan: usize,
    cols: Im2Col<E>,
    w: &[E],
    grad_out: &[E],
    gx: Option<&mut [E]>,
    params: Option<(&mut [E], &mut [E])>,
) {
    let (rows, n, plane) = (g.rows(), g.cols(), g.grid_h * g.grid_w);
    // (B, OUT, H'W') → (OUT, B·H'W')
    let g_cm = batch_to_channel_major(grad_out, g.batch, out_chan, plane);
    if let Some((gw, gb)) = params {
        add_bias_grad(grad_out, out_chan, plane, gb);
        // grad W (OUT × IN·K·K) += g_cm (OUT × B·H'W') · colsᵀ
        matmul(
            MatMut::row_major(gw, out_chan, rows),
            true,
            MatRef::row_major(&g_cm, out_chan, n),
            cols.matrix().transposed(),
        );
    }
    cols.recycle();
    if let Some(gx) = gx {
        // gx += col2im(grad cols), grad cols (IN·K·K × B·H'W') = Wᵀ · g_cm
        col2im_of_product(
            g,
            MatRef::row_major(w, out_chan, rows).transposed(),
            MatRef::row_major(&g_cm, out_chan, n),
            gx,
        );
    }
    recycle(g_cm);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::dims::conv_dims;
    use crate::nn::testing::*;

    // Extra sizes only the tests use: no padding, and kernel 5 / stride 3 / padding 2.
    conv_dims!(k = 3, s = 2, p = 0: 7, 8);
    conv_dims!(k = 5, s = 3, p = 2: 7, 8);
    conv_dims!(k = 2, s = 1, p = 0: 3, 4, 5);

    /// out[b][o][y][x] = bias[o] + Σ w[o][c][ky][kx] · x[b][c][y·s+ky−p][x·s+kx−p], loops only.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f64],
        w: &[f64],
        bias: &[f64],
        (b, c, h, wd): (usize, usize, usize, usize),
        o: usize,
        (k, s, p): (usize, usize, usize),
        (oh, ow): (usize, usize),
    ) -> Vec<f64> {
        let mut out = vec![0.0; b * o * oh * ow];
        for bi in 0..b {
            for oi in 0..o {
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut acc = bias[oi];
                        for ci in 0..c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (y * s + ky) as isize - p as isize;
                                    let ix = (xo * s + kx) as isize - p as isize;
                                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                        continue;
                                    }
                                    acc += w[((oi * c + ci) * k + ky) * k + kx]
                                        * x[((bi * c + ci) * h + iy as usize) * wd + ix as usize];
                                }
                            }
                        }
                        out[((bi * o + oi) * oh + y) * ow + xo] = acc;
                    }
                }
            }
        }
        out
    }

    fn check_forward<
        const BATCH: usize,
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
    >(
        seed: u64,
    ) where
        Const<H>: ConvDim<K, S, P>,
        Const<W>: ConvDim<K, S, P>,
    {
        let dev = Cpu::seed_from_u64(seed);
        let m = dev.build_module::<Conv2D<IN, OUT, K, S, P>, f64>();
        let x: Tensor<Rank4<BATCH, IN, H, W>, f64, _> = dev.sample_normal();
        let y = m.forward(x.clone());
        let (oh, ow) = (
            <<Const<H> as ConvDim<K, S, P>>::Out as ConstDim>::SIZE,
            <<Const<W> as ConvDim<K, S, P>>::Out as ConstDim>::SIZE,
        );
        let expected = reference(
            &x.as_vec(),
            &m.weight.as_vec(),
            &m.bias.as_vec(),
            (BATCH, IN, H, W),
            OUT,
            (K, S, P),
            (oh, ow),
        );
        assert_close(&y.as_vec(), &expected, 1e-12);
        // The same through the training path (OwnedTape) and with a runtime batch size.
        let xr = x
            .clone()
            .reshape_like(&(BATCH, Const::<IN>, Const::<H>, Const::<W>));
        let yr = m.forward(xr.leaky_trace());
        assert_close(&yr.as_vec(), &expected, 1e-12);
    }

    #[test]
    fn forward_matches_reference() {
        check_forward::<3, 2, 3, 3, 2, 1, 5, 6>(1);
        check_forward::<2, 3, 4, 4, 2, 1, 8, 6>(2);
        check_forward::<1, 1, 2, 3, 1, 1, 7, 7>(3);
        check_forward::<2, 2, 3, 3, 2, 0, 7, 8>(4);
        check_forward::<2, 3, 2, 5, 3, 2, 8, 7>(5);
        check_forward::<4, 2, 5, 2, 1, 0, 4, 5>(6);
        check_forward::<2, 3, 4, 4, 2, 1, 14, 14>(7);
        check_forward::<3, 1, 2, 1, 1, 0, 3, 4>(8);
    }

    #[test]
    fn forward_with_hand_computed_values() {
        // 1 channel, 3×3 input, 2×2 kernel of ones, stride 1, no padding → 2×2 sums of windows.
        let dev: Cpu = Default::default();
        let m = DeviceConv2D::<1, 1, 2, 1, 0, f64, Cpu> {
            weight: dev.ones(),
            bias: dev.tensor([0.5]),
        };
        let x = dev.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]]);
        let y = m.forward(x);
        assert_eq!(y.array(), [[[[12.5, 16.5], [24.5, 28.5]]]]);
    }

    #[test]
    fn gradients_accumulate_over_uses() {
        let dev = Cpu::seed_from_u64(21);
        let m = dev.build_module::<Conv2D<2, 3, 4, 2, 1>, f64>();
        let x: Tensor<Rank4<3, 2, 8, 6>, f64, _> = dev.sample_normal();
        check_accumulates(&m, x, |m| &m.weight, |m| &m.bias);
    }

    #[test]
    fn gradients_match_finite_differences() {
        gradcheck_conv::<2, 2, 3, 3, 2, 1, 5, 4>(11);
        gradcheck_conv::<1, 3, 2, 4, 2, 1, 6, 4>(12);
        gradcheck_conv::<2, 1, 2, 5, 3, 2, 7, 8>(13);
    }

    fn gradcheck_conv<
        const BATCH: usize,
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
    >(
        seed: u64,
    ) where
        Const<H>: ConvDim<K, S, P>,
        Const<W>: ConvDim<K, S, P>,
    {
        let dev = Cpu::seed_from_u64(seed);
        let m = dev.build_module::<Conv2D<IN, OUT, K, S, P>, f64>();
        let x: Tensor<Rank4<BATCH, IN, H, W>, f64, _> = dev.sample_normal();
        gradcheck(&m, x, |m| &mut m.weight, |m| &mut m.bias);
    }
}
