//! 2-D transposed convolution with bias, for dfdx on stable Rust (dfdx's own `ConvTrans2D` needs
//! its broken `nightly` feature).
//!
//! Same semantics, parameter layout and default initialisation as PyTorch's
//! `nn.ConvTranspose2d(IN, OUT, K, stride=S, padding=P)` (no `output_padding`, no dilation):
//! `out[b][o][y][x] = bias[o] + Σ weight[c][o][ky][kx] · in[b][c][iy][ix]` over all
//! `(c, iy, ix, ky, kx)` with `y = iy·S − P + ky` and `x = ix·S − P + kx`; the output is
//! `(H − 1)·S − 2P + K` high.
//!
//! The forward pass is one autograd op: one matrix product
//! `(OUT·K·K × IN) · (IN × B·H·W)` on `gemm` producing a column matrix, then col2im (scatter-add)
//! onto the bias-filled output. Its backward pass im2col's the output gradient (im2col is the
//! adjoint of col2im) and derives the input, weight and bias gradients from that.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::ConvTrans2D;
//!
//! let dev: Cpu = Default::default();
//! let up = dev.build_module::<ConvTrans2D<64, 32, 4, 2, 1>, f32>();
//! let x: Tensor<Rank4<2, 64, 7, 7>, f32, _> = dev.sample_normal();
//! let y: Tensor<Rank4<2, 32, 14, 14>, f32, _> = up.forward(x);
//! # let _ = y;
//! ```

use dfdx::prelude::*;

use super::channel_layout::{add_bias_grad, add_channel_major_to_batch, batch_to_channel_major};
use super::conv2d::host_copy;
use super::dims::ConvTransDim;
use super::float::{NnDevice, NnFloat};
use super::gradients::{input_grad_wanted, parameter_grads_wanted, put_grads, take_grads};
use super::im2col::{col2im_of_product, Geometry, Im2Col};
use super::init::{uniform_fan_in, FanIn};
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::{recycle, scratch};

/// Builder for [`DeviceConvTrans2D`]: a 2-D transposed convolution with `IN` input channels, `OUT`
/// output channels, a `K × K` kernel, stride `S` and padding `P` (PyTorch
/// `nn.ConvTranspose2d(IN, OUT, K, S, P)`).
///
/// Zero-sized; use it in model types and build with `dev.build_module::<Model, f32>()`. The input
/// height and width must implement [`ConvTransDim<K, S, P>`](ConvTransDim), which fixes the output
/// size at compile time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConvTrans2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>;

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    BuildOnDevice<D, E> for ConvTrans2D<IN, OUT, K, S, P>
where
    E: NnFloat,
    D: NnDevice<E>,
{
    type Built = DeviceConvTrans2D<IN, OUT, K, S, P, E, D>;
}

/// A built [`ConvTrans2D`]: its weight `(IN, OUT, K, K)` and bias `(OUT,)`, in PyTorch's layout.
///
/// Initialised like PyTorch, whose fan-in for `ConvTranspose2d` is computed from the weight's
/// second axis: weight and bias uniform in `±1/sqrt(OUT·K·K)`. Visited as `"weight"` and `"bias"`
/// by dfdx's tensor visitors (optimisers, `ZeroGrads`, save/load).
///
/// Works on `(B, IN, H, W)` tensors with any batch dimension `B` and any tape (see
/// [`DeviceConv2D`](super::DeviceConv2D)).
#[derive(Debug, Clone)]
pub struct DeviceConvTrans2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// Kernel, `(IN, OUT, K, K)`.
    pub weight: Tensor<Rank4<IN, OUT, K, K>, E, D>,
    /// Bias, `(OUT,)`.
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    NonMutableModule for DeviceConvTrans2D<IN, OUT, K, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D> FanIn
    for DeviceConvTrans2D<IN, OUT, K, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    const FAN_IN: usize = OUT * K * K;
}

impl<const IN: usize, const OUT: usize, const K: usize, const S: usize, const P: usize, E, D>
    TensorCollection<E, D> for DeviceConvTrans2D<IN, OUT, K, S, P, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceConvTrans2D<IN, OUT, K, S, P, E2, D2>;

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
            |(weight, bias)| DeviceConvTrans2D { weight, bias },
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
    > Module<Tensor<(B, Const<IN>, H, W), E, D, T>> for DeviceConvTrans2D<IN, OUT, K, S, P, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    H: ConvTransDim<K, S, P>,
    W: ConvTransDim<K, S, P>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<OUT>, H::Out, W::Out), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        try_conv_trans2d(x, &self.weight, &self.bias)
    }
}

/// The transposed convolution as a function: `x` `(B, IN, H, W)`, `weight` `(IN, OUT, K, K)`,
/// `bias` `(OUT,)` → `(B, OUT, H', W')`, recorded on `x`'s tape (gradients flow to `x`, `weight`
/// and `bias`).
///
/// `weight` and `bias` must be contiguous, as dfdx-built parameters always are; `x` may be
/// anything (it is made contiguous first).
///
/// # Errors
/// Allocation errors from the device.
#[allow(clippy::type_complexity)] // the output type spelled out is the clearest documentation
pub fn try_conv_trans2d<
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
    weight: &Tensor<Rank4<IN, OUT, K, K>, E, D>,
    bias: &Tensor<Rank1<OUT>, E, D>,
) -> Result<Tensor<(B, Const<OUT>, H::Out, W::Out), E, D, T>, D::Err>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    H: ConvTransDim<K, S, P>,
    W: ConvTransDim<K, S, P>,
    T: Tape<E, D>,
{
    let x = x.try_contiguous()?;
    let (x, mut tape) = x.split_tape();
    let batch = x.shape().0;
    // The image of the im2col/col2im pair is this layer's *output*; the grid is its input.
    let g = Geometry {
        batch: batch.size(),
        chan: OUT,
        img_h: <H::Out as ConstDim>::SIZE,
        img_w: <W::Out as ConstDim>::SIZE,
        grid_h: H::SIZE,
        grid_w: W::SIZE,
        k: K,
        s: S,
        p: P,
    };
    let w = host_copy(weight);
    let xs = host_copy(&x);
    let (out, x_cm) = forward_host(&g, IN, &xs, &w, &host_copy(bias));
    recycle(xs);
    let out = x.device().try_tensor_from_vec(
        out,
        (batch, Const::<OUT>, H::Out::default(), W::Out::default()),
    )?;

    if T::OWNS_TAPE {
        let params = parameter_grads_wanted();
        // Takes a `data_input` mark like every layer (the input gradient is computed anyway).
        let _ = input_grad_wanted();
        let (x_g, w_g, b_g, out_g) = (x.ghost(), weight.ghost(), bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let mut taken =
                take_grads!(grads, D, &out_g, Some(&x_g), params.then_some((&w_g, &b_g)));
            let (grad_out, grad_x, grad_wb) = taken.split();
            backward_host(&g, IN, &x_cm, &w, grad_out, grad_x, grad_wb);
            put_grads!(grads, D, taken, &out_g, &x_g, (&w_g, &b_g));
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Forward pass on host slices: returns the NCHW output and the input in channel-major layout
/// `(IN, B·H·W)` (kept for backward).
fn forward_host<E: NnFloat>(
    g: &Geometry,
    in_chan: usize,
    x: &[E],
    w: &[E],
    b: &[E],
) -> (Vec<E>, Vec<E>) {
    let (rows, n, out_plane) = (g.rows(), g.cols(), g.img_h * g.img_w);
    let x_cm = batch_to_channel_major(x, g.batch, in_chan, g.grid_h * g.grid_w);
    let mut out = Vec::with_capacity(g.img_len());
    for _ in 0..g.batch {
        for &bias in b {
            out.extend(std::iter::repeat_n(bias, out_plane));
        }
    }
    // out += col2im(cols), cols (OUT·K·K × B·H·W) = Wᵀ (OUT·K·K × IN) · x_cm (IN × B·H·W)
    col2im_of_product(
        g,
        MatRef::row_major(w, in_chan, rows).transposed(),
        MatRef::row_major(&x_cm, in_chan, n),
        &mut out,
    );
    (out, x_cm)
}

/// Backward pass on host slices; accumulates into `gx` unless it is `None` (the layer always
/// passes it: it computes its input gradient even for data) and, unless the parameters are frozen
/// (`None`), into their gradients `(gw, gb)`.
fn backward_host<E: NnFloat>(
    g: &Geometry,
    in_chan: usize,
    x_cm: &[E],
    w: &[E],
    grad_out: &[E],
    gx: Option<&mut [E]>,
    params: Option<(&mut [E], &mut [E])>,
) {
    let (rows, n) = (g.rows(), g.cols());
    let g_cols = Im2Col::new(g, grad_out);
    if let Some((gw, gb)) = params {
        add_bias_grad(grad_out, g.chan, g.img_h * g.img_w, gb);
        // grad W (IN × OUT·K·K) += x_cm (IN × B·H·W) · g_colsᵀ
        matmul(
            MatMut::row_major(gw, in_chan, rows),
            true,
            MatRef::row_major(x_cm, in_chan, n),
            g_cols.matrix().transposed(),
        );
    }
    if let Some(gx) = gx {
        // grad x_cm (IN × B·H·W) = W (IN × OUT·K·K) · g_cols
        // Overwritten completely by the (non-accumulating) product.
        let mut gx_cm = scratch(in_chan * n);
        matmul(
            MatMut::row_major(&mut gx_cm, in_chan, n),
            false,
            MatRef::row_major(w, in_chan, rows),
            g_cols.matrix(),
        );
        add_channel_major_to_batch(&gx_cm, g.batch, in_chan, g.grid_h * g.grid_w, gx);
        recycle(gx_cm);
    }
    g_cols.recycle();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::dims::conv_trans_dims;
    use crate::nn::testing::*;

    // Extra sizes only the tests use.
    conv_trans_dims!(k = 3, s = 2, p = 0: 2, 3);
    conv_trans_dims!(k = 5, s = 3, p = 2: 2, 3);
    conv_trans_dims!(k = 2, s = 1, p = 0: 1, 3, 4);
    conv_trans_dims!(k = 3, s = 2, p = 1: 3, 4);

    /// Scatter form, loops only: every input pixel adds `x · w[c][o]` to the `K × K` window at
    /// `(iy·s − p, ix·s − p)`, cropped to the output.
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
                for v in &mut out[(bi * o + oi) * oh * ow..][..oh * ow] {
                    *v = bias[oi];
                }
                for ci in 0..c {
                    for iy in 0..h {
                        for ix in 0..wd {
                            let xv = x[((bi * c + ci) * h + iy) * wd + ix];
                            for ky in 0..k {
                                for kx in 0..k {
                                    let y = (iy * s + ky) as isize - p as isize;
                                    let xo = (ix * s + kx) as isize - p as isize;
                                    if y < 0 || xo < 0 || y as usize >= oh || xo as usize >= ow {
                                        continue;
                                    }
                                    out[((bi * o + oi) * oh + y as usize) * ow + xo as usize] +=
                                        xv * w[((ci * o + oi) * k + ky) * k + kx];
                                }
                            }
                        }
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
        Const<H>: ConvTransDim<K, S, P>,
        Const<W>: ConvTransDim<K, S, P>,
    {
        let dev = Cpu::seed_from_u64(seed);
        let m = dev.build_module::<ConvTrans2D<IN, OUT, K, S, P>, f64>();
        let x: Tensor<Rank4<BATCH, IN, H, W>, f64, _> = dev.sample_normal();
        let y = m.forward(x.clone());
        let (oh, ow) = (
            <<Const<H> as ConvTransDim<K, S, P>>::Out as ConstDim>::SIZE,
            <<Const<W> as ConvTransDim<K, S, P>>::Out as ConstDim>::SIZE,
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
        let xr = x
            .clone()
            .reshape_like(&(BATCH, Const::<IN>, Const::<H>, Const::<W>));
        let yr = m.forward(xr.leaky_trace());
        assert_close(&yr.as_vec(), &expected, 1e-12);
    }

    #[test]
    fn forward_matches_reference() {
        check_forward::<3, 2, 3, 4, 2, 1, 3, 4>(1);
        check_forward::<2, 4, 2, 4, 2, 1, 7, 7>(2);
        check_forward::<1, 1, 2, 3, 1, 1, 5, 6>(3);
        check_forward::<2, 2, 3, 3, 2, 0, 2, 3>(4);
        check_forward::<2, 3, 2, 5, 3, 2, 3, 2>(5);
        check_forward::<4, 2, 5, 2, 1, 0, 4, 3>(6);
        check_forward::<2, 3, 2, 3, 2, 1, 4, 3>(7);
        check_forward::<3, 2, 1, 1, 1, 0, 3, 4>(8);
    }

    #[test]
    fn forward_with_hand_computed_values() {
        // One input pixel of value 2 through a 2×2 kernel [[1, 2], [3, 4]], stride 1: the output is
        // the kernel scaled by 2, plus the bias.
        let dev: Cpu = Default::default();
        let m = DeviceConvTrans2D::<1, 1, 2, 1, 0, f64, Cpu> {
            weight: dev.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]),
            bias: dev.tensor([0.5]),
        };
        let y = m.forward(dev.tensor([[[[2.0]]]]));
        assert_eq!(y.array(), [[[[2.5, 4.5], [6.5, 8.5]]]]);
    }

    #[test]
    fn is_the_adjoint_of_conv2d() {
        // Without bias, <convT(x), y> == <x, conv(y)> when both use the same weight tensor.
        use crate::nn::DeviceConv2D;
        let dev = Cpu::seed_from_u64(5);
        let w: Tensor<Rank4<3, 2, 4, 4>, f64, _> = dev.sample_normal();
        let ct = DeviceConvTrans2D::<3, 2, 4, 2, 1, f64, Cpu> {
            weight: w.clone(),
            bias: dev.zeros(),
        };
        let c = DeviceConv2D::<2, 3, 4, 2, 1, f64, Cpu> {
            weight: w,
            bias: dev.zeros(),
        };
        let x: Tensor<Rank4<2, 3, 7, 7>, f64, _> = dev.sample_normal();
        let y: Tensor<Rank4<2, 2, 14, 14>, f64, _> = dev.sample_normal();
        let lhs: f64 = (ct.forward(x.clone()) * y.clone())
            .sum::<Rank0, _>()
            .array();
        let rhs: f64 = (x * c.forward(y)).sum::<Rank0, _>().array();
        assert!(
            (lhs - rhs).abs() < 1e-10 * (1.0 + lhs.abs()),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn gradients_accumulate_over_uses() {
        let dev = Cpu::seed_from_u64(21);
        let m = dev.build_module::<ConvTrans2D<2, 3, 4, 2, 1>, f64>();
        let x: Tensor<Rank4<3, 2, 4, 3>, f64, _> = dev.sample_normal();
        check_accumulates(&m, x, |m| &m.weight, |m| &m.bias);
    }

    #[test]
    fn gradients_match_finite_differences() {
        gradcheck_trans::<2, 2, 3, 4, 2, 1, 3, 2>(11);
        gradcheck_trans::<1, 3, 2, 3, 2, 0, 2, 3>(12);
        gradcheck_trans::<2, 1, 2, 5, 3, 2, 3, 2>(13);
    }

    fn gradcheck_trans<
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
        Const<H>: ConvTransDim<K, S, P>,
        Const<W>: ConvTransDim<K, S, P>,
    {
        let dev = Cpu::seed_from_u64(seed);
        let m = dev.build_module::<ConvTrans2D<IN, OUT, K, S, P>, f64>();
        let x: Tensor<Rank4<BATCH, IN, H, W>, f64, _> = dev.sample_normal();
        gradcheck(&m, x, |m| &mut m.weight, |m| &mut m.bias);
    }
}
