//! The real digits the scores compare with: the Gaussian statistics of their classifier features
//! (for FID) and the k-nearest-neighbour manifold of their convolution maps (for precision and
//! recall).

use super::classifier::{Outputs, COVERAGE_FEATURES, FEATURES};
use super::frechet::FeatureStats;
use super::manifold::{Manifold, K};

/// Feature statistics and manifold of a set of real digits.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Mean and covariance of the features of every reference digit.
    pub stats: FeatureStats,
    /// The k-nearest-neighbour manifold (`K` neighbours) of the first `coverage_samples` digits.
    pub manifold: Manifold,
}

impl Reference {
    /// The reference of the classifier's `outputs` on real digits; the manifold holds the first
    /// `coverage_samples` of them. `None` for fewer than `K + 1` digits or samples.
    pub fn new(outputs: &Outputs, coverage_samples: usize) -> Option<Self> {
        let count = outputs.features.len() / FEATURES;
        let samples = coverage_samples.min(count);
        Some(Reference {
            stats: FeatureStats::from_rows(&outputs.features, FEATURES)?,
            manifold: Manifold::new(
                &outputs.coverage_features[..samples * COVERAGE_FEATURES],
                COVERAGE_FEATURES,
                K,
            )?,
        })
    }
}
