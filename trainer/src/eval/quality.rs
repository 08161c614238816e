//! The scores of a set of generated digits, from the classifier's outputs.

use super::classifier::{argmax, Outputs, CLASSES, COVERAGE_FEATURES, FEATURES};
use super::frechet::FeatureStats;
use super::manifold::{precision_recall, Manifold, K};
use super::reference::Reference;

/// How good a set of digits is, by the built-in MNIST classifier.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    /// Digits scored.
    pub samples: u32,
    /// Fréchet distance to the MNIST test set in the classifier's feature space (lower is
    /// better; real training images score the floor).
    pub fid: f64,
    /// exp(E[KL(p(y|x) ‖ p(y))]), the Inception-score analogue: 10 for confident, balanced
    /// digits, 1 for ambiguous or single-class ones.
    pub classifier_score: f64,
    /// How many digits were classified as each class.
    pub class_histogram: [u32; CLASSES],
    /// Entropy of that histogram in bits (log₂ 10 ≈ 3.32 when perfectly balanced).
    pub class_entropy_bits: f64,
    /// Share of the rarest class.
    pub min_class_share: f64,
    /// Share of the commonest class.
    pub max_class_share: f64,
    /// Mean probability of the predicted class.
    pub mean_confidence: f64,
    /// For digits asked for a class: the share classified as that class.
    pub conditional_accuracy: Option<f64>,
    /// Share of the digits inside the reference's k-nearest-neighbour manifold (Kynkäänniemi et
    /// al. 2019, k = 3): how many look real. `None` for fewer than k + 1 digits, and in
    /// checkpoints written before it existed.
    pub precision: Option<f64>,
    /// Share of the reference digits inside the digits' k-nearest-neighbour manifold: how much of
    /// the variety of real handwriting the digits reach. `None` as for `precision`.
    pub recall: Option<f64>,
}

/// [`Quality`] as checkpoints stored it before precision and recall existed (format version 2).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct QualityV1 {
    samples: u32,
    fid: f64,
    classifier_score: f64,
    class_histogram: [u32; CLASSES],
    class_entropy_bits: f64,
    min_class_share: f64,
    max_class_share: f64,
    mean_confidence: f64,
    conditional_accuracy: Option<f64>,
}

impl From<QualityV1> for Quality {
    fn from(v1: QualityV1) -> Self {
        Quality {
            samples: v1.samples,
            fid: v1.fid,
            classifier_score: v1.classifier_score,
            class_histogram: v1.class_histogram,
            class_entropy_bits: v1.class_entropy_bits,
            min_class_share: v1.min_class_share,
            max_class_share: v1.max_class_share,
            mean_confidence: v1.mean_confidence,
            conditional_accuracy: v1.conditional_accuracy,
            precision: None,
            recall: None,
        }
    }
}

/// Scores `outputs` against `reference` (real digits' features). `asked`, if given, holds the
/// class each digit was generated for. Precision and recall compare the first digits, as many as
/// the reference's manifold holds, with that manifold. `None` for fewer than two digits.
pub fn score(outputs: &Outputs, reference: &Reference, asked: Option<&[u8]>) -> Option<Quality> {
    let stats = FeatureStats::from_rows(&outputs.features, FEATURES)?;
    let samples = reference
        .manifold
        .len()
        .min(outputs.coverage_features.len() / COVERAGE_FEATURES);
    let coverage = Manifold::new(
        &outputs.coverage_features[..samples * COVERAGE_FEATURES],
        COVERAGE_FEATURES,
        K,
    )
    .map(|generated| precision_recall(&reference.manifold, &generated));
    let probabilities: Vec<&[f32]> = outputs.probabilities.chunks_exact(CLASSES).collect();
    let n = probabilities.len() as f64;

    let mut marginal = [0f64; CLASSES];
    let mut histogram = [0u32; CLASSES];
    let mut confidence = 0.0;
    for p in &probabilities {
        for (m, &v) in marginal.iter_mut().zip(p.iter()) {
            *m += f64::from(v) / n;
        }
        let top = argmax(p);
        histogram[top] += 1;
        confidence += f64::from(p[top]);
    }
    // Summed first, divided once: exact for exact inputs (100 × 1.0 / 100 = 1.0).
    let confidence = confidence / n;
    let mean_kl = probabilities
        .iter()
        .map(|p| {
            p.iter()
                .zip(&marginal)
                .filter(|(&v, _)| v > 0.0)
                .map(|(&v, &m)| f64::from(v) * (f64::from(v).ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n;
    let shares = histogram.map(|c| f64::from(c) / n);
    let entropy = -shares
        .iter()
        .filter(|&&s| s > 0.0)
        .map(|&s| s * s.log2())
        .sum::<f64>();
    let conditional_accuracy = asked.map(|asked| {
        let hits = probabilities
            .iter()
            .zip(asked)
            .filter(|(p, &class)| argmax(p) == class as usize)
            .count();
        hits as f64 / n
    });
    Some(Quality {
        samples: probabilities.len() as u32,
        fid: stats.frechet_distance(&reference.stats),
        classifier_score: mean_kl.exp(),
        class_histogram: histogram,
        class_entropy_bits: entropy,
        min_class_share: shares.iter().copied().fold(f64::INFINITY, f64::min),
        max_class_share: shares.iter().copied().fold(0.0, f64::max),
        mean_confidence: confidence,
        conditional_accuracy,
        precision: coverage.map(|c| c.precision),
        recall: coverage.map(|c| c.recall),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs whose features are random-ish and whose probabilities are given.
    fn outputs(probabilities: Vec<[f32; CLASSES]>) -> Outputs {
        let n = probabilities.len();
        Outputs {
            features: (0..n * FEATURES)
                .map(|i| ((i * 7919) % 101) as f32 / 10.0)
                .collect(),
            probabilities: probabilities.into_iter().flatten().collect(),
            coverage_features: (0..n * COVERAGE_FEATURES)
                .map(|i| ((i * 7919) % 103) as f32 / 10.0)
                .collect(),
        }
    }

    fn one_hot(class: usize) -> [f32; CLASSES] {
        let mut p = [0.0; CLASSES];
        p[class] = 1.0;
        p
    }

    #[test]
    fn confident_balanced_digits_score_ten_and_full_entropy() {
        let out = outputs((0..100).map(|i| one_hot(i % 10)).collect());
        let reference = Reference::new(&out, 1000).expect("rows");
        let asked: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
        let q = score(&out, &reference, Some(&asked)).expect("scored");
        assert!((q.classifier_score - 10.0).abs() < 1e-9);
        assert!((q.class_entropy_bits - 10f64.log2()).abs() < 1e-9);
        assert_eq!(q.class_histogram, [10; CLASSES]);
        assert_eq!((q.min_class_share, q.max_class_share), (0.1, 0.1));
        assert_eq!(q.mean_confidence, 1.0);
        assert_eq!(q.conditional_accuracy, Some(1.0));
        assert!(
            q.fid.abs() < 1e-6,
            "same features as the reference: {}",
            q.fid
        );
        assert_eq!((q.precision, q.recall), (Some(1.0), Some(1.0)));
    }

    #[test]
    fn mode_collapse_and_ambiguity_show() {
        let collapsed = outputs(vec![one_hot(3); 50]);
        let reference = Reference::new(&collapsed, 1000).expect("rows");
        let q = score(&collapsed, &reference, Some(&[4; 50])).expect("scored");
        assert!((q.classifier_score - 1.0).abs() < 1e-9);
        assert_eq!(q.class_entropy_bits, 0.0);
        assert_eq!((q.min_class_share, q.max_class_share), (0.0, 1.0));
        assert_eq!(q.conditional_accuracy, Some(0.0));

        let ambiguous = outputs(vec![[0.1; CLASSES]; 50]);
        let q = score(&ambiguous, &reference, None).expect("scored");
        assert!((q.classifier_score - 1.0).abs() < 1e-6);
        assert!((q.mean_confidence - 0.1).abs() < 1e-6);
        assert_eq!(q.conditional_accuracy, None);
    }

    #[test]
    fn one_digit_cannot_be_scored() {
        let out = outputs(vec![one_hot(0)]);
        let reference = Reference::new(&outputs(vec![one_hot(0); 4]), 4).expect("rows");
        assert!(score(&out, &reference, None).is_none());
        // Two digits have a FID but no 3-nearest-neighbour manifold.
        let q = score(&outputs(vec![one_hot(0); 2]), &reference, None).expect("scored");
        assert_eq!((q.precision, q.recall), (None, None));
    }
}
