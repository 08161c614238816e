//! PyTorch's default initialisation of the weight layers (`Linear`, `Conv2d`, `ConvTranspose2d`):
//! weight and bias both uniform in `±1/sqrt(fan_in)`, the weight drawn first — which is also what
//! dfdx's own `Linear` does, so the same seed gives the same models.
//!
//! dfdx stores a tensor's reset as a plain `fn` pointer (`TensorOptions::reset_with`), so the
//! fan-in cannot be captured from the layer's const parameters at run time; and stable Rust cannot
//! pass an expression such as `IN·K·K` as a const argument. It comes from the type instead: each
//! layer states its [`FanIn`], and [`uniform_fan_in::<Self, _, _, _>()`](uniform_fan_in) is the
//! one reset they all use.

use dfdx::prelude::*;
use rand_distr::Uniform;

use super::float::{cast, NnDevice, NnFloat};

/// The number of inputs each output of a weight layer sums over, which sets the scale of its
/// initial weights.
pub(crate) trait FanIn {
    /// `I` for a `Linear<I, O>`, `IN·K·K` for a convolution, `OUT·K·K` for a transposed one
    /// (PyTorch reads the fan-in off the weight's second axis, which there holds `OUT`).
    const FAN_IN: usize;
}

/// The reset of a weight or bias of layer `L`: uniform in `±1/sqrt(L::FAN_IN)`.
pub(crate) fn uniform_fan_in<L: FanIn, S: ConstShape, E: NnFloat, D: NnDevice<E>>(
) -> TensorOptions<S, E, D> {
    TensorOptions::reset_with(|t| {
        let bound: E = cast(1.0 / (L::FAN_IN as f64).sqrt());
        t.try_fill_with_distr(Uniform::new(-bound, bound))
    })
}
