//! Post-training quantisation of a [`FloatGenerator`] into the int8 blob.
//!
//! 1. **Calibrate** activation scales by running the float model on the latents of the
//!    calibration seeds (dequantised from [`latent_from_seed`](crate::latent_from_seed), so the
//!    device sees the same inputs): `s = max / 127` over all samples for the two ReLU outputs
//!    (range `[0, 127]`), and `s = min(max |v|, PRE_TANH_LIMIT) / 127` for the pre-tanh value —
//!    beyond ±3.12 every pixel is already 0 or 255, so a wider range would only waste resolution.
//!    The latent scale is fixed ([`LATENT_SCALE`]).
//! 2. **Fold BatchNorm** into the layer before it, per output channel `c`:
//!    `k = γ / √(var + eps)`, `w' = w·k`, `b' = (b − mean)·k + β`.
//! 3. **Weights**: symmetric int8 per output channel, `s_w = max |w'| / 127`, `q = round(w'/s_w)`
//!    (`fc`: one scale per BatchNorm channel, covering that channel's 49 neurons). If a bias would
//!    exceed [`BIAS_LIMIT`] at that scale, `s_w` grows until it fits (never happens for sane
//!    models).
//! 4. **Biases**: `round(b' / (s_w · s_in))`, int32.
//! 5. **Requantisers**: [`Requant::from_scale`]`(s_w · s_in / s_out)`.
//! 6. **Tanh table**: entry `q + 128` = [`pixel_from_tanh`]`(tanh(q · s_pre))`.
//!
//! All rounding here is to nearest, ties away from zero (`f64::round`).

use super::float::FloatGenerator;
use super::{input_f32_from_seed, pixel_from_tanh};
use crate::arch::{
    ModelDescriptor, FC_CHANNELS, FC_OUT, FC_SIDE, KERNEL, LATENT_DIM, OUT_CHANNELS, UP1_CHANNELS,
};
use crate::blob::{ActivationScales, BlobRepr, LayerRepr, BIAS_LIMIT};
use crate::latent::LATENT_SCALE;
use crate::layers::tanh::LUT_LEN;
use crate::requant::Requant;
use std::fmt;

/// Largest pre-tanh magnitude the int8 range covers: `tanh(3.2)` already maps to pixel 255.
pub const PRE_TANH_LIMIT: f32 = 3.2;

/// Why [`quantize`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantizeError {
    /// The calibration seed iterator was empty.
    NoCalibrationData,
    /// The float model produced NaN or infinity on a calibration latent.
    NonFiniteActivation {
        /// Which activation: `"fc"`, `"up1"` or `"pre_tanh"`.
        layer: &'static str,
    },
    /// A rescaling factor is too large for a [`Requant`] (`≥ 2³⁰`), i.e. the weights and
    /// activations have wildly different magnitudes.
    ScaleOutOfRange {
        /// Which layer.
        layer: &'static str,
    },
}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCalibrationData => f.write_str("no calibration seeds given"),
            Self::NonFiniteActivation { layer } => {
                write!(f, "float model produced a non-finite {layer} activation")
            }
            Self::ScaleOutOfRange { layer } => {
                write!(f, "{layer}: rescaling factor out of the fixed-point range")
            }
        }
    }
}

impl std::error::Error for QuantizeError {}

/// One quantised layer in blob layout (see [`crate::blob`]).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedLayer {
    weights: Vec<u8>,
    bias: Vec<u8>,
    multiplier: Vec<u8>,
    shift: Vec<u8>,
    weight_scales: Vec<f64>,
}

impl QuantizedLayer {
    /// The per-output-channel weight scales `s_w`.
    pub fn weight_scales(&self) -> &[f64] {
        &self.weight_scales
    }

    /// The int8 weights in blob layout.
    pub fn weights(&self) -> impl Iterator<Item = i8> + '_ {
        self.weights.iter().map(|&b| b as i8)
    }

    fn repr(&self) -> LayerRepr<'_> {
        LayerRepr {
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
        }
    }
}

/// The quantised model, ready to be written as a blob.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedGenerator {
    conditional: bool,
    scales: ActivationScales,
    fc: QuantizedLayer,
    up1: QuantizedLayer,
    up2: QuantizedLayer,
    tanh_lut: [u8; LUT_LEN],
}

impl QuantizedGenerator {
    /// The blob payload, borrowing from `self`.
    pub fn repr(&self) -> BlobRepr<'_> {
        BlobRepr {
            descriptor: *ModelDescriptor::expected(self.conditional),
            scales: self.scales,
            fc: self.fc.repr(),
            up1: self.up1.repr(),
            up2: self.up2.repr(),
            tanh_lut: &self.tanh_lut,
        }
    }

    /// The complete blob (header, payload, CRC), as [`Generator::new`](crate::Generator::new)
    /// reads it.
    pub fn to_blob(&self) -> Vec<u8> {
        self.repr().to_vec()
    }

    /// The calibrated activation scales.
    pub fn activation_scales(&self) -> ActivationScales {
        self.scales
    }

    /// The layers `fc`, `up1`, `up2`.
    pub fn layers(&self) -> [&QuantizedLayer; 3] {
        [&self.fc, &self.up1, &self.up2]
    }

    /// The pre-tanh int8 → pixel table.
    pub fn tanh_lut(&self) -> &[u8; LUT_LEN] {
        &self.tanh_lut
    }
}

/// Running maxima of the activations over the calibration set.
#[derive(Default)]
struct Ranges {
    fc: f32,
    up1: f32,
    pre_tanh: f32,
}

fn calibrate(
    float: &FloatGenerator,
    seeds: impl IntoIterator<Item = u32>,
    conditional: bool,
) -> Result<Ranges, QuantizeError> {
    let mut ranges = Ranges::default();
    let mut samples = 0usize;
    let max_of = |values: &[f32], layer| -> Result<f32, QuantizeError> {
        values.iter().try_fold(0f32, |m, &v| {
            if v.is_finite() {
                Ok(m.max(v.abs()))
            } else {
                Err(QuantizeError::NonFiniteActivation { layer })
            }
        })
    };
    for seed in seeds {
        let act = float.forward_trace(&input_f32_from_seed(seed, conditional));
        ranges.fc = ranges.fc.max(max_of(&act.fc, "fc")?);
        ranges.up1 = ranges.up1.max(max_of(&act.up1, "up1")?);
        ranges.pre_tanh = ranges.pre_tanh.max(max_of(&act.pre_tanh, "pre_tanh")?);
        samples += 1;
    }
    if samples == 0 {
        return Err(QuantizeError::NoCalibrationData);
    }
    Ok(ranges)
}

/// Scale covering `range` with 127 steps; a dead activation (range 0) gets scale 1 so the
/// arithmetic stays well defined (its values are all 0 anyway).
fn activation_scale(range: f32) -> f32 {
    if range > 0.0 {
        range / 127.0
    } else {
        1.0
    }
}

/// Quantises one output channel: `weights` and `biases` are the folded float values, `s_in` the
/// input scale, `s_out` the output scale.
struct ChannelQuant {
    weights: Vec<u8>,
    biases: Vec<i32>,
    requant: Requant,
    scale: f64,
}

fn quantize_channel(
    weights: &[f64],
    biases: &[f64],
    s_in: f64,
    s_out: f64,
    layer: &'static str,
) -> Result<ChannelQuant, QuantizeError> {
    let max_w = weights.iter().fold(0f64, |m, w| m.max(w.abs()));
    let max_b = biases.iter().fold(0f64, |m, b| m.max(b.abs()));
    // Half the limit leaves room for rounding.
    let mut scale = (max_w / 127.0).max(max_b / (s_in * f64::from(BIAS_LIMIT / 2)));
    if scale <= 0.0 {
        scale = 1.0;
    }
    let q_weights = weights
        .iter()
        .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect();
    let limit = f64::from(BIAS_LIMIT);
    let q_biases = biases
        .iter()
        .map(|b| (b / (scale * s_in)).round().clamp(-limit, limit) as i32)
        .collect();
    let requant = Requant::from_scale(scale * s_in / s_out)
        .ok_or(QuantizeError::ScaleOutOfRange { layer })?;
    Ok(ChannelQuant {
        weights: q_weights,
        biases: q_biases,
        requant,
        scale,
    })
}

/// Quantises `float`, calibrating activation scales on the latents of `calibration_seeds`.
///
/// A few hundred seeds are plenty; use seeds you will not evaluate on if you want an honest
/// error estimate.
///
/// # Errors
///
/// [`QuantizeError::NoCalibrationData`] for an empty seed list, and the other variants for
/// degenerate models (non-finite activations, absurd scale ratios).
///
/// ```
/// use firmware_core::{export, Generator};
/// let float = export::FloatGenerator::random(3);
/// let quantized = export::quantize(&float, 0..64)?;
/// let blob = quantized.to_blob();
/// assert!(Generator::new(&blob).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn quantize(
    float: &FloatGenerator,
    calibration_seeds: impl IntoIterator<Item = u32>,
) -> Result<QuantizedGenerator, QuantizeError> {
    quantize_model(float, calibration_seeds, false)
}

/// [`quantize`] for an unconditional (`conditional = false`) or class-conditional model:
/// calibrates on the inputs the device builds for the seeds
/// ([`input_f32_from_seed`](super::input_f32_from_seed)) and marks the blob's descriptor.
pub fn quantize_model(
    float: &FloatGenerator,
    calibration_seeds: impl IntoIterator<Item = u32>,
    conditional: bool,
) -> Result<QuantizedGenerator, QuantizeError> {
    let ranges = calibrate(float, calibration_seeds, conditional)?;
    let scales = ActivationScales {
        latent: LATENT_SCALE,
        fc: activation_scale(ranges.fc),
        up1: activation_scale(ranges.up1),
        pre_tanh: activation_scale(ranges.pre_tanh.min(PRE_TANH_LIMIT)),
    };
    let p = float.params();
    let s = |v: f32| f64::from(v);

    // fc: PyTorch neuron n = c·49 + pos; blob row j = pos·64 + c.
    let plane = FC_SIDE * FC_SIDE;
    let mut fc_channels = Vec::with_capacity(FC_CHANNELS);
    for c in 0..FC_CHANNELS {
        let (k, t) = p.bn_fc.affine(c);
        let neurons = c * plane..(c + 1) * plane;
        let weights: Vec<f64> = p.fc_weight[neurons.start * LATENT_DIM..neurons.end * LATENT_DIM]
            .iter()
            .map(|&w| s(w) * k)
            .collect();
        let biases: Vec<f64> = p.fc_bias[neurons].iter().map(|&b| s(b) * k + t).collect();
        fc_channels.push(quantize_channel(
            &weights,
            &biases,
            s(scales.latent),
            s(scales.fc),
            "fc",
        )?);
    }
    let mut fc = QuantizedLayer {
        weights: vec![0; FC_OUT * LATENT_DIM],
        bias: vec![0; FC_OUT * 4],
        multiplier: Vec::new(),
        shift: Vec::new(),
        weight_scales: Vec::new(),
    };
    for (c, ch) in fc_channels.iter().enumerate() {
        for pos in 0..plane {
            let j = pos * FC_CHANNELS + c;
            fc.weights[j * LATENT_DIM..(j + 1) * LATENT_DIM]
                .copy_from_slice(&ch.weights[pos * LATENT_DIM..(pos + 1) * LATENT_DIM]);
            fc.bias[4 * j..4 * j + 4].copy_from_slice(&ch.biases[pos].to_le_bytes());
        }
        push_requant(&mut fc, ch);
    }

    let up1 = quantize_conv(
        &p.up1_weight,
        &p.up1_bias,
        FC_CHANNELS,
        UP1_CHANNELS,
        |co| p.bn_up1.affine(co),
        (s(scales.fc), s(scales.up1)),
        "up1",
    )?;
    let up2 = quantize_conv(
        &p.up2_weight,
        &p.up2_bias,
        UP1_CHANNELS,
        OUT_CHANNELS,
        |_| (1.0, 0.0),
        (s(scales.up1), s(scales.pre_tanh)),
        "up2",
    )?;
    let tanh_lut = std::array::from_fn(|i| {
        let q = i as f32 - 128.0;
        pixel_from_tanh((q * scales.pre_tanh).tanh())
    });
    Ok(QuantizedGenerator {
        conditional,
        scales,
        fc,
        up1,
        up2,
        tanh_lut,
    })
}

fn push_requant(layer: &mut QuantizedLayer, ch: &ChannelQuant) {
    layer
        .multiplier
        .extend_from_slice(&ch.requant.multiplier().to_le_bytes());
    layer.shift.push(ch.requant.shift());
    layer.weight_scales.push(ch.scale);
}

/// Folds `bn(co) = (k, t)` into a `ConvTranspose2d` with PyTorch weights `(cin, cout, kH, kW)` and
/// writes blob layout `[ky][kx][co][ci]`.
fn quantize_conv(
    weight: &[f32],
    bias: &[f32],
    cin: usize,
    cout: usize,
    bn: impl Fn(usize) -> (f64, f64),
    (s_in, s_out): (f64, f64),
    layer: &'static str,
) -> Result<QuantizedLayer, QuantizeError> {
    let taps = KERNEL * KERNEL;
    let mut out = QuantizedLayer {
        weights: vec![0; taps * cout * cin],
        bias: Vec::with_capacity(4 * cout),
        multiplier: Vec::new(),
        shift: Vec::new(),
        weight_scales: Vec::new(),
    };
    for co in 0..cout {
        let (k, t) = bn(co);
        // This channel's weights in [ci][tap] order.
        let weights: Vec<f64> = (0..cin)
            .flat_map(|ci| (0..taps).map(move |tap| (ci, tap)))
            .map(|(ci, tap)| f64::from(weight[(ci * cout + co) * taps + tap]) * k)
            .collect();
        let ch = quantize_channel(&weights, &[f64::from(bias[co]) * k + t], s_in, s_out, layer)?;
        for ci in 0..cin {
            for tap in 0..taps {
                out.weights[(tap * cout + co) * cin + ci] = ch.weights[ci * taps + tap];
            }
        }
        out.bias.extend_from_slice(&ch.biases[0].to_le_bytes());
        push_requant(&mut out, &ch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{FC_WEIGHTS, UP1_WEIGHTS};

    #[test]
    fn weights_land_in_blob_layout() {
        let float = FloatGenerator::random(11);
        let q = quantize(&float, 0..8).unwrap();
        let p = float.params();
        // fc: PyTorch neuron n = c·49 + pos ↔ blob row pos·64 + c; dequantised ≈ folded float.
        let fc_w: Vec<i8> = q.fc.weights().collect();
        assert_eq!(fc_w.len(), FC_WEIGHTS);
        for &(c, pos, i) in &[(0, 0, 0), (5, 17, 3), (63, 48, 31)] {
            let (k, _) = p.bn_fc.affine(c);
            let want = f64::from(p.fc_weight[(c * 49 + pos) * 32 + i]) * k;
            let got = f64::from(fc_w[(pos * 64 + c) * 32 + i]) * q.fc.weight_scales()[c];
            assert!(
                (want - got).abs() <= q.fc.weight_scales()[c] / 2.0 + 1e-12,
                "{c} {pos} {i}"
            );
        }
        // up1: PyTorch (ci, co, ky, kx) ↔ blob [ky][kx][co][ci].
        let up1_w: Vec<i8> = q.up1.weights().collect();
        assert_eq!(up1_w.len(), UP1_WEIGHTS);
        for &(ci, co, ky, kx) in &[(0, 0, 0, 0), (7, 3, 2, 1), (63, 31, 3, 3)] {
            let (k, _) = p.bn_up1.affine(co);
            let want = f64::from(p.up1_weight[((ci * 32 + co) * 4 + ky) * 4 + kx]) * k;
            let got =
                f64::from(up1_w[((ky * 4 + kx) * 32 + co) * 64 + ci]) * q.up1.weight_scales()[co];
            assert!((want - got).abs() <= q.up1.weight_scales()[co] / 2.0 + 1e-12);
        }
        // Each channel's largest weight uses the full int8 range.
        assert!(fc_w.iter().any(|&w| w.unsigned_abs() == 127));
    }

    #[test]
    fn lut_is_monotone_and_centred() {
        let q = quantize(&FloatGenerator::random(2), 0..8).unwrap();
        let lut = q.tanh_lut();
        assert!(lut.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(lut[128], 128); // tanh(0) = 0 → 127.5 rounds up
        assert!(lut[0] < 64 && lut[255] > 192);
    }

    #[test]
    fn empty_calibration_is_an_error() {
        assert_eq!(
            quantize(&FloatGenerator::random(0), std::iter::empty()).unwrap_err(),
            QuantizeError::NoCalibrationData
        );
    }
}
