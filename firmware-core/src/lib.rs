//! # firmware-core
//!
//! A `no_std`, allocation-free, integer-only GAN generator that draws 28 × 28 MNIST-style digits
//! on microcontrollers, plus (feature `std`) the host-side exporter that writes its weights.
//!
//! * [`arch`]: the compiled-in architecture (the `mcu` network; the class-conditional `cmcu`
//!   preset is the same network with a class in its input) — the single source of truth for
//!   shapes.
//! * [`latent_from_seed`]: the same int8 latent from the same `u32` seed on host and device.
//! * [`blob`]: the weights file: format spec, reader and writer.
//! * [`Generator`]: validates a blob once, then [`generate`](Generator::generate)s digits into a
//!   [`Digit`] using caller-owned [`Scratch`] memory (9.2 KiB), integer arithmetic only.
//! * [`draw`]: embedded-graphics adapters (grey, 1-bit threshold or dithered, RGB565, scaled,
//!   grids), clipped to the display for any position and scale.
//! * [`text`]: strings of digits ("2026", "12:34") in generated handwriting.
//! * `export` (feature `std`): float reference model, quantiser, comparison helpers.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use embedded_graphics::{image::Image, mock_display::MockDisplay, pixelcolor::BinaryColor, prelude::*};
//! use firmware_core::{Digit, Generator, Scratch};
//!
//! # let blob = firmware_core::export::quantize(&firmware_core::export::FloatGenerator::random(4), 0..16)
//! #     .unwrap()
//! #     .to_blob();
//! // On the device the blob is usually `include_bytes!`-ed into flash.
//! let generator = Generator::new(&blob).expect("valid blob");
//! let mut scratch = Scratch::new();
//! let mut digit = Digit::new();
//! // `None`: no class asked (a class-conditional blob also takes `Some(0..=9)`); cannot fail.
//! generator.generate(None, 2024, &mut scratch, &mut digit).expect("no class asked");
//!
//! let mut display = MockDisplay::<BinaryColor>::new();
//! Image::new(&digit.binary_dithered(), Point::new(4, 4)).draw(&mut display).unwrap();
//! # }
//! ```
//!
//! # Guarantees
//!
//! No `unsafe` outside the assembly kernels (compiled only for Arm targets: the Cortex-M4/M7
//! `SXTB16`/`SMLAD` kernels, the Cortex-M3 packed-`MLA` kernels, the Cortex-M0 `MULS` kernels
//! and the blob-CRC loop on Cortex-M3/M4/M7; soundness argued next to each; the safe scalar
//! kernels serve every other target and are the reference they are tested against), no heap
//! outside `export`, and no panics on any input: after [`Generator::new`] succeeds, inference
//! cannot fail; every slice access in the device code is an iterator, `get` or a fixed-size
//! array, and every integer operation is either shown to stay in range (an `allow` with its
//! one-line proof) or checked or saturating with a defined result. Clippy's
//! `arithmetic_side_effects`, `indexing_slicing`, `unwrap_used`, `expect_used` and `panic` lints
//! enforce this on the host and every device target, the assembly kernels' Rust included
//! (denied below for all non-test code; the host-only `export` module is exempt).
//!
//! # Resources
//!
//! Per digit: [`arch::MACS_PER_DIGIT`] = 1 578 112 multiply-accumulates. RAM: [`Scratch::BYTES`]
//! = 9 408 bytes of activations, a 784-byte [`Digit`] and about 3.5 KiB of stack (two 896-byte
//! input-row slots for the convolution kernels among it). Flash: the blob, 147 118 bytes for
//! [`DEFAULT_BLOB`] (133 632 bytes of weights, 12 544 of `fc` biases; `mcu` and `cmcu` blobs have
//! the same size). `tests/doc_facts.rs` checks these numbers against the code.
//!
//! Measured in QEMU with `-icount` (release, LTO; instructions, not cycles;
//! `docs/firmware-performance.md`): one digit takes 1.76 M instructions on Cortex-M4
//! (`thumbv7em-none-eabihf`, 1.12 per MAC: `SMLAD`, two MACs per instruction), 2.88 M on
//! Cortex-M3 (`thumbv7m-none-eabi`, 1.83 per MAC: `MLA` on packed channel pairs), 5.67 M on
//! Cortex-M0 (`thumbv6m-none-eabi`, 3.59 per MAC) and 5.33 M on RISC-V (`riscv32imc`, Rust
//! only); [`Generator::new`] takes 0.48 M on Cortex-M3/M4 (mostly the CRC). A micro:bit-sized
//! part (Cortex-M0, 16 KiB RAM, 256 KiB flash) runs it, and every target produces bit-identical
//! pixels.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs, unsafe_code)]
// The no-panic promise, checked by the compiler on every target (tests may panic: that is how
// they fail). Each `allow` of one of these in the crate carries a one-line proof.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod arch;
pub mod blob;
mod crc32;
mod digit;
pub mod draw;
mod error;
#[cfg(feature = "std")]
pub mod export;
mod generator;
pub mod latent;
mod layers;
pub mod requant;
#[cfg(test)]
mod test_blob;
pub mod text;

pub use arch::{LATENT_DIM, OUT_PIXELS, OUT_SIDE};

/// The shipped default generator: the class-conditional `cmcu` preset (the `mcu` network with the
/// class in its input, so [`Generator::generate`] takes `Some(0..=9)`), trained by this
/// repository's trainer (the README names the command and seed). A linker drops it from firmware
/// that does not use it.
pub static DEFAULT_BLOB: &[u8] = include_bytes!("../blobs/default.postcard");
pub use digit::Digit;
pub use error::{BlobError, ClassError, EmitError};
pub use generator::{Generator, Scratch};
pub use latent::{latent_from_seed, LATENT_SCALE};

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
