//! [`Flatten`] `(B, C, H, W) → (B, C·H·W)` and [`Unflatten`] `(B, N) → (B, C, H, W)`, with
//! compile-time checked sizes.
//!
//! Stable Rust cannot write the type `Const<{ C * H * W }>` for generic `C, H, W`. `Flatten`
//! therefore looks the flattened size up through [`FlattenShape`], which `dims.rs` implements for
//! a list of shapes (add yours there: one more `(c, h, w)`); an unlisted shape fails to compile.
//! `Unflatten<C, H, W>` takes its input size `N` from the input type and checks `N == C·H·W` with
//! a `const` assertion, so a wrong size is a build error too (raised when the model is first used
//! with that shape), not a run-time panic.
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::{Flatten, Unflatten};
//!
//! let dev: Cpu = Default::default();
//! let x: Tensor<Rank2<4, 3136>, f32, _> = dev.zeros();
//! let img: Tensor<Rank4<4, 64, 7, 7>, f32, _> = Unflatten::<64, 7, 7>.forward(x);
//! let flat: Tensor<Rank2<4, 3136>, f32, _> = Flatten.forward(img);
//! # let _ = flat;
//! ```
//!
//! ```compile_fail,E0080
//! use dfdx::prelude::*;
//! use trainer::nn::Unflatten;
//!
//! let dev: Cpu = Default::default();
//! let x: Tensor<Rank2<4, 3000>, f32, _> = dev.zeros();
//! let img = Unflatten::<64, 7, 7>.forward(x); // 64·7·7 = 3136: evaluating the assertion fails
//! ```
//!
//! ```compile_fail,E0277
//! use dfdx::prelude::*;
//! use trainer::nn::Flatten;
//!
//! let dev: Cpu = Default::default();
//! let img: Tensor<Rank4<4, 3, 5, 5>, f32, _> = dev.zeros();
//! let flat = Flatten.forward(img); // (3, 5, 5) is not listed in `flatten_shapes!`
//! ```

use dfdx::prelude::*;

use super::dims::FlattenShape;

/// Flattens `(B, C, H, W)` to `(B, C·H·W)` (and `(C, H, W)` to `(C·H·W,)`), row-major like
/// PyTorch's `nn.Flatten()`. `(C, H, W)` must implement [`FlattenShape`] (see `dims.rs`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flatten;

/// Unflattens `(B, N)` to `(B, C, H, W)` (and `(N,)` to `(C, H, W)`), where `N` must equal
/// `C·H·W` (checked at compile time). Row-major, like PyTorch's `nn.Unflatten(1, (C, H, W))`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unflatten<const C: usize, const H: usize, const W: usize>;

impl ZeroSizedModule for Flatten {}
impl NonMutableModule for Flatten {}
impl<const C: usize, const H: usize, const W: usize> ZeroSizedModule for Unflatten<C, H, W> {}
impl<const C: usize, const H: usize, const W: usize> NonMutableModule for Unflatten<C, H, W> {}

impl<B: Dim, C: Dim, H: Dim, W: Dim, E, D, T> Module<Tensor<(B, C, H, W), E, D, T>> for Flatten
where
    (C, H, W): FlattenShape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, <(C, H, W) as FlattenShape>::Flat), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        let batch = x.shape().0;
        x.try_reshape_like(&(batch, Default::default()))
    }
}

impl<C: Dim, H: Dim, W: Dim, E, D, T> Module<Tensor<(C, H, W), E, D, T>> for Flatten
where
    (C, H, W): FlattenShape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<(<(C, H, W) as FlattenShape>::Flat,), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        x.try_reshape_like(&Default::default())
    }
}

impl<const N: usize, B: Dim, const C: usize, const H: usize, const W: usize, E, D, T>
    Module<Tensor<(B, Const<N>), E, D, T>> for Unflatten<C, H, W>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<C>, Const<H>, Const<W>), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<N>), E, D, T>) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                N == C * H * W,
                "Unflatten<C, H, W>: the input size must equal C * H * W"
            )
        };
        let batch = x.shape().0;
        x.try_reshape_like(&(batch, Const::<C>, Const::<H>, Const::<W>))
    }
}

impl<const N: usize, const C: usize, const H: usize, const W: usize, E, D, T>
    Module<Tensor<Rank1<N>, E, D, T>> for Unflatten<C, H, W>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<Rank3<C, H, W>, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<Rank1<N>, E, D, T>) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                N == C * H * W,
                "Unflatten<C, H, W>: the input size must equal C * H * W"
            )
        };
        x.try_reshape_like(&(Const::<C>, Const::<H>, Const::<W>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::dims::flatten_shapes;

    // Extra shapes only the tests use.
    flatten_shapes!((3, 2, 2), (2, 3, 2));

    #[test]
    fn round_trip_keeps_row_major_order_and_gradients() {
        let dev: Cpu = Default::default();
        let x = dev.tensor_from_vec((0..24).map(f64::from).collect(), (2usize, Const::<12>));
        let img = Unflatten::<3, 2, 2>.forward(x.leaky_trace());
        assert_eq!(img.shape().0, 2);
        assert_eq!(
            img.as_vec(),
            (0..24).map(f64::from).collect::<Vec<_>>(),
            "element order is unchanged"
        );
        let flat = Flatten.forward(img);
        let r = dev.tensor_from_vec(
            (0..24).map(|v| f64::from(v) * 0.5).collect(),
            (2usize, Const::<12>),
        );
        let g = (flat * r).sum().backward();
        assert_eq!(
            g.get(&x).as_vec(),
            (0..24).map(|v| f64::from(v) * 0.5).collect::<Vec<_>>()
        );
    }

    #[test]
    fn unbatched_shapes() {
        let dev: Cpu = Default::default();
        let x: Tensor<Rank1<12>, f32, _> = dev.sample_normal();
        let img: Tensor<Rank3<3, 2, 2>, f32, _> = Unflatten::<3, 2, 2>.forward(x.clone());
        assert_eq!(img.array()[1][0][1], x.array()[5]);
        let flat: Tensor<Rank1<12>, f32, _> = Flatten.forward(img);
        assert_eq!(flat.array(), x.array());
    }

    #[test]
    fn flatten_after_permute_is_row_major() {
        // A non-contiguous input is copied into row-major order first.
        let dev: Cpu = Default::default();
        let x: Tensor<Rank4<1, 2, 2, 3>, f32, _> =
            dev.tensor_from_vec((0..12).map(|v| v as f32).collect(), Rank4::default());
        let xp = x.permute::<Rank4<1, 2, 3, 2>, Axes4<0, 1, 3, 2>>(); // swap H and W
        let flat = Flatten.forward(xp);
        assert_eq!(
            flat.as_vec(),
            vec![0., 3., 1., 4., 2., 5., 6., 9., 7., 10., 8., 11.]
        );
    }
}
