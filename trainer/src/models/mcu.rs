//! The microcontroller-sized GAN whose generator firmware-core runs in int8. The generator's
//! shapes are firmware-core's `arch` constants, so the trained model and the firmware cannot
//! drift apart: z32 → Linear 64·7·7 → BN → ReLU → ConvT 64→32 → BN → ReLU → ConvT 32→1 → tanh.
//! The discriminator is DCGAN-style at half the `dcgan` preset's width.

use super::Preset;
use crate::nn::{
    BatchNorm2D, Conv2D, ConvTrans2D, Flatten, LeakyReLU, Linear, MinibatchStd, Unflatten,
};
use dfdx::prelude::*;
use firmware_core::arch::{
    FC_CHANNELS as C1, FC_OUT, FC_SIDE as S1, KERNEL as K, LATENT_DIM as Z, OUT_CHANNELS as C3,
    PADDING as P, STRIDE as S, UP1_CHANNELS as C2,
};

type Generator = (
    (
        Linear<Z, FC_OUT>,
        Unflatten<C1, S1, S1>,
        BatchNorm2D<C1>,
        ReLU,
    ),
    (ConvTrans2D<C1, C2, K, S, P>, BatchNorm2D<C2>, ReLU),
    (ConvTrans2D<C2, C3, K, S, P>, Tanh, Flatten),
);

type Discriminator = (
    (Unflatten<1, 28, 28>, Conv2D<1, 32, 4, 2, 1>, LeakyReLU),
    (Conv2D<32, 64, 4, 2, 1>, BatchNorm2D<64>, LeakyReLU),
    (Flatten, Linear<3136, 1>),
);

/// `Discriminator` with the batch's feature spread beside its features (`--minibatch-std`).
type DiscriminatorMinibatchStd = (
    (Unflatten<1, 28, 28>, Conv2D<1, 32, 4, 2, 1>, LeakyReLU),
    (Conv2D<32, 64, 4, 2, 1>, BatchNorm2D<64>, LeakyReLU),
    (Flatten, MinibatchStd<3137>, Linear<3137, 1>),
);

/// The `mcu` preset.
pub struct Mcu;

impl Preset for Mcu {
    const NAME: &'static str = "mcu";
    const CONDITIONAL: bool = false;
    type Latent = Const<Z>;
    type Input = Const<Z>;
    type DInput = Const<784>;
    type G = <Generator as BuildOnDevice<Cpu, f32>>::Built;
    type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;
}

/// `mcu` trained with minibatch standard deviation in its discriminator (`--minibatch-std`): the
/// same generator, so the same firmware network and blob.
pub struct McuMinibatchStd;

impl Preset for McuMinibatchStd {
    const NAME: &'static str = Mcu::NAME;
    const CONDITIONAL: bool = false;
    type Latent = <Mcu as Preset>::Latent;
    type Input = <Mcu as Preset>::Input;
    type DInput = <Mcu as Preset>::DInput;
    type G = <Mcu as Preset>::G;
    type D = <DiscriminatorMinibatchStd as BuildOnDevice<Cpu, f32>>::Built;
}
