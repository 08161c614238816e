//! Precision and recall of generated digits with k-nearest-neighbour manifolds (Kynkäänniemi et
//! al., "Improved Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019).
//!
//! Each set of feature vectors stands for the manifold covered by balls around its points, each
//! ball reaching the point's k-th nearest neighbour within the same set. **Precision** is the
//! share of generated points inside the real manifold (are the digits realistic?); **recall** the
//! share of real points inside the generated manifold (does the generator reach all the variety
//! of real handwriting?). FID mixes both into one number; these two tell them apart.

use dfdx::prelude::*;
use rayon::prelude::*;

/// Neighbours that set a point's ball radius (the paper's default is 3).
pub const K: usize = 3;

/// Rows of the distance matrix computed at once (1,024 × 10,000 distances: 40 MB).
const BLOCK: usize = 1024;

type Matrix = Tensor<(usize, usize), f32, Cpu>;

/// A set of feature vectors with the radius of each point's k-nearest-neighbour ball.
#[derive(Debug, Clone)]
pub struct Manifold {
    /// The feature vectors, row-major.
    points: Vec<f32>,
    dim: usize,
    /// Squared length of each point (for ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b).
    norms: Vec<f32>,
    /// Squared distance from each point to its `k`-th nearest neighbour (itself excluded).
    radii: Vec<f32>,
}

/// Where a set of generated points lies relative to a real set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionRecall {
    /// Share of generated points inside the real manifold.
    pub precision: f64,
    /// Share of real points inside the generated manifold.
    pub recall: f64,
}

impl Manifold {
    /// The manifold of `features` (`dim` values per row) with balls reaching the `k`-th nearest
    /// neighbour. `None` unless there are more than `k` rows.
    pub fn new(features: &[f32], dim: usize, k: usize) -> Option<Self> {
        let rows = features.len().checked_div(dim)?;
        if k == 0 || rows <= k {
            return None;
        }
        let points = features[..rows * dim].to_vec();
        let norms = squared_norms(&points, dim);
        let all = matrix(&points, dim);
        let mut radii = vec![0f32; rows];
        for first in (0..rows).step_by(BLOCK) {
            let last = (first + BLOCK).min(rows);
            let block = &points[first * dim..last * dim];
            let distances = squared_distances(block, &norms[first..last], &all, &norms);
            distances
                .par_chunks_exact(rows)
                .zip(radii[first..last].par_iter_mut())
                .enumerate()
                .for_each(|(row, (d, radius))| {
                    let mut d = d.to_vec();
                    // The point itself is no neighbour.
                    d.swap_remove(first + row);
                    let (_, kth, _) = d.select_nth_unstable_by(k - 1, f32::total_cmp);
                    *radius = *kth;
                });
        }
        Some(Manifold {
            points,
            dim,
            norms,
            radii,
        })
    }

    /// Points in the set.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    /// Whether the set is empty (never, for a constructed manifold).
    pub fn is_empty(&self) -> bool {
        self.norms.is_empty()
    }

    /// Length of each feature vector.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

/// Precision of `generated` against `real`, and recall of `real` by `generated`. Both manifolds
/// must have the same feature length.
pub fn precision_recall(real: &Manifold, generated: &Manifold) -> PrecisionRecall {
    assert_eq!(real.dim(), generated.dim(), "feature lengths differ");
    let (n_real, n_gen, dim) = (real.len(), generated.len(), real.dim);
    let real_points = matrix(&real.points, dim);
    let mut realistic = 0usize;
    let mut covered = vec![false; n_real];
    for first in (0..n_gen).step_by(BLOCK) {
        let last = (first + BLOCK).min(n_gen);
        let distances = squared_distances(
            &generated.points[first * dim..last * dim],
            &generated.norms[first..last],
            &real_points,
            &real.norms,
        );
        realistic += distances
            .par_chunks_exact(n_real)
            .filter(|d| d.iter().zip(&real.radii).any(|(d, r)| d <= r))
            .count();
        // Column j is covered if some generated point's ball of this block reaches it.
        let radii = &generated.radii[first..last];
        covered.par_iter_mut().enumerate().for_each(|(j, c)| {
            if !*c {
                *c = radii
                    .iter()
                    .enumerate()
                    .any(|(i, r)| distances[i * n_real + j] <= *r);
            }
        });
    }
    PrecisionRecall {
        precision: realistic as f64 / n_gen as f64,
        recall: covered.iter().filter(|&&c| c).count() as f64 / n_real as f64,
    }
}

fn squared_norms(features: &[f32], dim: usize) -> Vec<f32> {
    features
        .chunks_exact(dim)
        .map(|row| row.iter().map(|v| v * v).sum())
        .collect()
}

fn matrix(points: &[f32], dim: usize) -> Matrix {
    Cpu::default().tensor_from_vec(points.to_vec(), (points.len() / dim, dim))
}

/// Squared distances from each row of `block` (with squared lengths `block_norms`) to every row
/// of `b`, row-major (`block rows × b rows`), clamped at zero against rounding.
fn squared_distances(block: &[f32], block_norms: &[f32], b: &Matrix, b_norms: &[f32]) -> Vec<f32> {
    let rows = block_norms.len();
    let a = matrix(block, b.shape().1);
    let mut dots = a.matmul(b.clone().permute::<_, Axes2<1, 0>>()).as_vec();
    dots.par_chunks_exact_mut(b_norms.len())
        .zip(block_norms)
        .for_each(|(row, &an)| {
            for (d, &bn) in row.iter_mut().zip(b_norms) {
                *d = (an + bn - 2.0 * *d).max(0.0);
            }
        });
    debug_assert_eq!(dots.len(), rows * b_norms.len());
    dots
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line: 0, 1, 2, … (1-D features).
    fn line(values: &[f32]) -> Manifold {
        Manifold::new(values, 1, 1).expect("enough points")
    }

    #[test]
    fn radii_reach_the_kth_neighbour_without_the_point_itself() {
        let m = Manifold::new(&[0.0, 1.0, 3.0, 7.0], 1, 2).expect("four points");
        // Neighbours of 0: 1, 3 → 2nd at distance 3; of 1: 0, 3 → 2; of 3: 1, 0 → 3; of 7: 3, 1 → 6.
        assert_eq!(m.radii, vec![9.0, 4.0, 9.0, 36.0]);
        assert!(
            Manifold::new(&[0.0, 1.0], 1, 2).is_none(),
            "needs more than k points"
        );
    }

    #[test]
    fn a_set_against_itself_has_full_precision_and_recall() {
        let features: Vec<f32> = (0..3000).map(|i| ((i * 7919) % 1013) as f32).collect();
        let m = Manifold::new(&features, 3, K).expect("1,000 points");
        let pr = precision_recall(&m, &m);
        assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
    }

    #[test]
    fn precision_and_recall_count_the_points_inside_the_other_sets_balls() {
        // Real: 0..10 (radius 1 each); generated: 0, 0.5, 1, 1.5 (radius 0.5) and 20 (far away).
        let real = line(&(0..10).map(|i| i as f32).collect::<Vec<_>>());
        let generated = line(&[0.0, 0.5, 1.0, 1.5, 20.0]);
        let pr = precision_recall(&real, &generated);
        // 4 of 5 generated points are inside a real ball; 20's ball (radius 18.5) reaches every
        // real point.
        assert_eq!(pr.precision, 0.8);
        assert_eq!(pr.recall, 1.0);

        // Without the outlier only the reals within 0.5 of a generated point are covered: 0, 1, 2.
        let generated = line(&[0.0, 0.5, 1.0, 1.5]);
        let pr = precision_recall(&real, &generated);
        assert_eq!((pr.precision, pr.recall), (1.0, 0.3));
    }

    #[test]
    fn a_repeated_point_covers_nothing_but_itself() {
        let real: Vec<f32> = (0..2000).map(|i| ((i * 31) % 97) as f32).collect();
        let real = Manifold::new(&real, 2, K).expect("1,000 points");
        let generated = Manifold::new(&[1.0, 2.0].repeat(500), 2, K).expect("500 points");
        let pr = precision_recall(&real, &generated);
        assert!(pr.recall < 0.01, "{pr:?}");
    }

    #[test]
    fn blocks_give_the_same_answer_as_one_pass() {
        // More rows than one block, so the blocked loops are exercised.
        let f = |seed: usize, n: usize| -> Vec<f32> {
            (0..n * 4)
                .map(|i| (((i + seed) * 2654435761) % 1000) as f32 / 100.0)
                .collect()
        };
        let real = Manifold::new(&f(1, 2500), 4, K).expect("rows");
        let generated = Manifold::new(&f(7, 1500), 4, K).expect("rows");
        let pr = precision_recall(&real, &generated);
        // The same by brute force.
        let dist =
            |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>();
        let (rv, gv) = (&real.points, &generated.points);
        let inside = |point: &[f32], set: &[f32], radii: &[f32]| {
            set.chunks_exact(4)
                .zip(radii)
                .any(|(q, r)| dist(point, q) <= *r * (1.0 + 1e-5))
        };
        let precision = gv
            .chunks_exact(4)
            .filter(|p| inside(p, rv, &real.radii))
            .count() as f64
            / 1500.0;
        let recall = rv
            .chunks_exact(4)
            .filter(|p| inside(p, gv, &generated.radii))
            .count() as f64
            / 2500.0;
        assert!(
            (pr.precision - precision).abs() < 0.002,
            "{pr:?} vs {precision}"
        );
        assert!((pr.recall - recall).abs() < 0.002, "{pr:?} vs {recall}");
    }
}
