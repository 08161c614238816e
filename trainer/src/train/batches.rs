//! Counter-based randomness: every random draw of iteration `i` comes from a stream keyed by
//! (seed, purpose, i), so a resumed run draws exactly what an uninterrupted one would, with no
//! generator state to save.

use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// What a random stream is used for; each gets its own stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// The order of the training set in one epoch.
    EpochOrder = 1,
    /// Latents of the discriminator step.
    DiscriminatorNoise = 2,
    /// Latents of the generator step.
    GeneratorNoise = 3,
    /// The fixed latents of the progress grids.
    FixedNoise = 4,
    /// Latents for `trainer sample`.
    Sampling = 5,
    /// Latents of the quality evaluations.
    Evaluation = 6,
    /// Classes of the generated batches (conditional presets).
    FakeClasses = 7,
    /// Shifts of the discriminator's inputs (DiffAugment).
    Augment = 8,
}

/// The random stream for `purpose` at `counter` (an iteration or an epoch).
pub fn stream(seed: u64, purpose: Purpose, counter: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 56) ^ counter);
    rng
}

/// `count × dim` standard normal values.
pub fn normal_noise(rng: &mut impl Rng, count: usize, dim: usize) -> Vec<f32> {
    (0..count * dim)
        .map(|_| rng.sample(StandardNormal))
        .collect()
}

/// Picks training batches: each epoch is a fresh permutation of the set, batches run across
/// epoch boundaries, and batch `i` depends only on (seed, i).
pub struct BatchSampler {
    seed: u64,
    len: usize,
    batch: usize,
    cached: Vec<(u64, Vec<u32>)>,
}

impl BatchSampler {
    /// A sampler over `len` items in batches of `batch`.
    pub fn new(seed: u64, len: usize, batch: usize) -> Self {
        BatchSampler {
            seed,
            len,
            batch,
            cached: Vec::new(),
        }
    }

    fn order(&mut self, epoch: u64) -> &[u32] {
        if let Some(i) = self.cached.iter().position(|(e, _)| *e == epoch) {
            return &self.cached[i].1;
        }
        let mut order: Vec<u32> = (0..self.len as u32).collect();
        order.shuffle(&mut stream(self.seed, Purpose::EpochOrder, epoch));
        if self.cached.len() >= 2 {
            self.cached.remove(0);
        }
        self.cached.push((epoch, order));
        &self.cached[self.cached.len() - 1].1
    }

    /// The item indices of batch number `iteration` (0-based).
    pub fn indices(&mut self, iteration: u64) -> Vec<usize> {
        let first = iteration * self.batch as u64;
        (first..first + self.batch as u64)
            .map(|global| {
                let (epoch, pos) = (
                    global / self.len as u64,
                    (global % self.len as u64) as usize,
                );
                self.order(epoch)[pos] as usize
            })
            .collect()
    }
}
