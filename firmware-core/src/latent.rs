//! Latent vectors from a `u32` seed, bit-identical on the host and on every device.
//!
//! The host trainer and the firmware must draw the same digit from the same seed, so the latent is
//! produced with integer arithmetic only:
//!
//! 1. [`SplitMix32`] turns the seed into a stream of `u32`s: a Weyl sequence
//!    (`state += 0x9E37_79B9`, the 32-bit golden ratio) passed through the MurmurHash3 `fmix32`
//!    finaliser. It is tiny, needs only 32-bit wrapping multiplies (fine on a Cortex-M0) and its
//!    output passes the usual smoke tests for a purpose like this one; it is not cryptographic.
//! 2. Each latent element is an Irwin–Hall approximation of a standard normal: the sum of twelve
//!    uniform 16-bit draws (both halves of six `u32`s), centred, which has mean 0 and variance 1
//!    and a support of ±6.
//! 3. The sum is quantised straight to int8 at [`LATENT_SCALE`] (= 2⁻⁵), rounding half up and
//!    clamping to ±127 (±3.97 σ, so clamping touches about 1 value in 14 000).
//!
//! The host dequantises with `z = q · LATENT_SCALE` and runs its float model on exactly that latent.

use crate::arch::{CLASSES, CONDITIONAL_LATENT_DIM, LATENT_DIM};

/// `log2(1 / LATENT_SCALE)`: latent int8 values are `z · 2^LATENT_SCALE_SHIFT`.
pub const LATENT_SCALE_SHIFT: u32 = 5;

/// Real value of one latent int8 step: `z_float = z_q as f32 * LATENT_SCALE`.
///
/// Exact in `f32`; no float arithmetic is needed on the device.
pub const LATENT_SCALE: f32 = 1.0 / (1u32 << LATENT_SCALE_SHIFT) as f32;

/// A 32-bit SplitMix-style generator: Weyl sequence plus the MurmurHash3 `fmix32` finaliser.
///
/// ```
/// use firmware_core::latent::SplitMix32;
/// let mut a = SplitMix32::new(7);
/// let mut b = SplitMix32::new(7);
/// assert_eq!(a.next_u32(), b.next_u32());
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix32 {
    state: u32,
}

impl SplitMix32 {
    /// Starts the stream for `seed`.
    pub const fn new(seed: u32) -> Self {
        Self { state: seed }
    }

    /// Next value of the stream.
    pub fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x9E37_79B9);
        let mut z = self.state;
        z = (z ^ (z >> 16)).wrapping_mul(0x85EB_CA6B);
        z = (z ^ (z >> 13)).wrapping_mul(0xC2B2_AE35);
        z ^ (z >> 16)
    }
}

/// Draws one approximately standard-normal value as int8 at [`LATENT_SCALE`].
///
/// With `u_k` twelve 16-bit uniforms, `g = Σ (u_k + ½) / 2¹⁶ − 6` is exactly centred; in latent
/// steps that is `(Σ u_k + 6 − 6·2¹⁶) / 2¹¹`, rounded half up (add 2¹⁰, arithmetic shift).
pub fn gaussian_i8(rng: &mut SplitMix32) -> i8 {
    const HALF_RANGE: i32 = 6 << 16;
    const STEP_SHIFT: u32 = 16 - LATENT_SCALE_SHIFT;
    // Twelve halves, each < 2¹⁶, plus the six: 0 < sum < 2²⁰, so neither the sum nor the
    // centring and rounding below come near i32's limits.
    #[allow(clippy::arithmetic_side_effects)]
    let q = {
        let mut sum: i32 = 6; // the twelve ½ offsets
        for _ in 0..6 {
            let r = rng.next_u32();
            sum += (r >> 16) as i32 + (r & 0xFFFF) as i32;
        }
        (sum - HALF_RANGE + (1 << (STEP_SHIFT - 1))) >> STEP_SHIFT
    };
    // |q| ≤ 192 before clamping; the clamp keeps the int8 range symmetric.
    q.clamp(-127, 127) as i8
}

/// The latent the generator uses for `seed`, quantised at [`LATENT_SCALE`].
///
/// ```
/// use firmware_core::{latent_from_seed, LATENT_DIM};
/// let z: [i8; LATENT_DIM] = latent_from_seed(42);
/// assert_eq!(z, latent_from_seed(42));
/// assert_ne!(z, latent_from_seed(43));
/// ```
pub fn latent_from_seed(seed: u32) -> [i8; LATENT_DIM] {
    let mut rng = SplitMix32::new(seed);
    let mut z = [0i8; LATENT_DIM];
    for v in &mut z {
        *v = gaussian_i8(&mut rng);
    }
    z
}

/// One-hot value of the class entry in a conditional input: 1.0 at [`LATENT_SCALE`].
pub const ONE_HOT: i8 = 1 << LATENT_SCALE_SHIFT;

/// The class a conditional generator draws for `seed` when no class is asked for: uniform over
/// the ten classes (from a stream of its own, so it does not disturb the latent).
pub fn class_from_seed(seed: u32) -> u8 {
    let r = SplitMix32::new(seed ^ 0x5EED_C1A5).next_u32();
    // r < 2³², so r · 10 < 2³⁶ fits in u64, and ⌊r · 10 / 2³²⌋ < 10 fits in u8.
    #[allow(clippy::arithmetic_side_effects)]
    let class = (u64::from(r) * CLASSES as u64) >> 32;
    class as u8
}

/// The int8 generator input for `seed`: [`latent_from_seed`] for an unconditional model (`class`
/// `None`); for a conditional one the first [`CONDITIONAL_LATENT_DIM`] values of the same latent
/// followed by the one-hot `class` ([`ONE_HOT`] at the class, 0 elsewhere). A class ≥ 10 gives
/// an all-zero class part; [`Generator::generate`](crate::Generator::generate) rejects it first.
pub fn generator_input(seed: u32, class: Option<u8>) -> [i8; LATENT_DIM] {
    let mut input = latent_from_seed(seed);
    if let Some(class) = class {
        let class_part = input.iter_mut().skip(CONDITIONAL_LATENT_DIM);
        for (i, v) in class_part.enumerate() {
            *v = if i == usize::from(class) { ONE_HOT } else { 0 };
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_input_is_the_latent_head_and_a_one_hot_class() {
        let z = latent_from_seed(9);
        assert_eq!(generator_input(9, None), z);
        for class in 0..10u8 {
            let x = generator_input(9, Some(class));
            assert_eq!(x[..CONDITIONAL_LATENT_DIM], z[..CONDITIONAL_LATENT_DIM]);
            let hot: [i8; CLASSES] =
                core::array::from_fn(|i| if i == usize::from(class) { 32 } else { 0 });
            assert_eq!(x[CONDITIONAL_LATENT_DIM..], hot);
        }
    }

    #[test]
    fn classes_from_seeds_are_balanced() {
        let mut counts = [0u32; CLASSES];
        for seed in 0..10_000 {
            counts[usize::from(class_from_seed(seed))] += 1;
        }
        // Binomial(10 000, 0.1): σ = 30; ±150 is five σ.
        assert!(
            counts.iter().all(|&c| (850..=1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn stream_is_pinned() {
        // Golden values: changing them changes every digit every device has ever drawn.
        let mut rng = SplitMix32::new(0);
        let first: [u32; 3] = [rng.next_u32(), rng.next_u32(), rng.next_u32()];
        // Cross-checked against an independent Python transcription of the module docs.
        assert_eq!(first, [0x92ca_2f0e, 0x3cd6_e3f3, 0x1b14_7dcc]);
        assert_eq!(latent_from_seed(1)[..8], [27, -49, -18, 5, 35, -12, 73, 6]);
    }

    #[test]
    fn latent_is_deterministic_and_seed_dependent() {
        for seed in [0, 1, 2, u32::MAX, 0xDEAD_BEEF] {
            assert_eq!(latent_from_seed(seed), latent_from_seed(seed));
            assert_ne!(
                latent_from_seed(seed),
                latent_from_seed(seed.wrapping_add(1))
            );
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "statistics over 4,000 latents: too slow in Miri")]
    fn latent_statistics_match_standard_normal() {
        let seeds = 4000u32;
        let (mut sum, mut sum_sq, mut n) = (0f64, 0f64, 0f64);
        let mut beyond_2_sigma = 0usize;
        let mut extreme = 0i8;
        for seed in 0..seeds {
            for q in latent_from_seed(seed) {
                let z = f64::from(q) * f64::from(LATENT_SCALE);
                sum += z;
                sum_sq += z * z;
                n += 1.0;
                if z.abs() > 2.0 {
                    beyond_2_sigma += 1;
                }
                extreme = extreme.max(q.saturating_abs());
            }
        }
        let mean = sum / n;
        let var = sum_sq / n - mean * mean;
        // 128 000 samples: the standard error of the mean is 0.003, of the variance ≈ 0.004.
        assert!(mean.abs() < 0.015, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
        // P(|N(0,1)| > 2) = 4.55 %; Irwin–Hall(12) gives 4.4 %.
        let tail = beyond_2_sigma as f64 / n;
        assert!((0.038..0.052).contains(&tail), "2σ tail {tail}");
        assert!(extreme > 100, "tails are not truncated too early");
    }

    #[test]
    fn scale_matches_shift() {
        assert_eq!(LATENT_SCALE, 0.03125);
    }
}
