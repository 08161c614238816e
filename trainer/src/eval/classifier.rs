//! The MNIST classifier behind the quality scores: a small CNN trained once with dfdx on the
//! training set (deterministic: fixed seed, counter-based batches) and cached on disk.
//!
//! Its 128 penultimate features play the role Inception-v3's pool features play in FID.

use crate::data::{CacheLock, Dataset, PIXELS};
use crate::fsutil::write_atomic;
use crate::nn::{Conv2D, Flatten, Unflatten};
use crate::train::adam::Adam;
use crate::train::batches::BatchSampler;
use crate::train::params::{collect, restore, TensorList};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use std::path::{Path, PathBuf};

/// Length of the feature vector the Fréchet distance is computed on.
pub const FEATURES: usize = 128;
/// Digit classes.
pub const CLASSES: usize = 10;

type FeatureArch = (
    (Unflatten<1, 28, 28>, Conv2D<1, 32, 4, 2, 1>, ReLU),
    (Conv2D<32, 64, 4, 2, 1>, ReLU),
    (Flatten, Linear<3136, FEATURES>, ReLU),
);
type ClassifierArch = (FeatureArch, Linear<FEATURES, CLASSES>);
type Net = <ClassifierArch as BuildOnDevice<Cpu, f32>>::Built;

/// How the classifier is trained. Any change here or in the architecture must bump
/// [`Recipe::VERSION`], which names the cache file, so a stale cache is never used.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Seed of the initial weights and the batch order.
    pub seed: u64,
    /// Passes over the 60,000 training images.
    pub epochs: u64,
    /// Images per batch.
    pub batch: usize,
    /// Adam learning rate of the first epochs; the last epoch uses a tenth of it.
    pub lr: f32,
}

impl Recipe {
    /// Cache format and recipe version.
    pub const VERSION: u32 = 1;
    /// The recipe the quality scores are defined with.
    pub const DEFAULT: Recipe = Recipe {
        seed: 2014,
        epochs: 3,
        batch: 64,
        lr: 1e-3,
    };
}

/// A trained classifier.
pub struct Classifier {
    dev: Cpu,
    net: Net,
    /// Accuracy on the 10,000 MNIST test images, measured when it was trained.
    pub test_accuracy: f32,
}

/// The classifier's outputs for a set of images.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// `FEATURES` penultimate activations per image.
    pub features: Vec<f32>,
    /// `CLASSES` softmax probabilities per image.
    pub probabilities: Vec<f32>,
}

/// Why the classifier could not be loaded, trained or saved.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The cache file could not be written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The recipe fell short of the accuracy the scores rely on.
    #[error("the classifier reached only {accuracy:.2} % test accuracy (needs ≥ {required} %)")]
    TooWeak { accuracy: f32, required: f32 },
}

/// Minimum test accuracy for the scores to mean anything.
pub const REQUIRED_ACCURACY_PERCENT: f32 = 99.0;

/// Cached weights: postcard of this, then a CRC-32 of the bytes before it.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheFile {
    version: u32,
    test_accuracy: f32,
    tensors: TensorList,
}

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Pixels (u8, white on black) scaled to [-1, 1] as the GANs see them.
fn scaled(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| p as f32 / 127.5 - 1.0).collect()
}

impl Classifier {
    /// The cache file inside `cache_dir` for the default recipe.
    pub fn cache_path(cache_dir: &Path) -> PathBuf {
        cache_dir.join(format!("classifier-v{}.bin", Recipe::VERSION))
    }

    /// Loads the cached classifier, or trains it on `train` (and measures it on `test`) and
    /// caches it. `log` receives progress lines. Processes sharing the cache train it once: the
    /// others wait for the lock beside the cache file, then load what the first one saved.
    pub fn load_or_train(
        cache_dir: &Path,
        train: &Dataset,
        test: &Dataset,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, ClassifierError> {
        let path = Self::cache_path(cache_dir);
        if let Some(c) = Self::load(&path) {
            return Ok(c);
        }
        // One process trains at a time; one that waited finds the cache filled by the other.
        let _lock =
            CacheLock::acquire(&path, "training the evaluation classifier").map_err(|source| {
                ClassifierError::Io {
                    path: CacheLock::path_for(&path),
                    source,
                }
            })?;
        match Self::load(&path) {
            Some(c) => return Ok(c),
            None if path.exists() => {
                log(&format!("{}: unusable cache, retraining", path.display()))
            }
            None => {}
        }
        let c = Self::train(Recipe::DEFAULT, train, test, log)?;
        c.save(&path)?;
        Ok(c)
    }

    /// Reads a cache file; `None` if it is missing, damaged or from another version.
    pub fn load(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if CRC.checksum(body).to_le_bytes() != crc {
            return None;
        }
        let file: CacheFile = postcard::from_bytes(body).ok()?;
        if file.version != Recipe::VERSION {
            return None;
        }
        let dev = Cpu::default();
        let mut net = dev.build_module::<ClassifierArch, f32>();
        restore(&mut net, &file.tensors).ok()?;
        Some(Classifier {
            dev,
            net,
            test_accuracy: file.test_accuracy,
        })
    }

    /// Writes the cache file atomically.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let io = |source| ClassifierError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = CacheFile {
            version: Recipe::VERSION,
            test_accuracy: self.test_accuracy,
            tensors: collect(&self.net),
        };
        let mut bytes = postcard::to_stdvec(&file).expect("in-memory serialisation cannot fail");
        bytes.extend_from_slice(&CRC.checksum(&bytes).to_le_bytes());
        write_atomic(path, &bytes).map_err(io)
    }

    /// Trains with `recipe`; fails if the test accuracy is below [`REQUIRED_ACCURACY_PERCENT`].
    pub fn train(
        recipe: Recipe,
        train: &Dataset,
        test: &Dataset,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, ClassifierError> {
        let dev = Cpu::seed_from_u64(recipe.seed);
        let mut net = dev.build_module::<ClassifierArch, f32>();
        let mut grads = net.alloc_grads();
        let mut opt = Adam::new(recipe.lr, [0.9, 0.999], 1e-8);
        let images = scaled(&train.images);
        let mut sampler = BatchSampler::new(recipe.seed, train.len(), recipe.batch);
        let steps_per_epoch = (train.len() / recipe.batch) as u64;
        let steps = steps_per_epoch * recipe.epochs;
        let started = std::time::Instant::now();
        for step in 0..steps {
            if step == steps_per_epoch * recipe.epochs.saturating_sub(1) {
                opt.lr = recipe.lr / 10.0;
            }
            let indices = sampler.indices(step);
            let mut x = Vec::with_capacity(indices.len() * PIXELS);
            let mut y = vec![0.0f32; indices.len() * CLASSES];
            for (row, &i) in indices.iter().enumerate() {
                x.extend_from_slice(&images[i * PIXELS..(i + 1) * PIXELS]);
                y[row * CLASSES + train.labels[i] as usize] = 1.0;
            }
            let n = indices.len();
            let x: Tensor<(usize, Const<PIXELS>), f32, Cpu> = dev.tensor_from_vec(x, (n, Const));
            let y: Tensor<(usize, Const<CLASSES>), f32, Cpu> = dev.tensor_from_vec(y, (n, Const));
            let logits = net.forward_mut(x.traced(grads));
            let loss = cross_entropy_with_logits_loss(logits, y);
            grads = loss.backward();
            opt.update(&mut net, &grads);
            net.zero_grads(&mut grads);
            if (step + 1) % steps_per_epoch == 0 {
                log(&format!(
                    "classifier: epoch {}/{} done ({:.0} s)",
                    (step + 1) / steps_per_epoch,
                    recipe.epochs,
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        let mut c = Classifier {
            dev,
            net,
            test_accuracy: 0.0,
        };
        c.test_accuracy = c.accuracy(test);
        log(&format!(
            "classifier: {:.2} % test accuracy",
            c.test_accuracy
        ));
        if c.test_accuracy < REQUIRED_ACCURACY_PERCENT {
            return Err(ClassifierError::TooWeak {
                accuracy: c.test_accuracy,
                required: REQUIRED_ACCURACY_PERCENT,
            });
        }
        Ok(c)
    }

    /// Percentage of `set` classified correctly.
    pub fn accuracy(&self, set: &Dataset) -> f32 {
        let out = self.run(&set.images);
        let correct = out
            .probabilities
            .chunks_exact(CLASSES)
            .zip(&set.labels)
            .filter(|(p, &label)| argmax(p) == label as usize)
            .count();
        100.0 * correct as f32 / set.len().max(1) as f32
    }

    /// Features and class probabilities of u8 images (784 pixels each, white on black).
    pub fn run(&self, pixels: &[u8]) -> Outputs {
        const CHUNK: usize = 500;
        let count = pixels.len() / PIXELS;
        let mut out = Outputs {
            features: Vec::with_capacity(count * FEATURES),
            probabilities: Vec::with_capacity(count * CLASSES),
        };
        for chunk in pixels.chunks(CHUNK * PIXELS) {
            let n = chunk.len() / PIXELS;
            let x: Tensor<(usize, Const<PIXELS>), f32, Cpu> = self
                .dev
                .tensor_from_vec(scaled(&chunk[..n * PIXELS]), (n, Const));
            let features = self.net.0.forward(x);
            out.features.extend(features.as_vec());
            out.probabilities
                .extend(self.net.1.forward(features).softmax::<Axis<1>>().as_vec());
        }
        out
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}
