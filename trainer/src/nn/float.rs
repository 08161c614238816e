//! The element types ([`NnFloat`]: `f32`, `f64`) and devices ([`NnDevice`]: dfdx's `Cpu`) the
//! layers support, and what each element type brings: its pool of temporaries and, for `f32`,
//! this crate's own matrix kernel.

use dfdx::prelude::{Cpu, Device, Dtype, Storage};
use rand_distr::uniform::SampleUniform;

use super::matmul::{MatMut, MatRef, Rhs};

mod sealed {
    use super::{MatMut, MatRef, Rhs};

    // The views are crate-private, and so is this trait in effect: it cannot be named outside.
    #[allow(private_interfaces)]
    pub trait Sealed: Sized {
        /// Square root (the float types' own).
        fn nn_sqrt(self) -> Self;
        /// `max(self, 0)`, the float types' own `max` (as dfdx's `ReLU` computes it).
        fn nn_relu(self) -> Self;
        /// This type's pool of reusable temporaries (see [`crate::nn::scratch`]).
        fn pool() -> &'static std::sync::Mutex<Vec<Vec<Self>>>;
        /// `dst (+)= a · b` on this crate's own kernel, if it has one for this type, CPU and
        /// shape; otherwise `dst` comes back untouched (and goes to `gemm`).
        fn own_product<'d>(
            dst: MatMut<'d, Self>,
            _accumulate: bool,
            _a: MatRef<'_, Self>,
            _b: Rhs<'_, Self>,
        ) -> Result<(), MatMut<'d, Self>> {
            Err(dst)
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
        fn own_product<'d>(
            dst: MatMut<'d, f32>,
            accumulate: bool,
            a: MatRef<'_, f32>,
            b: Rhs<'_, f32>,
        ) -> Result<(), MatMut<'d, f32>> {
            trainer_kernels::product_f32(dst, accumulate, a, b)
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

/// Converts an `f64` constant to `E` (exact for the small constants used here).
pub(crate) fn cast<E: NnFloat>(v: f64) -> E {
    // `FromPrimitive` is a supertrait of `Dtype`; for f32/f64 this never fails.
    E::from_f64(v).expect("f32/f64 accept every f64 constant")
}
