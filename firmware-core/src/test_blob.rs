//! A synthetic integer model for unit tests: random int8 parameters with requantisers chosen so
//! activations stay inside the int8 range, written through the real blob writer. Needs no float
//! and no `std` feature, so the core tests do not hide behind optional features.

use crate::arch::ModelDescriptor;
use crate::arch::{
    FC_CHANNELS, FC_OUT, FC_WEIGHTS, OUT_CHANNELS, UP1_CHANNELS, UP1_WEIGHTS, UP2_WEIGHTS,
};
use crate::blob::{ActivationScales, BlobRepr, LayerRepr};
use crate::latent::SplitMix32;

pub struct LayerBytes {
    pub weights: Vec<u8>,
    pub bias: Vec<u8>,
    pub multiplier: Vec<u8>,
    pub shift: Vec<u8>,
}

impl LayerBytes {
    /// `outputs` biases within ±`bias_limit`, `channels` multipliers in `[2³⁰, 2³¹)` with shift
    /// `shift` (factor in `[2^(30−shift), 2^(31−shift))`).
    fn random(
        rng: &mut SplitMix32,
        weights: usize,
        outputs: usize,
        channels: usize,
        bias_limit: u32,
        shift: u8,
    ) -> Self {
        Self {
            weights: (0..weights)
                .map(|_| (rng.next_u32() % 255) as u8 ^ 0x80)
                .collect(),
            bias: (0..outputs)
                .flat_map(|_| {
                    ((rng.next_u32() % (2 * bias_limit + 1)) as i32 - bias_limit as i32)
                        .to_le_bytes()
                })
                .collect(),
            multiplier: (0..channels)
                .flat_map(|_| ((1u32 << 30) | (rng.next_u32() >> 2)).to_le_bytes())
                .collect(),
            shift: vec![shift; channels],
        }
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

pub struct SyntheticModel {
    pub fc: LayerBytes,
    pub up1: LayerBytes,
    pub up2: LayerBytes,
    pub tanh_lut: Vec<u8>,
}

impl SyntheticModel {
    pub fn new(seed: u32) -> Self {
        let mut rng = SplitMix32::new(seed);
        // Accumulator standard deviations are roughly 13 000 (fc), 33 000 (up1) and 23 000 (up2);
        // the factors below map them to int8 spreads of a few tens.
        Self {
            fc: LayerBytes::random(&mut rng, FC_WEIGHTS, FC_OUT, FC_CHANNELS, 8000, 39),
            up1: LayerBytes::random(
                &mut rng,
                UP1_WEIGHTS,
                UP1_CHANNELS,
                UP1_CHANNELS,
                20_000,
                40,
            ),
            up2: LayerBytes::random(
                &mut rng,
                UP2_WEIGHTS,
                OUT_CHANNELS,
                OUT_CHANNELS,
                10_000,
                38,
            ),
            tanh_lut: (0..=255).collect(),
        }
    }

    pub fn repr(&self) -> BlobRepr<'_> {
        self.repr_with(ModelDescriptor::MCU)
    }

    fn repr_with(&self, descriptor: ModelDescriptor) -> BlobRepr<'_> {
        BlobRepr {
            descriptor,
            scales: ActivationScales {
                latent: crate::latent::LATENT_SCALE,
                fc: 0.05,
                up1: 0.05,
                pre_tanh: 0.03,
            },
            fc: self.fc.repr(),
            up1: self.up1.repr(),
            up2: self.up2.repr(),
            tanh_lut: &self.tanh_lut,
        }
    }

    pub fn blob(&self) -> Vec<u8> {
        emit(&self.repr())
    }

    /// The same parameters as a class-conditional blob (the input's last ten values are the
    /// one-hot class).
    pub fn conditional_blob(&self) -> Vec<u8> {
        emit(&self.repr_with(ModelDescriptor::MCU_CONDITIONAL))
    }
}

/// Writes `repr` as a complete blob (with a correct CRC).
pub fn emit(repr: &BlobRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0; repr.buffer_len()];
    let len = repr.emit(&mut buf).unwrap();
    assert_eq!(len, buf.len());
    buf
}
