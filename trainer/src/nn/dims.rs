//! Compile-time sizes on stable Rust: spatial sizes for convolutions, and flattened sizes for
//! [`Flatten`](super::Flatten).
//!
//! Stable Rust cannot compute `Const<{ (N + 2 * P - K) / S + 1 }>` from a generic `N`, so the output
//! height/width of a convolution is looked up through a trait instead: [`ConvDim`] for
//! [`Conv2D`](super::Conv2D) and [`ConvTransDim`] for [`ConvTrans2D`](super::ConvTrans2D). Both are
//! implemented for `Const<N>` by the macros below, for the `(K, S, P)` combinations and sizes listed
//! there. The macros compute the output size from the formula (with literals, which stable Rust
//! accepts), so adding a size is one more number in a list and cannot get the arithmetic wrong.
//!
//! A size that is not listed (or a chain of layers whose sizes do not line up) fails to compile:
//!
//! ```compile_fail,E0277
//! use dfdx::prelude::*;
//! use trainer::nn::Conv2D;
//!
//! let dev: Cpu = Default::default();
//! let conv = dev.build_module::<Conv2D<1, 8, 4, 2, 1>, f32>();
//! // 13 is not a listed input size for kernel 4, stride 2, padding 1.
//! let _ = conv.forward(dev.zeros::<Rank4<2, 1, 13, 13>>());
//! ```
//!
//! ```compile_fail,E0308
//! use dfdx::prelude::*;
//! use trainer::nn::Conv2D;
//!
//! let dev: Cpu = Default::default();
//! let conv = dev.build_module::<Conv2D<1, 8, 4, 2, 1>, f32>();
//! // 28 → 14, not 7.
//! let _: Tensor<Rank4<2, 8, 7, 7>, f32, _> = conv.forward(dev.zeros::<Rank4<2, 1, 28, 28>>());
//! ```
//!
//! Listed sizes work, and `Out` is an ordinary `Const`:
//!
//! ```
//! use dfdx::prelude::*;
//! use trainer::nn::{ConvDim, ConvTransDim};
//! let _: Const<14> = <Const<28> as ConvDim<4, 2, 1>>::Out::default();
//! let _: Const<28> = <Const<14> as ConvTransDim<4, 2, 1>>::Out::default();
//! ```
//!
//! # Adding sizes
//! Append the input size to the matching list at the bottom of this file (or add a new
//! `k = …, s = …, p = …` line). For a convolution the output is
//! `(n + 2p − k) / s + 1` (rounded down, as in PyTorch); for a transposed convolution it is
//! `(n − 1)·s − 2p + k` (PyTorch's `output_padding = 0`, `dilation = 1`). A size for which the
//! formula would be negative is rejected at compile time.
//!
//! [`FlattenShape`] works the same way for [`Flatten`](super::Flatten): it maps a listed
//! `(C, H, W)` to `Const<{C·H·W}>`; add a shape with one more `(c, h, w)` in `flatten_shapes!`.

use dfdx::shapes::ConstDim;

/// A compile-time spatial size (`Const<N>`) that a convolution with kernel `K`, stride `S` and
/// padding `P` accepts; [`Out`](ConvDim::Out) is the size it produces: `(N + 2P − K) / S + 1`.
pub trait ConvDim<const K: usize, const S: usize, const P: usize>: ConstDim {
    /// Output size along this axis.
    type Out: ConstDim;
}

/// A compile-time spatial size (`Const<N>`) that a transposed convolution with kernel `K`, stride
/// `S` and padding `P` accepts; [`Out`](ConvTransDim::Out) is the size it produces:
/// `(N − 1)·S − 2P + K`.
pub trait ConvTransDim<const K: usize, const S: usize, const P: usize>: ConstDim {
    /// Output size along this axis.
    type Out: ConstDim;
}

/// A compile-time image shape `(Const<C>, Const<H>, Const<W>)` that [`Flatten`](super::Flatten)
/// accepts; [`Flat`](FlattenShape::Flat) is `Const<{C·H·W}>`.
pub trait FlattenShape {
    /// The flattened size `C·H·W`.
    type Flat: ConstDim;
}

/// Implements [`ConvDim`] for each listed input size: `conv_dims!(k = 4, s = 2, p = 1: 28, 14);`.
macro_rules! conv_dims {
    (k = $k:literal, s = $s:literal, p = $p:literal: $($n:literal),+ $(,)?) => {$(
        impl $crate::nn::ConvDim<$k, $s, $p> for ::dfdx::shapes::Const<$n> {
            type Out = ::dfdx::shapes::Const<{ ($n + 2 * $p - $k) / $s + 1 }>;
        }
    )+};
}

/// Implements [`ConvTransDim`] for each listed input size: `conv_trans_dims!(k = 4, s = 2, p = 1: 7, 14);`.
macro_rules! conv_trans_dims {
    (k = $k:literal, s = $s:literal, p = $p:literal: $($n:literal),+ $(,)?) => {$(
        impl $crate::nn::ConvTransDim<$k, $s, $p> for ::dfdx::shapes::Const<$n> {
            type Out = ::dfdx::shapes::Const<{ ($n - 1) * $s + $k - 2 * $p }>;
        }
    )+};
}

/// Implements [`FlattenShape`] for each listed `(C, H, W)`: `flatten_shapes!((64, 7, 7), (1, 28, 28));`.
macro_rules! flatten_shapes {
    ($(($c:literal, $h:literal, $w:literal)),+ $(,)?) => {$(
        impl $crate::nn::FlattenShape
            for (::dfdx::shapes::Const<$c>, ::dfdx::shapes::Const<$h>, ::dfdx::shapes::Const<$w>)
        {
            type Flat = ::dfdx::shapes::Const<{ $c * $h * $w }>;
        }
    )+};
}

// Make the macros usable elsewhere in the crate (e.g. `crate::nn::dims::conv_dims!`).
#[allow(unused_imports)]
pub(crate) use {conv_dims, conv_trans_dims, flatten_shapes};

// The sizes in use. DCGAN on MNIST: 28 → 14 → 7 (conv) and 7 → 14 → 28 (transposed conv), all with
// kernel 4, stride 2, padding 1. The other lists are small extras that cost nothing.

// Halving (kernel 4, stride 2, padding 1): 2n → n.
conv_dims!(k = 4, s = 2, p = 1: 2, 4, 6, 7, 8, 10, 12, 14, 16, 28, 32, 56, 64);
// Halving (kernel 3, stride 2, padding 1): n → ceil(n / 2).
conv_dims!(k = 3, s = 2, p = 1: 2, 3, 4, 5, 6, 7, 8, 14, 16, 28, 32, 64);
// Same size (kernel 3, stride 1, padding 1).
conv_dims!(k = 3, s = 1, p = 1: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 28, 32, 64);
// Same size (kernel 1, stride 1, padding 0).
conv_dims!(k = 1, s = 1, p = 0: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 28, 32, 64);
// Whole-image (kernel 7, no padding) 7 → 1, e.g. a final conv discriminator head.
conv_dims!(k = 7, s = 1, p = 0: 7);

// Doubling (kernel 4, stride 2, padding 1): n → 2n.
conv_trans_dims!(k = 4, s = 2, p = 1: 1, 2, 3, 4, 5, 6, 7, 8, 14, 16, 28, 32);
// Same size (kernel 3, stride 1, padding 1).
conv_trans_dims!(k = 3, s = 1, p = 1: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 28, 32, 64);
// Same size (kernel 1, stride 1, padding 0).
conv_trans_dims!(k = 1, s = 1, p = 0: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 28, 32, 64);
// 1 → 7 (kernel 7, no padding), e.g. a generator that starts from a 1×1 "image".
conv_trans_dims!(k = 7, s = 1, p = 0: 1);

// Flattened images: whole MNIST images, and the feature maps of small MNIST convnets.
flatten_shapes!((1, 28, 28), (1, 14, 14), (1, 7, 7));
flatten_shapes!(
    (8, 14, 14),
    (16, 14, 14),
    (32, 14, 14),
    (64, 14, 14),
    (128, 14, 14)
);
flatten_shapes!(
    (8, 7, 7),
    (16, 7, 7),
    (32, 7, 7),
    (64, 7, 7),
    (128, 7, 7),
    (256, 7, 7)
);
flatten_shapes!(
    (32, 4, 4),
    (64, 4, 4),
    (128, 4, 4),
    (256, 4, 4),
    (512, 4, 4)
);
flatten_shapes!(
    (32, 3, 3),
    (64, 3, 3),
    (128, 3, 3),
    (256, 3, 3),
    (512, 3, 3)
);

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::shapes::Const;

    fn out<const K: usize, const S: usize, const P: usize, N: ConvDim<K, S, P>>() -> usize {
        N::Out::SIZE
    }
    fn out_t<const K: usize, const S: usize, const P: usize, N: ConvTransDim<K, S, P>>() -> usize {
        N::Out::SIZE
    }

    #[test]
    fn dcgan_sizes() {
        assert_eq!(out::<4, 2, 1, Const<28>>(), 14);
        assert_eq!(out::<4, 2, 1, Const<14>>(), 7);
        assert_eq!(out_t::<4, 2, 1, Const<7>>(), 14);
        assert_eq!(out_t::<4, 2, 1, Const<14>>(), 28);
    }

    #[test]
    fn flattened_sizes() {
        fn flat<S: FlattenShape>() -> usize {
            S::Flat::SIZE
        }
        assert_eq!(flat::<(Const<1>, Const<28>, Const<28>)>(), 784);
        assert_eq!(flat::<(Const<64>, Const<7>, Const<7>)>(), 3136);
        assert_eq!(flat::<(Const<128>, Const<7>, Const<7>)>(), 6272);
    }

    #[test]
    fn other_sizes_follow_pytorch_formula() {
        assert_eq!(out::<4, 2, 1, Const<7>>(), 3); // (7 + 2 - 4) / 2 + 1, rounded down
        assert_eq!(out::<3, 2, 1, Const<7>>(), 4);
        assert_eq!(out::<3, 1, 1, Const<5>>(), 5);
        assert_eq!(out::<1, 1, 0, Const<6>>(), 6);
        assert_eq!(out::<7, 1, 0, Const<7>>(), 1);
        assert_eq!(out_t::<4, 2, 1, Const<3>>(), 6);
        assert_eq!(out_t::<3, 1, 1, Const<5>>(), 5);
        assert_eq!(out_t::<7, 1, 0, Const<1>>(), 7);
    }
}
