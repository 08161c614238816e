//! A synthetic integer model built with the public blob API only (no `std` feature needed).

#![allow(dead_code)]

use firmware_core::arch::{
    ModelDescriptor, FC_CHANNELS, FC_OUT, FC_WEIGHTS, OUT_CHANNELS, UP1_CHANNELS, UP1_WEIGHTS,
    UP2_WEIGHTS,
};
use firmware_core::blob::{checksum, ActivationScales, BlobRepr, LayerRepr};
use firmware_core::latent::SplitMix32;

pub struct Layer {
    pub weights: Vec<u8>,
    pub bias: Vec<u8>,
    pub multiplier: Vec<u8>,
    pub shift: Vec<u8>,
}

impl Layer {
    fn random(
        rng: &mut SplitMix32,
        weights: usize,
        outputs: usize,
        channels: usize,
        bias: u32,
        shift: u8,
    ) -> Self {
        Self {
            weights: (0..weights).map(|_| rng.next_u32() as u8).collect(),
            bias: (0..outputs)
                .flat_map(|_| {
                    ((rng.next_u32() % (2 * bias + 1)) as i32 - bias as i32).to_le_bytes()
                })
                .collect(),
            multiplier: (0..channels)
                .flat_map(|_| ((1u32 << 30) | (rng.next_u32() >> 2)).to_le_bytes())
                .collect(),
            shift: vec![shift; channels],
        }
    }

    pub fn repr(&self) -> LayerRepr<'_> {
        LayerRepr {
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
        }
    }
}

/// Random int8 parameters whose requantisers keep activations spread over the int8 range.
pub struct Model {
    pub fc: Layer,
    pub up1: Layer,
    pub up2: Layer,
    pub lut: Vec<u8>,
}

impl Model {
    pub fn new(seed: u32) -> Self {
        let mut rng = SplitMix32::new(seed);
        Self {
            fc: Layer::random(&mut rng, FC_WEIGHTS, FC_OUT, FC_CHANNELS, 8000, 39),
            up1: Layer::random(
                &mut rng,
                UP1_WEIGHTS,
                UP1_CHANNELS,
                UP1_CHANNELS,
                20_000,
                40,
            ),
            up2: Layer::random(
                &mut rng,
                UP2_WEIGHTS,
                OUT_CHANNELS,
                OUT_CHANNELS,
                10_000,
                38,
            ),
            lut: (0..=255u8).rev().collect(),
        }
    }

    pub fn repr(&self) -> BlobRepr<'_> {
        BlobRepr {
            descriptor: ModelDescriptor::MCU,
            scales: ActivationScales {
                latent: 1.0 / 32.0,
                fc: 0.05,
                up1: 0.05,
                pre_tanh: 0.025,
            },
            fc: self.fc.repr(),
            up1: self.up1.repr(),
            up2: self.up2.repr(),
            tanh_lut: &self.lut,
        }
    }

    pub fn blob(&self) -> Vec<u8> {
        emit(&self.repr())
    }
}

pub fn emit(repr: &BlobRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0; repr.buffer_len()];
    let len = repr.emit(&mut buf).expect("buffer is exactly large enough");
    assert_eq!(len, buf.len());
    buf
}

/// Rewrites the CRC trailer so that a mutated blob reaches the checks behind the CRC.
pub fn fix_crc(blob: &mut [u8]) {
    if blob.len() >= 4 {
        let n = blob.len() - 4;
        let crc = checksum(&blob[..n]);
        blob[n..].copy_from_slice(&crc.to_le_bytes());
    }
}
