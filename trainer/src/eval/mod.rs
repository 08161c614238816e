//! Quality measurement of generated digits with a built-in MNIST classifier: Fréchet distance
//! in its feature space (FID), precision and recall (k-nearest-neighbour manifolds in the same
//! feature space), classifier score, predicted-class histogram, confidence.
//!
//! * [`classifier`]: the CNN, trained once (deterministically) and cached.
//! * [`frechet`]: Gaussian feature statistics and the Fréchet distance.
//! * [`manifold`]: k-nearest-neighbour manifolds, precision and recall.
//! * [`reference`]: the real digits' statistics and manifold that the scores compare with.
//! * [`quality`]: the scores of one set of digits.

pub mod classifier;
pub mod frechet;
pub mod manifold;
pub mod quality;
pub mod reference;

pub use classifier::{Classifier, ClassifierError};
pub use frechet::FeatureStats;
pub use quality::Quality;
pub use reference::Reference;

use crate::data::{default_cache_dir, Dataset, PIXELS};
use std::path::PathBuf;

/// Digits scored by `trainer eval` and at each evaluation during training.
pub const EVAL_SAMPLES: usize = 10_000;
/// Digits whose precision and recall are measured during training (against as many reference
/// digits): a fifth of [`EVAL_SAMPLES`], so each evaluation stays cheap. These numbers follow the
/// trend; `trainer eval` measures all [`EVAL_SAMPLES`].
pub const TRAINING_COVERAGE_SAMPLES: usize = 2_000;

/// Where the classifier is cached: beside the MNIST cache (`~/.cache/gan-digits/`).
pub fn cache_dir() -> PathBuf {
    let mnist = default_cache_dir();
    mnist.parent().map(PathBuf::from).unwrap_or(mnist)
}

/// The classifier and the reference digits' features: everything needed to score.
pub struct Evaluator {
    /// The classifier.
    pub classifier: Classifier,
    reference: Reference,
}

impl Evaluator {
    /// An evaluator scoring against `reference` (the MNIST test set, or during training the
    /// validation images held out of the training set); precision and recall use the first
    /// `coverage_samples` of its images. Panics for fewer than four images.
    pub fn new(classifier: Classifier, reference: &Dataset, coverage_samples: usize) -> Self {
        let outputs = classifier.run(&reference.images);
        let reference = Reference::new(&outputs, coverage_samples)
            .expect("the reference set has at least 4 images");
        Evaluator {
            classifier,
            reference,
        }
    }

    /// Loads the cached classifier (training and caching it on first use) and builds the
    /// evaluator scoring against `reference` (see [`new`](Self::new)).
    pub fn prepare(
        train: &Dataset,
        test: &Dataset,
        reference: &Dataset,
        coverage_samples: usize,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, ClassifierError> {
        let classifier = Classifier::load_or_train(&cache_dir(), train, test, log)?;
        Ok(Evaluator::new(classifier, reference, coverage_samples))
    }

    /// Scores u8 digits (784 pixels each, white on black). `asked` holds the class each digit
    /// was generated for, if any. `None` for fewer than two digits.
    pub fn score(&self, pixels: &[u8], asked: Option<&[u8]>) -> Option<Quality> {
        debug_assert_eq!(pixels.len() % PIXELS, 0);
        quality::score(&self.classifier.run(pixels), &self.reference, asked)
    }
}
