//! Host-side export (feature `std`): float reference model, quantiser, blob writer and helpers
//! that keep host images comparable with firmware images.
//!
//! Typical trainer flow:
//!
//! ```
//! use firmware_core::{export, Digit, Generator, Scratch};
//! // 1. Copy the trained tensors (PyTorch layouts) into `FloatParams`; here a random model.
//! let float = export::FloatGenerator::random(9);
//! // 2. Quantise, calibrating on latents the device would draw.
//! let blob = export::quantize(&float, 1000..1256)?.to_blob();
//! // 3. Load the blob exactly like the firmware does and compare with the float model.
//! let generator = Generator::new(&blob)?;
//! let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
//! generator.generate(None, 5, &mut scratch, &mut digit)?;
//! let reference = export::pixels_from_tanh(&float.forward(&export::latent_f32_from_seed(5)));
//! assert!(export::psnr(digit.pixels(), &reference) > 30.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Host-only code (feature `std`), run by the trainer on its own model, not on device input: the
// device's no-panic lints (lib.rs) do not apply here. The float reference indexes tensors whose
// lengths `FloatGenerator::new` checked, and the quantiser's integer arithmetic is on shapes and
// calibration counts.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod float;
mod quantize;

pub use float::{BatchNorm, FloatActivations, FloatGenerator, FloatParams, ParamError};
pub use quantize::{
    quantize, quantize_model, QuantizeError, QuantizedGenerator, QuantizedLayer, PRE_TANH_LIMIT,
};

use crate::arch::{LATENT_DIM, OUT_PIXELS};
use crate::latent::{class_from_seed, generator_input, latent_from_seed, LATENT_SCALE};

/// The pixel for a tanh output `t ∈ [−1, 1]`: `round((t + 1) · 127.5)`, clamped to `0..=255`
/// (NaN → 0). The firmware's tanh table is built with exactly this function, so host float
/// images and firmware images are on the same grey scale.
///
/// ```
/// use firmware_core::export::pixel_from_tanh;
/// assert_eq!(pixel_from_tanh(-1.0), 0);
/// assert_eq!(pixel_from_tanh(0.0), 128); // 127.5 rounds half away from zero
/// assert_eq!(pixel_from_tanh(1.0), 255);
/// ```
pub fn pixel_from_tanh(t: f32) -> u8 {
    let v = ((f64::from(t) + 1.0) * 127.5).round();
    if v.is_nan() {
        0
    } else {
        v.clamp(0.0, 255.0) as u8
    }
}

/// [`pixel_from_tanh`] over a whole image (e.g. [`FloatGenerator::forward`]'s output).
pub fn pixels_from_tanh(image: &[f32; OUT_PIXELS]) -> [u8; OUT_PIXELS] {
    std::array::from_fn(|i| pixel_from_tanh(image[i]))
}

/// Dequantises an int8 latent: `z = q · LATENT_SCALE` (exact in `f32`).
pub fn latent_to_f32(latent: &[i8; LATENT_DIM]) -> [f32; LATENT_DIM] {
    std::array::from_fn(|i| f32::from(latent[i]) * LATENT_SCALE)
}

/// The float latent the firmware uses for `seed`: `latent_to_f32(&latent_from_seed(seed))`.
pub fn latent_f32_from_seed(seed: u32) -> [f32; LATENT_DIM] {
    latent_to_f32(&latent_from_seed(seed))
}

/// The float input a generator gets from `generate(None, seed, …)` on the device: the latent,
/// or for a conditional model the latent's head and the one-hot class drawn from the seed.
pub fn input_f32_from_seed(seed: u32, conditional: bool) -> [f32; LATENT_DIM] {
    let class = conditional.then(|| class_from_seed(seed));
    latent_to_f32(&generator_input(seed, class))
}

/// Peak signal-to-noise ratio in dB between two 8-bit images (`+∞` when identical).
pub fn psnr(a: &[u8; OUT_PIXELS], b: &[u8; OUT_PIXELS]) -> f64 {
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sse / OUT_PIXELS as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_mapping_edges() {
        assert_eq!(pixel_from_tanh(f32::NAN), 0);
        assert_eq!(pixel_from_tanh(2.0), 255);
        assert_eq!(pixel_from_tanh(-0.996), 1); // (0.004·127.5) = 0.51 → 1
        assert_eq!(pixel_from_tanh(-0.9961), 0);
    }

    #[test]
    fn psnr_values() {
        let a = [0u8; OUT_PIXELS];
        let mut b = a;
        assert_eq!(psnr(&a, &b), f64::INFINITY);
        b.iter_mut().for_each(|p| *p = 1);
        assert!((psnr(&a, &b) - 48.1308).abs() < 1e-3);
    }

    #[test]
    fn latent_dequantisation_is_exact() {
        let q = latent_from_seed(3);
        let z = latent_f32_from_seed(3);
        for (q, z) in q.iter().zip(z) {
            assert_eq!(f32::from(*q) / 32.0, z);
        }
    }
}
