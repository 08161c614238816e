//! The original GAN paper's fully connected model (Goodfellow et al., 2014, MNIST):
//! G z100 → 256 → 512 → 784 tanh, D 784 → 512 → 256 → 1, LeakyReLU 0.2.

use super::Preset;
use crate::nn::{LeakyReLU, Linear};
use dfdx::prelude::*;

type Generator = (
    (Linear<100, 256>, LeakyReLU),
    (Linear<256, 512>, LeakyReLU),
    (Linear<512, 784>, Tanh),
);

type Discriminator = (
    (Linear<784, 512>, LeakyReLU),
    (Linear<512, 256>, LeakyReLU),
    Linear<256, 1>,
);

/// The `mlp` preset.
pub struct Mlp;

impl Preset for Mlp {
    const NAME: &'static str = "mlp";
    const CONDITIONAL: bool = false;
    type Latent = Const<100>;
    type Input = Const<100>;
    type DInput = Const<784>;
    type G = <Generator as BuildOnDevice<Cpu, f32>>::Built;
    type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;
}
