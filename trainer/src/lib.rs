//! Trains a GAN on MNIST with dfdx and exports its generator for `firmware-core`.
//!
//! * [`data`]: MNIST — locating, downloading, strict IDX validation.
//! * [`models`]: the presets (`cmcu`, the default, `mcu`, `mlp`, `dcgan`, `cdcgan`), shapes
//!   checked at compile time.
//! * [`nn`]: the layers dfdx lacks or runs slowly on stable Rust (convolutions, fused batch
//!   normalisation and LeakyReLU, Linear) and the kernels beneath them (matrix products on
//!   checked views, im2col).
//! * [`train`]: the paper's training loop, Adam, checkpoints, metrics.
//! * [`eval`]: quality scores from a built-in MNIST classifier (FID and others).
//! * [`artifacts`]: sample grids, the loss and quality plots.
//! * [`sample`] and [`export`]: generated digits as IDX files; the firmware blob.
//! * [`cli`]: the command line; [`fsutil`]: crash-safe file writing.

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
