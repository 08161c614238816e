//! The float generator in PyTorch layouts: the reference the trainer checks its model against and
//! the input of [`quantize`](super::quantize).

use crate::arch::{
    FC_CHANNELS, FC_OUT, FC_SIDE, FC_WEIGHTS, KERNEL, LATENT_DIM, OUT_CHANNELS, OUT_PIXELS,
    PADDING, STRIDE, UP1_CHANNELS, UP1_OUT, UP1_SIDE, UP1_WEIGHTS, UP2_WEIGHTS,
};
use crate::latent::SplitMix32;
use std::fmt;

/// `BatchNorm2d` in eval mode: `y = (x − running_mean) / √(running_var + eps) · gamma + beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    /// Per-channel scale (PyTorch `weight`).
    pub gamma: Vec<f32>,
    /// Per-channel shift (PyTorch `bias`).
    pub beta: Vec<f32>,
    /// Running mean.
    pub running_mean: Vec<f32>,
    /// Running (biased) variance.
    pub running_var: Vec<f32>,
    /// Added to the variance (PyTorch default 1e-5).
    pub eps: f32,
}

impl BatchNorm {
    /// The identity normalisation over `channels` (γ = 1, β = 0, mean 0, var 1, eps 0).
    pub fn identity(channels: usize) -> Self {
        Self {
            gamma: vec![1.0; channels],
            beta: vec![0.0; channels],
            running_mean: vec![0.0; channels],
            running_var: vec![1.0; channels],
            eps: 0.0,
        }
    }

    /// Applies channel `c` to `x`, in the same operation order as PyTorch.
    fn apply(&self, c: usize, x: f32) -> f32 {
        (x - self.running_mean[c]) / (self.running_var[c] + self.eps).sqrt() * self.gamma[c]
            + self.beta[c]
    }

    /// Channel `c` as an affine map `x·k + t` (in `f64`), for folding into the previous layer.
    pub(crate) fn affine(&self, c: usize) -> (f64, f64) {
        let k = f64::from(self.gamma[c])
            / (f64::from(self.running_var[c]) + f64::from(self.eps)).sqrt();
        (
            k,
            f64::from(self.beta[c]) - f64::from(self.running_mean[c]) * k,
        )
    }
}

/// Float parameters in PyTorch layouts (all row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatParams {
    /// `fc.weight`, `(FC_OUT, LATENT_DIM)` = (3136, 32); output neuron `n = c·49 + y·7 + x`.
    pub fc_weight: Vec<f32>,
    /// `fc.bias`, 3136.
    pub fc_bias: Vec<f32>,
    /// BatchNorm2d(64) after the reshape to (64, 7, 7).
    pub bn_fc: BatchNorm,
    /// `up1.weight`, `ConvTranspose2d` layout `(in, out, kH, kW)` = (64, 32, 4, 4).
    pub up1_weight: Vec<f32>,
    /// `up1.bias`, 32.
    pub up1_bias: Vec<f32>,
    /// BatchNorm2d(32).
    pub bn_up1: BatchNorm,
    /// `up2.weight`, (32, 1, 4, 4).
    pub up2_weight: Vec<f32>,
    /// `up2.bias`, 1.
    pub up2_bias: Vec<f32>,
}

/// Why [`FloatGenerator::new`] rejected parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParamError {
    /// A tensor has the wrong number of elements.
    BadLength {
        /// Which tensor, e.g. `"up1_weight"` or `"bn_fc.running_var"`.
        field: &'static str,
        /// Elements required.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// A value is NaN or infinite.
    NonFinite {
        /// Which tensor.
        field: &'static str,
        /// Index of the first bad element.
        index: usize,
    },
    /// `running_var + eps` is not positive for some channel.
    BadVariance {
        /// Which BatchNorm, `"bn_fc"` or `"bn_up1"`.
        field: &'static str,
        /// The channel.
        channel: usize,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength {
                field,
                expected,
                found,
            } => write!(f, "{field} has {found} elements, expected {expected}"),
            Self::NonFinite { field, index } => write!(f, "{field}[{index}] is not finite"),
            Self::BadVariance { field, channel } => {
                write!(
                    f,
                    "{field} channel {channel}: running_var + eps is not positive"
                )
            }
        }
    }
}

impl std::error::Error for ParamError {}

/// Intermediate activations of one float forward pass, PyTorch (NCHW) order.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatActivations {
    /// After `fc`, BatchNorm and ReLU: (64, 7, 7).
    pub fc: Vec<f32>,
    /// After `up1`, BatchNorm and ReLU: (32, 14, 14).
    pub up1: Vec<f32>,
    /// After `up2`, before tanh: (1, 28, 28).
    pub pre_tanh: Vec<f32>,
}

/// The generator in `f32`, eval mode: the reference for the trainer and the quantiser.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatGenerator {
    params: FloatParams,
}

fn check(field: &'static str, values: &[f32], expected: usize) -> Result<(), ParamError> {
    if values.len() != expected {
        return Err(ParamError::BadLength {
            field,
            expected,
            found: values.len(),
        });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ParamError::NonFinite { field, index }),
        None => Ok(()),
    }
}

fn check_bn(names: [&'static str; 6], bn: &BatchNorm, channels: usize) -> Result<(), ParamError> {
    let [field, gamma, beta, mean, var, eps] = names;
    check(gamma, &bn.gamma, channels)?;
    check(beta, &bn.beta, channels)?;
    check(mean, &bn.running_mean, channels)?;
    check(var, &bn.running_var, channels)?;
    check(eps, &[bn.eps], 1)?;
    match bn.running_var.iter().position(|&v| v + bn.eps <= 0.0) {
        Some(channel) => Err(ParamError::BadVariance { field, channel }),
        None => Ok(()),
    }
}

impl FloatGenerator {
    /// Checks every tensor's length and that all values are finite.
    ///
    /// # Errors
    ///
    /// [`ParamError`] naming the first bad tensor.
    pub fn new(params: FloatParams) -> Result<Self, ParamError> {
        let p = &params;
        check("fc_weight", &p.fc_weight, FC_WEIGHTS)?;
        check("fc_bias", &p.fc_bias, FC_OUT)?;
        check_bn(
            [
                "bn_fc",
                "bn_fc.gamma",
                "bn_fc.beta",
                "bn_fc.running_mean",
                "bn_fc.running_var",
                "bn_fc.eps",
            ],
            &p.bn_fc,
            FC_CHANNELS,
        )?;
        check("up1_weight", &p.up1_weight, UP1_WEIGHTS)?;
        check("up1_bias", &p.up1_bias, UP1_CHANNELS)?;
        check_bn(
            [
                "bn_up1",
                "bn_up1.gamma",
                "bn_up1.beta",
                "bn_up1.running_mean",
                "bn_up1.running_var",
                "bn_up1.eps",
            ],
            &p.bn_up1,
            UP1_CHANNELS,
        )?;
        check("up2_weight", &p.up2_weight, UP2_WEIGHTS)?;
        check("up2_bias", &p.up2_bias, OUT_CHANNELS)?;
        Ok(Self { params })
    }

    /// A randomly initialised generator for tests and demos, deterministic in `seed`.
    ///
    /// Not PyTorch's default initialisation: weights are uniform with variance `2 / fan_in`
    /// (He) and the BatchNorm statistics are random but plausible, so every layer's activations
    /// stay of order one and the output uses the whole grey range — a harder quantisation test
    /// than a freshly initialised PyTorch model, whose output is nearly flat grey.
    pub fn random(seed: u32) -> Self {
        let mut rng = SplitMix32::new(seed);
        let mut uniform = |lo: f32, hi: f32| {
            let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
            lo + (hi - lo) * u
        };
        let mut he = |n: usize, fan_in: usize| -> Vec<f32> {
            let a = (6.0 / fan_in as f32).sqrt();
            (0..n).map(|_| uniform(-a, a)).collect()
        };
        // ConvT fan-in per output: in_channels · (KERNEL / STRIDE)² taps.
        let taps = (KERNEL / STRIDE) * (KERNEL / STRIDE);
        let fc_weight = he(FC_WEIGHTS, LATENT_DIM);
        let fc_bias = he(FC_OUT, LATENT_DIM * 16);
        let up1_weight = he(UP1_WEIGHTS, FC_CHANNELS * taps);
        let up1_bias = he(UP1_CHANNELS, FC_CHANNELS * taps * 16);
        let up2_weight = he(UP2_WEIGHTS, UP1_CHANNELS * taps);
        let up2_bias = he(OUT_CHANNELS, 64);
        let mut rng = SplitMix32::new(seed ^ 0x5EED_0B17);
        let mut uniform = |lo: f32, hi: f32| {
            let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
            lo + (hi - lo) * u
        };
        let mut bn = |channels: usize, var: f32| BatchNorm {
            gamma: (0..channels).map(|_| uniform(0.7, 1.3)).collect(),
            beta: (0..channels).map(|_| uniform(-0.3, 0.3)).collect(),
            running_mean: (0..channels).map(|_| uniform(-0.3, 0.3)).collect(),
            running_var: (0..channels).map(|_| var * uniform(0.6, 1.6)).collect(),
            eps: 1e-5,
        };
        // Pre-BN variances: fc ≈ 2 · E[z²] = 2; up1 ≈ 2 · E[relu(bn)²] ≈ 1.
        let bn_fc = bn(FC_CHANNELS, 2.0);
        let bn_up1 = bn(UP1_CHANNELS, 1.0);
        Self {
            params: FloatParams {
                fc_weight,
                fc_bias,
                bn_fc,
                up1_weight,
                up1_bias,
                bn_up1,
                up2_weight,
                up2_bias,
            },
        }
    }

    /// The parameters.
    pub fn params(&self) -> &FloatParams {
        &self.params
    }

    /// Gives the parameters back.
    pub fn into_params(self) -> FloatParams {
        self.params
    }

    /// Eval-mode forward pass: the image as tanh outputs in `[−1, 1]`, row-major 28 × 28.
    ///
    /// ```
    /// use firmware_core::export::{latent_f32_from_seed, FloatGenerator};
    /// let g = FloatGenerator::random(0);
    /// let image = g.forward(&latent_f32_from_seed(5));
    /// assert!(image.iter().all(|v| (-1.0..=1.0).contains(v)));
    /// ```
    pub fn forward(&self, latent: &[f32; LATENT_DIM]) -> [f32; OUT_PIXELS] {
        let pre = self.forward_trace(latent).pre_tanh;
        std::array::from_fn(|i| pre[i].tanh())
    }

    /// Forward pass keeping every layer's output (for calibration and layer-by-layer checks).
    pub fn forward_trace(&self, latent: &[f32; LATENT_DIM]) -> FloatActivations {
        let p = &self.params;
        let plane = FC_SIDE * FC_SIDE;
        let mut fc = vec![0f32; FC_OUT];
        for (n, out) in fc.iter_mut().enumerate() {
            let row = &p.fc_weight[n * LATENT_DIM..(n + 1) * LATENT_DIM];
            let mut acc = p.fc_bias[n];
            for i in 0..LATENT_DIM {
                acc += row[i] * latent[i];
            }
            *out = p.bn_fc.apply(n / plane, acc).max(0.0);
        }
        let mut up1 = conv_transpose(
            &fc,
            &p.up1_weight,
            &p.up1_bias,
            FC_CHANNELS,
            UP1_CHANNELS,
            FC_SIDE,
        );
        let up1_plane = UP1_SIDE * UP1_SIDE;
        for (i, v) in up1.iter_mut().enumerate() {
            *v = p.bn_up1.apply(i / up1_plane, *v).max(0.0);
        }
        debug_assert_eq!(up1.len(), UP1_OUT);
        let pre_tanh = conv_transpose(
            &up1,
            &p.up2_weight,
            &p.up2_bias,
            UP1_CHANNELS,
            OUT_CHANNELS,
            UP1_SIDE,
        );
        FloatActivations { fc, up1, pre_tanh }
    }
}

/// `ConvTranspose2d(KERNEL, STRIDE, PADDING)` straight from the definition, NCHW in and out,
/// weights `(in, out, kH, kW)`.
pub(crate) fn conv_transpose(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    cin: usize,
    cout: usize,
    in_side: usize,
) -> Vec<f32> {
    let out_side = crate::arch::conv_transpose_out_side(in_side);
    let mut out = vec![0f32; cout * out_side * out_side];
    for (i, o) in out.iter_mut().enumerate() {
        *o = bias[i / (out_side * out_side)];
    }
    for ci in 0..cin {
        for iy in 0..in_side {
            for ix in 0..in_side {
                let v = x[(ci * in_side + iy) * in_side + ix];
                for co in 0..cout {
                    for ky in 0..KERNEL {
                        let Some(oy) = (iy * STRIDE + ky)
                            .checked_sub(PADDING)
                            .filter(|&o| o < out_side)
                        else {
                            continue;
                        };
                        for kx in 0..KERNEL {
                            let Some(ox) = (ix * STRIDE + kx)
                                .checked_sub(PADDING)
                                .filter(|&o| o < out_side)
                            else {
                                continue;
                            };
                            let wv = w[((ci * cout + co) * KERNEL + ky) * KERNEL + kx];
                            out[(co * out_side + oy) * out_side + ox] += wv * v;
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_transpose_hand_computed() {
        // 1 → 1 channel, 2×2 → 4×4, kernel k(ky, kx) = 10·ky + kx (same case as the int kernel test).
        let x = [1.0, 2.0, 3.0, 4.0];
        let w: Vec<f32> = (0..16).map(|i| (10 * (i / 4) + i % 4) as f32).collect();
        let out = conv_transpose(&x, &w, &[100.0], 1, 1, 2);
        assert_eq!(out[0], 111.0);
        assert_eq!(out[5], 168.0);
        assert_eq!(out[15], 188.0);
    }

    #[test]
    fn new_names_the_bad_field() {
        let mut p = FloatGenerator::random(1).into_params();
        p.up1_bias.push(0.0);
        assert_eq!(
            FloatGenerator::new(p.clone()),
            Err(ParamError::BadLength {
                field: "up1_bias",
                expected: 32,
                found: 33
            })
        );
        p.up1_bias.pop();
        p.bn_fc.running_mean[3] = f32::NAN;
        assert_eq!(
            FloatGenerator::new(p.clone()),
            Err(ParamError::NonFinite {
                field: "bn_fc.running_mean",
                index: 3
            })
        );
        p.bn_fc.running_mean[3] = 0.0;
        p.bn_up1.running_var[5] = -1.0;
        assert_eq!(
            FloatGenerator::new(p.clone()),
            Err(ParamError::BadVariance {
                field: "bn_up1",
                channel: 5
            })
        );
        p.bn_up1.running_var[5] = 1.0;
        assert!(FloatGenerator::new(p).is_ok());
    }

    #[test]
    fn identity_bn_and_single_path_forward() {
        // Only fc neuron (c=0, y=0, x=0) is non-zero and only one up1/up2 tap is set: the output
        // pixel can be computed by hand.
        let mut p = FloatGenerator::random(0).into_params();
        p.fc_weight.iter_mut().for_each(|w| *w = 0.0);
        p.fc_bias.iter_mut().for_each(|b| *b = 0.0);
        p.fc_weight[0] = 0.5; // neuron 0 ← z[0]
        p.bn_fc = BatchNorm::identity(FC_CHANNELS);
        p.up1_weight.iter_mut().for_each(|w| *w = 0.0);
        p.up1_bias.iter_mut().for_each(|b| *b = 0.0);
        p.up1_weight[KERNEL + 1] = 2.0; // ci 0 → co 0, tap (ky 1, kx 1): input (0,0) → output (0,0)
        p.bn_up1 = BatchNorm::identity(UP1_CHANNELS);
        p.up2_weight.iter_mut().for_each(|w| *w = 0.0);
        p.up2_weight[KERNEL + 1] = 0.25;
        p.up2_bias[0] = 0.1;
        let g = FloatGenerator::new(p).unwrap();
        let mut z = [0.0; LATENT_DIM];
        z[0] = 3.0;
        let img = g.forward(&z);
        assert!((img[0] - (3.0f32 * 0.5 * 2.0 * 0.25 + 0.1).tanh()).abs() < 1e-6);
        assert!((img[1] - 0.1f32.tanh()).abs() < 1e-6);
        z[0] = -3.0; // ReLU kills the path
        assert!((g.forward(&z)[0] - 0.1f32.tanh()).abs() < 1e-6);
    }
}
