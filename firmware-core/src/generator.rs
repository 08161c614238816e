//! The validated generator and its inference entry points.

use crate::arch::{
    ModelDescriptor, CLASSES, FC_CHANNELS, FC_OUT, FC_SIDE, FC_WEIGHTS, LATENT_DIM, OUT_CHANNELS,
    OUT_SIDE, TOTAL_WEIGHTS, UP1_CHANNELS, UP1_OUT, UP1_SIDE, UP1_WEIGHTS, UP2_WEIGHTS,
};
use crate::blob::{ActivationScales, BlobRepr, LayerRepr, BIAS_LIMIT};
use crate::digit::Digit;
use crate::error::{BlobError, ClassError};
use crate::latent::{class_from_seed, generator_input};
use crate::layers::tanh::{TanhLut, LUT_LEN};
use crate::layers::{conv_transpose, linear, read_i32, relu_i8, QuantLayer, RequantTable};
use crate::requant::Requant;

/// Caller-owned activation buffers for [`Generator::generate`].
///
/// Holds the int8 outputs of `fc` (7×7×64) and `up1` (14×14×32): [`Scratch::BYTES`] bytes, the
/// largest RAM cost of inference. `new` is `const`, so it can live in a `static` and stay out of
/// the stack.
///
/// ```
/// use firmware_core::Scratch;
/// // `const fn`: usable in a `static` initialiser (behind a mutex, a `static_cell`, an RTIC resource…).
/// static EMPTY: Scratch = Scratch::new();
/// assert_eq!(Scratch::BYTES, 9408);
/// # let _ = &EMPTY;
/// ```
#[derive(Clone)]
pub struct Scratch {
    fc: [i8; FC_OUT],
    up1: [i8; UP1_OUT],
}

impl Scratch {
    /// Bytes of activation storage.
    pub const BYTES: usize = FC_OUT + UP1_OUT;

    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            fc: [0; FC_OUT],
            up1: [0; UP1_OUT],
        }
    }

    /// Int8 output of `fc` from the last run, HWC (7×7×64), at [`ActivationScales::fc`].
    pub fn fc_activations(&self) -> &[i8; FC_OUT] {
        &self.fc
    }

    /// Int8 output of `up1` from the last run, HWC (14×14×32), at [`ActivationScales::up1`].
    pub fn up1_activations(&self) -> &[i8; UP1_OUT] {
        &self.up1
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scratch")
            .field("bytes", &Self::BYTES)
            .finish()
    }
}

/// Names used in errors for one layer's arrays.
struct LayerNames {
    weights: &'static str,
    bias: &'static str,
    multiplier: &'static str,
    shift: &'static str,
}

macro_rules! layer_names {
    ($layer:literal) => {
        LayerNames {
            weights: concat!($layer, ".weights"),
            bias: concat!($layer, ".bias"),
            multiplier: concat!($layer, ".multiplier"),
            shift: concat!($layer, ".shift"),
        }
    };
}

/// One layer whose array lengths are fixed by its type: `W` weights, `B` bias bytes (4 per
/// output), `C` channels and `M` multiplier bytes (4 per channel).
#[derive(Clone, Copy)]
struct Layer<'a, const W: usize, const B: usize, const C: usize, const M: usize> {
    weights: &'a [u8; W],
    bias: &'a [u8; B],
    multiplier: &'a [u8; M],
    shift: &'a [u8; C],
}

type FcLayer<'a> = Layer<'a, FC_WEIGHTS, { FC_OUT * 4 }, FC_CHANNELS, { FC_CHANNELS * 4 }>;
type Up1Layer<'a> =
    Layer<'a, UP1_WEIGHTS, { UP1_CHANNELS * 4 }, UP1_CHANNELS, { UP1_CHANNELS * 4 }>;
type Up2Layer<'a> =
    Layer<'a, UP2_WEIGHTS, { OUT_CHANNELS * 4 }, OUT_CHANNELS, { OUT_CHANNELS * 4 }>;

fn array<'a, const N: usize>(
    bytes: &'a [u8],
    field: &'static str,
) -> Result<&'a [u8; N], BlobError> {
    bytes.try_into().map_err(|_| BlobError::BadLength {
        field,
        expected: N,
        found: bytes.len(),
    })
}

impl<'a, const W: usize, const B: usize, const C: usize, const M: usize> Layer<'a, W, B, C, M> {
    /// Checks the lengths of one layer's arrays and borrows them as fixed-size arrays.
    fn from_repr(repr: &LayerRepr<'a>, names: &LayerNames) -> Result<Self, BlobError> {
        const { assert!(B.is_multiple_of(4) && M == 4 * C) };
        Ok(Self {
            weights: array(repr.weights, names.weights)?,
            bias: array(repr.bias, names.bias)?,
            multiplier: array(repr.multiplier, names.multiplier)?,
            shift: array(repr.shift, names.shift)?,
        })
    }

    /// Every requantiser must pass [`Requant::try_new`].
    fn check_requants(&self, layer: &'static str) -> Result<(), BlobError> {
        let requants = self.multiplier.chunks_exact(4).zip(self.shift.iter());
        match requants
            .map(|(m, &s)| Requant::try_new(read_i32(m), s))
            .position(|r| r.is_none())
        {
            Some(channel) => Err(BlobError::BadRequant { layer, channel }),
            None => Ok(()),
        }
    }

    /// Every bias must be within ±[`BIAS_LIMIT`] so accumulators cannot overflow.
    fn check_biases(&self, layer: &'static str) -> Result<(), BlobError> {
        // `b + LIMIT ∈ [0, 2·LIMIT]` as an unsigned compare: one test per bias (3136 of them
        // in `fc`, part of the time to first digit).
        const SPAN: u32 = 2 * BIAS_LIMIT.unsigned_abs();
        let in_range =
            |b: &[u8]| (read_i32(b) as u32).wrapping_add(BIAS_LIMIT.unsigned_abs()) <= SPAN;
        match self.bias.chunks_exact(4).position(|b| !in_range(b)) {
            Some(index) => Err(BlobError::BiasOutOfRange { layer, index }),
            None => Ok(()),
        }
    }

    fn view(&self) -> QuantLayer<'a> {
        QuantLayer {
            weights: self.weights,
            bias: self.bias,
            requant: RequantTable {
                multipliers: self.multiplier,
                shifts: self.shift,
            },
        }
    }
}

/// An int8 MNIST generator borrowing its parameters from a validated blob.
///
/// Construction validates everything once; afterwards [`generate`](Self::generate) is integer-only,
/// allocation-free, deterministic (the same seed gives the same pixels on every target) and
/// cannot fail or panic. The struct itself is a handful of references (≈ 70 bytes on a 32-bit
/// MCU); the weights stay wherever the blob is, typically flash.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use firmware_core::{export, Digit, Generator, Scratch};
/// # let float = export::FloatGenerator::random(1);
/// # let blob = export::quantize(&float, 0..32).unwrap().to_blob();
/// // On a device: `static BLOB: &[u8] = include_bytes!("generator.bin");`
/// let generator = Generator::new(&blob)?;
/// let mut scratch = Scratch::new();
/// let mut digit = Digit::new();
/// generator.generate(None, 7, &mut scratch, &mut digit).expect("no class asked");
/// let ink = digit.pixels().iter().filter(|&&p| p > 127).count();
/// # assert!(ink <= 784);
/// # }
/// # Ok::<(), firmware_core::BlobError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Generator<'a> {
    conditional: bool,
    scales: ActivationScales,
    fc: FcLayer<'a>,
    up1: Up1Layer<'a>,
    up2: Up2Layer<'a>,
    tanh_lut: &'a [u8; LUT_LEN],
}

/// Summarises instead of printing 134 KB of weights.
impl core::fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Generator")
            .field("descriptor", self.descriptor())
            .field("scales", &self.scales)
            .field("weights", &TOTAL_WEIGHTS)
            .finish_non_exhaustive()
    }
}

impl<'a> Generator<'a> {
    /// Validates `blob` (see [`crate::blob`] for the format and the list of checks) and borrows
    /// its parameters.
    ///
    /// # Errors
    ///
    /// The first failed check, as a [`BlobError`].
    pub fn new(blob: &'a [u8]) -> Result<Self, BlobError> {
        let repr = BlobRepr::parse(blob)?;
        let conditional = repr.descriptor.conditional;
        if let Some((field, expected, found)) = repr
            .descriptor
            .first_difference(ModelDescriptor::expected(conditional))
        {
            return Err(BlobError::ArchitectureMismatch {
                field,
                expected,
                found,
            });
        }
        if let Some(field) = repr.scales.first_invalid() {
            return Err(BlobError::BadScale { field });
        }
        // Lengths of everything first, then values, so errors come in the documented order.
        let fc = FcLayer::from_repr(&repr.fc, &layer_names!("fc"))?;
        let up1 = Up1Layer::from_repr(&repr.up1, &layer_names!("up1"))?;
        let up2 = Up2Layer::from_repr(&repr.up2, &layer_names!("up2"))?;
        let tanh_lut = array(repr.tanh_lut, "tanh_lut")?;
        fc.check_requants("fc")?;
        up1.check_requants("up1")?;
        up2.check_requants("up2")?;
        fc.check_biases("fc")?;
        up1.check_biases("up1")?;
        up2.check_biases("up2")?;
        Ok(Self {
            conditional,
            scales: repr.scales,
            fc,
            up1,
            up2,
            tanh_lut,
        })
    }

    /// Draws a digit from `seed`: for a conditional generator the digit `class` (with `None`,
    /// a class drawn from the seed, uniform over 0–9); for an unconditional one whatever digit
    /// the seed gives (`class` must be `None`). The input is
    /// [`generator_input`]`(seed, class)`.
    ///
    /// # Errors
    ///
    /// [`ClassError::NotConditional`] for a class asked of an unconditional generator,
    /// [`ClassError::OutOfRange`] for a class above 9; `out` is then left untouched. With `None`
    /// it never fails.
    pub fn generate(
        &self,
        class: Option<u8>,
        seed: u32,
        scratch: &mut Scratch,
        out: &mut Digit,
    ) -> Result<(), ClassError> {
        let class = match (self.conditional, class) {
            (false, None) => None,
            (false, Some(_)) => return Err(ClassError::NotConditional),
            (true, None) => Some(class_from_seed(seed)),
            (true, Some(c)) if usize::from(c) < CLASSES => Some(c),
            (true, Some(c)) => return Err(ClassError::OutOfRange { class: c }),
        };
        self.generate_from_latent(&generator_input(seed, class), scratch, out);
        Ok(())
    }

    /// Whether the generator draws a requested class.
    pub fn is_conditional(&self) -> bool {
        self.conditional
    }

    /// Draws the digit for an int8 latent at [`LATENT_SCALE`](crate::latent::LATENT_SCALE); lets
    /// the host check the firmware against its float model on the same input.
    pub fn generate_from_latent(
        &self,
        latent: &[i8; LATENT_DIM],
        scratch: &mut Scratch,
        out: &mut Digit,
    ) {
        linear::forward::<_, LATENT_DIM, FC_CHANNELS>(
            latent,
            &self.fc.view(),
            &mut scratch.fc,
            relu_i8,
        );
        conv_transpose::forward::<_, FC_CHANNELS, UP1_CHANNELS, FC_SIDE, UP1_SIDE>(
            &scratch.fc,
            &self.up1.view(),
            &mut scratch.up1,
            relu_i8,
        );
        let lut = TanhLut(self.tanh_lut);
        conv_transpose::forward::<_, UP1_CHANNELS, OUT_CHANNELS, UP1_SIDE, OUT_SIDE>(
            &scratch.up1,
            &self.up2.view(),
            out.pixels_mut(),
            |acc, requant| lut.epilogue(acc, requant),
        );
    }

    /// The blob's model descriptor: [`ModelDescriptor::MCU`] or
    /// [`ModelDescriptor::MCU_CONDITIONAL`], since `new` rejects others.
    pub fn descriptor(&self) -> &'static ModelDescriptor {
        ModelDescriptor::expected(self.conditional)
    }

    /// The activation scales recorded by the exporter.
    pub fn activation_scales(&self) -> &ActivationScales {
        &self.scales
    }

    /// The pre-tanh int8 → pixel table.
    pub fn tanh_lut(&self) -> &'a [u8; LUT_LEN] {
        self.tanh_lut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::latent_from_seed;
    use crate::layers::{conv_transpose, linear};
    use crate::test_blob::SyntheticModel;

    fn requant(mult: &[u8], shift: &[u8], c: usize) -> Requant {
        Requant::try_new(read_i32(&mult[4 * c..4 * c + 4]), shift[c]).unwrap()
    }

    /// Every layer's accumulators through the scalar reference kernels, which add with `+`: in
    /// this (debug) build an `i32` overflow panics instead of wrapping.
    fn reference_accumulators(m: &SyntheticModel, latent: &[i8; LATENT_DIM]) -> [Vec<i32>; 3] {
        let fc_acc = linear::reference(latent, &m.fc.weights, &m.fc.bias);
        let fc: Vec<i8> = fc_acc
            .iter()
            .enumerate()
            .map(|(j, &a)| requant(&m.fc.multiplier, &m.fc.shift, j % 64).apply(a, 0, 127))
            .collect();
        let up1_acc = conv_transpose::reference(&fc, &m.up1.weights, &m.up1.bias, 64, 32, 7);
        let up1: Vec<i8> = up1_acc
            .iter()
            .enumerate()
            .map(|(j, &a)| requant(&m.up1.multiplier, &m.up1.shift, j % 32).apply(a, 0, 127))
            .collect();
        let up2_acc = conv_transpose::reference(&up1, &m.up2.weights, &m.up2.bias, 32, 1, 14);
        [fc_acc, up1_acc, up2_acc]
    }

    /// The whole network through the scalar reference kernels.
    fn reference_digit(m: &SyntheticModel, latent: &[i8; LATENT_DIM]) -> [u8; 784] {
        let [_, _, up2_acc] = reference_accumulators(m, latent);
        let r = requant(&m.up2.multiplier, &m.up2.shift, 0);
        core::array::from_fn(|i| {
            let q = r.apply(up2_acc[i], -128, 127);
            m.tanh_lut[(i32::from(q) + 128) as usize]
        })
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "a synthetic model and six inferences: too slow in Miri"
    )]
    fn generate_matches_reference_kernels() {
        let model = SyntheticModel::new(5);
        let blob = model.blob();
        let generator = Generator::new(&blob).unwrap();
        let mut scratch = Scratch::new();
        let mut digit = Digit::new();
        for seed in [0, 1, 77] {
            generator
                .generate(None, seed, &mut scratch, &mut digit)
                .unwrap();
            assert_eq!(
                digit.pixels(),
                &reference_digit(&model, &latent_from_seed(seed))
            );
        }
        let distinct: std::collections::BTreeSet<u8> = digit.pixels().iter().copied().collect();
        assert!(
            distinct.len() > 50,
            "synthetic model should exercise the table"
        );
    }

    /// The blobs validation admits that push accumulators furthest: biases at ±`BIAS_LIMIT`,
    /// every weight at the int8 extreme of the wanted sign, the largest requantiser gain
    /// (`M = i32::MAX`, `n = 1`) so every ReLU saturates at 127 and feeds the next layer the
    /// largest inputs, and the latent at −128. `signs[l]` picks the direction of layer `l`; a
    /// negative layer outputs zeros, so each negative extreme is tested with the layers before it
    /// positive. The reference adds with overflow checks, so reaching the assertions means no
    /// `i32` overflowed; the kernels (which add with `wrapping_add`) must then agree exactly.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "four synthetic models and inferences: too slow in Miri"
    )]
    fn accumulators_at_the_validation_extremes_fit_in_i32() {
        const IN_FC: i64 = -128; // every latent element
        const IN_CONV: i64 = 127; // every input of up1/up2: a saturated ReLU
        let latent = [IN_FC as i8; LATENT_DIM];
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        for signs in [[1, 1, 1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]] {
            let mut m = SyntheticModel::new(3);
            let layers = [&mut m.fc, &mut m.up1, &mut m.up2];
            for (l, (layer, sign)) in layers.into_iter().zip(signs).enumerate() {
                let input = if l == 0 { IN_FC } else { IN_CONV };
                // The weight whose product with `input` has sign `sign` and the largest size.
                let w: i8 = if (sign > 0) == (input > 0) { 127 } else { -128 };
                layer.weights.fill(w as u8);
                let bias = sign * BIAS_LIMIT;
                for b in layer.bias.chunks_exact_mut(4) {
                    b.copy_from_slice(&bias.to_le_bytes());
                }
                for mult in layer.multiplier.chunks_exact_mut(4) {
                    mult.copy_from_slice(&i32::MAX.to_le_bytes());
                }
                layer.shift.fill(1);
            }
            let blob = m.blob();
            let generator = Generator::new(&blob).expect("extremes are valid");
            let accs = reference_accumulators(&m, &latent);

            // Every layer up to the first negative one gets full inputs and reaches exactly
            // bias + products·w·x (an interior pixel of a transposed convolution has 2×2 taps).
            let last = signs.iter().position(|&s| s < 0).unwrap_or(2);
            for l in 0..=last {
                let sign = i64::from(signs[l]);
                let (input, products) =
                    [(IN_FC, LATENT_DIM), (IN_CONV, 4 * 64), (IN_CONV, 4 * 32)][l];
                let w = if (sign > 0) == (input > 0) { 127 } else { -128 };
                let expected = sign * i64::from(BIAS_LIMIT) + products as i64 * w * input;
                let reached = accs[l]
                    .iter()
                    .map(|&a| i64::from(a))
                    .max_by_key(|a| a * sign)
                    .unwrap();
                assert_eq!(reached, expected, "layer {l}, signs {signs:?}");
                assert!(products <= crate::arch::MAX_ACCUMULATED_PRODUCTS);
            }

            generator.generate_from_latent(&latent, &mut scratch, &mut digit);
            assert_eq!(digit.pixels(), &reference_digit(&m, &latent), "{signs:?}");
        }
    }

    #[test]
    fn generator_is_small() {
        // References only: on a 32-bit target this is ~70 bytes; on the 64-bit host about twice.
        assert!(core::mem::size_of::<Generator<'_>>() <= 160);
    }
}
