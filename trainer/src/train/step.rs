//! One training iteration (Algorithm 1 of the GAN paper with k = 1), shared by the training loop
//! and the speed benchmark so that both run exactly the same code: the batch, classes and latents
//! of iteration `i`, one discriminator step on a real and a fake batch, one generator step with
//! the non-saturating loss, both with Adam; with the configuration's options, the learning-rate
//! schedule, shifted discriminator inputs, a smoothed real target and the generator's average.

use super::adam::Adam;
use super::augment::{random_shifts, translate, Batch};
use super::batches::{normal_noise, stream, BatchSampler, Purpose};
use super::config::TrainConfig;
use super::ema::Ema;
use crate::data::{Dataset, PIXELS};
use crate::models::{
    discriminator_input, generator_input, Preset, Rows, CLASSES, PIXELS as NET_PIXELS,
};
use dfdx::losses::binary_cross_entropy_with_logits_loss as bce;
use dfdx::prelude::*;
use rand::Rng;

const _: () = assert!(PIXELS == NET_PIXELS);

/// Pixels in [-1, 1] of a whole set, converted once.
pub fn scaled_images(data: &Dataset) -> Vec<f32> {
    data.images
        .iter()
        .map(|&p| p as f32 / 127.5 - 1.0)
        .collect()
}

/// Asks glibc's allocator to keep freed memory for reuse instead of returning it to the system.
///
/// Every iteration allocates and frees the same large buffers (activations, column matrices,
/// gradients: up to 13 MB each); by default glibc serves blocks that large with fresh `mmap`s and
/// trims the heap after frees, so each iteration paid for page faults and for the kernel zeroing
/// the pages again (about a tenth of a DCGAN iteration). With these settings the buffers come
/// from the heap and the peak memory stays what one iteration needs.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // glibc's `mallopt` parameters (malloc.h).
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_THRESHOLD: i32 = -3;
            extern "C" {
                fn mallopt(param: i32, value: i32) -> i32;
            }
            // SAFETY: `mallopt` only changes allocator tuning; both values are in range (the
            // mmap threshold's maximum is 32 MiB on 64-bit glibc). A failure leaves the defaults.
            #[allow(unsafe_code)]
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// What one iteration measured: the losses and the discriminator's mean outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Discriminator loss on the real plus the fake batch.
    pub d_loss: f32,
    /// Generator loss (non-saturating).
    pub g_loss: f32,
    /// Mean D(x) on the real batch.
    pub d_real: f32,
    /// Mean D(G(z)) on the fake batch of the discriminator step.
    pub d_fake: f32,
}

/// The generator, the discriminator, their optimisers and the generator's average.
pub struct Models<P: Preset> {
    /// Generator.
    pub g: P::G,
    /// Discriminator.
    pub d: P::D,
    /// The generator's Adam.
    pub g_opt: Adam,
    /// The discriminator's Adam.
    pub d_opt: Adam,
    /// The moving average of the generator's tensors (when the configuration asks for one).
    pub ema: Option<Ema>,
}

impl<P: Preset> Models<P> {
    /// Fresh models from `dev`'s seed, with Adam and the average as `config` says.
    pub fn new(dev: &Cpu, config: &TrainConfig) -> Self {
        let g = P::G::build(dev);
        let d = P::D::build(dev);
        let ema = (config.ema > 0.0).then(|| Ema::new(&g));
        Models {
            g,
            d,
            g_opt: Adam::new(config.lr, config.betas, 1e-8),
            d_opt: Adam::new(config.discriminator_lr(), config.betas, 1e-8),
            ema,
        }
    }
}

/// Everything an iteration needs besides the models: the scaled training images and their labels,
/// the batch sampler, the targets and the gradient buffers (kept across iterations to save
/// allocations).
pub struct Stepper<'a, P: Preset> {
    dev: Cpu,
    images: &'a [f32],
    labels: &'a [u8],
    seed: u64,
    batch: usize,
    sampler: BatchSampler,
    config: TrainConfig,
    ones: Rows<Const<1>>,
    zeros: Rows<Const<1>>,
    /// The discriminator's target for real images (1, or less with label smoothing).
    real_targets: Rows<Const<1>>,
    g_grads: Option<Gradients<f32, Cpu>>,
    d_grads: Option<Gradients<f32, Cpu>>,
    preset: std::marker::PhantomData<fn() -> P>,
}

impl<'a, P: Preset> Stepper<'a, P> {
    /// A stepper over `images` (from [`scaled_images`]) and their `labels`, with `config`'s seed
    /// and batch size.
    pub fn new(
        dev: &Cpu,
        models: &Models<P>,
        images: &'a [f32],
        labels: &'a [u8],
        config: &TrainConfig,
    ) -> Self {
        keep_freed_memory();
        let batch = config.batch_size;
        Stepper {
            dev: dev.clone(),
            images,
            labels,
            seed: config.seed,
            batch,
            sampler: BatchSampler::new(config.seed, images.len() / PIXELS, batch),
            config: config.clone(),
            ones: dev.ones_like(&(batch, Const)),
            zeros: dev.zeros_like(&(batch, Const)),
            real_targets: dev.ones_like(&(batch, Const)) * config.real_label,
            g_grads: Some(models.g.alloc_grads()),
            d_grads: Some(models.d.alloc_grads()),
            preset: std::marker::PhantomData,
        }
    }

    /// Runs iteration `step` (0-based: it picks the step's batch, classes and latents) on `models`.
    pub fn step(&mut self, models: &mut Models<P>, step: u64) -> StepStats {
        // On a rayon worker: the layers' parallel loops then start from inside the pool instead
        // of each handing its work over from this thread and sleeping until it is done (a
        // wake-up per loop, hundreds per iteration). Results cannot change: every kernel gives
        // the same bits on any thread. A worker waiting inside one step may run another (of
        // another run in this process): the step starts with the layer guards set aside.
        rayon::scope(|_| {
            let _clean = crate::nn::gradients::isolate_guards();
            self.step_in_pool(models, step)
        })
    }

    fn step_in_pool(&mut self, models: &mut Models<P>, step: u64) -> StepStats {
        let (dev, batch, latent, seed) = (&self.dev, self.batch, P::Latent::SIZE, self.seed);
        let config = &self.config;
        let factor = config.lr_factor(step);
        models.g_opt.lr = config.lr * factor;
        models.d_opt.lr = config.discriminator_lr() * factor;
        let shift = config.augment_shift;
        let mut real = Vec::with_capacity(batch * PIXELS);
        let mut real_classes = Vec::with_capacity(batch);
        for i in self.sampler.indices(step) {
            real.extend_from_slice(&self.images[i * PIXELS..(i + 1) * PIXELS]);
            real_classes.push(self.labels[i]);
        }
        let real: Rows<Const<PIXELS>> = dev.tensor_from_vec(real, (batch, Const));
        // Classes of the fakes (conditional presets): uniform, first the D step's, then G's.
        let fake_classes: Vec<u8> = if P::CONDITIONAL {
            let mut rng = stream(seed, Purpose::FakeClasses, step);
            (0..2 * batch)
                .map(|_| rng.gen_range(0..CLASSES as u8))
                .collect()
        } else {
            Vec::new()
        };
        let (d_classes, g_classes) = fake_classes.split_at(fake_classes.len() / 2);
        let noise = |purpose| {
            let z = normal_noise(&mut stream(seed, purpose, step), batch, latent);
            let classes = if purpose == Purpose::DiscriminatorNoise {
                d_classes
            } else {
                g_classes
            };
            let x: Rows<P::Input> = dev.tensor_from_vec(
                generator_input::<P>(&z, classes),
                (batch, Default::default()),
            );
            x
        };
        let z_d = noise(Purpose::DiscriminatorNoise);
        let z_g = noise(Purpose::GeneratorNoise);
        let mut d_grads = self.d_grads.take().expect("gradients are put back");
        let mut g_grads = self.g_grads.take().expect("gradients are put back");

        let Models {
            g,
            d,
            g_opt,
            d_opt,
            ema,
        } = models;
        // Discriminator step: maximise log D(x) + log(1 - D(G(z))).
        // Training-mode forward (a throw-away tape), detached: this step trains D only.
        let fake = g.forward_mut(z_d.leaky_traced()).retaped::<NoneTape>();
        let real = augment(real, shift, seed, step, Batch::Real);
        let fake = augment(fake, shift, seed, step, Batch::DiscriminatorFake);
        // Both batches are data here: D's first layer computes no gradient for its input.
        let real_input = discriminator_input::<P, _>(real, &real_classes).traced(d_grads);
        let real_logits = {
            let _data = crate::nn::data_input();
            d.forward_mut(real_input)
        };
        let d_real = real_logits
            .retaped::<NoneTape>()
            .sigmoid()
            .mean::<Rank0, _>()
            .array();
        let loss_real = bce(real_logits, self.real_targets.clone());
        let loss_real_value = loss_real.array();
        d_grads = loss_real.backward();
        let fake_input = discriminator_input::<P, _>(fake, d_classes).traced(d_grads);
        let fake_logits = {
            let _data = crate::nn::data_input();
            d.forward_mut(fake_input)
        };
        let d_fake = fake_logits
            .retaped::<NoneTape>()
            .sigmoid()
            .mean::<Rank0, _>()
            .array();
        let loss_fake = bce(fake_logits, self.zeros.clone());
        let d_loss = loss_real_value + loss_fake.array();
        d_grads = loss_fake.backward();
        d_opt.update_and_zero(d, &mut d_grads);

        // Generator step, non-saturating: maximise log D(G(z)).
        let fake = g.forward_mut(z_g.traced(g_grads));
        let fake = augment(fake, shift, seed, step, Batch::GeneratorFake);
        // D only passes the gradient through to G here: its own would be thrown away.
        let logits = {
            let _frozen = crate::nn::freeze_parameters();
            d.forward_mut(discriminator_input::<P, _>(fake, g_classes))
        };
        let loss_g = bce(logits, self.ones.clone());
        let g_loss = loss_g.array();
        g_grads = loss_g.backward();
        g_opt.update_and_zero(g, &mut g_grads);
        if let Some(ema) = ema {
            ema.update(g, config.ema);
        }

        self.d_grads = Some(d_grads);
        self.g_grads = Some(g_grads);
        StepStats {
            d_loss,
            g_loss,
            d_real,
            d_fake,
        }
    }
}

/// DiffAugment: every image the discriminator sees, real or generated, shifted by up to `shift`
/// pixels (unchanged for 0), with shifts drawn for (`seed`, `step`, `which`).
fn augment<T: Tape<f32, Cpu> + std::fmt::Debug>(
    images: Rows<Const<PIXELS>, T>,
    shift: u8,
    seed: u64,
    step: u64,
    which: Batch,
) -> Rows<Const<PIXELS>, T> {
    if shift == 0 {
        return images;
    }
    let shifts = random_shifts(seed, step, which, images.shape().0, shift);
    translate(images, &shifts)
}
