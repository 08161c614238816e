//! Which SIMD path this CPU runs, chosen once, and the tokens that prove it.
//!
//! The fast kernels are compiled with `#[target_feature]` and are unsafe to call on a CPU without
//! the feature. A [`Simd::Avx512`] value carries an [`Avx512`] token and a [`Simd::Avx2`] value an
//! [`Avx2Fma`] token; only [`Simd::available`] makes them, after asking the CPU; so a kernel call
//! guarded by a match on one meets its one precondition for every input.
//!
//! The process runs [`Simd::detect`]'s path: the fastest this CPU has, unless the environment
//! variable `TRAINER_SIMD` (`avx512`, `avx2` or `portable`) asks for another. A path the CPU lacks,
//! or an unknown name, gets a warning on stderr and the fastest path instead (the
//! benchmark checks the path each run reports). Tests that compare the paths call
//! [`Simd::available`] and run each one.
//!
//! Under Miri every product takes the portable path: the interpreter checks the code for
//! undefined behaviour, and plain Rust is the code it can check.

use std::fmt;

/// Proof that this CPU has AVX-512F. Only [`Simd::available`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx512 {
    _detected: (),
}

/// Proof that this CPU has AVX2 and FMA. Only [`Simd::available`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx2Fma {
    _detected: (),
}

/// The SIMD paths the kernels have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// 512-bit vectors with FMA.
    Avx512(Avx512),
    /// 256-bit vectors with FMA (most x86-64 CPUs since 2013 and 2015).
    Avx2(Avx2Fma),
    /// Plain Rust, for every CPU (and for Miri).
    Portable,
}

/// The environment variable that forces a path.
pub const ENV_VAR: &str = "TRAINER_SIMD";

/// Why `TRAINER_SIMD` could not be followed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimdRequestError {
    /// The value names no path.
    #[error("{ENV_VAR}={0:?} is not one of avx512, avx2, portable")]
    Unknown(String),
    /// The CPU lacks the path's instructions.
    #[error("{ENV_VAR}={0}: this CPU lacks its instructions (it has: {1})")]
    Unsupported(&'static str, String),
}

impl Simd {
    /// The path's name, as `TRAINER_SIMD` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Avx512(_) => "avx512",
            Simd::Avx2(_) => "avx2",
            Simd::Portable => "portable",
        }
    }

    /// Every path this CPU runs, fastest first; the last is always [`Simd::Portable`] (the only
    /// one under Miri).
    pub fn available() -> Vec<Simd> {
        let mut paths = Vec::with_capacity(3);
        #[cfg(target_arch = "x86_64")]
        if !cfg!(miri) {
            if is_x86_feature_detected!("avx512f") {
                paths.push(Simd::Avx512(Avx512 { _detected: () }));
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                paths.push(Simd::Avx2(Avx2Fma { _detected: () }));
            }
        }
        paths.push(Simd::Portable);
        paths
    }

    /// The path named by `request` (a `TRAINER_SIMD` value; `None` or empty: the fastest), among
    /// `available` (fastest first, as [`Simd::available`] lists them).
    ///
    /// # Errors
    /// If the name is unknown, or names a path not in `available`.
    pub fn choose(request: Option<&str>, available: &[Simd]) -> Result<Simd, SimdRequestError> {
        let fastest = available.first().copied().unwrap_or(Simd::Portable);
        let Some(name) = request.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(fastest);
        };
        let name = name.to_ascii_lowercase();
        let known = ["avx512", "avx2", "portable"];
        let Some(&known) = known.iter().find(|&&k| k == name) else {
            return Err(SimdRequestError::Unknown(name));
        };
        available
            .iter()
            .copied()
            .find(|s| s.name() == known)
            .ok_or_else(|| {
                let have: Vec<_> = available.iter().map(|s| s.name()).collect();
                SimdRequestError::Unsupported(known, have.join(", "))
            })
    }

    /// The path this process runs: [`Simd::choose`] on `TRAINER_SIMD` (decided once per
    /// process; a request that cannot be followed warns on stderr and takes the fastest path).
    pub fn detect() -> Simd {
        use std::sync::OnceLock;
        static DETECTED: OnceLock<Simd> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let available = Simd::available();
            let request = std::env::var(ENV_VAR).ok();
            Simd::choose(request.as_deref(), &available).unwrap_or_else(|e| {
                let fastest = available[0];
                eprintln!("warning: {e}; using {}", fastest.name());
                fastest
            })
        })
    }
}

impl fmt::Display for Simd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_has_the_portable_path_last() {
        let paths = Simd::available();
        assert_eq!(paths.last(), Some(&Simd::Portable));
    }

    #[test]
    fn requests_choose_a_path_or_say_why_not() {
        let all = Simd::available();
        let fastest = all[0];
        assert_eq!(Simd::choose(None, &all), Ok(fastest));
        assert_eq!(Simd::choose(Some(" "), &all), Ok(fastest));
        assert_eq!(Simd::choose(Some("PORTABLE"), &all), Ok(Simd::Portable));
        for &path in &all {
            assert_eq!(Simd::choose(Some(path.name()), &all), Ok(path));
        }
        assert_eq!(
            Simd::choose(Some("sse9"), &all),
            Err(SimdRequestError::Unknown("sse9".into()))
        );
        // Without the wide paths (a CPU that has only the portable one).
        let err = Simd::choose(Some("avx2"), &[Simd::Portable]).unwrap_err();
        assert_eq!(
            err,
            SimdRequestError::Unsupported("avx2", "portable".into())
        );
        assert!(err.to_string().contains("TRAINER_SIMD=avx2"), "{err}");
    }
}
