//! Gaussian statistics of feature vectors and the Fréchet distance between two of them
//! (Heusel et al., 2017): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½).

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Mean and covariance of a set of feature vectors, in f64.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    /// Mean vector.
    pub mean: DVector<f64>,
    /// Covariance (unbiased, n − 1).
    pub covariance: DMatrix<f64>,
    /// Vectors the statistics were computed from.
    pub count: usize,
}

impl FeatureStats {
    /// Statistics of `features`, `dim` values per row. Needs at least two rows.
    pub fn from_rows(features: &[f32], dim: usize) -> Option<Self> {
        let count = features.len() / dim;
        if count < 2 || dim == 0 {
            return None;
        }
        let x = DMatrix::from_row_iterator(
            count,
            dim,
            features[..count * dim].iter().map(|&v| f64::from(v)),
        );
        let mean = x.row_mean().transpose();
        let mut centred = x;
        for mut row in centred.row_iter_mut() {
            row -= mean.transpose();
        }
        let covariance = centred.transpose() * &centred / (count - 1) as f64;
        Some(FeatureStats {
            mean,
            covariance,
            count,
        })
    }

    /// The Fréchet distance between the Gaussians fitted to `self` and `other`.
    pub fn frechet_distance(&self, other: &FeatureStats) -> f64 {
        let mean_term = (&self.mean - &other.mean).norm_squared();
        // Tr((Σ₁Σ₂)^½) = Tr((Σ₁^½ Σ₂ Σ₁^½)^½): the inner matrix is symmetric PSD, so its square
        // root's trace is the sum of the square roots of its eigenvalues.
        let root = psd_sqrt(&self.covariance);
        let inner = &root * &other.covariance * &root;
        let inner = (&inner + inner.transpose()) * 0.5; // remove rounding asymmetry
        let cross: f64 = SymmetricEigen::new(inner)
            .eigenvalues
            .iter()
            .map(|&l| l.max(0.0).sqrt())
            .sum();
        (mean_term + self.covariance.trace() + other.covariance.trace() - 2.0 * cross).max(0.0)
    }
}

/// The square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues from
/// rounding are treated as zero).
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(m.clone());
    let roots = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&roots) * eig.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: &[f64], cov: DMatrix<f64>) -> FeatureStats {
        FeatureStats {
            mean: DVector::from_column_slice(mean),
            covariance: cov,
            count: 100,
        }
    }

    #[test]
    fn identical_gaussians_are_at_distance_zero() {
        let cov = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0]);
        let a = stats(&[1.0, -1.0], cov);
        assert!(a.frechet_distance(&a).abs() < 1e-9);
    }

    #[test]
    fn diagonal_gaussians_match_the_closed_form() {
        // For diagonal covariances the distance is Σ (μ₁−μ₂)² + (√σ₁² − √σ₂²)².
        let a = stats(
            &[0.0, 1.0, 2.0],
            DMatrix::from_diagonal(&DVector::from_column_slice(&[1.0, 4.0, 9.0])),
        );
        let b = stats(
            &[1.0, 1.0, 0.0],
            DMatrix::from_diagonal(&DVector::from_column_slice(&[4.0, 1.0, 1.0])),
        );
        let expected = (1.0 + 0.0 + 4.0) + (1.0 + 1.0 + 4.0);
        assert!((a.frechet_distance(&b) - expected).abs() < 1e-9);
        assert!((b.frechet_distance(&a) - expected).abs() < 1e-9);
    }

    #[test]
    fn non_commuting_covariances_match_a_scalar_rotation_case() {
        // Σ₂ = R Σ₁ Rᵀ with Σ₁ = diag(4, 1) rotated by 90°: Σ₂ = diag(1, 4), so
        // Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) = 10 − 2·(2 + 2) = 2.
        let a = stats(
            &[0.0, 0.0],
            DMatrix::from_row_slice(2, 2, &[4.0, 0.0, 0.0, 1.0]),
        );
        let b = stats(
            &[0.0, 0.0],
            DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 4.0]),
        );
        assert!((a.frechet_distance(&b) - 2.0).abs() < 1e-9);
        // A full (non-diagonal) pair: checked against (Σ₁Σ₂)^½ computed by hand for
        // Σ₁ = [[2,1],[1,2]], Σ₂ = I: Tr(Σ₁^½) = √3 + 1, so d = (4 + 2) − 2(√3 + 1).
        let c = stats(
            &[0.0, 0.0],
            DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]),
        );
        let i = stats(&[0.0, 0.0], DMatrix::identity(2, 2));
        let expected = 6.0 - 2.0 * (3f64.sqrt() + 1.0);
        assert!((c.frechet_distance(&i) - expected).abs() < 1e-9);
    }

    #[test]
    fn stats_from_rows_are_the_sample_mean_and_unbiased_covariance() {
        let rows = [1.0f32, 2.0, 3.0, 6.0, 5.0, 10.0];
        let s = FeatureStats::from_rows(&rows, 2).expect("three rows");
        assert_eq!(s.mean.as_slice(), &[3.0, 6.0]);
        // x: 1,3,5 (var 4); y: 2,6,10 (var 16); cov 8.
        assert_eq!(s.covariance.as_slice(), &[4.0, 8.0, 8.0, 16.0]);
        assert!(FeatureStats::from_rows(&rows[..2], 2).is_none());
    }
}
