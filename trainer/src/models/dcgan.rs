//! The DCGAN reference (Radford et al., 2015) at MNIST size:
//! G z100 → Linear 128·7·7 → BN → ReLU → ConvT 128→64 → BN → ReLU → ConvT 64→1 → tanh;
//! D Conv 1→64 → LeakyReLU → Conv 64→128 → BN → LeakyReLU → Linear 6272→1.
//! Every (transposed) convolution is kernel 4, stride 2, padding 1.

use super::Preset;
use crate::nn::{BatchNorm2DAct, Conv2D, ConvTrans2D, Flatten, LeakyReLU, Linear, Unflatten};
use dfdx::prelude::*;

type Generator = (
    (
        Linear<100, 6272>,
        Unflatten<128, 7, 7>,
        BatchNorm2DAct<128, ReLU>,
    ),
    (ConvTrans2D<128, 64, 4, 2, 1>, BatchNorm2DAct<64, ReLU>),
    (ConvTrans2D<64, 1, 4, 2, 1>, Tanh, Flatten),
);

type Discriminator = (
    (Unflatten<1, 28, 28>, Conv2D<1, 64, 4, 2, 1>, LeakyReLU),
    (Conv2D<64, 128, 4, 2, 1>, BatchNorm2DAct<128, LeakyReLU>),
    (Flatten, Linear<6272, 1>),
);

/// The `dcgan` preset.
pub struct Dcgan;

impl Preset for Dcgan {
    const NAME: &'static str = "dcgan";
    const CONDITIONAL: bool = false;
    type Latent = Const<100>;
    type Input = Const<100>;
    type DInput = Const<784>;
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
            Linear<100, 6272>,
            Unflatten<128, 7, 7>,
            BatchNorm2D<128>,
            ReLU,
        ),
        (ConvTrans2D<128, 64, 4, 2, 1>, BatchNorm2D<64>, ReLU),
        (ConvTrans2D<64, 1, 4, 2, 1>, Tanh, Flatten),
    );

    type DiscriminatorUnfused = (
        (Unflatten<1, 28, 28>, Conv2D<1, 64, 4, 2, 1>, LeakyReLU),
        (Conv2D<64, 128, 4, 2, 1>, BatchNorm2D<128>, LeakyReLU),
        (Flatten, Linear<6272, 1>),
    );

    #[test]
    fn fused_batchnorm_activation_changes_nothing_but_speed() {
        crate::models::tests::assert_same_training!(
            Generator,
            GeneratorUnfused,
            <Dcgan as Preset>::Input
        );
        crate::models::tests::assert_same_training!(
            Discriminator,
            DiscriminatorUnfused,
            <Dcgan as Preset>::DInput
        );
    }
}
