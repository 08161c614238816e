//! Strings of digits in generated handwriting: a year ("2026"), a counter, a clock ("12:34").
//!
//! A class-conditional generator draws each digit of the string from its own seed, one after
//! another into one caller-owned [`Digit`] (784 bytes of RAM however long the string), and hands
//! every placed character to a drawing callback — so the caller chooses the colours, shading and
//! scale exactly as for single digits:
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use embedded_graphics::{image::Image, mock_display::MockDisplay, pixelcolor::BinaryColor, prelude::*};
//! use firmware_core::text::{Glyph, Handwriting};
//! use firmware_core::{export, Digit, Generator, Scratch};
//! # let float = export::FloatGenerator::random(4);
//! # let blob = export::quantize_model(&float, 0..16, true).unwrap().to_blob();
//! let generator = Generator::new(&blob)?; // a class-conditional blob
//! let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
//! let mut display = MockDisplay::<BinaryColor>::new();
//! display.set_allow_overdraw(true);
//! let written = Handwriting::new(7).write(&generator, &mut scratch, &mut digit, "1:2", |glyph| {
//!     match glyph {
//!         Glyph::Digit { digit, top_left, .. } => {
//!             Image::new(&digit.binary_dithered(), top_left).draw(&mut display)
//!         }
//!         Glyph::Separator { .. } => Ok(()), // draw a colon here, or leave a gap
//!     }
//! });
//! assert_eq!(written.unwrap().size.width, 24 + 8 + 28);
//! # }
//! # Ok::<(), firmware_core::BlobError>(())
//! ```

use crate::arch::OUT_SIDE;
use crate::draw::MAX_SCALE;
use crate::{ClassError, Digit, Generator, Scratch};
use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

/// One placed character of a handwritten string.
#[derive(Debug)]
pub enum Glyph<'d> {
    /// A generated digit of the class `class`; its 28×28 cell (times the scale) starts at
    /// `top_left`.
    Digit {
        /// The digit's pixels.
        digit: &'d Digit,
        /// Which digit it is.
        class: u8,
        /// Top-left corner of its cell.
        top_left: Point,
    },
    /// Any other character (`:`, `.`, `-`, a space…): a narrow cell the caller may draw into or
    /// leave blank.
    Separator {
        /// The character.
        character: char,
        /// Its cell: [`Handwriting::separator_width`] wide, a digit cell high.
        cell: Rectangle,
    },
}

/// Why a string could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError<E> {
    /// The generator cannot draw a requested digit (it is unconditional).
    Class(ClassError),
    /// The drawing callback failed.
    Draw(E),
}

/// How handwritten strings are laid out. Positions are in display pixels for digits drawn at
/// [`scale`](Self::scale) (for example with `.scaled(scale)`); they saturate at `i32::MAX`, so
/// absurd scales or spacings give glyphs piled up at the far right, never an overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handwriting {
    /// Seed of the first digit; the i-th digit of a string uses `seed + i`, so repeated digits
    /// look different, as in real handwriting.
    pub seed: u32,
    /// Display pixels per digit pixel (0 counts as 1, values above
    /// [`MAX_SCALE`] as that).
    pub scale: u32,
    /// Distance between the left edges of neighbouring digit cells, in digit pixels. Below 28
    /// the cells overlap in MNIST's empty border (its digits fit a 20×20 box centred in 28×28),
    /// which spaces digits like handwriting; draw them in order so the overlap is the blank
    /// border of the later digit.
    pub digit_advance: u32,
    /// Width of a separator cell, in digit pixels.
    pub separator_width: u32,
}

impl Handwriting {
    /// Digits 24 pixels apart (4 pixels of the 28-pixel cells' blank border overlap), separators
    /// 8 pixels wide, scale 1.
    pub const fn new(seed: u32) -> Self {
        Self {
            seed,
            scale: 1,
            digit_advance: 24,
            separator_width: 8,
        }
    }

    /// The same layout at `scale` display pixels per digit pixel.
    #[must_use]
    pub const fn scaled(self, scale: u32) -> Self {
        Self { scale, ..self }
    }

    /// Generates the digits of `text` one after another into `digit` and hands every character,
    /// placed from (0, 0), to `draw`; returns the bounding box of what was written.
    ///
    /// # Errors
    ///
    /// [`TextError::Class`] if `generator` is not class-conditional (checked before anything is
    /// drawn), [`TextError::Draw`] with the first error of `draw`.
    pub fn write<E>(
        &self,
        generator: &Generator<'_>,
        scratch: &mut Scratch,
        digit: &mut Digit,
        text: &str,
        mut draw: impl FnMut(Glyph<'_>) -> Result<(), E>,
    ) -> Result<Rectangle, TextError<E>> {
        if !generator.is_conditional() && text.chars().any(|c| c.is_ascii_digit()) {
            return Err(TextError::Class(ClassError::NotConditional));
        }
        // Every length is in display pixels, saturating at `i32::MAX` (see `to_i32`); the scale
        // is clamped like the digit drawables' so a cell is `28 · scale` exactly when drawable.
        let scale = self.scale.clamp(1, MAX_SCALE);
        let cell = to_i32_range(SIDE.saturating_mul(scale));
        let advance = self.digit_advance.saturating_mul(scale);
        let separator = self.separator_width.saturating_mul(scale);
        let (mut x, mut right, mut seed) = (0u32, 0u32, self.seed);
        for character in text.chars() {
            let top_left = Point::new(to_i32(x), 0);
            if let Some(class) = character.to_digit(10) {
                // `to_digit(10)` is 0–9: fits in u8, and `generate` accepts it.
                let class = u8::try_from(class).unwrap_or(u8::MAX);
                generator
                    .generate(Some(class), seed, scratch, digit)
                    .map_err(TextError::Class)?;
                draw(Glyph::Digit {
                    digit,
                    class,
                    top_left,
                })
                .map_err(TextError::Draw)?;
                right = right.max(to_i32_range(x.saturating_add(cell)));
                x = to_i32_range(x.saturating_add(advance));
                seed = seed.wrapping_add(1);
            } else {
                // Narrowed where it would reach past `i32::MAX` (x ≤ i32::MAX, so no wrap).
                let end = to_i32_range(x.saturating_add(separator));
                let width = end.saturating_sub(x);
                let cell = Rectangle::new(top_left, Size::new(width, cell));
                draw(Glyph::Separator { character, cell }).map_err(TextError::Draw)?;
                x = end;
                right = right.max(x);
            }
        }
        Ok(Rectangle::new(Point::zero(), Size::new(right, cell)))
    }
}

/// Side of a digit cell at scale 1.
const SIDE: u32 = OUT_SIDE as u32;

/// `v` capped at `i32::MAX`: positions and sizes of placed glyphs saturate there, so every
/// rectangle handed out has corners embedded-graphics can compute.
fn to_i32_range(v: u32) -> u32 {
    v.min(i32::MAX as u32)
}

/// A coordinate from a length capped by [`to_i32_range`].
fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::export::{quantize, quantize_model, FloatGenerator};

    fn conditional_blob() -> Vec<u8> {
        quantize_model(&FloatGenerator::random(5), 0..32, true)
            .unwrap()
            .to_blob()
    }

    #[test]
    fn digits_get_their_class_and_own_seed_and_a_sensible_layout() {
        let blob = conditional_blob();
        let generator = Generator::new(&blob).unwrap();
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        let mut placed = Vec::new();
        let bounds = Handwriting::new(40)
            .scaled(2)
            .write(&generator, &mut scratch, &mut digit, "12:34", |g| {
                placed.push(match g {
                    Glyph::Digit {
                        digit,
                        class,
                        top_left,
                    } => (Some((class, digit.clone())), top_left.x),
                    Glyph::Separator { character, cell } => {
                        assert_eq!((character, cell.size), (':', Size::new(16, 56)));
                        (None, cell.top_left.x)
                    }
                });
                Ok::<(), ()>(())
            })
            .unwrap();
        let xs: Vec<i32> = placed.iter().map(|p| p.1).collect();
        assert_eq!(xs, [0, 48, 96, 112, 160]);
        assert_eq!(
            bounds,
            Rectangle::new(Point::zero(), Size::new(160 + 56, 56))
        );
        // Each digit is generator.generate(Some(class), 40 + i): its own seed, the same baseline.
        let mut expected = Digit::new();
        let digits: Vec<&(u8, Digit)> = placed.iter().filter_map(|p| p.0.as_ref()).collect();
        for (i, (class, digit)) in digits.iter().enumerate() {
            generator
                .generate(Some(*class), 40 + i as u32, &mut scratch, &mut expected)
                .unwrap();
            assert_eq!(digit, &expected);
        }
        assert_eq!(digits.iter().map(|d| d.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn unconditional_generators_and_draw_errors_are_reported() {
        let blob = quantize(&FloatGenerator::random(6), 0..32)
            .unwrap()
            .to_blob();
        let generator = Generator::new(&blob).unwrap();
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        let mut calls = 0;
        let result = Handwriting::new(0).write(&generator, &mut scratch, &mut digit, "7", |_| {
            calls += 1;
            Ok::<(), ()>(())
        });
        assert_eq!(result, Err(TextError::Class(ClassError::NotConditional)));
        assert_eq!(calls, 0, "nothing drawn");

        let blob = conditional_blob();
        let generator = Generator::new(&blob).unwrap();
        let result =
            Handwriting::new(0).write(&generator, &mut scratch, &mut digit, "-5", |g| match g {
                Glyph::Digit { .. } => Err("display gone"),
                Glyph::Separator { .. } => Ok(()),
            });
        assert_eq!(result, Err(TextError::Draw("display gone")));
    }
}

/// Extreme layouts, with a synthetic conditional model (no `std` feature needed).
#[cfg(test)]
mod extreme_tests {
    use super::*;
    use crate::test_blob::SyntheticModel;

    #[test]
    #[cfg_attr(miri, ignore = "a synthetic model and nine inferences: hours in Miri")]
    fn huge_scales_and_spacings_saturate_instead_of_overflowing() {
        let blob = SyntheticModel::new(8).conditional_blob();
        let generator = Generator::new(&blob).unwrap();
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        for scale in [u32::MAX, MAX_SCALE, 1 << 20] {
            let layout = Handwriting {
                seed: u32::MAX, // the second digit's seed wraps to 0
                scale,
                digit_advance: u32::MAX,
                separator_width: u32::MAX,
            };
            let mut placed = Vec::new();
            let bounds = layout
                .write(&generator, &mut scratch, &mut digit, "1:23", |glyph| {
                    placed.push(match glyph {
                        Glyph::Digit { top_left, .. } => (top_left, None),
                        Glyph::Separator { cell, .. } => (cell.top_left, Some(cell)),
                    });
                    Ok::<(), ()>(())
                })
                .unwrap();
            let cell = (28 * scale.min(MAX_SCALE)).min(i32::MAX as u32);
            let far = Point::new(i32::MAX, 0);
            let xs: Vec<Point> = placed.iter().map(|p| p.0).collect();
            assert_eq!(xs, [Point::zero(), far, far, far], "scale {scale}");
            // The separator was pushed to the end of the coordinate space: no room left.
            let separator = placed[1].1.unwrap();
            assert_eq!(separator.size, Size::new(0, cell));
            assert_eq!(
                bounds,
                Rectangle::new(Point::zero(), Size::new(i32::MAX as u32, cell))
            );
            // Corners embedded-graphics computes with overflow checks.
            assert!(bounds.bottom_right().is_some());
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
    fn separators_stop_at_the_end_of_the_coordinate_space() {
        let blob = SyntheticModel::new(8).conditional_blob();
        let generator = Generator::new(&blob).unwrap();
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        let layout = Handwriting {
            separator_width: 1 << 30,
            ..Handwriting::new(0)
        };
        let mut cells = Vec::new();
        layout
            .write(&generator, &mut scratch, &mut digit, "::::", |glyph| {
                if let Glyph::Separator { cell, .. } = glyph {
                    cells.push(cell);
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        let widths: Vec<u32> = cells.iter().map(|c| c.size.width).collect();
        // The second separator would end at 2³¹: it is narrowed by one pixel; nothing is left after.
        assert_eq!(widths, [1 << 30, (1 << 30) - 1, 0, 0]);
        for cell in cells {
            let right = cell.top_left.x as i64 + i64::from(cell.size.width);
            assert!(right <= i64::from(i32::MAX), "{cell:?}");
        }
    }
}
