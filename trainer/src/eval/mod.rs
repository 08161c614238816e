//! Quality measurement of generated digits with a built-in MNIST classifier: Fréchet distance
//! in its feature space (FID), classifier score, predicted-class histogram, confidence.
//!
//! * [`classifier`]: the CNN, trained once (deterministically) and cached.
//! * [`frechet`]: Gaussian feature statistics and the Fréchet distance.
//! * [`quality`]: the scores of one set of digits.

pub mod classifier;
pub mod frechet;
pub mod quality;

pub use classifier::{Classifier, ClassifierError};
pub use frechet::FeatureStats;
pub use quality::Quality;

use crate::data::{default_cache_dir, Dataset, PIXELS};
use std::path::PathBuf;

/// Digits scored by `trainer eval` and at each evaluation during training.
pub const EVAL_SAMPLES: usize = 10_000;

/// Where the classifier is cached: beside the MNIST cache (`~/.cache/gan-digits/`).
pub fn cache_dir() -> PathBuf {
    let mnist = default_cache_dir();
    mnist.parent().map(PathBuf::from).unwrap_or(mnist)
}

/// The classifier and the MNIST test set's feature statistics: everything needed to score.
pub struct Evaluator {
    /// The classifier.
    pub classifier: Classifier,
    reference: FeatureStats,
}

impl Evaluator {
    /// An evaluator scoring against `test` (the MNIST test set).
    pub fn new(classifier: Classifier, test: &Dataset) -> Self {
        let features = classifier.run(&test.images).features;
        let reference = FeatureStats::from_rows(&features, classifier::FEATURES)
            .expect("the MNIST test set has 10,000 images");
        Evaluator {
            classifier,
            reference,
        }
    }

    /// Loads the cached classifier (training and caching it on first use) and builds the
    /// evaluator.
    pub fn prepare(
        train: &Dataset,
        test: &Dataset,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, ClassifierError> {
        let classifier = Classifier::load_or_train(&cache_dir(), train, test, log)?;
        Ok(Evaluator::new(classifier, test))
    }

    /// Scores u8 digits (784 pixels each, white on black). `asked` holds the class each digit
    /// was generated for, if any. `None` for fewer than two digits.
    pub fn score(&self, pixels: &[u8], asked: Option<&[u8]>) -> Option<Quality> {
        debug_assert_eq!(pixels.len() % PIXELS, 0);
        quality::score(&self.classifier.run(pixels), &self.reference, asked)
    }
}
