//! Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", §3): appends
//! one feature to every row, the same for the whole batch: the standard deviation of each feature
//! over the batch, averaged over the features. A generator that makes too little variety gives
//! itself away through that number, so the discriminator can punish it. It goes into a
//! discriminator, just before its last layer; the generator (and so the firmware) is unchanged.
//!
//! The output width is part of the type, because stable Rust cannot write `Const<{ N + 1 }>`:
//! `MinibatchStd<3137>` follows 3,136 features, and any other pairing is a build error.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::MinibatchStd;
//!
//! let dev: Cpu = Default::default();
//! let x = dev.tensor_from_vec(vec![1.0f32, 2.0, 3.0, 6.0], (2usize, Const::<2>));
//! let y: Tensor<(usize, Const<3>), f32, _> = MinibatchStd::<3>.forward(x);
//! // Per feature over the batch: std(1, 3) = 1, std(2, 6) = 2; their mean is 1.5.
//! let expected = [1.0, 2.0, 1.5, 3.0, 6.0, 1.5];
//! assert!(y.as_vec().iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-4));
//! ```
//!
//! ```compile_fail,E0080
//! use dfdx::prelude::*;
//! use trainer::nn::MinibatchStd;
//!
//! let dev: Cpu = Default::default();
//! let x: Tensor<(usize, Const<4>), f32, _> = dev.zeros_like(&(2, Const));
//! let y = MinibatchStd::<4>.forward(x); // 4 features make 5 outputs, not 4
//! ```

use dfdx::prelude::*;

/// Keeps the square root's gradient finite when every row is equal (the spread is then 0).
const EPSILON: f64 = 1e-8;

/// Appends the batch's mean per-feature standard deviation to every row: `(B, N) → (B, OUT)`,
/// where `OUT` must be `N + 1` (checked at compile time). Zero-sized; no parameters.
///
/// The standard deviation is the biased one (divided by the batch size), as in the paper; a batch
/// of one row gets `√ε ≈ 0`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MinibatchStd<const OUT: usize>;

impl<const OUT: usize> ZeroSizedModule for MinibatchStd<OUT> {}
impl<const OUT: usize> NonMutableModule for MinibatchStd<OUT> {}

impl<const N: usize, const OUT: usize, B: Dim, E: Dtype, D: Device<E>, T: Tape<E, D>>
    Module<Tensor<(B, Const<N>), E, D, T>> for MinibatchStd<OUT>
{
    type Output = Tensor<(B, Const<OUT>), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<N>), E, D, T>) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                OUT == N + 1,
                "MinibatchStd<OUT>: OUT must be the input width + 1"
            )
        };
        let batch = x.shape().0;
        // Both branches start from `x`; dfdx adds their gradients into `x`'s.
        let spread = x
            .with_empty_tape()
            .try_stddev::<Rank1<N>, Axis<0>>(EPSILON)?
            .try_mean::<Rank0, _>()?
            .try_broadcast_like(&(batch, 1usize))?;
        let features = x.try_realize::<(B, usize)>().unwrap_or_else(|_| {
            unreachable!("a Const width always realizes as usize");
        });
        let rows = (features, spread).try_concat_along(Axis::<1>)?;
        // The concatenation is N + 1 = OUT wide, asserted above.
        Ok(rows
            .try_realize::<(B, Const<OUT>)>()
            .unwrap_or_else(|_| unreachable!("OUT == N + 1 is asserted at compile time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_mean_standard_deviation_over_the_batch() {
        let dev: Cpu = Default::default();
        let rows: [[f32; 3]; 3] = [[0.0, 10.0, -1.0], [2.0, 10.0, 1.0], [4.0, 10.0, 3.0]];
        let x = dev.tensor(rows).realize::<(usize, Const<3>)>();
        let y = MinibatchStd::<4>.forward(x);
        assert_eq!(y.shape().0, 3);
        // Per feature: std(0, 2, 4) = √(8/3), std(10, 10, 10) = 0, std(-1, 1, 3) = √(8/3).
        let spread = (2.0 * (8.0f64 / 3.0).sqrt() / 3.0) as f32;
        for (row, got) in rows.iter().zip(y.as_vec().chunks(4)) {
            assert_eq!(&got[..3], row.as_slice());
            assert!((got[3] - spread).abs() < 1e-4, "{got:?} vs {spread}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev: Cpu = Default::default();
        let values: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 * 0.3 - 0.5).collect();
        let weights: Vec<f64> = (0..16).map(|i| (i as f64 * 0.37).sin()).collect();
        let input = |v: &[f64]| -> Tensor<(usize, Const<3>), f64, Cpu> {
            dev.tensor_from_vec(v.to_vec(), (4usize, Const::<3>))
        };
        let w = dev.tensor_from_vec(weights.clone(), (4usize, Const::<4>));
        let x = input(&values);
        let grads = (MinibatchStd::<4>.forward(x.leaky_trace()) * w.clone())
            .sum()
            .backward();
        let analytic = grads.get(&x).as_vec();
        let value = |v: &[f64]| -> f64 {
            (MinibatchStd::<4>.forward(input(v)) * w.clone())
                .sum::<Rank0, _>()
                .array()
        };
        let h = 1e-6;
        for i in 0..values.len() {
            let (mut up, mut down) = (values.clone(), values.clone());
            up[i] += h;
            down[i] -= h;
            let numeric = (value(&up) - value(&down)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 1e-6,
                "element {i}: finite difference {numeric}, backward {}",
                analytic[i]
            );
        }
    }
}
