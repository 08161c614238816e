//! The GAN presets. Each is a pair of dfdx builder types (generator, discriminator) with shapes
//! checked at compile time; all generators map `(batch, latent)` to `(batch, 784)` pixels in
//! [-1, 1] and all discriminators map `(batch, 784)` to one logit per image, so the training loop
//! is written once for every preset.

mod dcgan;
mod mcu;
mod mlp;

pub use dcgan::Dcgan;
pub use mcu::Mcu;
pub use mlp::Mlp;

use dfdx::nn::modules::TensorCollection;
use dfdx::prelude::*;

/// Pixels per image, the interface between every generator and discriminator.
pub const PIXELS: usize = 784;

/// The tape that records a training forward pass.
pub type Traced = OwnedTape<f32, Cpu>;

/// A batch of row vectors of width `W`.
pub type Rows<W, T = NoneTape> = Tensor<(usize, W), f32, Cpu, T>;

/// What the training loop needs of a generator: build, visit tensors, run in eval mode
/// (`forward`) and in training mode (`forward_mut` on a traced input: dfdx's BatchNorm uses
/// batch statistics only when a tape is recording).
pub trait GeneratorNet<Z: ConstDim>:
    BuildModule<Cpu, f32>
    + TensorCollection<f32, Cpu>
    + Module<Rows<Z>, Output = Rows<Const<PIXELS>>>
    + ModuleMut<Rows<Z, Traced>, Output = Rows<Const<PIXELS>, Traced>>
{
}

impl<Z: ConstDim, T> GeneratorNet<Z> for T where
    T: BuildModule<Cpu, f32>
        + TensorCollection<f32, Cpu>
        + Module<Rows<Z>, Output = Rows<Const<PIXELS>>>
        + ModuleMut<Rows<Z, Traced>, Output = Rows<Const<PIXELS>, Traced>>
{
}

/// What the training loop needs of a discriminator: one logit per image, probability = sigmoid.
pub trait DiscriminatorNet:
    BuildModule<Cpu, f32>
    + TensorCollection<f32, Cpu>
    + Module<Rows<Const<PIXELS>>, Output = Rows<Const<1>>>
    + ModuleMut<Rows<Const<PIXELS>, Traced>, Output = Rows<Const<1>, Traced>>
{
}

impl<T> DiscriminatorNet for T where
    T: BuildModule<Cpu, f32>
        + TensorCollection<f32, Cpu>
        + Module<Rows<Const<PIXELS>>, Output = Rows<Const<1>>>
        + ModuleMut<Rows<Const<PIXELS>, Traced>, Output = Rows<Const<1>, Traced>>
{
}

/// A GAN preset: its latent size and its two networks.
pub trait Preset: 'static {
    /// The name used by `--model`.
    const NAME: &'static str;
    /// Latent vector length.
    type Latent: ConstDim;
    /// The generator, as built on the CPU.
    type G: GeneratorNet<Self::Latent>;
    /// The discriminator, as built on the CPU.
    type D: DiscriminatorNet;
}

/// The presets selectable with `--model`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The microcontroller-sized convolutional GAN that firmware-core runs.
    Mcu,
    /// The original paper's fully connected GAN.
    Mlp,
    /// The DCGAN reference.
    Dcgan,
}

impl ModelKind {
    /// The preset's `--model` name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mcu => Mcu::NAME,
            ModelKind::Mlp => Mlp::NAME,
            ModelKind::Dcgan => Dcgan::NAME,
        }
    }

    /// Latent vector length.
    pub fn latent_dim(self) -> usize {
        match self {
            ModelKind::Mcu => <Mcu as Preset>::Latent::SIZE,
            ModelKind::Mlp => <Mlp as Preset>::Latent::SIZE,
            ModelKind::Dcgan => <Dcgan as Preset>::Latent::SIZE,
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Calls `$body` with `$P` bound to the preset type selected by a [`ModelKind`] value.
#[macro_export]
macro_rules! with_preset {
    ($kind:expr, $P:ident => $body:expr) => {
        match $kind {
            $crate::models::ModelKind::Mcu => {
                type $P = $crate::models::Mcu;
                $body
            }
            $crate::models::ModelKind::Mlp => {
                type $P = $crate::models::Mlp;
                $body
            }
            $crate::models::ModelKind::Dcgan => {
                type $P = $crate::models::Dcgan;
                $body
            }
        }
    };
}
