//! The screen's pixels: status line, eight digits, or the error screen.

use core::fmt::{self, Write as _};

use embedded_graphics::{
    image::Image,
    mono_font::{ascii::FONT_5X8, MonoTextStyle},
    pixelcolor::Gray4,
    prelude::*,
    primitives::Rectangle,
    text::{Alignment, Baseline, Text, TextStyleBuilder},
};
use embedded_text::TextBox;
use firmware_core::{draw::DigitImage, Digit, Generator, Scratch};

use crate::{Gray16, Screen, DIGITS, SIZE};

/// Status text colour: bright enough to read, dimmer than full-white ink.
pub const TEXT: Gray4 = Gray4::new(10);
/// Error title colour.
pub const TITLE: Gray4 = Gray4::WHITE;
/// Height of the status line (one row of [`FONT_5X8`]).
pub const STATUS_HEIGHT: u32 = 8;
/// Digits per row.
pub const COLUMNS: usize = 4;
/// Gap between digits in a row, in pixels.
pub const GAP: u32 = 4;

const SIDE: u32 = Digit::SIDE as u32;

/// Top-left corner of digit `index` (reading order): two rows of four under the status line,
/// centred horizontally. `None` past [`DIGITS`].
pub const fn digit_origin(index: usize) -> Option<Point> {
    if index >= DIGITS {
        return None;
    }
    let (column, row) = ((index % COLUMNS) as u32, (index / COLUMNS) as u32);
    let width = COLUMNS as u32 * SIDE + (COLUMNS as u32 - 1) * GAP;
    let left = (SIZE.width - width) / 2;
    Some(Point::new(
        (left + column * (SIDE + GAP)) as i32,
        (STATUS_HEIGHT + row * SIDE) as i32,
    ))
}

/// Clears the panel and writes the status line: the first seed on the left, the class on the
/// right (`digit 7`, or `any digit`).
///
/// # Errors
///
/// Whatever `target` reports.
pub fn draw_status<D: DrawTarget<Color = Gray4>>(
    target: &mut D,
    screen: &Screen,
) -> Result<(), D::Error> {
    target.clear(Gray4::BLACK)?;
    let style = MonoTextStyle::new(&FONT_5X8, TEXT);
    let left = TextStyleBuilder::new().baseline(Baseline::Top).build();
    let right = TextStyleBuilder::new()
        .baseline(Baseline::Top)
        .alignment(Alignment::Right)
        .build();
    // "seed 4294967295" is the longest: 15 characters.
    let mut text = Line::<16>::new();
    let _ = write!(text, "seed {}", screen.seed());
    Text::with_text_style(text.as_str(), Point::new(1, 0), style, left).draw(target)?;
    let mut class = Line::<16>::new();
    let _ = match screen.class() {
        Some(c) => write!(class, "digit {c}"),
        None => class.write_str("any digit"),
    };
    let right_edge = Point::new(SIZE.width as i32 - 1, 0);
    Text::with_text_style(class.as_str(), right_edge, style, right).draw(target)?;
    Ok(())
}

/// Draws digit `index` (reading order) at its place; nothing past [`DIGITS`].
///
/// # Errors
///
/// Whatever `target` reports.
pub fn draw_digit<D: DrawTarget<Color = Gray4>>(
    target: &mut D,
    index: usize,
    digit: &Digit,
) -> Result<(), D::Error> {
    match digit_origin(index) {
        Some(at) => Image::new(&DigitImage::new(digit, Gray16), at).draw(target),
        None => Ok(()),
    }
}

/// The whole screen for `screen`, generating its digits one at a time into `digit` with
/// `scratch`, as a device does (no room for eight digits needed). A class is only asked of a
/// conditional generator.
///
/// # Errors
///
/// Whatever `target` reports.
pub fn draw<D: DrawTarget<Color = Gray4>>(
    target: &mut D,
    screen: &Screen,
    generator: &Generator<'_>,
    scratch: &mut Scratch,
    digit: &mut Digit,
) -> Result<(), D::Error> {
    draw_status(target, screen)?;
    let class = screen.class().filter(|_| generator.is_conditional());
    for index in 0..DIGITS {
        // Cannot fail: the class is 0–9 (`Screen::new`) and only asked of conditional blobs.
        if generator
            .generate(class, screen.digit_seed(index), scratch, digit)
            .is_err()
        {
            *digit = Digit::new();
        }
        draw_digit(target, index, digit)?;
    }
    Ok(())
}

/// The same screen from digits generated beforehand (`digits[i]` from
/// [`Screen::digit_seed`]`(i)`), e.g. by the sim; missing digits stay blank.
///
/// # Errors
///
/// Whatever `target` reports.
pub fn draw_with_digits<D: DrawTarget<Color = Gray4>>(
    target: &mut D,
    screen: &Screen,
    digits: &[Digit],
) -> Result<(), D::Error> {
    draw_status(target, screen)?;
    for (index, digit) in digits.iter().take(DIGITS).enumerate() {
        draw_digit(target, index, digit)?;
    }
    Ok(())
}

/// Longest reason shown; longer ones are cut (they would not fit the panel anyway).
const REASON_BYTES: usize = 200;

/// The screen shown instead of digits when the blob fails validation: a title and `reason`,
/// word-wrapped over the rest of the panel.
///
/// # Errors
///
/// Whatever `target` reports.
pub fn draw_error<D: DrawTarget<Color = Gray4>>(
    target: &mut D,
    reason: &dyn fmt::Display,
) -> Result<(), D::Error> {
    target.clear(Gray4::BLACK)?;
    let top = TextStyleBuilder::new().baseline(Baseline::Top).build();
    let title = MonoTextStyle::new(&FONT_5X8, TITLE);
    Text::with_text_style("generator blob rejected:", Point::new(1, 0), title, top).draw(target)?;
    let mut text = Line::<REASON_BYTES>::new();
    let _ = write!(text, "{reason}");
    let body = Rectangle::new(
        Point::new(1, STATUS_HEIGHT as i32 + 2),
        Size::new(SIZE.width - 2, SIZE.height - STATUS_HEIGHT - 2),
    );
    TextBox::new(text.as_str(), body, MonoTextStyle::new(&FONT_5X8, TEXT)).draw(target)?;
    Ok(())
}

/// A fixed-capacity string that keeps what fits and drops the rest (whole characters only),
/// instead of failing the whole `write!` like `heapless::String` does.
struct Line<const N: usize>(heapless::String<N>);

impl<const N: usize> Line<N> {
    fn new() -> Self {
        Self(heapless::String::new())
    }

    fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<const N: usize> fmt::Write for Line<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_what_fits() {
        let mut line = Line::<8>::new();
        let _ = write!(line, "seed {}", 1234567);
        assert_eq!(line.as_str(), "seed 123");
        let mut wide = Line::<4>::new();
        let _ = wide.write_str("aé€b");
        assert_eq!(wide.as_str(), "aé", "no half characters");
    }
}
