//! 8-bit digit values → the panel's 16 grey levels.

use embedded_graphics::{pixelcolor::Gray4, prelude::*};
use firmware_core::draw::ColorMap;

/// The nearest of the 16 levels: `round(value · 15 / 255)`, so 0 stays black, 255 is full white
/// and each level covers an equal share of the range (levels 1–14 take 17 values each).
pub const fn gray4(value: u8) -> Gray4 {
    // At most (255 · 15 + 127) / 255 = 15: fits a nibble.
    Gray4::new(((value as u16 * 15 + 127) / 255) as u8)
}

/// firmware-core colour map drawing digits with [`gray4`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gray16;

impl ColorMap for Gray16 {
    type Color = Gray4;
    fn color(&self, value: u8, _: Point) -> Gray4 {
        gray4(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_rounding_boundaries() {
        assert_eq!(gray4(0), Gray4::BLACK);
        assert_eq!(gray4(255), Gray4::WHITE);
        // Level k is centred on 17k: the boundaries are at 17k ± 8.5.
        assert_eq!(gray4(8).luma(), 0);
        assert_eq!(gray4(9).luma(), 1);
        assert_eq!(gray4(25).luma(), 1);
        assert_eq!(gray4(26).luma(), 2);
        assert_eq!(gray4(246).luma(), 14);
        assert_eq!(gray4(247).luma(), 15);
        for level in 0..16u8 {
            assert_eq!(gray4(level * 17).luma(), level);
        }
    }

    #[test]
    fn monotonic_and_every_level_used() {
        let levels: Vec<u8> = (0..=255u8).map(|v| gray4(v).luma()).collect();
        assert!(levels.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        let counts: Vec<usize> = (0..16u8)
            .map(|l| levels.iter().filter(|&&x| x == l).count())
            .collect();
        assert_eq!(counts[0], 9);
        assert_eq!(counts[15], 9);
        assert!(counts[1..15].iter().all(|&c| c == 17), "{counts:?}");
    }
}
