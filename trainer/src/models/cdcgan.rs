//! The `dcgan` reference made class-conditional (Mirza & Osindero, 2014, in DCGAN form): the
//! generator gets a one-hot class concatenated to z, the discriminator gets the class as 10
//! one-hot input planes beside the image (a fused [`LabelConv2D`]: the discriminator's input rows
//! are the image and the one-hot class). Everything else is the `dcgan` preset.

use super::Preset;
use crate::nn::{
    BatchNorm2DAct, Conv2D, ConvTrans2D, Flatten, LabelConv2D, LeakyReLU, Linear, Unflatten,
};
use dfdx::prelude::*;

type Generator = (
    (
        Linear<110, 6272>,
        Unflatten<128, 7, 7>,
        BatchNorm2DAct<128, ReLU>,
    ),
    (ConvTrans2D<128, 64, 4, 2, 1>, BatchNorm2DAct<64, ReLU>),
    (ConvTrans2D<64, 1, 4, 2, 1>, Tanh, Flatten),
);

type Discriminator = (
    // Conv2D<11, 64, 4, 2, 1> on the image and its 10 label planes, fused (rows: 784 + 10).
    (LabelConv2D<11, 10, 64, 4, 2, 1, 28, 28>, LeakyReLU),
    (Conv2D<64, 128, 4, 2, 1>, BatchNorm2DAct<128, LeakyReLU>),
    (Flatten, Linear<6272, 1>),
);

/// The `cdcgan` preset.
pub struct Cdcgan;

impl Preset for Cdcgan {
    const NAME: &'static str = "cdcgan";
    const CONDITIONAL: bool = true;
    type Latent = Const<100>;
    type Input = Const<110>;
    type DInput = Const<794>;
    type G = <Generator as BuildOnDevice<Cpu, f32>>::Built;
    type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::nn::BatchNorm2D;

    // The preset before batch normalisation and activation were fused: the fused layers must keep
    // its tensor names, initialisation and stored files, and train to the same bits.
    type GeneratorUnfused = (
        (
            Linear<110, 6272>,
            Unflatten<128, 7, 7>,
            BatchNorm2D<128>,
            ReLU,
        ),
        (ConvTrans2D<128, 64, 4, 2, 1>, BatchNorm2D<64>, ReLU),
        (ConvTrans2D<64, 1, 4, 2, 1>, Tanh, Flatten),
    );

    type DiscriminatorUnfused = (
        // Conv2D<11, 64, 4, 2, 1> on the image and its 10 label planes, fused (rows: 784 + 10).
        (LabelConv2D<11, 10, 64, 4, 2, 1, 28, 28>, LeakyReLU),
        (Conv2D<64, 128, 4, 2, 1>, BatchNorm2D<128>, LeakyReLU),
        (Flatten, Linear<6272, 1>),
    );

    #[test]
    fn fused_batchnorm_activation_changes_nothing_but_speed() {
        crate::models::tests::assert_same_training!(
            Generator,
            GeneratorUnfused,
            <Cdcgan as Preset>::Input
        );
        crate::models::tests::assert_same_training!(
            Discriminator,
            DiscriminatorUnfused,
            <Cdcgan as Preset>::DInput
        );
    }
}
