//! # firmware-core
//!
//! A `no_std`, allocation-free, integer-only GAN generator that draws 28 × 28 MNIST-style digits
//! on microcontrollers, plus (feature `std`) the host-side exporter that writes its weights.
//!
//! * [`arch`]: the compiled-in architecture (`mcu` preset) — the single source of truth for shapes.
//! * [`latent_from_seed`]: the same int8 latent from the same `u32` seed on host and device.
//! * [`blob`]: the weights file: format spec, reader and writer.
//! * [`Generator`]: validates a blob once, then [`generate`](Generator::generate)s digits into a
//!   [`Digit`] using caller-owned [`Scratch`] memory (9.2 KiB), integer arithmetic only.
//! * [`draw`]: embedded-graphics adapters (grey, 1-bit threshold or dithered, RGB565, scaled,
//!   grids).
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
//! and the blob-CRC loop on Cortex-M3/M4/M7; soundness argued next to each; the safe scalar kernels serve every other target and are the reference
//! they are tested against), no heap outside `export`, and no panics reachable from blob
//! contents: after [`Generator::new`] succeeds, inference cannot fail, and every slice access in
//! the device code is an iterator, `get` or a fixed-size array (enforced with Clippy's
//! `indexing_slicing`, `unwrap_used`, `expect_used` and `panic` lints).
//!
//! # Resources
//!
//! Per digit: [`arch::MACS_PER_DIGIT`] = 1 578 112 multiply-accumulates. RAM: [`Scratch::BYTES`]
//! = 9 408 bytes of activations, a 784-byte [`Digit`] and about 3.5 KiB of stack (two 896-byte
//! input-row slots for the convolution kernels among it). Flash: the blob, 147 118 bytes for the
//! `mcu` preset (133 632 bytes of weights, 12 544 of `fc` biases).
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
#![cfg_attr(
    not(test),
    deny(
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

/// The shipped default generator (`mcu` preset, trained by this repository's trainer; the README
/// names the command and seed). A linker drops it from firmware that does not use it.
pub static DEFAULT_BLOB: &[u8] = include_bytes!("../blobs/default.postcard");
pub use digit::Digit;
pub use error::{BlobError, ClassError, EmitError};
pub use generator::{Generator, Scratch};
pub use latent::{latent_from_seed, LATENT_SCALE};

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
