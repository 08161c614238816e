//! The class-conditional `mcu` generator, inside the same firmware budget: its input is still
//! `firmware_core::arch::LATENT_DIM` (32) wide, split into 22 latent values and the one-hot class,
//! so the int8 network, its flash, RAM and multiply-accumulates are exactly `mcu`'s. The
//! discriminator is `mcu`'s with the 10 one-hot label planes beside the image (a fused
//! [`LabelConv2D`]: its input rows are the image and the one-hot class).

use super::{Preset, CLASSES};
use crate::nn::{
    BatchNorm2D, Conv2D, ConvTrans2D, Flatten, LabelConv2D, LeakyReLU, Linear, Unflatten,
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
    // Conv2D<11, 32, 4, 2, 1> on the image and its 10 label planes, fused (rows: 784 + 10).
    (LabelConv2D<11, 10, 32, 4, 2, 1, 28, 28>, LeakyReLU),
    (Conv2D<32, 64, 4, 2, 1>, BatchNorm2D<64>, LeakyReLU),
    (Flatten, Linear<3136, 1>),
);

/// The `cmcu` preset.
pub struct Cmcu;

impl Preset for Cmcu {
    const NAME: &'static str = "cmcu";
    const CONDITIONAL: bool = true;
    type Latent = Const<{ Z - CLASSES }>;
    type Input = Const<Z>;
    type DInput = Const<794>;
    type G = <Generator as BuildOnDevice<Cpu, f32>>::Built;
    type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;
}
