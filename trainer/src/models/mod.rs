//! The GAN presets. Each is a pair of dfdx builder types (generator, discriminator) with shapes
//! checked at compile time; all generators map `(batch, input)` to `(batch, 784)` pixels in
//! [-1, 1] and all discriminators map `(batch, input)` to one logit per image, so the training
//! loop is written once for every preset. Conditional presets append the class to both inputs
//! (see [`Preset::CONDITIONAL`]).

mod cdcgan;
mod cmcu;
mod dcgan;
mod mcu;
mod mlp;

pub use cdcgan::Cdcgan;
pub use cmcu::{Cmcu, CmcuMinibatchStd};
pub use dcgan::Dcgan;
pub use mcu::{Mcu, McuMinibatchStd};
pub use mlp::Mlp;

use crate::with_preset;
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
pub trait DiscriminatorNet<X: ConstDim>:
    BuildModule<Cpu, f32>
    + TensorCollection<f32, Cpu>
    + Module<Rows<X>, Output = Rows<Const<1>>>
    + ModuleMut<Rows<X, Traced>, Output = Rows<Const<1>, Traced>>
{
}

impl<X: ConstDim, T> DiscriminatorNet<X> for T where
    T: BuildModule<Cpu, f32>
        + TensorCollection<f32, Cpu>
        + Module<Rows<X>, Output = Rows<Const<1>>>
        + ModuleMut<Rows<X, Traced>, Output = Rows<Const<1>, Traced>>
{
}

/// Digit classes of a conditional preset.
pub const CLASSES: usize = 10;

/// A GAN preset: its input sizes and its two networks.
pub trait Preset: 'static {
    /// The name used by `--model`.
    const NAME: &'static str;
    /// Whether both networks get the class: the generator `[z, one-hot(class)]`, the
    /// discriminator `[image, one-hot(class)]`, the class as 10 one-hot 28×28 label planes beside
    /// the image for its first convolution.
    const CONDITIONAL: bool;
    /// Latent (noise) vector length.
    type Latent: ConstDim;
    /// Generator input length: the latent, plus [`CLASSES`] if conditional.
    type Input: ConstDim;
    /// Discriminator input length: 784, plus [`CLASSES`] if conditional.
    type DInput: ConstDim;
    /// The generator, as built on the CPU.
    type G: GeneratorNet<Self::Input> + Send;
    /// The discriminator, as built on the CPU.
    type D: DiscriminatorNet<Self::DInput> + Send;
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
    /// The DCGAN reference, class-conditional.
    Cdcgan,
    /// The microcontroller GAN, class-conditional (same firmware budget as `mcu`).
    Cmcu,
}

impl ModelKind {
    /// The preset's `--model` name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mcu => Mcu::NAME,
            ModelKind::Mlp => Mlp::NAME,
            ModelKind::Dcgan => Dcgan::NAME,
            ModelKind::Cdcgan => Cdcgan::NAME,
            ModelKind::Cmcu => Cmcu::NAME,
        }
    }

    /// Whether firmware-core runs this preset's generator (`trainer export` makes its blob).
    pub fn runs_on_firmware(self) -> bool {
        matches!(self, ModelKind::Mcu | ModelKind::Cmcu)
    }

    /// Whether the preset generates a requested class.
    pub fn conditional(self) -> bool {
        with_preset!(self, P => P::CONDITIONAL)
    }

    /// Latent vector length.
    pub fn latent_dim(self) -> usize {
        match self {
            ModelKind::Mcu => <Mcu as Preset>::Latent::SIZE,
            ModelKind::Mlp => <Mlp as Preset>::Latent::SIZE,
            ModelKind::Dcgan => <Dcgan as Preset>::Latent::SIZE,
            ModelKind::Cdcgan => <Cdcgan as Preset>::Latent::SIZE,
            ModelKind::Cmcu => <Cmcu as Preset>::Latent::SIZE,
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
            $crate::models::ModelKind::Cdcgan => {
                type $P = $crate::models::Cdcgan;
                $body
            }
            $crate::models::ModelKind::Cmcu => {
                type $P = $crate::models::Cmcu;
                $body
            }
        }
    };
}

/// Calls `$body` with `$P` bound to the preset type that trains `$config` (a
/// [`TrainConfig`](crate::train::TrainConfig)): [`with_preset!`]'s, or its variant with minibatch
/// standard deviation in the discriminator when `minibatch_std` is set (`mcu` and `cmcu`; the
/// configuration's `validate` refuses it for the others, which then train without it).
#[macro_export]
macro_rules! with_training_preset {
    ($config:expr, $P:ident => $body:expr) => {
        match ($config.model, $config.minibatch_std) {
            ($crate::models::ModelKind::Mcu, true) => {
                type $P = $crate::models::McuMinibatchStd;
                $body
            }
            ($crate::models::ModelKind::Cmcu, true) => {
                type $P = $crate::models::CmcuMinibatchStd;
                $body
            }
            (kind, _) => $crate::with_preset!(kind, $P => $body),
        }
    };
}

/// Generator inputs: each latent row (`latent` values) followed by the one-hot class when the
/// preset is conditional (`classes` then holds one class per row).
pub fn generator_input<P: Preset>(latents: &[f32], classes: &[u8]) -> Vec<f32> {
    if !P::CONDITIONAL {
        return latents.to_vec();
    }
    let latent = P::Latent::SIZE;
    let mut out = Vec::with_capacity(latents.len() / latent * P::Input::SIZE);
    for (z, &class) in latents.chunks_exact(latent).zip(classes) {
        out.extend_from_slice(z);
        out.extend((0..CLASSES).map(|c| if c == class as usize { 1.0 } else { 0.0 }));
    }
    out
}

/// Discriminator inputs from images (784 values per row): unchanged for unconditional presets,
/// otherwise each image followed by its one-hot class (10 values), which the discriminator's
/// first layer ([`LabelConv2D`](crate::nn::LabelConv2D)) treats as 10 constant 28×28 label
/// planes beside the image. Gradients flow through to the images, so this works on a generator's
/// traced output too.
pub fn discriminator_input<P: Preset, T: Tape<f32, Cpu> + std::fmt::Debug>(
    images: Rows<Const<PIXELS>, T>,
    classes: &[u8],
) -> Rows<P::DInput, T> {
    if !P::CONDITIONAL {
        return images.realize();
    }
    assert_eq!(classes.len(), images.shape().0, "one class per image");
    let mut one_hot = vec![0.0f32; classes.len() * CLASSES];
    for (row, &class) in one_hot.chunks_exact_mut(CLASSES).zip(classes) {
        row[class as usize] = 1.0;
    }
    crate::nn::try_append_columns(images, &one_hot)
        .expect("CPU allocation")
        .realize()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two model builder types `$a`, `$b` that must be the same model: built from the same seed
    /// they save byte-identical safetensors files, and after a training step (`forward_mut`,
    /// backward, Adam) on the same input of width `$in` they still do, with the same outputs.
    macro_rules! assert_same_training {
        ($a:ty, $b:ty, $in:ty) => {{
            use dfdx::prelude::*;
            let dev = Cpu::seed_from_u64(5);
            let mut a = dev.build_module::<$a, f32>();
            let dev = Cpu::seed_from_u64(5);
            let mut b = dev.build_module::<$b, f32>();
            let dir = tempfile::tempdir().unwrap();
            let bytes = |m: &dyn Fn(&std::path::Path), name: &str| {
                let path = dir.path().join(name);
                m(&path);
                std::fs::read(path).unwrap()
            };
            let saved = |a: &_, b: &_| {
                let fa = bytes(&|p| SaveToSafetensors::save_safetensors(a, p).unwrap(), "a");
                let fb = bytes(&|p| SaveToSafetensors::save_safetensors(b, p).unwrap(), "b");
                assert!(fa == fb, "stored models differ");
            };
            saved(&a, &b);
            let x: Tensor<(Const<4>, $in), f32, _> = dev.sample_normal();
            let (mut ga, mut gb) = (a.alloc_grads(), b.alloc_grads());
            let mut opt_a = dfdx::optim::Adam::new(&a, Default::default());
            let mut opt_b = dfdx::optim::Adam::new(&b, Default::default());
            for _ in 0..2 {
                let ya = a.forward_mut(x.trace(ga));
                let yb = b.forward_mut(x.trace(gb));
                assert_eq!(ya.as_vec(), yb.as_vec());
                ga = ya.square().mean().backward();
                gb = yb.square().mean().backward();
                opt_a.update(&mut a, &ga).unwrap();
                opt_b.update(&mut b, &gb).unwrap();
                a.zero_grads(&mut ga);
                b.zero_grads(&mut gb);
                saved(&a, &b);
            }
        }};
    }
    pub(crate) use assert_same_training;

    /// `cmcu` runs on the firmware exactly as `mcu` does: the same generator type.
    #[test]
    fn cmcu_has_the_mcu_generator() {
        fn same<T>(_: &T, _: &T) {}
        let dev = Cpu::default();
        same(
            &<Mcu as Preset>::G::build(&dev),
            &<Cmcu as Preset>::G::build(&dev),
        );
        assert_eq!(
            <Cmcu as Preset>::Latent::SIZE + CLASSES,
            firmware_core::arch::LATENT_DIM
        );
    }

    #[test]
    fn generator_input_appends_the_one_hot_class_only_when_conditional() {
        let z: Vec<f32> = (0..200).map(|i| i as f32).collect();
        assert_eq!(generator_input::<Dcgan>(&z, &[3, 4]), z);
        let x = generator_input::<Cdcgan>(&z, &[3, 9]);
        assert_eq!(x.len(), 220);
        assert_eq!(&x[..100], &z[..100]);
        let one_hot = |c: usize| (0..10).map(move |i| f32::from(u8::from(i == c)));
        assert!(x[100..110].iter().copied().eq(one_hot(3)));
        assert_eq!(&x[110..210], &z[100..]);
        assert!(x[210..220].iter().copied().eq(one_hot(9)));
    }

    #[test]
    fn discriminator_input_appends_the_one_hot_class_and_passes_gradients_to_the_images() {
        let dev = Cpu::default();
        let pixels: Vec<f32> = (0..2 * PIXELS).map(|i| (i % 7) as f32 / 7.0).collect();
        let images: Rows<Const<PIXELS>> = dev.tensor_from_vec(pixels.clone(), (2, Const));
        let same = discriminator_input::<Dcgan, _>(images.clone(), &[]);
        assert_eq!(same.as_vec(), pixels);

        let x = discriminator_input::<Cdcgan, _>(images.clone(), &[2, 7]).as_vec();
        let width = PIXELS + CLASSES;
        assert_eq!(x.len(), 2 * width);
        for (row, class) in [(0, 2), (1, 7)] {
            let r = &x[row * width..(row + 1) * width];
            assert_eq!(&r[..PIXELS], &pixels[row * PIXELS..(row + 1) * PIXELS]);
            let one_hot = (0..10).map(|c| f32::from(u8::from(c == class)));
            assert!(r[PIXELS..].iter().copied().eq(one_hot), "row {row}");
        }

        // d(sum(x · w))/d(images) is w's image part: the class carries no gradient of its own.
        let w: Vec<f32> = (0..2 * width).map(|i| (i % 13) as f32).collect();
        let w: Rows<Const<794>> = dev.tensor_from_vec(w.clone(), (2, Const));
        let x = discriminator_input::<Cdcgan, _>(images.leaky_trace(), &[2, 7]);
        let grads = (x * w.clone()).sum::<Rank0, _>().backward();
        let image_grads = grads.get(&images).as_vec();
        let w = w.as_vec();
        for row in 0..2 {
            assert_eq!(
                &image_grads[row * PIXELS..(row + 1) * PIXELS],
                &w[row * width..row * width + PIXELS]
            );
        }
    }
}
