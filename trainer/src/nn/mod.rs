//! Neural-network layers that dfdx 0.13 lacks on stable Rust, in the shape dfdx's own layers have
//! (a zero-sized builder type for model tuples, a built type with public parameter tensors,
//! `TensorCollection` so optimisers, `ZeroGrads` and save/load visitors see the parameters, and
//! `Module`/`ModuleMut` for any tape).
//!
//! | builder | does | PyTorch |
//! |---|---|---|
//! | [`Conv2D<IN, OUT, K, S, P>`](Conv2D) | convolution with bias | `nn.Conv2d(IN, OUT, K, S, P)` |
//! | [`ConvTrans2D<IN, OUT, K, S, P>`](ConvTrans2D) | transposed convolution with bias | `nn.ConvTranspose2d(IN, OUT, K, S, P)` |
//! | [`LabelConv2D<IN, L, OUT, K, S, P, H, W>`](LabelConv2D) | `Conv2D` whose last `L` input channels are constant label planes, fused (rows: image, then `L` values) | `nn.Conv2d` on `cat([image, planes], 1)` |
//! | [`BatchNorm2D<C>`](BatchNorm2D) | batch normalisation, training pass fused | `nn.BatchNorm2d(C)` |
//! | [`BatchNorm2DAct<C, A>`](BatchNorm2DAct) | `BatchNorm2D<C>` then `A` (dfdx's `ReLU` or [`LeakyReLU`]) in one layer: same tensors, names, stored models and bits | `nn.BatchNorm2d(C)`, then the activation |
//! | [`Linear<I, O>`](Linear) | fully connected with bias, on the own matrix kernel | `nn.Linear(I, O)` |
//! | [`LeakyReLU<SLOPE_PER_MILLE = 200>`](LeakyReLU) | fused leaky ReLU, slope 0.2 by default | `nn.LeakyReLU(0.2)` |
//! | [`MinibatchStd<OUT>`](MinibatchStd) | appends the batch's mean per-feature standard deviation to every row (`OUT` = width + 1) | StyleGAN's `MinibatchStdLayer` (group = batch, one feature) |
//! | [`Flatten`] | `(B, C, H, W) → (B, C·H·W)` | `nn.Flatten()` |
//! | [`Unflatten<C, H, W>`](Unflatten) | `(B, N) → (B, C, H, W)` | `nn.Unflatten(1, (C, H, W))` |
//!
//! Spatial sizes are compile-time `Const`s; which input sizes a convolution accepts (and what it
//! turns them into), and which shapes `Flatten` flattens, is listed in `dims.rs` through
//! [`ConvDim`] / [`ConvTransDim`] / [`FlattenShape`]. Everything is
//! generic over the element type (`f32`, `f64`: [`NnFloat`]) and device ([`NnDevice`]:
//! implemented for dfdx's `Cpu`).
//!
//! Builder tuples nest at most 6 deep, so longer models nest tuples:
//!
//! ```
//! use dfdx::prelude::*;
//! // Import our LeakyReLU by name: it then wins over dfdx's in the prelude glob.
//! use trainer::nn::{Conv2D, ConvTrans2D, Flatten, LeakyReLU, Unflatten};
//!
//! type Generator = (
//!     (Linear<32, 3136>, Unflatten<64, 7, 7>, BatchNorm2D<64>, ReLU),
//!     (ConvTrans2D<64, 32, 4, 2, 1>, BatchNorm2D<32>, ReLU),
//!     (ConvTrans2D<32, 1, 4, 2, 1>, Tanh),
//! );
//! type Discriminator = (
//!     (Conv2D<1, 64, 4, 2, 1>, LeakyReLU),
//!     (Conv2D<64, 128, 4, 2, 1>, BatchNorm2D<128>, LeakyReLU),
//!     (Flatten, Linear<6272, 1>),
//! );
//!
//! let dev: Cpu = Default::default();
//! let g = dev.build_module::<Generator, f32>();
//! let d = dev.build_module::<Discriminator, f32>();
//! let z: Tensor<Rank2<2, 32>, f32, _> = dev.sample_normal();
//! let images: Tensor<Rank4<2, 1, 28, 28>, f32, _> = g.forward(z); // inference: NoneTape
//! let logits: Tensor<Rank2<2, 1>, f32, _> = d.forward(images);
//! # let _ = logits;
//! ```
//!
//! Training uses `forward_mut` on traced tensors (`x.trace(grads)`), as dfdx's `BatchNorm2D`
//! requires; these layers accept both tapes with either method.
//!
//! # Where things are
//!
//! One file per layer kind (`linear`, `conv2d`, `convtrans2d`, `label_conv2d`, `batchnorm`,
//! `leaky_relu`, `reshape`), and what they share:
//!
//! | module | job |
//! |---|---|
//! | `matmul` | matrix products on checked views: `trainer-kernels`' blocked kernel, `gemm` |
//! | `im2col` | the column matrix of a convolution (read in place) and its adjoint, col2im |
//! | `channel_layout` | NCHW ↔ channel-major copies and per-channel sums |
//! | `gradients` | which gradients a layer computes; borrowing its buffers from dfdx's store |
//! | `init` | PyTorch's default initialisation of the weight layers |
//! | `dims` | the spatial sizes each convolution accepts, at compile time |
//! | `float` | the element types and devices the layers support |
//! | `scratch` | the pool of large temporaries |
#![deny(missing_docs)]

mod batchnorm;
mod channel_layout;
mod conv2d;
mod convtrans2d;
pub(crate) mod dims;
mod float;
pub(crate) mod gradients;
mod im2col;
mod init;
mod label_conv2d;
mod leaky_relu;
mod linear;
mod matmul;
mod minibatch_std;
mod reshape;
mod scratch;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use batchnorm::{BatchNorm2D, BatchNorm2DAct, BnActivation, DeviceBatchNorm2D, NoActivation};
pub use conv2d::{try_conv2d, Conv2D, DeviceConv2D};
pub use convtrans2d::{try_conv_trans2d, ConvTrans2D, DeviceConvTrans2D};
pub use dims::{ConvDim, ConvTransDim, FlattenShape};
pub use float::{NnDevice, NnFloat};
pub use gradients::{data_input, freeze_parameters, DataInput, FrozenParameters};
pub use label_conv2d::{try_append_columns, DeviceLabelConv2D, LabelConv2D};
pub use leaky_relu::{try_leaky_relu, LeakyReLU};
pub use linear::{try_linear, DeviceLinear, Linear};
pub use minibatch_std::MinibatchStd;
pub use reshape::{Flatten, Unflatten};
