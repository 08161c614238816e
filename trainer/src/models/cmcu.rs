//! The class-conditional `mcu` preset, inside the same firmware budget. Its generator *is*
//! `mcu`'s (the same type): the input is still `firmware_core::arch::LATENT_DIM` (32) wide, split
//! into 22 latent values and the one-hot class, so the int8 network, its flash, RAM and
//! multiply-accumulates are exactly `mcu`'s. The discriminator is `mcu`'s with the 10 one-hot
//! label planes beside the image (a fused [`LabelConv2D`]: its input rows are the image and the
//! one-hot class).

use super::{Mcu, Preset, CLASSES};
use crate::nn::{BatchNorm2D, Conv2D, Flatten, LabelConv2D, LeakyReLU, Linear, MinibatchStd};
use dfdx::prelude::*;
use firmware_core::arch::LATENT_DIM as Z;

type Discriminator = (
    // Conv2D<11, 32, 4, 2, 1> on the image and its 10 label planes, fused (rows: 784 + 10).
    (LabelConv2D<11, 10, 32, 4, 2, 1, 28, 28>, LeakyReLU),
    (Conv2D<32, 64, 4, 2, 1>, BatchNorm2D<64>, LeakyReLU),
    (Flatten, Linear<3136, 1>),
);

/// `Discriminator` with the batch's feature spread beside its features (`--minibatch-std`).
type DiscriminatorMinibatchStd = (
    (LabelConv2D<11, 10, 32, 4, 2, 1, 28, 28>, LeakyReLU),
    (Conv2D<32, 64, 4, 2, 1>, BatchNorm2D<64>, LeakyReLU),
    (Flatten, MinibatchStd<3137>, Linear<3137, 1>),
);

/// The `cmcu` preset.
pub struct Cmcu;

impl Preset for Cmcu {
    const NAME: &'static str = "cmcu";
    const CONDITIONAL: bool = true;
    type Latent = Const<{ Z - CLASSES }>;
    type Input = Const<Z>;
    type DInput = Const<794>;
    // The firmware runs both generators: one type, so they cannot drift apart.
    type G = <Mcu as Preset>::G;
    type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;
}

/// `cmcu` trained with minibatch standard deviation in its discriminator (`--minibatch-std`):
/// the same generator, so the same firmware network and blob.
pub struct CmcuMinibatchStd;

impl Preset for CmcuMinibatchStd {
    const NAME: &'static str = Cmcu::NAME;
    const CONDITIONAL: bool = true;
    type Latent = <Cmcu as Preset>::Latent;
    type Input = <Cmcu as Preset>::Input;
    type DInput = <Cmcu as Preset>::DInput;
    type G = <Mcu as Preset>::G;
    type D = <DiscriminatorMinibatchStd as BuildOnDevice<Cpu, f32>>::Built;
}
