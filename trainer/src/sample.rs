//! `trainer sample`: generated digits as an IDX3 u8 file (white on black, exactly MNIST's image
//! format, so other tools can score them) plus a PNG grid of the first ones.

use crate::artifacts::grid::{grid_image, save_png, to_pixel};
use crate::data::{encode_images, PIXELS};
use crate::models::Preset;
use crate::train::batches::{normal_noise, stream, Purpose};
use crate::train::params::restore;
use crate::train::{generate_with, Checkpoint};
use crate::with_preset;
use dfdx::prelude::*;
use std::path::{Path, PathBuf};

/// Digits shown in the PNG grid beside the IDX file.
pub const GRID_LIMIT: usize = 256;

/// Why sampling failed.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The checkpoint's generator does not fit its preset.
    #[error("checkpoint generator does not fit preset {preset}: {message}")]
    Incompatible {
        preset: &'static str,
        message: String,
    },
    /// Writing failed.
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Runs the checkpoint's generator in evaluation mode on `latents` (row-major, the preset's
/// latent length per row) and returns its tanh outputs, 784 per digit.
pub fn generate_latents(ck: &Checkpoint, latents: Vec<f32>) -> Result<Vec<f32>, SampleError> {
    with_preset!(ck.config.model, P => generate_preset::<P>(ck, latents))
}

fn generate_preset<P: Preset>(ck: &Checkpoint, latents: Vec<f32>) -> Result<Vec<f32>, SampleError> {
    let dev = Cpu::default();
    let mut g = P::G::build(&dev);
    restore(&mut g, &ck.generator).map_err(|message| SampleError::Incompatible {
        preset: P::NAME,
        message,
    })?;
    let per_chunk = 256 * P::Latent::SIZE;
    let mut out = Vec::with_capacity(latents.len() / P::Latent::SIZE * PIXELS);
    for chunk in latents.chunks(per_chunk) {
        out.extend(generate_with::<P>(&g, &dev, chunk.to_vec()));
    }
    Ok(out)
}

/// `count` digits from standard-normal latents drawn from `seed`, as u8 pixels (784 per digit).
pub fn sample_pixels(ck: &Checkpoint, count: usize, seed: u64) -> Result<Vec<u8>, SampleError> {
    let latent = ck.config.model.latent_dim();
    let latents = normal_noise(&mut stream(seed, Purpose::Sampling, 0), count, latent);
    Ok(generate_latents(ck, latents)?
        .iter()
        .map(|&v| to_pixel(v))
        .collect())
}

/// Writes `count` digits to `out` (IDX3) and a grid of the first [`GRID_LIMIT`] beside it;
/// returns the grid's path. Both files are written atomically.
pub fn write_samples(
    ck: &Checkpoint,
    count: usize,
    seed: u64,
    out: &Path,
) -> Result<PathBuf, SampleError> {
    let pixels = sample_pixels(ck, count, seed)?;
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |e: String| SampleError::Write { path, message: e }
    };
    crate::fsutil::write_atomic(out, &encode_images(&pixels))
        .map_err(|e| e.to_string())
        .map_err(write_err(out))?;
    let png = out.with_extension("png");
    let shown = &pixels[..pixels.len().min(GRID_LIMIT * PIXELS)];
    save_png(&png, &grid_image(shown, 16.min(count.max(1)))).map_err(write_err(&png))?;
    Ok(png)
}
