//! `trainer export`: turns a trained `mcu` or `cmcu` generator into the firmware blob, through
//! firmware-core's own float reference, quantiser and integer inference, and measures how
//! closely the int8 firmware output follows the float model.

use crate::fsutil::write_atomic;
use crate::models::{Mcu, ModelKind, Preset};
use crate::train::params::restore;
use crate::train::{generate_with, Checkpoint, RunDir};
use dfdx::prelude::*;
use firmware_core::export::{
    input_f32_from_seed, pixels_from_tanh, psnr, quantize_model, BatchNorm, FloatGenerator,
    FloatParams,
};
use firmware_core::{Digit, Generator, Scratch, OUT_PIXELS};
use std::path::PathBuf;

/// Latents used to calibrate activation scales: firmware seeds, disjoint from the check seeds.
pub const CALIBRATION_SEEDS: std::ops::Range<u32> = 0x4000_0000..0x4000_0400;
/// Latents on which the exported blob is compared with the float model.
pub const CHECK_SEEDS: std::ops::Range<u32> = 0..1000;

/// How closely the firmware's int8 output follows the float generator, over [`CHECK_SEEDS`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportReport {
    /// Blob size in bytes.
    pub blob_bytes: usize,
    /// Digits compared.
    pub digits: usize,
    /// PSNR over all compared pixels, dB (the MSE of all digits pooled).
    pub psnr_db: f64,
    /// The worst single digit's PSNR, dB.
    pub worst_digit_psnr_db: f64,
    /// Largest absolute pixel difference (0–255).
    pub max_abs_error: u8,
    /// Mean absolute pixel difference (0–255).
    pub mean_abs_error: f64,
    /// Largest difference between dfdx's float output and firmware-core's float reference
    /// (tanh units): proves both read the weights in the same layout.
    pub float_reference_max_diff: f32,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Only the `mcu` and `cmcu` presets run on the firmware.
    #[error("{path}: preset `{model}` cannot be exported; firmware-core runs the `mcu` and `cmcu` presets only (train with --model mcu or --model cmcu)")]
    WrongPreset { path: PathBuf, model: ModelKind },
    /// The checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] crate::train::CheckpointError),
    /// The checkpoint does not fit the preset, or holds unusable values.
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// Writing or re-reading the blob failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The blob just written did not load (a bug: export and firmware disagree).
    #[error("{path}: the exported blob does not load in firmware-core: {message}")]
    Rejected { path: PathBuf, message: String },
    /// dfdx and firmware-core's float reference disagree (a bug in the weight layout).
    #[error("the float model and firmware-core's float reference differ by {0} (layout bug)")]
    LayoutMismatch(f32),
}

type McuGenerator = <Mcu as Preset>::G;

/// The generator's parameters in firmware-core's (PyTorch) layouts.
pub fn float_params(g: &McuGenerator) -> FloatParams {
    FloatParams {
        fc_weight: g.0 .0.weight.as_vec(),
        fc_bias: g.0 .0.bias.as_vec(),
        bn_fc: bn(&g.0 .2),
        up1_weight: g.1 .0.weight.as_vec(),
        up1_bias: g.1 .0.bias.as_vec(),
        bn_up1: bn(&g.1 .1),
        up2_weight: g.2 .0.weight.as_vec(),
        up2_bias: g.2 .0.bias.as_vec(),
    }
}

fn bn<const C: usize>(b: &crate::nn::DeviceBatchNorm2D<C, f32, Cpu>) -> BatchNorm {
    BatchNorm {
        gamma: b.scale.as_vec(),
        beta: b.bias.as_vec(),
        running_mean: b.running_mean.as_vec(),
        running_var: b.running_var.as_vec(),
        eps: b.epsilon as f32,
    }
}

/// Exports the run's generator to `generator.postcard` and `export_report.json` (both atomic).
pub fn export_run(dir: &RunDir) -> Result<ExportReport, ExportError> {
    let ck = Checkpoint::load(&dir.checkpoint())?;
    export_checkpoint(&ck, dir)
}

/// Exports an already loaded checkpoint into `dir`.
pub fn export_checkpoint(ck: &Checkpoint, dir: &RunDir) -> Result<ExportReport, ExportError> {
    let path = dir.checkpoint();
    // `cmcu` has the `mcu` generator (a test checks the types are equal); only its input differs.
    let conditional = match ck.config.model {
        ModelKind::Mcu => false,
        ModelKind::Cmcu => true,
        model => return Err(ExportError::WrongPreset { path, model }),
    };
    let invalid = |message: String| ExportError::Invalid {
        path: path.clone(),
        message,
    };
    let dev = Cpu::default();
    let mut g = McuGenerator::build(&dev);
    restore(&mut g, ck.inference_generator()).map_err(invalid)?;
    let float = FloatGenerator::new(float_params(&g)).map_err(|e| invalid(e.to_string()))?;

    // dfdx's eval forward and firmware-core's float reference must agree on the same latents.
    let seeds: Vec<u32> = CHECK_SEEDS.collect();
    // The inputs `generate(None, seed, …)` builds on the device (for `cmcu`: a class per seed).
    let inputs: Vec<[f32; firmware_core::LATENT_DIM]> = seeds
        .iter()
        .map(|&s| input_f32_from_seed(s, conditional))
        .collect();
    let latents: Vec<f32> = inputs.iter().flatten().copied().collect();
    let dfdx_out = generate_with::<Mcu>(&g, &dev, &latents, &[]);
    let mut float_reference_max_diff = 0f32;
    let mut float_pixels = Vec::with_capacity(seeds.len());
    for (input, dfdx_digit) in inputs.iter().zip(dfdx_out.chunks_exact(OUT_PIXELS)) {
        let reference = float.forward(input);
        for (a, b) in reference.iter().zip(dfdx_digit) {
            float_reference_max_diff = float_reference_max_diff.max((a - b).abs());
        }
        let dfdx_digit: &[f32; OUT_PIXELS] = dfdx_digit.try_into().expect("chunk of OUT_PIXELS");
        float_pixels.push(pixels_from_tanh(dfdx_digit));
    }
    if float_reference_max_diff.is_nan() || float_reference_max_diff >= 1e-3 {
        return Err(ExportError::LayoutMismatch(float_reference_max_diff));
    }

    let quantized = quantize_model(&float, CALIBRATION_SEEDS, conditional)
        .map_err(|e| invalid(e.to_string()))?;
    let blob_path = dir.blob();
    let io = |source| ExportError::Io {
        path: blob_path.clone(),
        source,
    };
    write_atomic(&blob_path, &quantized.to_blob()).map_err(io)?;
    // Verify what is on disk, exactly as a device would load it.
    let blob = std::fs::read(&blob_path).map_err(io)?;
    let generator = Generator::new(&blob).map_err(|e| ExportError::Rejected {
        path: blob_path.clone(),
        message: e.to_string(),
    })?;
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let (mut sse, mut abs_sum, mut max_abs, mut worst) = (0f64, 0f64, 0u8, f64::INFINITY);
    for (&seed, reference) in seeds.iter().zip(&float_pixels) {
        generator
            .generate(None, seed, &mut scratch, &mut digit)
            .map_err(|e| ExportError::Rejected {
                path: blob_path.clone(),
                message: e.to_string(),
            })?;
        worst = worst.min(psnr(digit.pixels(), reference));
        for (&a, &b) in digit.pixels().iter().zip(reference) {
            let d = a.abs_diff(b);
            max_abs = max_abs.max(d);
            abs_sum += f64::from(d);
            sse += f64::from(d) * f64::from(d);
        }
    }
    let n = (seeds.len() * OUT_PIXELS) as f64;
    let mse = sse / n;
    let report = ExportReport {
        blob_bytes: blob.len(),
        digits: seeds.len(),
        psnr_db: if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0f64 * 255.0 / mse).log10()
        },
        worst_digit_psnr_db: worst,
        max_abs_error: max_abs,
        mean_abs_error: abs_sum / n,
        float_reference_max_diff,
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    write_atomic(&dir.export_report(), json.as_bytes()).map_err(|source| ExportError::Io {
        path: dir.export_report(),
        source,
    })?;
    Ok(report)
}
