//! The scores of a set of generated digits, from the classifier's outputs.

use super::classifier::{argmax, Outputs, CLASSES, FEATURES};
use super::frechet::FeatureStats;

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
}

/// Scores `outputs` against `reference` (the MNIST test set's feature statistics). `asked`, if
/// given, holds the class each digit was generated for. `None` for fewer than two digits.
pub fn score(outputs: &Outputs, reference: &FeatureStats, asked: Option<&[u8]>) -> Option<Quality> {
    let stats = FeatureStats::from_rows(&outputs.features, FEATURES)?;
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
        fid: stats.frechet_distance(reference),
        classifier_score: mean_kl.exp(),
        class_histogram: histogram,
        class_entropy_bits: entropy,
        min_class_share: shares.iter().copied().fold(f64::INFINITY, f64::min),
        max_class_share: shares.iter().copied().fold(0.0, f64::max),
        mean_confidence: confidence,
        conditional_accuracy,
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
        let reference = FeatureStats::from_rows(&out.features, FEATURES).expect("rows");
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
    }

    #[test]
    fn mode_collapse_and_ambiguity_show() {
        let collapsed = outputs(vec![one_hot(3); 50]);
        let reference = FeatureStats::from_rows(&collapsed.features, FEATURES).expect("rows");
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
        let reference = FeatureStats::from_rows(&outputs(vec![one_hot(0); 2]).features, FEATURES)
            .expect("rows");
        assert!(score(&out, &reference, None).is_none());
    }
}
