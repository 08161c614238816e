//! Fully connected layer with bias as one autograd op on this crate's matrix kernel.
//!
//! Same semantics, parameter layout, tensor names and initialisation as dfdx's `Linear` (and
//! PyTorch's `nn.Linear(I, O)`): `y = x · Wᵀ + b`, weight `(O, I)`, bias `(O,)`, both uniform in
//! `±1/sqrt(I)`, visited as `"weight"` then `"bias"` — so models, checkpoints and safetensors
//! files are unchanged by using it. dfdx's version is a `gemm` product (AVX2 only on stable) plus
//! a broadcast add, two ops with their own buffers; this one is one product with the bias added
//! on the way, and its backward pass is two products plus a column sum.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::Linear;
//!
//! let dev: Cpu = Default::default();
//! let fc = dev.build_module::<Linear<3, 2>, f32>();
//! let y: Tensor<Rank2<4, 2>, f32, _> = fc.forward(dev.zeros::<Rank2<4, 3>>());
//! assert_eq!(y.as_vec(), [fc.bias.as_vec(), fc.bias.as_vec(), fc.bias.as_vec(), fc.bias.as_vec()].concat());
//! ```

use dfdx::prelude::*;

use super::conv2d::host_copy;
use super::float::{NnDevice, NnFloat};
use super::gradients::{input_grad_wanted, parameter_grads_wanted};
use super::init::{uniform_fan_in, FanIn};
use super::matmul::{matmul, MatMut, MatRef};

/// Builder for [`DeviceLinear`]: `I` inputs, `O` outputs, with bias.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Linear<const I: usize, const O: usize>;

impl<const I: usize, const O: usize, E: NnFloat, D: NnDevice<E>> BuildOnDevice<D, E>
    for Linear<I, O>
{
    type Built = DeviceLinear<I, O, E, D>;
}

/// A built [`Linear`]: weight `(O, I)` and bias `(O,)`, as in dfdx and PyTorch.
///
/// Works on `(B, I)` tensors with any batch dimension and any tape.
#[derive(Debug, Clone)]
pub struct DeviceLinear<const I: usize, const O: usize, E: Dtype, D: Storage<E>> {
    /// Weight, `(O, I)`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// Bias, `(O,)`.
    pub bias: Tensor<Rank1<O>, E, D>,
}

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> NonMutableModule
    for DeviceLinear<I, O, E, D>
{
}

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> FanIn for DeviceLinear<I, O, E, D> {
    const FAN_IN: usize = I;
}

impl<const I: usize, const O: usize, E: NnFloat, D: NnDevice<E>> TensorCollection<E, D>
    for DeviceLinear<I, O, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceLinear<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        // dfdx's `Linear` draws both from U(±1/sqrt(I)), weight first: the same draws.
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
            |(weight, bias)| DeviceLinear { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, E, D, B, T> Module<Tensor<(B, Const<I>), E, D, T>>
    for DeviceLinear<I, O, E, D>
where
    E: NnFloat,
    D: NnDevice<E>,
    B: Dim,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<O>), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<I>), E, D, T>) -> Result<Self::Output, D::Err> {
        try_linear(x, &self.weight, &self.bias)
    }
}

/// The layer as a function: `x` `(B, I)`, `weight` `(O, I)`, `bias` `(O,)` → `x · Wᵀ + b`,
/// recorded on `x`'s tape (gradients flow to `x`, `weight` and `bias`).
///
/// # Errors
/// Allocation errors from the device.
#[allow(clippy::type_complexity)] // the output type spelled out is the clearest documentation
pub fn try_linear<const I: usize, const O: usize, E, D, B, T>(
    x: Tensor<(B, Const<I>), E, D, T>,
    weight: &Tensor<Rank2<O, I>, E, D>,
    bias: &Tensor<Rank1<O>, E, D>,
) -> Result<Tensor<(B, Const<O>), E, D, T>, D::Err>
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
    let (xs, w, b) = (host_copy(&x), host_copy(weight), host_copy(bias));
    // y = b (broadcast over rows), then y += x · Wᵀ.
    let mut y = Vec::with_capacity(rows * O);
    for _ in 0..rows {
        y.extend_from_slice(&b);
    }
    matmul(
        MatMut::row_major(&mut y, rows, O),
        true,
        MatRef::row_major(&xs, rows, I),
        MatRef::row_major(&w, O, I).transposed(),
    );
    let out = x.device().try_tensor_from_vec(y, (batch, Const::<O>))?;
    if T::OWNS_TAPE {
        let (params, input) = (parameter_grads_wanted(), input_grad_wanted());
        let (x_g, w_g, b_g, out_g) = (x.ghost(), weight.ghost(), bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            // Take the buffers out of the store (no copies) to use them together; put back after.
            let go = std::mem::take(D::host_vec_mut(grads.get_or_alloc_mut(&out_g)?));
            if input {
                let gx = D::host_vec_mut(grads.get_or_alloc_mut(&x_g)?);
                // grad x (B × I) += g (B × O) · W (O × I)
                matmul(
                    MatMut::row_major(gx, rows, I),
                    true,
                    MatRef::row_major(&go, rows, O),
                    MatRef::row_major(&w, O, I),
                );
            }
            if params {
                let gw = D::host_vec_mut(grads.get_or_alloc_mut(&w_g)?);
                // grad W (O × I) += gᵀ (O × B) · x (B × I)
                matmul(
                    MatMut::row_major(gw, O, I),
                    true,
                    MatRef::row_major(&go, rows, O).transposed(),
                    MatRef::row_major(&xs, rows, I),
                );
                let gb = D::host_vec_mut(grads.get_or_alloc_mut(&b_g)?);
                for row in go.chunks_exact(O) {
                    for (g, v) in gb.iter_mut().zip(row) {
                        *g += *v;
                    }
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
    use crate::nn::testing::*;

    #[test]
    fn matches_dfdx_linear_values_gradients_and_init() {
        // Same seed → the same initial weights as dfdx's Linear, the same outputs and gradients.
        let (dev_a, dev_b) = (Cpu::seed_from_u64(3), Cpu::seed_from_u64(3));
        let ours = dev_a.build_module::<Linear<7, 5>, f64>();
        let theirs = dev_b.build_module::<dfdx::nn::modules::builders::Linear<7, 5>, f64>();
        assert_eq!(ours.weight.as_vec(), theirs.weight.as_vec());
        assert_eq!(ours.bias.as_vec(), theirs.bias.as_vec());
        let x: Tensor<Rank2<4, 7>, f64, _> = dev_a.sample_normal();
        let x = x.reshape_like(&(4usize, Const::<7>));
        let r: Tensor<(usize, Const<5>), f64, _> = dev_a.tensor_from_vec(
            (0..20).map(|i| f64::from(i) * 0.1 - 1.0).collect(),
            (4, Const),
        );
        let ya = ours.forward(x.leaky_trace());
        let yb = theirs.forward(x.leaky_trace());
        assert_close(&ya.as_vec(), &yb.as_vec(), 1e-14);
        let ga = (ya * r.clone()).sum().backward();
        let gb = (yb * r).sum().backward();
        assert_close(&ga.get(&x).as_vec(), &gb.get(&x).as_vec(), 1e-14);
        assert_close(
            &ga.get(&ours.weight).as_vec(),
            &gb.get(&theirs.weight).as_vec(),
            1e-14,
        );
        assert_close(
            &ga.get(&ours.bias).as_vec(),
            &gb.get(&theirs.bias).as_vec(),
            1e-14,
        );
    }

    #[test]
    fn f32_on_the_own_kernel_matches_f64_reference() {
        // Wide enough for the AVX-512 kernel (≥ 32 outputs), with a ragged batch.
        let dev = Cpu::seed_from_u64(4);
        let m64 = dev.build_module::<Linear<100, 70>, f64>();
        let x: Tensor<Rank2<13, 100>, f64, _> = dev.sample_normal();
        let mut m32 = dev.build_module::<Linear<100, 70>, f32>();
        m32.weight.copy_from(
            &m64.weight
                .as_vec()
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>(),
        );
        m32.bias.copy_from(
            &m64.bias
                .as_vec()
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>(),
        );
        let x32: Tensor<Rank2<13, 100>, f32, _> = dev.tensor_from_vec(
            x.as_vec().iter().map(|&v| v as f32).collect(),
            Default::default(),
        );
        let y64 = m64.forward(x.leaky_trace());
        let y32 = m32.forward(x32.leaky_trace());
        let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        assert_close(&widen(y32.as_vec()), &y64.as_vec(), 1e-5);
        let g64 = y64.sum().backward();
        let g32 = y32.sum().backward();
        assert_close(&widen(g32.get(&x32).as_vec()), &g64.get(&x).as_vec(), 1e-5);
        assert_close(
            &widen(g32.get(&m32.weight).as_vec()),
            &g64.get(&m64.weight).as_vec(),
            1e-5,
        );
        assert_close(
            &widen(g32.get(&m32.bias).as_vec()),
            &g64.get(&m64.bias).as_vec(),
            1e-5,
        );
    }

    #[test]
    fn gradients_match_finite_differences_and_accumulate() {
        let dev = Cpu::seed_from_u64(5);
        let m = dev.build_module::<Linear<6, 4>, f64>();
        let x: Tensor<Rank2<3, 6>, f64, _> = dev.sample_normal();
        gradcheck(&m, x.clone(), |m| &mut m.weight, |m| &mut m.bias);
        check_accumulates(&m, x, |m| &m.weight, |m| &m.bias);
    }
}
