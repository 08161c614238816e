//! Output non-linearity: a 256-entry table from the pre-tanh int8 value to a pixel.
//!
//! The exporter fills entry `q + 128` with `round((tanh(q · s) + 1) · 127.5)`, where `s` is the
//! calibrated pre-tanh scale (see `export::pixel_from_tanh`), so the device needs neither floats
//! nor `tanh`: white digit on black, like MNIST.

use crate::requant::ChannelRequant;

/// Entries in the table: one per int8 value.
pub const LUT_LEN: usize = 256;

/// Validated tanh table borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TanhLut<'a>(pub &'a [u8; LUT_LEN]);

impl TanhLut<'_> {
    /// Pixel for a pre-tanh int8 value.
    #[inline(always)]
    pub fn pixel(self, q: i8) -> u8 {
        // `q as u8 ^ 0x80` is `q + 128` in 0..=255: always inside the 256-entry table.
        self.0
            .get(usize::from(q as u8 ^ 0x80))
            .copied()
            .unwrap_or(0)
    }

    /// Epilogue for the output layer: requantise the accumulator to int8 over the full range,
    /// then look the pixel up.
    #[inline(always)]
    pub fn epilogue(self, acc: i32, requant: ChannelRequant) -> u8 {
        self.pixel(requant.full(acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_value_plus_128() {
        let table: [u8; LUT_LEN] = core::array::from_fn(|i| i as u8);
        let lut = TanhLut(&table);
        assert_eq!(lut.pixel(-128), 0);
        assert_eq!(lut.pixel(-1), 127);
        assert_eq!(lut.pixel(0), 128);
        assert_eq!(lut.pixel(127), 255);
    }
}
