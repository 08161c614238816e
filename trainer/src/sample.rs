//! `trainer sample`: generated digits as an IDX3 u8 file (white on black, exactly MNIST's image
//! format, so other tools can score them) plus a PNG grid of the first ones.

use crate::artifacts::grid::{grid_image, save_png, to_pixel};
use crate::data::{encode_images, PIXELS};
use crate::models::Preset;
use crate::train::batches::{normal_noise, stream, Purpose};
use crate::train::params::restore;
use crate::train::{balanced_classes, generate_with, Checkpoint};
use crate::with_preset;
use dfdx::prelude::*;
use firmware_core::{Digit, Generator, Scratch};
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
    /// A blob that firmware-core rejects.
    #[error("{path}: not a usable generator blob: {error}")]
    Blob {
        path: PathBuf,
        error: firmware_core::BlobError,
    },
    /// A blob that could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A class the blob's generator cannot draw (a bug: classes come from the descriptor).
    #[error("{path}: {error}")]
    Class {
        path: PathBuf,
        error: firmware_core::ClassError,
    },
    /// Firmware seeds are 32-bit.
    #[error("firmware seeds {first}..{first}+{count} do not fit in 32 bits")]
    SeedRange { first: u64, count: usize },
}

/// Runs the checkpoint's generator in evaluation mode on `latents` (row-major, the preset's
/// latent length per row) and, for a conditional model, `classes` (one per row), and returns
/// its tanh outputs, 784 per digit.
pub fn generate_latents(
    ck: &Checkpoint,
    latents: Vec<f32>,
    classes: &[u8],
) -> Result<Vec<f32>, SampleError> {
    with_preset!(ck.config.model, P => generate_preset::<P>(ck, &latents, classes))
}

fn generate_preset<P: Preset>(
    ck: &Checkpoint,
    latents: &[f32],
    classes: &[u8],
) -> Result<Vec<f32>, SampleError> {
    let dev = Cpu::default();
    let mut g = P::G::build(&dev);
    restore(&mut g, ck.inference_generator()).map_err(|message| SampleError::Incompatible {
        preset: P::NAME,
        message,
    })?;
    Ok(generate_with::<P>(&g, &dev, latents, classes))
}

/// The classes `sample_pixels` asks a conditional model for (balanced: 0–9 repeating); `None`
/// for an unconditional model.
pub fn sample_classes(ck: &Checkpoint, count: usize) -> Option<Vec<u8>> {
    ck.config
        .model
        .conditional()
        .then(|| balanced_classes(count))
}

/// `count` digits from standard-normal latents drawn from `seed` (and the classes of
/// [`sample_classes`]), as u8 pixels (784 per digit).
pub fn sample_pixels(ck: &Checkpoint, count: usize, seed: u64) -> Result<Vec<u8>, SampleError> {
    let latent = ck.config.model.latent_dim();
    let latents = normal_noise(&mut stream(seed, Purpose::Sampling, 0), count, latent);
    let classes = sample_classes(ck, count).unwrap_or_default();
    Ok(generate_latents(ck, latents, &classes)?
        .iter()
        .map(|&v| to_pixel(v))
        .collect())
}

/// `count` digits of the firmware blob in `path` with seeds `first_seed`, `first_seed + 1`, …,
/// through firmware-core's integer inference: exactly what a device draws. A conditional blob
/// is asked for balanced classes (0–9 repeating, returned beside the pixels) unless
/// `any_class`, which asks for none (`generate(None, …)`: a class drawn from each seed).
pub fn blob_pixels(
    path: &Path,
    count: usize,
    first_seed: u64,
    any_class: bool,
) -> Result<(Vec<u8>, Option<Vec<u8>>), SampleError> {
    let seeds = u32::try_from(first_seed)
        .ok()
        .and_then(|first| Some(first..first.checked_add(u32::try_from(count).ok()?)?))
        .ok_or(SampleError::SeedRange {
            first: first_seed,
            count,
        })?;
    let blob = std::fs::read(path).map_err(|source| SampleError::Read {
        path: path.to_owned(),
        source,
    })?;
    let generator = Generator::new(&blob).map_err(|error| SampleError::Blob {
        path: path.to_owned(),
        error,
    })?;
    let classes = (generator.is_conditional() && !any_class).then(|| balanced_classes(count));
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let mut pixels = Vec::with_capacity(count * PIXELS);
    for (i, seed) in seeds.enumerate() {
        let class = classes.as_ref().and_then(|c| c.get(i).copied());
        generator
            .generate(class, seed, &mut scratch, &mut digit)
            .map_err(|error| SampleError::Class {
                path: path.to_owned(),
                error,
            })?;
        pixels.extend_from_slice(digit.pixels());
    }
    Ok((pixels, classes))
}

/// The IDX1 file of the classes asked for, beside the IDX3 file `out`.
pub fn classes_path(out: &Path) -> PathBuf {
    out.with_extension("classes.idx1")
}

/// Writes `pixels` (784 per digit) to `out` (IDX3), the classes asked for (if any) to
/// [`classes_path`] (IDX1) and a grid of the first [`GRID_LIMIT`] beside it with the extension
/// `.png`; returns the grid's path. All files are written atomically.
pub fn write_pixels(
    pixels: &[u8],
    classes: Option<&[u8]>,
    out: &Path,
) -> Result<PathBuf, SampleError> {
    let count = pixels.len() / PIXELS;
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |e: String| SampleError::Write { path, message: e }
    };
    crate::fsutil::write_atomic(out, &encode_images(pixels))
        .map_err(|e| e.to_string())
        .map_err(write_err(out))?;
    if let Some(classes) = classes {
        let path = classes_path(out);
        crate::fsutil::write_atomic(&path, &crate::data::encode_labels(classes))
            .map_err(|e| e.to_string())
            .map_err(write_err(&path))?;
    }
    let png = out.with_extension("png");
    let shown = &pixels[..pixels.len().min(GRID_LIMIT * PIXELS)];
    save_png(&png, &grid_image(shown, 16.min(count.max(1)))).map_err(write_err(&png))?;
    Ok(png)
}

/// [`sample_pixels`] written by [`write_pixels`].
pub fn write_samples(
    ck: &Checkpoint,
    count: usize,
    seed: u64,
    out: &Path,
) -> Result<PathBuf, SampleError> {
    let classes = sample_classes(ck, count);
    write_pixels(&sample_pixels(ck, count, seed)?, classes.as_deref(), out)
}
