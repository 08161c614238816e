//! The compiled-in generator architecture (preset `mcu`).
//!
//! Every shape in the crate derives from these constants: the kernels are instantiated with
//! them, [`Generator::new`](crate::Generator::new) rejects a blob whose descriptor differs from
//! [`ModelDescriptor::MCU`], and the trainer uses them as const generics, so the float model, the
//! blob and the integer inference cannot drift apart.
//!
//! ```text
//! z: LATENT_DIM ─fc─▶ 64·7·7 ─BN─ReLU─▶ (64, 7, 7) ─up1─▶ (32, 14, 14) ─BN─ReLU─up2─▶ (1, 28, 28) ─tanh─▶ pixels
//! ```
//!
//! `up1` and `up2` are `ConvTranspose2d(kernel 4, stride 2, padding 1)`, which exactly doubles the
//! side length.

use serde::{Deserialize, Serialize};

/// Length of the latent vector `z`.
pub const LATENT_DIM: usize = 32;

/// Channels of the fully connected layer's output once reshaped to `(C, H, W)`.
pub const FC_CHANNELS: usize = 64;
/// Side length of the fully connected layer's output once reshaped to `(C, H, W)`.
pub const FC_SIDE: usize = 7;
/// Output neurons of the fully connected layer (`FC_CHANNELS · FC_SIDE²`).
pub const FC_OUT: usize = FC_CHANNELS * FC_SIDE * FC_SIDE;
/// Weights of the fully connected layer (`FC_OUT × LATENT_DIM`).
pub const FC_WEIGHTS: usize = FC_OUT * LATENT_DIM;

/// Kernel side of both transposed convolutions.
pub const KERNEL: usize = 4;
/// Stride of both transposed convolutions.
pub const STRIDE: usize = 2;
/// Padding of both transposed convolutions.
pub const PADDING: usize = 1;

/// Output channels of the first transposed convolution.
pub const UP1_CHANNELS: usize = 32;
/// Output side of the first transposed convolution.
pub const UP1_SIDE: usize = 14;
/// Activations produced by the first transposed convolution.
pub const UP1_OUT: usize = UP1_CHANNELS * UP1_SIDE * UP1_SIDE;
/// Weights of the first transposed convolution (`FC_CHANNELS · UP1_CHANNELS · KERNEL²`).
pub const UP1_WEIGHTS: usize = FC_CHANNELS * UP1_CHANNELS * KERNEL * KERNEL;

/// Output channels of the last transposed convolution (grey levels).
pub const OUT_CHANNELS: usize = 1;
/// Side of the generated image.
pub const OUT_SIDE: usize = 28;
/// Pixels of the generated image.
pub const OUT_PIXELS: usize = OUT_SIDE * OUT_SIDE;
/// Weights of the last transposed convolution (`UP1_CHANNELS · OUT_CHANNELS · KERNEL²`).
pub const UP2_WEIGHTS: usize = UP1_CHANNELS * OUT_CHANNELS * KERNEL * KERNEL;

/// All int8 weights of the model.
pub const TOTAL_WEIGHTS: usize = FC_WEIGHTS + UP1_WEIGHTS + UP2_WEIGHTS;

/// Side length produced by a `ConvTranspose2d(KERNEL, STRIDE, PADDING)` from `in_side`.
pub const fn conv_transpose_out_side(in_side: usize) -> usize {
    (in_side - 1) * STRIDE + KERNEL - 2 * PADDING
}

/// Number of `(input index, kernel index)` pairs along one axis whose output index
/// `i·STRIDE − PADDING + k` lands inside `0..out_side`.
///
/// A 2-D transposed convolution does `taps_1d² · in_channels · out_channels` multiply-accumulates;
/// taps that fall into the cropped border do no work in our kernels and are not counted.
pub const fn taps_1d(in_side: usize, out_side: usize) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < in_side {
        let mut k = 0;
        while k < KERNEL {
            let o = i * STRIDE + k;
            if o >= PADDING && o - PADDING < out_side {
                count += 1;
            }
            k += 1;
        }
        i += 1;
    }
    count
}

/// Multiply-accumulates of the fully connected layer.
pub const FC_MACS: usize = FC_WEIGHTS;
/// Multiply-accumulates of `up1` (only taps that hit the input).
pub const UP1_MACS: usize =
    FC_CHANNELS * UP1_CHANNELS * taps_1d(FC_SIDE, UP1_SIDE) * taps_1d(FC_SIDE, UP1_SIDE);
/// Multiply-accumulates of `up2` (only taps that hit the input).
pub const UP2_MACS: usize =
    UP1_CHANNELS * OUT_CHANNELS * taps_1d(UP1_SIDE, OUT_SIDE) * taps_1d(UP1_SIDE, OUT_SIDE);
/// Multiply-accumulates needed to draw one digit.
pub const MACS_PER_DIGIT: usize = FC_MACS + UP1_MACS + UP2_MACS;

/// Most products summed into one accumulator: an output of a stride-2, kernel-4 transposed
/// convolution receives at most `(KERNEL / STRIDE)²` taps per input channel.
pub const MAX_ACCUMULATED_PRODUCTS: usize = max(
    LATENT_DIM,
    max(FC_CHANNELS, UP1_CHANNELS) * (KERNEL / STRIDE) * (KERNEL / STRIDE),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const _: () = {
    assert!(FC_OUT == 3136);
    assert!(UP1_SIDE == conv_transpose_out_side(FC_SIDE));
    assert!(OUT_SIDE == conv_transpose_out_side(UP1_SIDE));
    assert!(
        KERNEL.is_multiple_of(STRIDE),
        "every output pixel must see the same number of taps"
    );
    assert!(taps_1d(FC_SIDE, UP1_SIDE) == 26);
    assert!(taps_1d(UP1_SIDE, OUT_SIDE) == 54);
    assert!(MACS_PER_DIGIT == 100_352 + 1_384_448 + 93_312);
    // Descriptor fields are u32 on the wire; the largest shape value is a side or channel count.
    assert!(max(max(LATENT_DIM, FC_CHANNELS), max(UP1_SIDE, OUT_SIDE)) <= u32::MAX as usize);
};

/// Identifier of the `mcu` preset in [`ModelDescriptor::preset`].
pub const PRESET_MCU: u16 = 1;

/// Digit classes a conditional generator can be asked for.
pub const CLASSES: usize = 10;

/// Latent values of a conditional generator: its input is the same [`LATENT_DIM`] wide, the
/// first `LATENT_DIM − CLASSES` values noise and the last [`CLASSES`] the one-hot class, so the
/// conditional network has exactly the unconditional one's weights, RAM and MACs.
pub const CONDITIONAL_LATENT_DIM: usize = LATENT_DIM - CLASSES;

/// Shape of the fully connected input layer (followed by a reshape to `(out_channels, out_side,
/// out_side)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearShape {
    /// Input features (the latent dimension).
    pub in_features: u32,
    /// Channels after the reshape.
    pub out_channels: u32,
    /// Side after the reshape.
    pub out_side: u32,
}

/// Shape of one `ConvTranspose2d` layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvTransposeShape {
    /// Input channels.
    pub in_channels: u32,
    /// Output channels.
    pub out_channels: u32,
    /// Input side length.
    pub in_side: u32,
    /// Output side length.
    pub out_side: u32,
    /// Kernel side length.
    pub kernel: u32,
    /// Stride.
    pub stride: u32,
    /// Padding (cropped from every border of the full output).
    pub padding: u32,
}

/// Describes the network a blob was exported for; stored in every blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDescriptor {
    /// Architecture preset ([`PRESET_MCU`]).
    pub preset: u16,
    /// Whether the generator takes a class label: then its input is
    /// [`CONDITIONAL_LATENT_DIM`] latent values followed by the one-hot class (see
    /// [`generator_input`](crate::latent::generator_input)). Firmware built before conditional
    /// models existed rejects these blobs (its descriptor check expects `false`).
    pub conditional: bool,
    /// Latent (noise) dimension: [`LATENT_DIM`], or [`CONDITIONAL_LATENT_DIM`] if conditional.
    pub latent_dim: u32,
    /// Fully connected layer.
    pub fc: LinearShape,
    /// First transposed convolution.
    pub up1: ConvTransposeShape,
    /// Output transposed convolution.
    pub up2: ConvTransposeShape,
}

#[allow(clippy::cast_possible_truncation)] // const-asserted above to fit in u32
const fn u32_of(v: usize) -> u32 {
    v as u32
}

impl ModelDescriptor {
    /// The architecture this build of the firmware runs.
    pub const MCU: ModelDescriptor = ModelDescriptor {
        preset: PRESET_MCU,
        conditional: false,
        latent_dim: u32_of(LATENT_DIM),
        fc: LinearShape {
            in_features: u32_of(LATENT_DIM),
            out_channels: u32_of(FC_CHANNELS),
            out_side: u32_of(FC_SIDE),
        },
        up1: ConvTransposeShape {
            in_channels: u32_of(FC_CHANNELS),
            out_channels: u32_of(UP1_CHANNELS),
            in_side: u32_of(FC_SIDE),
            out_side: u32_of(UP1_SIDE),
            kernel: u32_of(KERNEL),
            stride: u32_of(STRIDE),
            padding: u32_of(PADDING),
        },
        up2: ConvTransposeShape {
            in_channels: u32_of(UP1_CHANNELS),
            out_channels: u32_of(OUT_CHANNELS),
            in_side: u32_of(UP1_SIDE),
            out_side: u32_of(OUT_SIDE),
            kernel: u32_of(KERNEL),
            stride: u32_of(STRIDE),
            padding: u32_of(PADDING),
        },
    };

    /// The class-conditional variant: the same network, its input split into noise and class.
    pub const MCU_CONDITIONAL: ModelDescriptor = ModelDescriptor {
        conditional: true,
        latent_dim: u32_of(CONDITIONAL_LATENT_DIM),
        ..ModelDescriptor::MCU
    };

    /// The descriptor a blob must have given its `conditional` flag.
    pub const fn expected(conditional: bool) -> &'static ModelDescriptor {
        if conditional {
            &ModelDescriptor::MCU_CONDITIONAL
        } else {
            &ModelDescriptor::MCU
        }
    }

    /// The first field (as `"layer.field"`) where `self` differs from `expected`, with both
    /// values, so a mismatch error can say exactly what is wrong.
    pub fn first_difference(&self, expected: &ModelDescriptor) -> Option<(&'static str, u32, u32)> {
        let fields = [
            ("preset", expected.preset.into(), self.preset.into()),
            (
                "conditional",
                expected.conditional.into(),
                self.conditional.into(),
            ),
            ("latent_dim", expected.latent_dim, self.latent_dim),
            (
                "fc.in_features",
                expected.fc.in_features,
                self.fc.in_features,
            ),
            (
                "fc.out_channels",
                expected.fc.out_channels,
                self.fc.out_channels,
            ),
            ("fc.out_side", expected.fc.out_side, self.fc.out_side),
        ];
        let up1 = conv_fields(&expected.up1, &self.up1, UP1_NAMES);
        let up2 = conv_fields(&expected.up2, &self.up2, UP2_NAMES);
        fields
            .into_iter()
            .chain(up1)
            .chain(up2)
            .find(|&(_, want, got)| want != got)
    }
}

type ConvNames = [&'static str; 7];
const UP1_NAMES: ConvNames = [
    "up1.in_channels",
    "up1.out_channels",
    "up1.in_side",
    "up1.out_side",
    "up1.kernel",
    "up1.stride",
    "up1.padding",
];
const UP2_NAMES: ConvNames = [
    "up2.in_channels",
    "up2.out_channels",
    "up2.in_side",
    "up2.out_side",
    "up2.kernel",
    "up2.stride",
    "up2.padding",
];

fn conv_fields(
    want: &ConvTransposeShape,
    got: &ConvTransposeShape,
    names: ConvNames,
) -> impl Iterator<Item = (&'static str, u32, u32)> {
    let want = [
        want.in_channels,
        want.out_channels,
        want.in_side,
        want.out_side,
        want.kernel,
        want.stride,
        want.padding,
    ];
    let got = [
        got.in_channels,
        got.out_channels,
        got.in_side,
        got.out_side,
        got.kernel,
        got.stride,
        got.padding,
    ];
    names
        .into_iter()
        .zip(want)
        .zip(got)
        .map(|((name, w), g)| (name, w, g))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force count of the taps that land inside the output, straight from the
    /// `ConvTranspose2d` definition.
    fn brute_force_macs(cin: usize, cout: usize, in_side: usize, out_side: usize) -> usize {
        let mut n = 0;
        for iy in 0..in_side {
            for ix in 0..in_side {
                for ky in 0..KERNEL {
                    for kx in 0..KERNEL {
                        let oy = (iy * STRIDE + ky) as isize - PADDING as isize;
                        let ox = (ix * STRIDE + kx) as isize - PADDING as isize;
                        let inside = |o: isize| o >= 0 && (o as usize) < out_side;
                        if inside(oy) && inside(ox) {
                            n += cin * cout;
                        }
                    }
                }
            }
        }
        n
    }

    #[test]
    fn mac_count_matches_brute_force() {
        assert_eq!(UP1_MACS, brute_force_macs(64, 32, 7, 14));
        assert_eq!(UP2_MACS, brute_force_macs(32, 1, 14, 28));
        assert_eq!(MACS_PER_DIGIT, 1_578_112);
        assert_eq!(MAX_ACCUMULATED_PRODUCTS, 256);
    }

    #[test]
    fn descriptor_difference_names_the_field() {
        let mcu = ModelDescriptor::MCU;
        assert_eq!(mcu.first_difference(&mcu), None);
        let mut other = mcu;
        other.up2.stride = 3;
        assert_eq!(other.first_difference(&mcu), Some(("up2.stride", 2, 3)));
        other.conditional = true;
        assert_eq!(other.first_difference(&mcu), Some(("conditional", 0, 1)));
    }
}
