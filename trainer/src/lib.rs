//! Trains a GAN on MNIST with dfdx and exports its generator for `firmware-core`.
//!
//! * [`data`]: MNIST — locating, downloading, strict IDX validation.
//! * [`nn`]: the layers dfdx lacks on stable Rust (convolutions, fused LeakyReLU, reshapes).
//! * [`models`]: the presets (`mcu`, `mlp`, `dcgan`), shapes checked at compile time.
//! * [`train`]: the paper's training loop, checkpoints, metrics.
//! * [`artifacts`]: sample grids and the loss plot.
//! * [`sample`] and [`export`]: generated digits as IDX files; the firmware blob.

// Unsafe code only where a comment proves it sound: the call into `gemm` in `nn::matmul`, Adam's
// SIMD dispatch and one allocator setting in `train::step` (each with `#[allow(unsafe_code)]` and
// a `SAFETY:` comment). The matrix views and SIMD tiles are in `trainer-kernels`.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod artifacts;
pub mod cli;
pub mod data;
pub mod eval;
pub mod export;
pub mod fsutil;
pub mod models;
pub mod nn;
pub mod sample;
pub mod train;
