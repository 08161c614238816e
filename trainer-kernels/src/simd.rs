//! Which SIMD path this CPU runs, detected once, and the token that proves it.
//!
//! The fast kernels are compiled with `#[target_feature]` and are unsafe to call on a CPU without
//! the feature. A [`Simd::Avx512`] value carries an [`Avx512`] token that only [`Simd::detect`]
//! makes, after asking the CPU; so a kernel call guarded by a match on it meets its one
//! precondition for every input. A further path (such as AVX2 + FMA) is one more variant with its
//! own token, and one more arm where the kernels are chosen.
//!
//! Under Miri every product takes the portable path: the interpreter checks the code for
//! undefined behaviour, and plain Rust is the code it can check.

/// Proof that this CPU has AVX-512F. Only [`Simd::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx512 {
    _detected: (),
}

/// The SIMD paths the kernels have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// 512-bit vectors with FMA.
    Avx512(Avx512),
    /// Plain Rust, for every CPU (and for Miri).
    Portable,
}

impl Simd {
    /// The fastest path this CPU runs (checked once per process; always [`Simd::Portable`] under
    /// Miri).
    pub fn detect() -> Simd {
        use std::sync::OnceLock;
        static DETECTED: OnceLock<Simd> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            if cfg!(miri) {
                return Simd::Portable;
            }
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx512f") {
                return Simd::Avx512(Avx512 { _detected: () });
            }
            Simd::Portable
        })
    }
}
