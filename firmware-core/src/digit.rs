//! The generated image: 28 × 28 grey pixels, white digit on black like MNIST.

use crate::arch::{OUT_PIXELS, OUT_SIDE};

/// A 28 × 28 8-bit greyscale image, row-major (`index = y·28 + x`), 0 = black, 255 = white.
///
/// Render it with the adapters in [`crate::draw`] (e.g. [`Digit::gray8`]).
///
/// ```
/// use firmware_core::Digit;
/// let mut pixels = [0u8; 784];
/// pixels[2 * 28 + 3] = 200;
/// let digit = Digit::from_pixels(pixels);
/// assert_eq!(digit.pixel(3, 2), Some(200));
/// assert_eq!(digit.pixel(28, 0), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digit {
    pixels: [u8; OUT_PIXELS],
}

impl Digit {
    /// Width and height in pixels.
    pub const SIDE: usize = OUT_SIDE;

    /// An all-black image (a buffer to generate into).
    pub const fn new() -> Self {
        Self {
            pixels: [0; OUT_PIXELS],
        }
    }

    /// Wraps row-major pixels.
    pub const fn from_pixels(pixels: [u8; OUT_PIXELS]) -> Self {
        Self { pixels }
    }

    /// All pixels, row-major.
    pub fn pixels(&self) -> &[u8; OUT_PIXELS] {
        &self.pixels
    }

    /// All pixels, row-major, for editing.
    pub fn pixels_mut(&mut self) -> &mut [u8; OUT_PIXELS] {
        &mut self.pixels
    }

    /// The pixel at column `x`, row `y`, or `None` outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<u8> {
        // `get(x)` on a row checks `x < 28`; the row index `y` is checked by `nth`.
        self.rows().nth(y)?.get(x).copied()
    }

    /// The rows, top to bottom.
    pub fn rows(&self) -> impl Iterator<Item = &[u8]> {
        self.pixels.chunks_exact(OUT_SIDE)
    }
}

impl Default for Digit {
    fn default() -> Self {
        Self::new()
    }
}

/// Prints the digit as 28 lines of ASCII shades (` .:-=+*#%@`, dark to light), which makes test
/// failures readable.
impl core::fmt::Debug for Digit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const SHADES: &[u8; 10] = b" .:-=+*#%@";
        f.write_str("Digit\n")?;
        for row in self.rows() {
            for &p in row {
                // 256 grey levels onto 10 shades: `p / 26` is at most 255 / 26 = 9.
                let shade = SHADES.get(usize::from(p / 26)).copied().unwrap_or(b'?');
                core::fmt::Write::write_char(f, char::from(shade))?;
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}
