//! The trainer's f32 matrix products: checked matrix views, a blocked product (Goto/BLIS) split
//! over the rayon threads, and register tiles for each SIMD path, chosen at run time.
//!
//! Every `unsafe` of the trainer's hot loops is in this crate, behind an API that is sound for all
//! inputs: the kernels take only [`MatRef`], [`Gathered`] and [`MatMut`] views, each checked once
//! when it is made (bounds, strides, overflow); threads get disjoint [`MatMut::split_at_col`]
//! parts of the output; a SIMD tile can only be called with the token that proves its CPU feature
//! ([`Simd::detect`]). The crate has no dfdx in it, so Miri can run its tests (the portable path,
//! at small sizes): `cargo +nightly miri test -p trainer-kernels`.
//!
//! | module | job |
//! |---|---|
//! | [`view`] | the views, checked once when made; the only way into the kernels |
//! | [`blocked`] | the blocked product: packing loop, threads, generic over the tile |
//! | `pack` | copying operand blocks into the tile's panels |
//! | [`tile`] | the register-tile trait and the portable tile (the reference) |
//! | [`avx512`] | the AVX-512 tile |
//! | [`avx2`] | the AVX2 + FMA tile |
//! | [`simd`] | which SIMD path this CPU runs (`TRAINER_SIMD` forces one), and the tokens that prove it |
//!
//! A new SIMD path is a token in [`simd`], a tile module beside [`avx512`] tested bit for bit
//! against [`tile::Portable`], and an arm in [`product_f32_on`].
//!
//! ```
//! use trainer_kernels::{product_f32, MatMut, MatRef};
//!
//! let a = [1.0f32, 2.0, 3.0, 4.0]; // 2×2
//! let b = vec![1.0f32; 2 * 40]; // 2×40
//! let mut c = vec![0.0f32; 2 * 40];
//! let (a, b) = (MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 40));
//! match product_f32(MatMut::row_major(&mut c, 2, 40), false, a, b.into()) {
//!     Ok(()) => assert_eq!((c[0], c[40]), (3.0, 7.0)),
//!     Err(_untouched) => {} // no fast tile on this CPU: the caller uses another library
//! }
//! ```
#![deny(missing_docs)]
// Unsafe code only where a `SAFETY:` comment proves it sound: `MatMut` and the SIMD tiles.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod avx2;
pub mod avx512;
pub mod blocked;
mod pack;
pub mod simd;
pub mod tile;
pub mod view;

pub use simd::{Simd, SimdRequestError};
pub use view::{Gathered, MatMut, MatRef, Rhs, ViewError};

/// `dst = a · b` (or `dst += a · b` with `accumulate`) on the blocked product with the tile of
/// this process's path ([`Simd::detect`]): [`product_f32_on`] that path.
///
/// # Errors
/// `dst`, untouched, as [`product_f32_on`].
///
/// # Panics
/// As [`product_f32_on`].
pub fn product_f32<'d>(
    dst: MatMut<'d, f32>,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) -> Result<(), MatMut<'d, f32>> {
    product_f32_on(Simd::detect(), dst, accumulate, a, b)
}

/// The narrowest product (columns of `dst`) the SIMD paths run on their tiles; narrower ones go to
/// the caller's fallback. One bound for both paths, the AVX-512 tile's width: their tiles give
/// the same bits, so training on either gives the same bits only if they also take the same
/// products (with AVX2's own width, products 16–31 columns wide went to different code).
pub const MIN_TILED_COLS: usize = avx512::NR;

/// `dst = a · b` (or `dst += a · b` with `accumulate`) on the blocked product with `simd`'s tile,
/// if that path has one worth using and the product is at least [`MIN_TILED_COLS`] wide; otherwise
/// `dst` comes back untouched, for the caller to hand to another library (the trainer uses
/// `gemm`, which is faster than the portable tile). Under Miri every product runs, on the portable
/// tile.
///
/// # Errors
/// `dst`, untouched, when this crate has no fast path for the CPU or the shape.
///
/// # Panics
/// If the shapes do not chain: `a` must be `dst.rows() × k` and `b` `k × dst.cols()`.
pub fn product_f32_on<'d>(
    simd: Simd,
    dst: MatMut<'d, f32>,
    accumulate: bool,
    a: MatRef<'_, f32>,
    b: Rhs<'_, f32>,
) -> Result<(), MatMut<'d, f32>> {
    view::assert_chain("product_f32", &dst, &a, &b);
    match simd {
        Simd::Avx512(token) if dst.cols() >= MIN_TILED_COLS => {
            let tile = avx512::Avx512Tile(token);
            blocked::product(tile, blocked::BLOCKING, dst, accumulate, a, b);
        }
        Simd::Avx2(token) if dst.cols() >= MIN_TILED_COLS => {
            let tile = avx2::Avx2Tile(token);
            blocked::product(tile, blocked::BLOCKING, dst, accumulate, a, b);
        }
        Simd::Portable if cfg!(miri) => {
            blocked::product::<_, { avx512::MR }, { avx512::NR }>(
                tile::Portable,
                blocked::BLOCKING,
                dst,
                accumulate,
                a,
                b,
            );
        }
        _ => return Err(dst),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Every SIMD path this CPU runs takes exactly the products at least [`MIN_TILED_COLS`]
    /// wide, and they all give the same bits: training then gives the same bits on either
    /// path. (Before, AVX2 also took products 16–31 wide, which AVX-512 handed to `gemm`.)
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs the portable path only")]
    fn every_simd_path_takes_the_same_products_with_the_same_bits() {
        let mut rng = StdRng::seed_from_u64(5);
        let (m, k) = (13, 70);
        let ad: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let paths: Vec<Simd> = Simd::available()
            .into_iter()
            .filter(|s| *s != Simd::Portable)
            .collect();
        for n in [1, 15, 16, 17, 31, MIN_TILED_COLS, MIN_TILED_COLS + 1, 70] {
            let bd: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let (a, b) = (MatRef::row_major(&ad, m, k), MatRef::row_major(&bd, k, n));
            let mut first: Option<Vec<u32>> = None;
            for &simd in &paths {
                let mut dst = vec![0.0f32; m * n];
                let taken =
                    product_f32_on(simd, MatMut::row_major(&mut dst, m, n), false, a, b.into())
                        .is_ok();
                assert_eq!(taken, n >= MIN_TILED_COLS, "{simd}: {m}×{k}×{n}");
                let bits: Vec<u32> = dst.iter().map(|x| x.to_bits()).collect();
                match &first {
                    None => first = Some(bits),
                    Some(bits0) => assert!(bits0 == &bits, "{simd}: {m}×{k}×{n}: other bits"),
                }
            }
        }
    }
}
