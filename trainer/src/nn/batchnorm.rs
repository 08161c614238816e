//! 2-D batch normalisation with the training pass fused into one autograd op.
//!
//! Same semantics, fields, tensor names and defaults as dfdx's `BatchNorm2D` (and PyTorch's
//! `nn.BatchNorm2d(C)`, eps 1e-5, momentum 0.1): in training (`forward_mut` on a traced tensor)
//! each channel is normalised with its batch mean and biased variance, and the running statistics
//! move towards them (the variance unbiased, `n/(n − 1)`); in inference (`forward` on an untraced
//! tensor) the running statistics are used. Models, checkpoints and safetensors files are the
//! same as with dfdx's.
//!
//! dfdx assembles the training pass from about ten generic tensor ops (means, broadcasts,
//! subtractions, squares, divisions), each with its own buffers and backward pass. Here the
//! forward pass is three sweeps over the input (mean, variance, output) and the backward pass two
//! (the two channel sums, then the input gradient), with channel sums in f64, split over the
//! rayon threads by channel (statistics) and by image (outputs) — a split that cannot change any
//! result.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::BatchNorm2D;
//!
//! let dev: Cpu = Default::default();
//! let mut bn = dev.build_module::<BatchNorm2D<3>, f32>();
//! let x: Tensor<Rank4<2, 3, 4, 4>, f32, _> = dev.sample_normal();
//! let y = bn.forward_mut(x.leaky_trace()); // training: batch statistics
//! let z = bn.forward(y.retaped::<NoneTape>()); // inference: running statistics
//! # let _ = z;
//! ```

use dfdx::nn::modules::ScalarOptions;
use dfdx::prelude::*;
use rayon::prelude::*;

use super::conv2d::host_copy;
use super::float::{cast, NnDevice, NnFloat};
use super::gradients::{input_grad_wanted, parameter_grads_wanted};
use super::leaky_relu::LeakyReLU;
use super::scratch::scratch;

/// The activation a batch normalisation applies to its output: [`NoActivation`], dfdx's `ReLU` or
/// [`LeakyReLU`]. Fused into the normalisation's own pass (and its backward pass), with exactly the
/// values and gradients of the separate layer.
pub trait BnActivation: Default + Clone + Copy + std::fmt::Debug + Send + Sync + 'static {
    /// Whether there is an activation at all.
    const ACTIVE: bool;
    /// `ReLU`: `max(y, 0)` (dfdx's forward) rather than `y · slope`.
    const RELU: bool;
    /// Gradient factor for `y <= 0` (`0` for `ReLU`).
    const SLOPE: f64;
}

/// No activation: a plain [`BatchNorm2D`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoActivation;

impl BnActivation for NoActivation {
    const ACTIVE: bool = false;
    const RELU: bool = false;
    const SLOPE: f64 = 1.0;
}

impl BnActivation for ReLU {
    const ACTIVE: bool = true;
    const RELU: bool = true;
    const SLOPE: f64 = 0.0;
}

impl<const SLOPE_PER_MILLE: u32> BnActivation for LeakyReLU<SLOPE_PER_MILLE> {
    const ACTIVE: bool = true;
    const RELU: bool = false;
    const SLOPE: f64 = LeakyReLU::<SLOPE_PER_MILLE>::SLOPE;
}

/// `A` applied to one normalised value `v`, as the separate layer does it: dfdx's `ReLU` is
/// `max(v, 0)`, [`LeakyReLU`] multiplies by `1` or the slope picked by the sign.
#[inline(always)]
fn activate<A: BnActivation, E: NnFloat>(v: E, positive: bool, factor: [E; 2]) -> E {
    if A::RELU {
        v.nn_relu()
    } else {
        v * factor[usize::from(positive)]
    }
}

/// Builder for [`DeviceBatchNorm2D`] over `C` channels.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchNorm2D<const C: usize>;

impl<const C: usize, E: NnFloat, D: NnDevice<E>> BuildOnDevice<D, E> for BatchNorm2D<C> {
    type Built = DeviceBatchNorm2D<C, E, D>;
}

/// Builder for `(BatchNorm2D<C>, A)` fused into one layer, `A` one of dfdx's `ReLU` or
/// [`LeakyReLU`]: the same parameters, names, initialisation and stored models as
/// [`BatchNorm2D<C>`] (the activation has none), and the same values and gradients as the two
/// layers in sequence, in one pass each way with no intermediate tensor.
///
/// In a model tuple, `(…, BatchNorm2D<C>, ReLU)` becomes `(…, BatchNorm2DAct<C, ReLU>)`; the
/// batch normalisation keeps its position and thus its tensor names.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchNorm2DAct<const C: usize, A>(std::marker::PhantomData<A>);

impl<const C: usize, A: BnActivation, E: NnFloat, D: NnDevice<E>> BuildOnDevice<D, E>
    for BatchNorm2DAct<C, A>
{
    type Built = DeviceBatchNorm2D<C, E, D, A>;
}

/// A built [`BatchNorm2D`] (or [`BatchNorm2DAct`], with activation `A`): the fields of dfdx's
/// `BatchNorm2D`.
#[derive(Debug, Clone)]
pub struct DeviceBatchNorm2D<const C: usize, E: Dtype, D: Storage<E>, A = NoActivation> {
    /// Per-channel scale (γ), trained; starts at 1.
    pub scale: Tensor<Rank1<C>, E, D>,
    /// Per-channel shift (β), trained; starts at 0.
    pub bias: Tensor<Rank1<C>, E, D>,
    /// Running mean for inference; starts at 0.
    pub running_mean: Tensor<Rank1<C>, E, D>,
    /// Running (unbiased) variance for inference; starts at 1.
    pub running_var: Tensor<Rank1<C>, E, D>,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// Weight of the newest batch in the running statistics.
    pub momentum: f64,
    /// The fused activation (zero-sized, no parameters).
    pub activation: A,
}

impl<const C: usize, E: NnFloat, D: NnDevice<E>, A: BnActivation> TensorCollection<E, D>
    for DeviceBatchNorm2D<C, E, D, A>
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceBatchNorm2D<C, E2, D2, A>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        // Names, order and options as dfdx's BatchNorm2D, so stored models load either way.
        visitor.visit_fields(
            (
                Self::tensor(
                    "scale",
                    |s| &s.scale,
                    |s| &mut s.scale,
                    TensorOptions::reset_to_ones(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::tensor(
                    "running_mean",
                    |s| &s.running_mean,
                    |s| &mut s.running_mean,
                    TensorOptions::detached(|t| t.try_fill_with_zeros()),
                ),
                Self::tensor(
                    "running_var",
                    |s| &s.running_var,
                    |s| &mut s.running_var,
                    TensorOptions::detached(|t| t.try_fill_with_ones()),
                ),
                Self::scalar(
                    "epsilon",
                    |s| &s.epsilon,
                    |s| &mut s.epsilon,
                    ScalarOptions::from_default(1e-5),
                ),
                Self::scalar(
                    "momentum",
                    |s| &s.momentum,
                    |s| &mut s.momentum,
                    ScalarOptions::from_default(0.1),
                ),
            ),
            |(scale, bias, running_mean, running_var, epsilon, momentum)| DeviceBatchNorm2D {
                scale,
                bias,
                running_mean,
                running_var,
                epsilon,
                momentum,
                activation: A::default(),
            },
        )
    }
}

/// Inference: `(x − running_mean) · (scale / sqrt(running_var + ε)) + bias`, in dfdx's order.
impl<B: Dim, const C: usize, H: Dim, W: Dim, E: NnFloat, D: NnDevice<E>, A: BnActivation>
    Module<Tensor<(B, Const<C>, H, W), E, D>> for DeviceBatchNorm2D<C, E, D, A>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>, H, W), E, D>) -> Result<Self::Output, D::Err> {
        let x = x.try_contiguous()?;
        let shape = *x.shape();
        let plane = shape.2.size() * shape.3.size();
        let (mean, var) = (host_copy(&self.running_mean), host_copy(&self.running_var));
        let (scale, bias) = (host_copy(&self.scale), host_copy(&self.bias));
        let eps: E = cast(self.epsilon);
        let mul: Vec<E> = (0..C)
            .map(|c| scale[c] / (var[c] + eps).nn_sqrt())
            .collect();
        let mut y = host_copy(&x);
        let (zero, factor) = (E::default(), [cast::<E>(A::SLOPE), E::ONE]);
        if plane > 0 {
            for img in y.chunks_exact_mut(C * plane) {
                for (c, ch) in img.chunks_exact_mut(plane).enumerate() {
                    for v in ch {
                        *v = (*v - mean[c]) * mul[c] + bias[c];
                        if A::ACTIVE {
                            *v = activate::<A, E>(*v, *v > zero, factor);
                        }
                    }
                }
            }
        }
        x.device().try_tensor_from_vec(y, shape)
    }
}

/// Training: batch statistics, running statistics updated, recorded on the tape.
impl<B: Dim, const C: usize, H: Dim, W: Dim, E: NnFloat, D: NnDevice<E>, A: BnActivation>
    ModuleMut<Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>>
    for DeviceBatchNorm2D<C, E, D, A>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>;
    type Error = D::Err;

    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>,
    ) -> Result<Self::Output, D::Err> {
        self.train_forward(x)
    }
}

/// Per-channel statistics of a batch, kept for the backward pass.
struct Stats {
    mean: Vec<f64>,
    /// Biased batch variance.
    var: Vec<f64>,
    /// `1 / sqrt(var + ε)` with the biased batch variance.
    inv_std: Vec<f64>,
}

/// A traced batch of images with `C` channels.
type Traced<B, const C: usize, H, W, E, D> = Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>;

impl<const C: usize, E: NnFloat, D: NnDevice<E>, A: BnActivation> DeviceBatchNorm2D<C, E, D, A> {
    fn train_forward<B: Dim, H: Dim, W: Dim>(
        &mut self,
        x: Traced<B, C, H, W, E, D>,
    ) -> Result<Traced<B, C, H, W, E, D>, D::Err> {
        let x = x.try_contiguous()?;
        let (x, mut tape) = x.split_tape();
        let shape = *x.shape();
        let (batch, plane) = (shape.0.size(), shape.2.size() * shape.3.size());
        let xs = host_copy(&x);
        let (scale, bias) = (host_copy(&self.scale), host_copy(&self.bias));
        let stats = batch_stats(&xs, batch, C, plane, self.epsilon);
        // With an activation: the sign of each normalised value, for the backward pass (as the
        // separate `LeakyReLU` keeps it; dfdx's `ReLU` derives the same from its input).
        let mut positive = if A::ACTIVE {
            vec![false; xs.len()]
        } else {
            Vec::new()
        };
        let y = normalise::<E, A>(&xs, C, plane, &stats, &scale, &bias, &mut positive);

        // Running statistics, as dfdx's axpy: r ← r·(1 − m) + stat·m (variance unbiased).
        let n = (batch * plane) as f64;
        let m = self.momentum;
        let unbias = if n > 1.0 { n / (n - 1.0) } else { f64::NAN };
        let mut rm = host_copy(&self.running_mean);
        let mut rv = host_copy(&self.running_var);
        for c in 0..C {
            let var = stats.var[c];
            rm[c] = rm[c] * cast::<E>(1.0 - m) + cast::<E>(stats.mean[c]) * cast::<E>(m);
            rv[c] = rv[c] * cast::<E>(1.0 - m) + cast::<E>(var) * cast::<E>(m * unbias);
        }
        self.running_mean.copy_from(&rm);
        self.running_var.copy_from(&rv);

        let out = x.device().try_tensor_from_vec(y, shape)?;
        let params = parameter_grads_wanted();
        // Takes a `data_input` mark like every layer (the input gradient is computed anyway).
        let _ = input_grad_wanted();
        let (x_g, s_g, b_g, out_g) = (
            x.ghost(),
            self.scale.ghost(),
            self.bias.ghost(),
            out.ghost(),
        );
        tape.add_backward_op(move |grads| {
            let go = std::mem::take(D::host_vec_mut(grads.get_or_alloc_mut(&out_g)?));
            // The activation's backward pass: the gradient of the normalised values, as the
            // separate layer accumulates it into a zeroed buffer (`0 + go · factor`, which also
            // turns a `-0` into `+0` exactly as there).
            let g_act = A::ACTIVE.then(|| {
                let factor = [cast::<E>(A::SLOPE), E::ONE];
                // A fresh buffer, not one from the `scratch` pool: given back, these took the
                // pool's few places from the column matrices (measured ~3 % slower on `dcgan`).
                let mut g = vec![E::default(); go.len()];
                g.par_chunks_mut(ACT_CHUNK)
                    .zip(go.par_chunks(ACT_CHUNK).zip(positive.par_chunks(ACT_CHUNK)))
                    .for_each(|(g, (go, p))| {
                        for ((g, &go), &p) in g.iter_mut().zip(go).zip(p) {
                            *g = E::default() + go * factor[usize::from(p)];
                        }
                    });
                g
            });
            let g = g_act.as_deref().unwrap_or(&go);
            let (sum_g, sum_gx) = grad_sums(g, &xs, C, plane, &stats);
            if params {
                let gs = D::host_vec_mut(grads.get_or_alloc_mut(&s_g)?);
                for c in 0..C {
                    gs[c] += cast::<E>(sum_gx[c]);
                }
                let gb = D::host_vec_mut(grads.get_or_alloc_mut(&b_g)?);
                for c in 0..C {
                    gb[c] += cast::<E>(sum_g[c]);
                }
            }
            let gx = D::host_vec_mut(grads.get_or_alloc_mut(&x_g)?);
            input_grad(gx, g, &xs, C, plane, &stats, &scale, &sum_g, &sum_gx);
            *D::host_vec_mut(grads.get_or_alloc_mut(&out_g)?) = go;
            Ok(())
        });
        Ok(out.put_tape(tape))
    }
}

/// Channel `c` of every image: `batch` slices of `plane` values.
fn channel<E: Copy>(data: &[E], chan: usize, plane: usize, c: usize) -> impl Iterator<Item = &[E]> {
    data.chunks_exact((chan * plane).max(1))
        .map(move |img| &img[c * plane..][..plane])
}

/// Mean and `1/sqrt(biased var + ε)` per channel, in f64, two passes (mean, then centred squares).
fn batch_stats<E: NnFloat>(x: &[E], batch: usize, chan: usize, plane: usize, eps: f64) -> Stats {
    let n = (batch * plane) as f64;
    let per_channel: Vec<(f64, f64)> = (0..chan)
        .into_par_iter()
        .map(|c| {
            let sum: f64 = channel(x, chan, plane, c)
                .map(|s| {
                    s.iter()
                        .map(|v| v.to_f64().unwrap_or(f64::NAN))
                        .sum::<f64>()
                })
                .sum();
            let mean = sum / n;
            let sq: f64 = channel(x, chan, plane, c)
                .map(|s| {
                    s.iter()
                        .map(|v| {
                            let d = v.to_f64().unwrap_or(f64::NAN) - mean;
                            d * d
                        })
                        .sum::<f64>()
                })
                .sum();
            (mean, sq / n)
        })
        .collect();
    Stats {
        mean: per_channel.iter().map(|p| p.0).collect(),
        var: per_channel.iter().map(|p| p.1).collect(),
        inv_std: per_channel
            .iter()
            .map(|p| 1.0 / (p.1 + eps).sqrt())
            .collect(),
    }
}

/// Elements per parallel task of the activation's backward pass (elementwise: the split cannot
/// change any result).
const ACT_CHUNK: usize = 1 << 15;

/// `y = (x − mean) · (scale · inv_std) + bias`, image by image, then the activation `A` with the
/// signs of `y` in `positive` (which is empty without an activation).
fn normalise<E: NnFloat, A: BnActivation>(
    x: &[E],
    chan: usize,
    plane: usize,
    stats: &Stats,
    scale: &[E],
    bias: &[E],
    positive: &mut [bool],
) -> Vec<E> {
    let mean: Vec<E> = stats.mean.iter().map(|&m| cast(m)).collect();
    let mul: Vec<E> = (0..chan)
        .map(|c| scale[c] * cast::<E>(stats.inv_std[c]))
        .collect();
    // Every element is written below (`x.len()` is a whole number of `chan · plane` images).
    let mut y = scratch(x.len());
    if plane == 0 {
        return y;
    }
    let one_image = |yi: &mut [E], xi: &[E], pi: &mut [bool]| {
        let (zero, factor) = (E::default(), [cast::<E>(A::SLOPE), E::ONE]);
        for c in 0..chan {
            let (m, k, b) = (mean[c], mul[c], bias[c]);
            let yc = &mut yi[c * plane..][..plane];
            for (o, &v) in yc.iter_mut().zip(&xi[c * plane..][..plane]) {
                *o = (v - m) * k + b;
            }
            if A::ACTIVE {
                // A second sweep over the same (L1-resident) plane, branch-free.
                for (o, p) in yc.iter_mut().zip(&mut pi[c * plane..][..plane]) {
                    *p = *o > zero;
                    *o = activate::<A, E>(*o, *p, factor);
                }
            }
        }
    };
    if A::ACTIVE {
        y.par_chunks_mut(chan * plane)
            .zip(x.par_chunks(chan * plane))
            .zip(positive.par_chunks_mut(chan * plane))
            .for_each(|((yi, xi), pi)| one_image(yi, xi, pi));
    } else {
        y.par_chunks_mut(chan * plane)
            .zip(x.par_chunks(chan * plane))
            .for_each(|(yi, xi)| one_image(yi, xi, &mut []));
    }
    y
}

/// Per channel: `Σ g` and `Σ g · x̂` with `x̂ = (x − mean) · inv_std`, in f64.
fn grad_sums<E: NnFloat>(
    g: &[E],
    x: &[E],
    chan: usize,
    plane: usize,
    stats: &Stats,
) -> (Vec<f64>, Vec<f64>) {
    let sums: Vec<(f64, f64)> = (0..chan)
        .into_par_iter()
        .map(|c| {
            let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
            for (gs, xs) in channel(g, chan, plane, c).zip(channel(x, chan, plane, c)) {
                let (mut a, mut b) = (0.0f64, 0.0f64);
                for (&gv, &xv) in gs.iter().zip(xs) {
                    let gv = gv.to_f64().unwrap_or(f64::NAN);
                    a += gv;
                    b += gv * (xv.to_f64().unwrap_or(f64::NAN) - mean);
                }
                sg += a;
                sgx += b;
            }
            (sg, sgx * inv_std)
        })
        .collect();
    (
        sums.iter().map(|s| s.0).collect(),
        sums.iter().map(|s| s.1).collect(),
    )
}

/// `gx += scale · inv_std · (g − Σg/n − x̂ · Σ(g·x̂)/n)`, image by image.
#[allow(clippy::too_many_arguments)]
fn input_grad<E: NnFloat>(
    gx: &mut [E],
    g: &[E],
    x: &[E],
    chan: usize,
    plane: usize,
    stats: &Stats,
    scale: &[E],
    sum_g: &[f64],
    sum_gx: &[f64],
) {
    if plane == 0 {
        return;
    }
    let n = (x.len() / chan) as f64;
    // gx += k · (g − a − (x − mean) · b), with the per-channel constants folded:
    // k = scale·inv_std, a = Σg/n, b = inv_std · Σ(g·x̂)/n.
    let consts: Vec<[E; 4]> = (0..chan)
        .map(|c| {
            let inv_std = stats.inv_std[c];
            [
                scale[c] * cast::<E>(inv_std),
                cast(sum_g[c] / n),
                cast(inv_std * sum_gx[c] / n),
                cast(stats.mean[c]),
            ]
        })
        .collect();
    gx.par_chunks_mut(chan * plane)
        .zip(g.par_chunks(chan * plane).zip(x.par_chunks(chan * plane)))
        .for_each(|(gxi, (gi, xi))| {
            for (c, &[k, a, b, mean]) in consts.iter().enumerate() {
                let r = c * plane..(c + 1) * plane;
                for ((o, &gv), &xv) in gxi[r.clone()].iter_mut().zip(&gi[r.clone()]).zip(&xi[r]) {
                    *o += k * (gv - a - (xv - mean) * b);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::*;

    type Theirs<const C: usize> = dfdx::nn::modules::builders::BatchNorm2D<C>;

    #[test]
    fn training_matches_dfdx_values_gradients_and_running_stats() {
        let dev = Cpu::seed_from_u64(1);
        let mut ours = dev.build_module::<BatchNorm2D<3>, f64>();
        let mut theirs = dev.build_module::<Theirs<3>, f64>();
        // Non-trivial affine parameters, the same in both.
        let scale = dev.tensor([0.5, -1.5, 2.0]);
        let bias = dev.tensor([0.1, 0.0, -0.3]);
        ours.scale = scale.clone();
        ours.bias = bias.clone();
        theirs.scale = scale;
        theirs.bias = bias;
        let r: Tensor<Rank4<4, 3, 5, 6>, f64, _> = dev.sample_normal();
        for step in 0..3 {
            let x: Tensor<Rank4<4, 3, 5, 6>, f64, _> = dev.sample_normal();
            let x = x * (step as f64 + 1.0) + 0.5;
            let ya = ours.forward_mut(x.leaky_trace());
            let yb = theirs.forward_mut(x.leaky_trace());
            assert_close(&ya.as_vec(), &yb.as_vec(), 1e-12);
            let ga = (ya * r.clone()).sum().backward();
            let gb = (yb * r.clone()).sum().backward();
            assert_close(&ga.get(&x).as_vec(), &gb.get(&x).as_vec(), 1e-10);
            assert_close(
                &ga.get(&ours.scale).as_vec(),
                &gb.get(&theirs.scale).as_vec(),
                1e-10,
            );
            assert_close(
                &ga.get(&ours.bias).as_vec(),
                &gb.get(&theirs.bias).as_vec(),
                1e-10,
            );
            assert_close(
                &ours.running_mean.as_vec(),
                &theirs.running_mean.as_vec(),
                1e-12,
            );
            assert_close(
                &ours.running_var.as_vec(),
                &theirs.running_var.as_vec(),
                1e-12,
            );
        }
        // Inference with the running statistics.
        let x: Tensor<Rank4<2, 3, 5, 6>, f64, _> = dev.sample_normal();
        assert_close(
            &ours.forward(x.clone()).as_vec(),
            &theirs.forward(x).as_vec(),
            1e-12,
        );
    }

    /// `BatchNorm2DAct<C, A>` against `(BatchNorm2D<C>, A)`: bit for bit the same outputs, input
    /// and parameter gradients, running statistics and inference outputs.
    macro_rules! fused_matches_sequence {
        ($a:ty, $e:ty) => {{
            type X = Tensor<Rank4<6, 3, 5, 7>, $e, Cpu>;
            let act = <$a>::default();
            let dev = Cpu::seed_from_u64(11);
            let mut fused = dev.build_module::<BatchNorm2DAct<3, $a>, $e>();
            let mut plain = dev.build_module::<BatchNorm2D<3>, $e>();
            let scale: Tensor<Rank1<3>, $e, _> = dev.sample_normal();
            let bias: Tensor<Rank1<3>, $e, _> = dev.sample_normal();
            (fused.scale, fused.bias) = (scale.clone(), bias.clone());
            (plain.scale, plain.bias) = (scale, bias);
            let r: X = dev.sample_normal();
            for _ in 0..3 {
                let x: X = dev.sample_normal();
                let ya = fused.forward_mut(x.leaky_trace());
                let yb = act.forward(plain.forward_mut(x.leaky_trace()));
                assert_eq!(ya.as_vec(), yb.as_vec());
                assert!(ya.as_vec().iter().any(|&v| v > 0.0));
                assert!(ya.as_vec().iter().any(|&v| v <= 0.0));
                let ga = (ya * r.clone()).sum().backward();
                let gb = (yb * r.clone()).sum().backward();
                assert_eq!(ga.get(&x).as_vec(), gb.get(&x).as_vec());
                assert_eq!(ga.get(&fused.scale).as_vec(), gb.get(&plain.scale).as_vec());
                assert_eq!(ga.get(&fused.bias).as_vec(), gb.get(&plain.bias).as_vec());
                assert_eq!(fused.running_mean.as_vec(), plain.running_mean.as_vec());
                assert_eq!(fused.running_var.as_vec(), plain.running_var.as_vec());
            }
            let x: X = dev.sample_normal();
            assert_eq!(
                fused.forward(x.clone()).as_vec(),
                act.forward(plain.forward(x)).as_vec()
            );
        }};
    }

    #[test]
    fn fused_activation_matches_the_separate_layers_bit_for_bit() {
        fused_matches_sequence!(ReLU, f32);
        fused_matches_sequence!(ReLU, f64);
        fused_matches_sequence!(LeakyReLU, f32);
        fused_matches_sequence!(LeakyReLU<10>, f64);
    }

    #[test]
    fn hand_computed_normalisation() {
        // One channel, values 1, 2, 3, 4 (mean 2.5, biased variance 1.25), ε = 0.
        let dev: Cpu = Default::default();
        let mut bn = dev.build_module::<BatchNorm2D<1>, f64>();
        bn.epsilon = 0.0;
        let x = dev.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]);
        let y = bn.forward_mut(x.leaky_trace()).as_vec();
        let s = 1.25f64.sqrt();
        assert_close(&y, &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-15);
        // running: mean 0.9·0 + 0.1·2.5, variance 0.9·1 + 0.1·(1.25·4/3)
        assert_close(&bn.running_mean.as_vec(), &[0.25], 1e-15);
        assert_close(
            &bn.running_var.as_vec(),
            &[0.9 + 0.1 * 1.25 * 4.0 / 3.0],
            1e-15,
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // The layer in training mode as a pure function of (x, scale, bias); the running statistics
        // it also updates do not enter the output.
        #[derive(Clone)]
        struct Train(DeviceBatchNorm2D<2, f64, Cpu>);
        type In = Tensor<Rank4<3, 2, 2, 3>, f64, Cpu>;
        type Taped = Tensor<Rank4<3, 2, 2, 3>, f64, Cpu, OwnedTape<f64, Cpu>>;
        impl Module<In> for Train {
            type Output = In;
            type Error = <Cpu as HasErr>::Err;
            fn try_forward(&self, x: In) -> Result<In, Self::Error> {
                Ok(self
                    .0
                    .clone()
                    .forward_mut(x.leaky_trace())
                    .retaped::<NoneTape>())
            }
        }
        impl Module<Taped> for Train {
            type Output = Taped;
            type Error = <Cpu as HasErr>::Err;
            fn try_forward(&self, x: Taped) -> Result<Taped, Self::Error> {
                Ok(self.0.clone().forward_mut(x))
            }
        }
        let dev = Cpu::seed_from_u64(7);
        let mut bn = dev.build_module::<BatchNorm2D<2>, f64>();
        bn.scale = dev.tensor([1.3, -0.7]);
        bn.bias = dev.tensor([0.2, 0.4]);
        let x: In = dev.sample_normal();
        gradcheck(&Train(bn), x, |m| &mut m.0.scale, |m| &mut m.0.bias);
    }

    #[test]
    fn f32_matches_f64_on_a_layer_sized_batch() {
        let dev = Cpu::seed_from_u64(3);
        let mut b32 = dev.build_module::<BatchNorm2D<8>, f32>();
        let mut b64 = dev.build_module::<BatchNorm2D<8>, f64>();
        let x64: Tensor<Rank4<16, 8, 7, 7>, f64, _> = dev.sample_normal();
        let x64 = x64 * 3.0 + 1.0;
        let x32: Tensor<Rank4<16, 8, 7, 7>, f32, _> = dev.tensor_from_vec(
            x64.as_vec().iter().map(|&v| v as f32).collect(),
            Default::default(),
        );
        let y32 = b32.forward_mut(x32.leaky_trace());
        let y64 = b64.forward_mut(x64.leaky_trace());
        let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        assert_close(&widen(y32.as_vec()), &y64.as_vec(), 1e-5);
        let g32 = y32.square().sum().backward();
        let g64 = y64.square().sum().backward();
        assert_close(
            &widen(g32.get(&x32).as_vec()),
            &g64.get(&x64).as_vec(),
            1e-4,
        );
        assert_close(
            &widen(b32.running_var.as_vec()),
            &b64.running_var.as_vec(),
            1e-5,
        );
    }
}
