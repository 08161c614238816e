//! Integer requantisation: rescales an int32 accumulator to int8 without floating point.
//!
//! A layer's accumulator is in units of `s_w · s_in` (weight scale times input scale); its int8
//! output is in units of `s_out`. The real factor `r = s_w · s_in / s_out` is stored as a
//! fixed-point [`Requant`]: a non-negative `i32` multiplier `M` and a right shift `n`, meaning
//! `r ≈ M / 2ⁿ`. The exporter normalises `M` into `[2³⁰, 2³¹)` (31 significant bits, like the
//! TFLite / CMSIS-NN "Q31 multiplier + shift") whenever `n` allows it.
//!
//! # Rounding
//!
//! `y = (acc · M + 2ⁿ⁻¹) >> n` in `i64`, then clamped to the layer's int8 range: one rounding
//! step, **round half up** (ties go towards +∞: 2.5 → 3, −2.5 → −2). `>>` on a signed value is an
//! arithmetic shift, i.e. floor division, on every Rust target.
//!
//! # Why the `i64` cannot overflow
//!
//! For *any* `acc: i32` and `M: i32`, `|acc · M| ≤ 2³¹ · 2³¹ = 2⁶²`, and with `n ≤ 62` the rounding
//! term is at most `2⁶¹`, so `|acc · M + 2ⁿ⁻¹| < 2⁶² + 2⁶² = 2⁶³`. `n ≥ 1` keeps `2ⁿ⁻¹` a valid
//! shift. [`Requant::apply`] clamps `n` into [`MIN_SHIFT`]`..=`[`MAX_SHIFT`] (a no-op for every
//! validated value), so it cannot panic or overflow even for parameters that were never validated.

/// Smallest allowed right shift `n`.
pub const MIN_SHIFT: u8 = 1;
/// Largest allowed right shift `n`.
pub const MAX_SHIFT: u8 = 62;

/// Fixed-point rescaling factor `multiplier / 2^shift` with round-half-up.
///
/// ```
/// use firmware_core::requant::Requant;
/// // 0.75 = 3 · 2²⁹ / 2³¹
/// let r = Requant::try_new(3 << 29, 31).unwrap();
/// assert_eq!(r.apply(100, -128, 127), 75);
/// assert_eq!(r.apply(2, -128, 127), 2); // 1.5 rounds up
/// assert_eq!(r.apply(-2, -128, 127), -1); // −1.5 rounds up too
/// assert_eq!(r.apply(1000, -128, 127), 127); // saturates
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requant {
    multiplier: i32,
    shift: u8,
}

impl Requant {
    /// Checks the ranges a blob may contain: `multiplier ≥ 0`, `shift` in
    /// [`MIN_SHIFT`]`..=`[`MAX_SHIFT`].
    pub const fn try_new(multiplier: i32, shift: u8) -> Option<Self> {
        if multiplier >= 0 && shift >= MIN_SHIFT && shift <= MAX_SHIFT {
            Some(Self { multiplier, shift })
        } else {
            None
        }
    }

    /// Builds from blob bytes that were validated by [`Requant::try_new`] when the blob was
    /// loaded. Skipping the check here keeps it out of the inner loops; [`Requant::apply`] stays
    /// panic-free regardless.
    pub(crate) const fn from_validated(multiplier: i32, shift: u8) -> Self {
        Self { multiplier, shift }
    }

    /// The Q31-style multiplier `M`.
    pub const fn multiplier(self) -> i32 {
        self.multiplier
    }

    /// The right shift `n`.
    pub const fn shift(self) -> u8 {
        self.shift
    }

    /// `clamp(round_half_up(acc · M / 2ⁿ), lo, hi)`; see the [module docs](self) for the proof
    /// that the `i64` arithmetic cannot overflow.
    #[inline(always)]
    pub fn apply(self, acc: i32, lo: i8, hi: i8) -> i8 {
        let n = u32::from(self.shift.clamp(MIN_SHIFT, MAX_SHIFT));
        let rounded = if n >= 32 {
            // Every exported layer lands here (n is 36–41 for the shipped model). With
            // s = acc·M + 2ⁿ⁻¹, floor(s / 2ⁿ) = floor(floor(s / 2³²) / 2ⁿ⁻³²): only the high word
            // of the 64-bit sum is needed, and its shift fits in 32 bits. 2ⁿ⁻¹ as a word pair:
            // (2³¹, 0) for n = 32, (0, 2ⁿ⁻³³) above.
            // n ∈ 32..=62 here, so n − 32 ∈ 0..=30 is a valid shift of a u32 and of an i32.
            let up = n.wrapping_sub(32);
            let unit = 1u32 << up;
            let round = (unit << 31, unit >> 1);
            high_word(acc, self.multiplier, round) >> up
        } else {
            // |acc·M| ≤ 2⁶², 2ⁿ⁻¹ ≤ 2³⁰ (n ∈ 1..=31 here): the sum fits (module docs).
            let product = i64::from(acc).wrapping_mul(i64::from(self.multiplier));
            let shifted = product.wrapping_add(1i64 << n.wrapping_sub(1)) >> n;
            // Clamped into i8 range just below anyway; this only makes it fit in i32.
            shifted.clamp(i64::from(i8::MIN), i64::from(i8::MAX)) as i32
        };
        // The clamp puts the value into i8 range, so the cast is exact.
        rounded.clamp(i32::from(lo), i32::from(hi)) as i8
    }

    /// [`apply`](Self::apply) out of line, for the paths no exported layer takes.
    #[cold]
    #[inline(never)]
    fn apply_cold(self, acc: i32, lo: i8, hi: i8) -> i8 {
        self.apply(acc, lo, hi)
    }

    /// Closest representable factor to `scale`, with `M` normalised into `[2³⁰, 2³¹)` when
    /// possible. Factors below `2⁻³²` lose precision (`M < 2³⁰` at `n = 62`) and round to 0 below
    /// `2⁻⁶³`.
    ///
    /// Returns `None` when `scale` is negative, not finite, or `≥ 2³⁰` (no valid `n`).
    #[cfg(feature = "std")]
    pub fn from_scale(scale: f64) -> Option<Self> {
        const TOP: f64 = 2_147_483_648.0; // 2³¹
        if !scale.is_finite() || scale < 0.0 {
            return None;
        }
        if scale == 0.0 {
            return Some(Self {
                multiplier: 0,
                shift: MAX_SHIFT,
            });
        }
        // First guess from the binary exponent, then fix up rounding at power-of-two edges.
        let mut n = 30 - scale.log2().floor() as i32;
        let mut m = (scale * 2f64.powi(n)).round();
        while m >= TOP {
            n -= 1;
            m = (scale * 2f64.powi(n)).round();
        }
        while m < TOP / 2.0 && n < i32::from(MAX_SHIFT) {
            n += 1;
            m = (scale * 2f64.powi(n)).round();
        }
        if n > i32::from(MAX_SHIFT) {
            n = i32::from(MAX_SHIFT);
            m = (scale * 2f64.powi(n)).round();
        }
        let shift = u8::try_from(n).ok()?;
        Self::try_new(m as i32, shift)
    }

    /// The real factor `M / 2ⁿ` (host tools only).
    #[cfg(feature = "std")]
    pub fn scale(self) -> f64 {
        f64::from(self.multiplier) / 2f64.powi(i32::from(self.shift))
    }
}

/// A [`Requant`] with the per-channel half of [`Requant::apply`] worked out once, for the
/// layers' inner loops (one per output channel, built when a layer starts).
///
/// Every exported layer has `n ≥ 33` (36–41 for the shipped model) and `M ≥ 0`. Then the
/// rounding term `2ⁿ⁻¹ = 2ⁿ⁻³³·2³²` has a zero low word, so
/// `(acc·M + 2ⁿ⁻¹) >> n = (hi + 2ⁿ⁻³³) >> (n − 32)` with `hi = floor(acc·M / 2³²)`: one high-word
/// multiply, an add and a shift per output, with `2ⁿ⁻³³` and `n − 32` stored here. `hi` and the
/// sum fit in `i32`: `|acc·M| ≤ 2⁶²` gives `|hi| ≤ 2³⁰`, and `2ⁿ⁻³³ ≤ 2²⁹`. For ReLU outputs a
/// non-positive accumulator needs no multiply at all: `acc·M ≤ 0` makes the quotient `≤ 0`,
/// clamped to 0. Other parameters (`n ≤ 32`, or `M < 0`, which validation rejects) take
/// [`Requant::apply`]. Tests check both paths against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelRequant {
    requant: Requant,
    /// `2ⁿ⁻³³` on the fast path.
    round: i32,
    /// `n − 32` (1..=30) on the fast path; 0 selects [`Requant::apply`].
    fast_shift: u8,
}

impl ChannelRequant {
    /// Prepares `requant` (any parameters; validation is not assumed).
    pub const fn new(requant: Requant) -> Self {
        let (round, fast_shift) =
            if requant.multiplier >= 0 && requant.shift >= 33 && requant.shift <= MAX_SHIFT {
                // shift ∈ 33..=62: the subtractions do not wrap and 2ⁿ⁻³³ ≤ 2²⁹ fits.
                let up = requant.shift.wrapping_sub(33);
                (1i32.wrapping_shl(up as u32), up.wrapping_add(1))
            } else {
                (0, 0)
            };
        Self {
            requant,
            round,
            fast_shift,
        }
    }

    /// The requantiser this was prepared from.
    #[cfg(test)]
    pub const fn requant(self) -> Requant {
        self.requant
    }

    /// `self.requant().apply(acc, 0, 127)`: a hidden layer's output after ReLU.
    #[inline(always)]
    pub fn relu(self, acc: i32) -> i8 {
        if self.fast_shift == 0 {
            return self.requant.apply_cold(acc, 0, i8::MAX);
        }
        if acc <= 0 {
            return 0;
        }
        // acc ∈ [1, 2³¹) and M ∈ [0, 2³¹) (fast path), so `as u32` keeps both values.
        let hi = high_word_nonneg(acc as u32, self.requant.multiplier as u32);
        // hi ≤ 2³⁰ and round ≤ 2²⁹: the sum fits; fast_shift ∈ 1..=30 is a valid shift.
        let q = hi.wrapping_add(self.round as u32) >> self.fast_shift;
        q.min(i8::MAX as u32) as i8
    }

    /// `self.requant().apply(acc, -128, 127)`: the output layer's pre-tanh value.
    #[inline(always)]
    pub fn full(self, acc: i32) -> i8 {
        if self.fast_shift == 0 {
            return self.requant.apply_cold(acc, i8::MIN, i8::MAX);
        }
        let hi = high_word(acc, self.requant.multiplier, (0, 0));
        // |hi| ≤ 2³⁰ and round ≤ 2²⁹: the sum fits; fast_shift ∈ 1..=30 is a valid shift.
        let q = hi.wrapping_add(self.round) >> self.fast_shift;
        // Clamped into i8 range, so the cast is exact.
        q.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
    }
}

/// `floor(a·m / 2³²)` for `a, m < 2³¹`: one `UMULL` (or `MULHU`) where the core has a long
/// multiply; on ARMv6-M four 16 × 16-bit `MULS`: with `a = a1·2¹⁶ + a0` and `m = m1·2¹⁶ + m0`
/// (`a1, m1 < 2¹⁵`), `a·m = a1·m1·2³² + (a1·m0 + a0·m1)·2¹⁶ + a0·m0`, and the middle sum plus
/// `floor(a0·m0 / 2¹⁶)` is below `2·(2¹⁵ − 1)(2¹⁶ − 1) + 2¹⁶ < 2³²`: no carry is lost.
#[inline(always)]
fn high_word_nonneg(a: u32, m: u32) -> u32 {
    #[cfg(not(firmware_core_no_long_mul))]
    {
        (u64::from(a).wrapping_mul(u64::from(m)) >> 32) as u32
    }
    #[cfg(firmware_core_no_long_mul)]
    {
        high_word_nonneg_16x16(a, m)
    }
}

/// [`high_word_nonneg`] from four 16 × 16-bit products (see there).
#[cfg_attr(not(any(test, firmware_core_no_long_mul)), allow(dead_code))]
#[inline(always)]
fn high_word_nonneg_16x16(a: u32, m: u32) -> u32 {
    let (a1, a0) = (a >> 16, a & 0xFFFF);
    let (m1, m0) = (m >> 16, m & 0xFFFF);
    // Each product is below 2³², the middle sum too (doc comment above).
    let middle = a1
        .wrapping_mul(m0)
        .wrapping_add(a0.wrapping_mul(m1))
        .wrapping_add(a0.wrapping_mul(m0) >> 16);
    a1.wrapping_mul(m1).wrapping_add(middle >> 16)
}

/// `floor((acc·m + round) / 2³²)`, exactly, for `m ≥ 0` and `round` = (low word, high word) <
/// 2⁶²: the high word of a 64-bit sum that cannot overflow (`|acc·m| ≤ 2⁶²`).
#[inline(always)]
fn high_word(acc: i32, m: i32, round: (u32, u32)) -> i32 {
    #[cfg(not(firmware_core_no_long_mul))]
    {
        // One SMULL (Cortex-M3/M4) or MUL + MULH (RV32IM) and a 64-bit add.
        let round = u64::from(round.0) | u64::from(round.1) << 32;
        let sum = (i64::from(acc).wrapping_mul(i64::from(m))).wrapping_add(round as i64);
        (sum >> 32) as i32
    }
    #[cfg(firmware_core_no_long_mul)]
    {
        high_word_16x16(acc, m, round)
    }
}

/// [`high_word`] from four 16 × 16-bit products, for cores whose only multiply keeps the low 32
/// bits (ARMv6-M `MULS`), where the compiler would call a 64 × 64-bit multiply routine.
///
/// With `acc = a1·2¹⁶ + a0` (`a1` signed, `a0 ∈ [0, 2¹⁶)`) and `m = m1·2¹⁶ + m0`
/// (`m1 ∈ [0, 2¹⁵)`), `acc·m = a1·m1·2³² + (a0·m1 + a1·m0)·2¹⁶ + a0·m0`; each partial product
/// fits in 32 bits (`a0·m0 < 2³²` unsigned, `|a1·m0|, a0·m1 < 2³¹`), and the sum is assembled
/// as a (low, high) word pair with explicit carries.
#[cfg_attr(not(any(test, firmware_core_no_long_mul)), allow(dead_code))]
#[inline(always)]
fn high_word_16x16(acc: i32, m: i32, round: (u32, u32)) -> i32 {
    let (a1, a0) = (acc >> 16, (acc as u32) & 0xFFFF);
    let (m1, m0) = (m >> 16, (m as u32) & 0xFFFF);
    // m ≥ 0, so m1 ∈ [0, 2¹⁵) and every product below is exact in its type.
    let low = a0.wrapping_mul(m0);
    let mut high = a1.wrapping_mul(m1);
    // + a0·m1·2¹⁶ (non-negative)
    let cross_unsigned = a0.wrapping_mul(m1 as u32);
    let (low, carry) = low.overflowing_add(cross_unsigned << 16);
    high = high
        .wrapping_add((cross_unsigned >> 16) as i32)
        .wrapping_add(i32::from(carry));
    // + a1·m0·2¹⁶ (signed)
    let cross_signed = a1.wrapping_mul(m0 as i32);
    let (low, carry) = low.overflowing_add((cross_signed as u32) << 16);
    high = high
        .wrapping_add(cross_signed >> 16)
        .wrapping_add(i32::from(carry));
    // + round
    let (_, carry) = low.overflowing_add(round.0);
    high.wrapping_add(round.1 as i32)
        .wrapping_add(i32::from(carry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(acc: i32, m: i32, n: u8) -> i64 {
        // floor(acc·M/2ⁿ + ½) with exact rational arithmetic in i128.
        let num = i128::from(acc) * i128::from(m) * 2 + (1i128 << n);
        num.div_euclid(1i128 << (n + 1)) as i64
    }

    #[test]
    fn high_word_matches_i64_arithmetic() {
        let mut rng = crate::latent::SplitMix32::new(5);
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -65536,
            -65535,
            -1,
            0,
            1,
            65535,
            65536,
            i32::MAX,
        ];
        let m_edges = [0, 1, 65535, 65536, 1 << 30, i32::MAX];
        let mut cases: Vec<(i32, i32)> = edges
            .iter()
            .flat_map(|&a| m_edges.iter().map(move |&m| (a, m)))
            .collect();
        for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
            cases.push((rng.next_u32() as i32, (rng.next_u32() >> 1) as i32));
        }
        for (acc, m) in cases {
            for n in [1u32, 31, 32, 33, 40, 62] {
                let round64 = 1u64 << (n - 1);
                let round = (round64 as u32, (round64 >> 32) as u32);
                let want = ((i64::from(acc) * i64::from(m) + round64 as i64) >> 32) as i32;
                assert_eq!(high_word_16x16(acc, m, round), want, "{acc} {m} {n}");
                assert_eq!(high_word(acc, m, round), want, "{acc} {m} {n}");
            }
        }
    }

    #[test]
    fn high_word_nonneg_matches_u64_arithmetic() {
        let mut rng = crate::latent::SplitMix32::new(6);
        let edges = [0u32, 1, 0xFFFF, 0x1_0000, 0x1_0001, 1 << 30, (1 << 31) - 1];
        let mut cases: Vec<(u32, u32)> = edges
            .iter()
            .flat_map(|&a| edges.iter().map(move |&m| (a, m)))
            .collect();
        for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
            cases.push((rng.next_u32() >> 1, rng.next_u32() >> 1));
        }
        for (a, m) in cases {
            let want = ((u64::from(a) * u64::from(m)) >> 32) as u32;
            assert_eq!(high_word_nonneg_16x16(a, m), want, "{a} {m}");
            assert_eq!(high_word_nonneg(a, m), want, "{a} {m}");
        }
    }

    /// Both paths of [`ChannelRequant`] against [`Requant::apply`], for every shift (fast path
    /// from 33 up), multipliers at the edges and accumulators at the extremes and around the
    /// rounding and clamping edges.
    #[test]
    fn channel_requant_matches_apply() {
        let mut rng = crate::latent::SplitMix32::new(10);
        let multipliers = [0, 1, 3, 1 << 30, (1 << 30) + 12345, i32::MAX];
        for n in 0..=u8::MAX {
            for &m in multipliers.iter().chain(&[-1, i32::MIN]) {
                let r = Requant::from_validated(m, n);
                let c = ChannelRequant::new(r);
                assert_eq!(c.requant(), r);
                let fast = (33..=MAX_SHIFT).contains(&n) && m >= 0;
                assert_eq!(c.fast_shift != 0, fast, "n {n} m {m}");
                let mut accs = vec![
                    i32::MIN,
                    i32::MIN + 1,
                    -2,
                    -1,
                    0,
                    1,
                    2,
                    i32::MAX - 1,
                    i32::MAX,
                ];
                // Accumulators whose exact quotient is near a half-integer or the clamp edges.
                if m > 0 && (1..=MAX_SHIFT).contains(&n) {
                    for target in [-129.5f64, -128.5, -0.5, 0.5, 1.5, 126.5, 127.5] {
                        let acc = target * 2f64.powi(i32::from(n)) / f64::from(m);
                        for d in -2..=2 {
                            let a = acc.round() + f64::from(d);
                            if a >= f64::from(i32::MIN) && a <= f64::from(i32::MAX) {
                                accs.push(a as i32);
                            }
                        }
                    }
                }
                for _ in 0..if cfg!(miri) { 1 } else { 20 } {
                    accs.push(rng.next_u32() as i32 >> (rng.next_u32() % 31));
                }
                for acc in accs {
                    let what = format!("acc {acc} m {m} n {n}");
                    assert_eq!(c.relu(acc), r.apply(acc, 0, 127), "relu {what}");
                    assert_eq!(c.full(acc), r.apply(acc, -128, 127), "full {what}");
                }
            }
        }
    }

    #[test]
    fn rounding_is_half_up() {
        let half = Requant::try_new(1 << 30, 31).unwrap(); // 0.5
        let got: Vec<i8> = (-5..=5).map(|a| half.apply(a, -128, 127)).collect();
        assert_eq!(got, [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn extremes_do_not_overflow() {
        for &acc in &[i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX] {
            for &m in &[0, 1, 1 << 30, i32::MAX] {
                for n in [MIN_SHIFT, 2, 31, 61, MAX_SHIFT] {
                    let r = Requant::try_new(m, n).unwrap();
                    let want = reference(acc, m, n).clamp(-128, 127) as i8;
                    assert_eq!(r.apply(acc, -128, 127), want, "acc {acc} m {m} n {n}");
                }
            }
        }
        // Unvalidated shifts are clamped instead of panicking.
        assert_eq!(
            Requant::from_validated(i32::MAX, 0).apply(i32::MIN, -128, 127),
            -128
        );
        assert_eq!(
            Requant::from_validated(i32::MIN, 200).apply(i32::MIN, -128, 127),
            1
        );
    }

    #[test]
    fn matches_exact_rounding_on_a_sweep() {
        let mut rng = crate::latent::SplitMix32::new(9);
        for _ in 0..20_000 {
            let acc = rng.next_u32() as i32 >> (rng.next_u32() % 24);
            let m = (rng.next_u32() >> 1) as i32;
            let n = (rng.next_u32() % 62) as u8 + 1;
            let r = Requant::try_new(m, n).unwrap();
            assert_eq!(
                r.apply(acc, 0, 127),
                reference(acc, m, n).clamp(0, 127) as i8
            );
        }
    }

    #[test]
    fn rejects_out_of_range_parameters() {
        assert!(Requant::try_new(-1, 31).is_none());
        assert!(Requant::try_new(5, 0).is_none());
        assert!(Requant::try_new(5, 63).is_none());
        assert!(Requant::try_new(0, 62).is_some());
    }

    #[cfg(feature = "std")]
    #[test]
    fn from_scale_is_normalised_and_accurate() {
        for &s in &[
            1e-9,
            3.7e-5,
            0.001,
            0.25,
            0.5,
            0.999_999_9,
            1.0,
            1.5,
            127.0,
            1e6,
        ] {
            let r = Requant::from_scale(s).unwrap();
            assert!(r.multiplier() >= 1 << 30, "{s}: {r:?}");
            assert!((r.scale() - s).abs() <= s * 1e-9, "{s}: {}", r.scale());
        }
        let tiny = Requant::from_scale(1e-15).unwrap();
        assert_eq!(tiny.shift(), MAX_SHIFT);
        assert!(tiny.multiplier() < 1 << 30);
        assert_eq!(Requant::from_scale(0.0).unwrap().multiplier(), 0);
        assert!(Requant::from_scale(2f64.powi(30)).is_none());
        assert!(Requant::from_scale(-1.0).is_none());
        assert!(Requant::from_scale(f64::NAN).is_none());
    }
}
