//! Drawing digits on any [embedded-graphics](embedded_graphics) display.
//!
//! A [`DigitImage`] behaves like `ImageRaw`: an [`ImageDrawable`] positioned with
//! [`Image::new`](embedded_graphics::image::Image::new), croppable with `sub_image`. A
//! [`ColorMap`] turns the grey value into the display's colour:
//!
//! | builder | map | colour |
//! |---|---|---|
//! | [`Digit::gray8`] | [`Gray`] | `Gray8` |
//! | [`Digit::binary`] | [`Threshold`] | `BinaryColor`, on where `value ≥ threshold` |
//! | [`Digit::binary_dithered`] | [`Bayer4`] | `BinaryColor`, ordered 4 × 4 dithering |
//! | [`Digit::rgb565`] | [`Blend`] | `Rgb565`, linear blend background → foreground |
//!
//! [`DigitImage::scaled`] draws each pixel as an `n × n` block; [`DigitGrid`] lays several digits
//! out in rows with spacing.
//!
//! ```
//! use embedded_graphics::{image::Image, mock_display::MockDisplay, pixelcolor::BinaryColor, prelude::*};
//! use firmware_core::{draw::Threshold, Digit};
//!
//! let mut pixels = [0u8; 784];
//! pixels[0] = 255;
//! let digit = Digit::from_pixels(pixels);
//! let mut display = MockDisplay::<BinaryColor>::new();
//! Image::new(&digit.binary(Threshold(128)).scaled(2), Point::new(1, 1)).draw(&mut display)?;
//! assert_eq!(display.get_pixel(Point::new(2, 2)), Some(BinaryColor::On));
//! assert_eq!(display.get_pixel(Point::new(3, 3)), Some(BinaryColor::Off));
//! # Ok::<(), core::convert::Infallible>(())
//! ```

use crate::digit::Digit;
use embedded_graphics::{
    image::GetPixel,
    pixelcolor::{BinaryColor, Gray8, Rgb565, Rgb888},
    prelude::*,
    primitives::Rectangle,
};

/// Side of a digit in pixels, as a display coordinate.
const SIDE: u32 = Digit::SIDE as u32;

/// Maps a grey value (0 = background, 255 = ink) at an image position to a display colour.
///
/// `point` is relative to the drawn image's top-left corner (after scaling), so position-dependent
/// maps such as [`Bayer4`] dither every displayed pixel.
pub trait ColorMap {
    /// The display colour.
    type Color: PixelColor;
    /// Colour for grey `value` at `point`.
    fn color(&self, value: u8, point: Point) -> Self::Color;
}

/// Grey levels as they are (`Gray8`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gray;

impl ColorMap for Gray {
    type Color = Gray8;
    fn color(&self, value: u8, _: Point) -> Gray8 {
        Gray8::new(value)
    }
}

/// One-bit colour: on where the value is at least the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(pub u8);

impl Default for Threshold {
    /// Mid grey (128).
    fn default() -> Self {
        Self(128)
    }
}

impl ColorMap for Threshold {
    type Color = BinaryColor;
    fn color(&self, value: u8, _: Point) -> BinaryColor {
        BinaryColor::from(value >= self.0)
    }
}

/// One-bit colour with ordered dithering over a 4 × 4 Bayer matrix `B`: a pixel is on where
/// `value > 16·B[y mod 4][x mod 4] + 8`, so about `value / 256` of an even area lights up
/// (0 → none, 128 → a checkerboard, 255 → all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bayer4;

/// The 4 × 4 Bayer index matrix, row-major.
const BAYER4: [u8; 16] = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5];

impl ColorMap for Bayer4 {
    type Color = BinaryColor;
    fn color(&self, value: u8, point: Point) -> BinaryColor {
        // `& 3` is the non-negative remainder for any i32, so the index is in 0..16.
        let index = ((point.y & 3) * 4 + (point.x & 3)) as usize;
        let level = BAYER4.get(index).copied().unwrap_or(0);
        BinaryColor::from(u16::from(value) > u16::from(level) * 16 + 8)
    }
}

/// Linear blend from `background` (value 0) to `foreground` (value 255), per colour channel,
/// rounded to nearest: `c = (bg·(255 − v) + fg·v + 127) / 255`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blend<C> {
    /// Colour of ink (value 255).
    pub foreground: C,
    /// Colour of the background (value 0).
    pub background: C,
}

fn mix(background: u8, foreground: u8, value: u8) -> u8 {
    let v = u32::from(value);
    let c = (u32::from(background) * (255 - v) + u32::from(foreground) * v + 127) / 255;
    // A weighted mean of two u8 values is a u8.
    u8::try_from(c).unwrap_or(u8::MAX)
}

macro_rules! impl_blend {
    ($color:ty) => {
        impl ColorMap for Blend<$color> {
            type Color = $color;
            fn color(&self, value: u8, _: Point) -> $color {
                let (bg, fg) = (self.background, self.foreground);
                <$color>::new(
                    mix(bg.r(), fg.r(), value),
                    mix(bg.g(), fg.g(), value),
                    mix(bg.b(), fg.b(), value),
                )
            }
        }
    };
}
impl_blend!(Rgb565);
impl_blend!(Rgb888);

/// A [`Digit`] as an [`ImageDrawable`], in the colours of a [`ColorMap`], optionally scaled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitImage<'a, M> {
    digit: &'a Digit,
    map: M,
    scale: u32,
}

impl<'a, M: ColorMap> DigitImage<'a, M> {
    /// `digit` in the colours of `map`, one display pixel per digit pixel.
    pub fn new(digit: &'a Digit, map: M) -> Self {
        Self {
            digit,
            map,
            scale: 1,
        }
    }

    /// Draws every digit pixel as a `factor × factor` block (0 counts as 1).
    #[must_use]
    pub fn scaled(self, factor: u32) -> Self {
        Self {
            scale: factor.max(1),
            ..self
        }
    }

    /// The scale factor.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Colour at `p` (image coordinates, inside the bounding box).
    fn color_at(&self, p: Point) -> M::Color {
        let x = p.x.unsigned_abs() / self.scale;
        let y = p.y.unsigned_abs() / self.scale;
        let value = self.digit.pixel(x as usize, y as usize).unwrap_or(0);
        self.map.color(value, p)
    }
}

impl<M: ColorMap> OriginDimensions for DigitImage<'_, M> {
    fn size(&self) -> Size {
        let side = SIDE.saturating_mul(self.scale);
        Size::new(side, side)
    }
}

impl<M: ColorMap> ImageDrawable for DigitImage<'_, M> {
    type Color = M::Color;

    fn draw<D>(&self, target: &mut D) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        let area = self.bounding_box();
        target.fill_contiguous(&area, area.points().map(|p| self.color_at(p)))
    }

    fn draw_sub_image<D>(&self, target: &mut D, area: &Rectangle) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        // Like `ImageRaw`: nothing is drawn unless `area` lies inside the image.
        if area.is_zero_sized() || self.bounding_box().intersection(area) != *area {
            return Ok(());
        }
        target.fill_contiguous(
            &Rectangle::new(Point::zero(), area.size),
            area.points().map(|p| self.color_at(p)),
        )
    }
}

impl<M: ColorMap> GetPixel for DigitImage<'_, M> {
    type Color = M::Color;

    fn pixel(&self, p: Point) -> Option<Self::Color> {
        self.bounding_box().contains(p).then(|| self.color_at(p))
    }
}

impl Digit {
    /// Drawable in `map`'s colours.
    pub fn image<M: ColorMap>(&self, map: M) -> DigitImage<'_, M> {
        DigitImage::new(self, map)
    }

    /// Drawable in 8-bit grey.
    pub fn gray8(&self) -> DigitImage<'_, Gray> {
        self.image(Gray)
    }

    /// Drawable in one-bit colour, on at or above `threshold`.
    pub fn binary(&self, threshold: Threshold) -> DigitImage<'_, Threshold> {
        self.image(threshold)
    }

    /// Drawable in one-bit colour with ordered dithering, for monochrome OLEDs.
    pub fn binary_dithered(&self) -> DigitImage<'_, Bayer4> {
        self.image(Bayer4)
    }

    /// Drawable in RGB565, blending `background` (0) to `foreground` (255).
    pub fn rgb565(&self, foreground: Rgb565, background: Rgb565) -> DigitImage<'_, Blend<Rgb565>> {
        self.image(Blend {
            foreground,
            background,
        })
    }
}

/// Several digits in rows of `columns`, `spacing` pixels apart, as one [`ImageDrawable`].
///
/// Pixels in the gaps are left untouched.
///
/// ```
/// use embedded_graphics::{image::Image, mock_display::MockDisplay, pixelcolor::Gray8, prelude::*};
/// use firmware_core::{draw::{DigitGrid, Gray}, Digit};
///
/// let digits = [Digit::new(), Digit::new(), Digit::new()];
/// let grid = DigitGrid::new(&digits, Gray).columns(2).spacing(3);
/// assert_eq!(grid.size(), Size::new(28 + 3 + 28, 28 + 3 + 28));
/// let mut display = MockDisplay::<Gray8>::new();
/// Image::new(&grid, Point::zero()).draw(&mut display)?;
/// assert_eq!(display.get_pixel(Point::new(29, 0)), None); // gap
/// # Ok::<(), core::convert::Infallible>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitGrid<'a, M> {
    digits: &'a [Digit],
    map: M,
    scale: u32,
    columns: u32,
    spacing: u32,
}

impl<'a, M: ColorMap + Copy> DigitGrid<'a, M> {
    /// All `digits` in one row, no spacing, unscaled.
    pub fn new(digits: &'a [Digit], map: M) -> Self {
        Self {
            digits,
            map,
            scale: 1,
            columns: u32::try_from(digits.len()).unwrap_or(u32::MAX).max(1),
            spacing: 0,
        }
    }

    /// Digits per row (0 counts as 1).
    #[must_use]
    pub fn columns(self, columns: u32) -> Self {
        Self {
            columns: columns.max(1),
            ..self
        }
    }

    /// Gap between neighbouring digits, in display pixels.
    #[must_use]
    pub fn spacing(self, spacing: u32) -> Self {
        Self { spacing, ..self }
    }

    /// Scale factor of every digit (0 counts as 1).
    #[must_use]
    pub fn scaled(self, factor: u32) -> Self {
        Self {
            scale: factor.max(1),
            ..self
        }
    }

    fn pitch(&self) -> u32 {
        SIDE.saturating_mul(self.scale).saturating_add(self.spacing)
    }

    fn grid_cells(&self) -> (u32, u32) {
        let n = u32::try_from(self.digits.len()).unwrap_or(u32::MAX);
        let columns = self.columns.min(n);
        let rows = n.div_ceil(self.columns);
        (columns, rows)
    }
}

impl<M: ColorMap + Copy> OriginDimensions for DigitGrid<'_, M> {
    fn size(&self) -> Size {
        let (columns, rows) = self.grid_cells();
        let extent = |cells: u32| {
            cells
                .saturating_mul(self.pitch())
                .saturating_sub(self.spacing * u32::from(cells > 0))
        };
        Size::new(extent(columns), extent(rows))
    }
}

impl<M: ColorMap + Copy> ImageDrawable for DigitGrid<'_, M> {
    type Color = M::Color;

    fn draw<D>(&self, target: &mut D) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        let pitch = i32::try_from(self.pitch()).unwrap_or(i32::MAX);
        let columns = self.columns as usize;
        for (i, digit) in self.digits.iter().enumerate() {
            let (column, row) = ((i % columns) as i32, (i / columns) as i32);
            let origin = Point::new(column.saturating_mul(pitch), row.saturating_mul(pitch));
            let image = DigitImage::new(digit, self.map).scaled(self.scale);
            image.draw(&mut target.translated(origin))?;
        }
        Ok(())
    }

    fn draw_sub_image<D>(&self, target: &mut D, area: &Rectangle) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        // Draw everything, shifted so `area` starts at the origin and clipped to it.
        let mut shifted = target.translated(-area.top_left);
        self.draw(&mut shifted.clipped(area))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::{image::Image, mock_display::MockDisplay};

    /// A digit with a 3 × 3 "plus" of ink (255) around (1, 1), a 128 dot at (5, 0) and a
    /// 64-valued 4 × 4 block at (8..12, 0..4).
    fn sample() -> Digit {
        let mut d = Digit::new();
        let p = d.pixels_mut();
        for (x, y) in [(1, 0), (0, 1), (1, 1), (2, 1), (1, 2)] {
            p[y * 28 + x] = 255;
        }
        p[5] = 128;
        for y in 0..4 {
            for x in 8..12 {
                p[y * 28 + x] = 64;
            }
        }
        d
    }

    fn crop(x: i32, y: i32, w: u32, h: u32) -> Rectangle {
        Rectangle::new(Point::new(x, y), Size::new(w, h))
    }

    #[test]
    fn gray8_crop() {
        let d = sample();
        let img = d.gray8();
        let mut display = MockDisplay::<Gray8>::new();
        Image::new(&img.sub_image(&crop(0, 0, 5, 3)), Point::zero())
            .draw(&mut display)
            .unwrap();
        #[rustfmt::skip]
        display.assert_pattern(&[
            "0F000",
            "FFF00",
            "0F000",
        ]);
        // 128 is not a multiple of 0x11: check the exact value.
        assert_eq!(img.pixel(Point::new(5, 0)), Some(Gray8::new(128)));
        assert_eq!(img.pixel(Point::new(28, 0)), None);
    }

    #[test]
    fn threshold_and_scaling() {
        let d = sample();
        let img = d.binary(Threshold(100)).scaled(2);
        assert_eq!(img.size(), Size::new(56, 56));
        let mut display = MockDisplay::<BinaryColor>::new();
        Image::new(&img.sub_image(&crop(0, 0, 12, 5)), Point::new(1, 1))
            .draw(&mut display)
            .unwrap();
        #[rustfmt::skip]
        display.assert_pattern(&[
            "             ",
            " ..##......##",
            " ..##......##",
            " ######......",
            " ######......",
            " ..##........",
        ]);
    }

    #[test]
    fn dithering_follows_the_bayer_matrix() {
        let d = sample();
        let mut display = MockDisplay::<BinaryColor>::new();
        // The 64-valued block: a quarter of its pixels are on.
        Image::new(
            &d.binary_dithered().sub_image(&crop(8, 0, 4, 4)),
            Point::zero(),
        )
        .draw(&mut display)
        .unwrap();
        #[rustfmt::skip]
        display.assert_pattern(&[
            "#.#.",
            "....",
            "#.#.",
            "....",
        ]);

        // A uniform 128 digit is a checkerboard; 0 is all off, 255 all on.
        for (value, rows) in [
            (128, ["#.#.", ".#.#", "#.#.", ".#.#"]),
            (0, ["....", "....", "....", "...."]),
            (255, ["####", "####", "####", "####"]),
        ] {
            let flat = Digit::from_pixels([value; 784]);
            let mut display = MockDisplay::<BinaryColor>::new();
            Image::new(
                &flat.binary_dithered().sub_image(&crop(4, 8, 4, 4)),
                Point::zero(),
            )
            .draw(&mut display)
            .unwrap();
            display.assert_pattern(&rows);
        }
    }

    #[test]
    fn rgb565_blends_linearly() {
        let d = sample();
        let img = d.rgb565(Rgb565::WHITE, Rgb565::BLUE);
        let mut display = MockDisplay::<Rgb565>::new();
        Image::new(&img.sub_image(&crop(0, 0, 3, 3)), Point::zero())
            .draw(&mut display)
            .unwrap();
        #[rustfmt::skip]
        display.assert_pattern(&[
            "BWB",
            "WWW",
            "BWB",
        ]);
        // 128/255 of the way from blue (0, 0, 31) to white (31, 63, 31).
        assert_eq!(img.pixel(Point::new(5, 0)), Some(Rgb565::new(16, 32, 31)));
        assert_eq!(mix(0, 255, 128), 128);
        assert_eq!(mix(10, 20, 0), 10);
        assert_eq!(mix(10, 20, 255), 20);
    }

    #[test]
    fn full_image_covers_exactly_its_box() {
        let d = sample();
        let mut display = MockDisplay::<Gray8>::new();
        Image::new(&d.gray8(), Point::new(3, 4))
            .draw(&mut display)
            .unwrap();
        assert_eq!(display.affected_area(), crop(3, 4, 28, 28));
        assert_eq!(display.get_pixel(Point::new(4, 4)), Some(Gray8::WHITE));
        assert_eq!(display.get_pixel(Point::new(3, 4)), Some(Gray8::BLACK));
    }

    #[test]
    fn sub_image_is_clipped_to_the_digit() {
        let d = sample();
        // `sub_image` itself intersects the area with the image, like for `ImageRaw`…
        let mut display = MockDisplay::<Gray8>::new();
        Image::new(&d.gray8().sub_image(&crop(20, 20, 10, 10)), Point::zero())
            .draw(&mut display)
            .unwrap();
        assert_eq!(display.affected_area(), crop(0, 0, 8, 8));
        // …and an area reaching outside, passed directly, draws nothing.
        let mut display = MockDisplay::<Gray8>::new();
        d.gray8()
            .draw_sub_image(&mut display, &crop(20, 20, 10, 10))
            .unwrap();
        assert_eq!(display.affected_area(), Rectangle::zero());
    }

    #[test]
    fn grid_places_digits_with_spacing() {
        let mut a = Digit::new();
        a.pixels_mut()[27] = 255; // (27, 0)
        let mut b = Digit::new();
        b.pixels_mut()[1] = 255; // (1, 0)
        let digits = [a.clone(), b, a];
        let grid = DigitGrid::new(&digits, Threshold(128))
            .columns(2)
            .spacing(2);
        assert_eq!(grid.size(), Size::new(58, 58));
        let mut display = MockDisplay::<BinaryColor>::new();
        // Across the horizontal gap between the first two digits (columns 28, 29 untouched)…
        Image::new(&grid.sub_image(&crop(26, 0, 6, 1)), Point::zero())
            .draw(&mut display)
            .unwrap();
        display.assert_pattern(&[".#  .#"]);
        // …and down the vertical gap into the third digit's first row.
        let mut display = MockDisplay::<BinaryColor>::new();
        Image::new(&grid.sub_image(&crop(26, 27, 2, 4)), Point::zero())
            .draw(&mut display)
            .unwrap();
        display.assert_pattern(&["..", "  ", "  ", ".#"]);
    }

    #[test]
    fn grid_of_one_row_by_default() {
        let digits = [Digit::new(), Digit::new()];
        let grid = DigitGrid::new(&digits, Gray).scaled(2).spacing(1);
        assert_eq!(grid.size(), Size::new(56 + 1 + 56, 56));
        assert_eq!(DigitGrid::new(&[], Gray).size(), Size::zero());
    }
}
