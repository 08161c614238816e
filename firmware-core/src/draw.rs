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
//! # Any position, any scale
//!
//! Every drawable clips itself to the target's bounding box before it produces a pixel, computing
//! the visible part in 64-bit coordinates, so its work is bounded by the display's size and no
//! position or scale makes it overflow: a digit scaled to cover four billion pixels costs what the
//! visible part costs, and one placed far off-screen draws nothing. Scale factors are clamped to
//! `1..=`[`MAX_SCALE`] and grid sizes to `i32::MAX`, so every bounding box has corners that
//! embedded-graphics can compute; for the same reason no pixel is drawn at coordinate `i32::MAX`
//! (a rectangle reaching it has a bottom-right corner past `i32`). One limit is
//! embedded-graphics' own: the `Translated` target behind `Image::new(drawable, offset)` negates
//! `offset` in its `bounding_box`, which overflows in builds with overflow checks for a
//! coordinate of exactly `i32::MIN`.
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
use core::num::NonZeroU32;
use embedded_graphics::{
    image::GetPixel,
    pixelcolor::{BinaryColor, Gray8, Rgb565, Rgb888},
    prelude::*,
    primitives::Rectangle,
};

/// Side of a digit in pixels, as a display coordinate.
const SIDE: u32 = Digit::SIDE as u32;

/// Largest scale factor: `28 · MAX_SCALE ≤ i32::MAX`, so a scaled digit's bounding box lies
/// inside the `i32` coordinate space. Larger factors are clamped to it.
pub const MAX_SCALE: u32 = i32::MAX as u32 / SIDE;

/// Side of a digit scaled by `scale` (≤ `28 · MAX_SCALE`, since `scale` was clamped).
fn scaled_side(scale: NonZeroU32) -> u32 {
    SIDE.saturating_mul(scale.get())
}

/// `factor` clamped to `1..=MAX_SCALE`.
fn clamp_scale(factor: u32) -> NonZeroU32 {
    NonZeroU32::new(factor.clamp(1, MAX_SCALE)).unwrap_or(NonZeroU32::MIN)
}

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
        // `& 3` is the non-negative remainder for any i32: the index `4·(y mod 4) + x mod 4`
        // is in 0..16.
        let index = ((point.y & 3) << 2 | (point.x & 3)) as usize;
        let level = BAYER4.get(index).copied().unwrap_or(0);
        // level ≤ 15: the threshold 16·level + 8 ≤ 248 fits in u8 arithmetic widened to u16.
        BinaryColor::from(u16::from(value) > (u16::from(level) << 4 | 8))
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

// Every operand is a u8 widened to u32: the sum is at most 255·255 + 127 < 2¹⁷, and 255 − v ≥ 0.
#[allow(clippy::arithmetic_side_effects)]
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

/// A half-open box `[left, right) × [top, bottom)` in `i64` coordinates, for clipping.
///
/// A `Rectangle` converts exactly (coordinates below 2³¹ in size, extents below 2³²), and the
/// offsets added here are such coordinates too, so no sum comes near `i64`'s range (the
/// saturating adds are a formality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    left: i64,
    top: i64,
    right: i64,
    bottom: i64,
}

/// A 2-D offset in `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offset(i64, i64);

impl Offset {
    const ZERO: Self = Self(0, 0);

    fn of(p: Point) -> Self {
        Self(i64::from(p.x), i64::from(p.y))
    }
}

impl Span {
    /// Every point `embedded-graphics` can address and whose rectangle corners it can compute.
    const I32: Self = Self {
        left: i32::MIN as i64,
        top: i32::MIN as i64,
        right: i32::MAX as i64,
        bottom: i32::MAX as i64,
    };

    fn of(r: &Rectangle) -> Self {
        let Offset(left, top) = Offset::of(r.top_left);
        Self {
            left,
            top,
            right: left.saturating_add(i64::from(r.size.width)),
            bottom: top.saturating_add(i64::from(r.size.height)),
        }
    }

    /// A box at the origin.
    fn sized(width: u32, height: u32) -> Self {
        Self::of(&Rectangle::new(Point::zero(), Size::new(width, height)))
    }

    fn is_empty(self) -> bool {
        self.left >= self.right || self.top >= self.bottom
    }

    fn intersect(self, other: Self) -> Self {
        Self {
            left: self.left.max(other.left),
            top: self.top.max(other.top),
            right: self.right.min(other.right),
            bottom: self.bottom.min(other.bottom),
        }
    }

    fn contains(self, inner: Self) -> bool {
        self.intersect(inner) == inner
    }

    fn shifted(self, by: Offset) -> Self {
        Self {
            left: self.left.saturating_add(by.0),
            top: self.top.saturating_add(by.1),
            right: self.right.saturating_add(by.0),
            bottom: self.bottom.saturating_add(by.1),
        }
    }

    fn shifted_back(self, by: Offset) -> Self {
        self.shifted(Offset(by.0.saturating_neg(), by.1.saturating_neg()))
    }

    /// The part inside [`Span::I32`] as a `Rectangle`, unless empty.
    fn to_rectangle(self) -> Option<Rectangle> {
        let s = self.intersect(Self::I32);
        if s.is_empty() {
            return None;
        }
        let top_left = Point::new(i32::try_from(s.left).ok()?, i32::try_from(s.top).ok()?);
        let width = u32::try_from(s.right.saturating_sub(s.left)).ok()?;
        let height = u32::try_from(s.bottom.saturating_sub(s.top)).ok()?;
        Some(Rectangle::new(top_left, Size::new(width, height)))
    }
}

/// A [`Digit`] as an [`ImageDrawable`], in the colours of a [`ColorMap`], optionally scaled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitImage<'a, M> {
    digit: &'a Digit,
    map: M,
    scale: NonZeroU32,
}

impl<'a, M: ColorMap> DigitImage<'a, M> {
    /// `digit` in the colours of `map`, one display pixel per digit pixel.
    pub fn new(digit: &'a Digit, map: M) -> Self {
        Self {
            digit,
            map,
            scale: NonZeroU32::MIN,
        }
    }

    /// Draws every digit pixel as a `factor × factor` block (0 counts as 1, factors above
    /// [`MAX_SCALE`] as `MAX_SCALE`).
    #[must_use]
    pub fn scaled(self, factor: u32) -> Self {
        Self {
            scale: clamp_scale(factor),
            ..self
        }
    }

    /// The scale factor.
    pub fn scale(&self) -> u32 {
        self.scale.get()
    }

    /// Colour at `(x, y)` in image coordinates (inside the bounding box; outside it, the
    /// background's).
    fn color_at(&self, x: i64, y: i64) -> M::Color {
        let cell = |v: i64| u32::try_from(v).map_or(u32::MAX, |v| v / self.scale) as usize;
        let value = self.digit.pixel(cell(x), cell(y)).unwrap_or(0);
        let at = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        self.map.color(value, Point::new(at(x), at(y)))
    }

    /// Draws the part of this image that lies inside `clip` and inside the target, with the
    /// image's top-left corner at `origin`. `clip` and `origin` are in coordinates that land on
    /// the target at `point − shift`.
    fn fill_clipped<D>(
        &self,
        target: &mut D,
        origin: Offset,
        clip: Span,
        shift: Offset,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = M::Color>,
    {
        let side = scaled_side(self.scale);
        let visible = Span::of(&target.bounding_box()).shifted(shift);
        let part = Span::sized(side, side)
            .shifted(origin)
            .intersect(clip)
            .intersect(visible);
        let Some(area) = part.shifted_back(shift).to_rectangle() else {
            return Ok(());
        };
        // Target point → image point: + shift − origin.
        let Offset(dx, dy) = Offset(
            shift.0.saturating_sub(origin.0),
            shift.1.saturating_sub(origin.1),
        );
        target.fill_contiguous(
            &area,
            area.points().map(|p| {
                let Offset(x, y) = Offset::of(p);
                self.color_at(x.saturating_add(dx), y.saturating_add(dy))
            }),
        )
    }
}

impl<M: ColorMap> OriginDimensions for DigitImage<'_, M> {
    fn size(&self) -> Size {
        let side = scaled_side(self.scale);
        Size::new(side, side)
    }
}

impl<M: ColorMap> ImageDrawable for DigitImage<'_, M> {
    type Color = M::Color;

    fn draw<D>(&self, target: &mut D) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        let whole = Span::of(&self.bounding_box());
        self.fill_clipped(target, Offset::ZERO, whole, Offset::ZERO)
    }

    fn draw_sub_image<D>(&self, target: &mut D, area: &Rectangle) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        // Like `ImageRaw`: nothing is drawn unless `area` lies inside the image.
        let part = Span::of(area);
        if part.is_empty() || !Span::of(&self.bounding_box()).contains(part) {
            return Ok(());
        }
        self.fill_clipped(target, Offset::ZERO, part, Offset::of(area.top_left))
    }
}

impl<M: ColorMap> GetPixel for DigitImage<'_, M> {
    type Color = M::Color;

    fn pixel(&self, p: Point) -> Option<Self::Color> {
        let Offset(x, y) = Offset::of(p);
        self.bounding_box().contains(p).then(|| self.color_at(x, y))
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
/// Pixels in the gaps are left untouched. The grid's size saturates at `i32::MAX` per side;
/// digits beyond that are not drawn.
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
    scale: NonZeroU32,
    columns: NonZeroU32,
    spacing: u32,
}

impl<'a, M: ColorMap + Copy> DigitGrid<'a, M> {
    /// All `digits` in one row, no spacing, unscaled.
    pub fn new(digits: &'a [Digit], map: M) -> Self {
        Self {
            digits,
            map,
            scale: NonZeroU32::MIN,
            columns: NonZeroU32::new(u32::try_from(digits.len()).unwrap_or(u32::MAX))
                .unwrap_or(NonZeroU32::MIN),
            spacing: 0,
        }
    }

    /// Digits per row (0 counts as 1).
    #[must_use]
    pub fn columns(self, columns: u32) -> Self {
        Self {
            columns: NonZeroU32::new(columns).unwrap_or(NonZeroU32::MIN),
            ..self
        }
    }

    /// Gap between neighbouring digits, in display pixels.
    #[must_use]
    pub fn spacing(self, spacing: u32) -> Self {
        Self { spacing, ..self }
    }

    /// Scale factor of every digit (0 counts as 1, factors above [`MAX_SCALE`] as `MAX_SCALE`).
    #[must_use]
    pub fn scaled(self, factor: u32) -> Self {
        Self {
            scale: clamp_scale(factor),
            ..self
        }
    }

    /// Distance between the top-left corners of neighbouring digits (below 2³³: exact).
    fn pitch(&self) -> i64 {
        i64::from(scaled_side(self.scale)).saturating_add(i64::from(self.spacing))
    }

    fn grid_cells(&self) -> (u32, u32) {
        let n = u32::try_from(self.digits.len()).unwrap_or(u32::MAX);
        let columns = self.columns.get().min(n);
        // `div_ceil` by a `NonZeroU32`: never a division by zero.
        let rows = n.div_ceil(self.columns.get());
        (columns, rows)
    }

    /// Draws every digit's part inside `clip` (grid coordinates, landing on the target at
    /// `point − shift`).
    fn fill_clipped<D>(&self, target: &mut D, clip: Span, shift: Offset) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = M::Color>,
    {
        let clip = clip.intersect(Span::of(&self.bounding_box()));
        if clip.is_empty() {
            return Ok(());
        }
        let pitch = self.pitch();
        // At least 1 (a `NonZeroU32`), so `chunks` gets a non-zero size.
        let columns = usize::try_from(self.columns.get()).unwrap_or(usize::MAX);
        let at = |cell: usize| i64::try_from(cell).map_or(i64::MAX, |c| c.saturating_mul(pitch));
        for (row, digits) in self.digits.chunks(columns).enumerate() {
            for (column, digit) in digits.iter().enumerate() {
                let image = DigitImage::new(digit, self.map).scaled(self.scale.get());
                image.fill_clipped(target, Offset(at(column), at(row)), clip, shift)?;
            }
        }
        Ok(())
    }
}

impl<M: ColorMap + Copy> OriginDimensions for DigitGrid<'_, M> {
    fn size(&self) -> Size {
        let (columns, rows) = self.grid_cells();
        // `cells` digits and the gaps between them, capped at i32::MAX (in i64: exact below that).
        let extent = |cells: u32| {
            let gaps = if cells > 0 { self.spacing } else { 0 };
            let length = i64::from(cells)
                .saturating_mul(self.pitch())
                .saturating_sub(i64::from(gaps));
            u32::try_from(length.min(i64::from(i32::MAX))).unwrap_or(0)
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
        self.fill_clipped(target, Span::I32, Offset::ZERO)
    }

    fn draw_sub_image<D>(&self, target: &mut D, area: &Rectangle) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Self::Color>,
    {
        // `area`'s part of the grid, moved so `area` starts at the target's origin.
        self.fill_clipped(target, Span::of(area), Offset::of(area.top_left))
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

    /// A display of at most 64 × 64 pixels whose bounding box may sit anywhere (including where
    /// its far corner is past `i32::MAX`), recording every pixel it is handed. Points outside its
    /// box fail the test: the drawables must clip before they produce a pixel.
    struct Recorder<C> {
        top_left: Point,
        size: Size,
        pixels: Vec<(Point, C)>,
    }

    impl<C> Recorder<C> {
        fn new(top_left: Point, width: u32, height: u32) -> Self {
            assert!(width <= 64 && height <= 64);
            Self {
                top_left,
                size: Size::new(width, height),
                pixels: Vec::new(),
            }
        }

        fn inside(&self, p: Point) -> bool {
            let rel = |v: i32, origin: i32, len: u32| {
                (0..i64::from(len)).contains(&(i64::from(v) - i64::from(origin)))
            };
            rel(p.x, self.top_left.x, self.size.width)
                && rel(p.y, self.top_left.y, self.size.height)
        }
    }

    impl<C: PixelColor> Dimensions for Recorder<C> {
        fn bounding_box(&self) -> Rectangle {
            Rectangle::new(self.top_left, self.size)
        }
    }

    impl<C: PixelColor> DrawTarget for Recorder<C> {
        type Color = C;
        type Error = core::convert::Infallible;

        fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
        where
            I: IntoIterator<Item = Pixel<C>>,
        {
            for Pixel(p, c) in pixels {
                assert!(self.inside(p), "{p:?} is outside the display");
                self.pixels.push((p, c));
                assert!(self.pixels.len() <= 64 * 64 * 4, "unbounded drawing");
            }
            Ok(())
        }
    }

    #[test]
    fn huge_scales_are_clamped_and_draw_only_what_is_visible() {
        let d = sample();
        let img = d.gray8().scaled(u32::MAX);
        assert_eq!(img.scale(), MAX_SCALE);
        let side = 28 * MAX_SCALE;
        assert!(side <= i32::MAX as u32);
        assert_eq!(img.size(), Size::new(side, side));
        // The box's far corner is computable (embedded-graphics adds with overflow checks here).
        assert_eq!(
            img.bounding_box().bottom_right(),
            Some(Point::new(side as i32 - 1, side as i32 - 1))
        );
        assert_eq!(d.gray8().scaled(0).scale(), 1);

        // The display sees the top-left digit pixel (0, 0), blown up over all of it.
        let mut display = Recorder::new(Point::zero(), 24, 16);
        img.draw(&mut display).unwrap();
        assert_eq!(display.pixels.len(), 24 * 16);
        assert!(display.pixels.iter().all(|&(_, c)| c == Gray8::BLACK));
        // Around the image's bottom-right corner: the digit pixel (27, 27) up to the edge.
        let corner = side as i32 - 10;
        let mut display = Recorder::new(Point::new(corner, corner), 64, 64);
        img.draw(&mut display).unwrap();
        assert_eq!(display.pixels.len(), 10 * 10);
        // Through `Image` at an offset, with a scale at which every digit pixel is 1000 wide.
        let mut display = MockDisplay::<BinaryColor>::new();
        let ink = d.binary(Threshold(128)).scaled(1000);
        Image::new(&ink, Point::new(-1000 - 990, -990))
            .draw(&mut display)
            .unwrap();
        // Digit pixel (1, 0) is ink up to display x = 9, then (2, 0) is not; row 0 of the digit
        // ends at y = 9 and row 1 ((2, 1) is ink) starts at y = 10.
        assert_eq!(display.get_pixel(Point::new(9, 0)), Some(BinaryColor::On));
        assert_eq!(display.get_pixel(Point::new(10, 0)), Some(BinaryColor::Off));
        assert_eq!(display.get_pixel(Point::new(10, 10)), Some(BinaryColor::On));
        assert_eq!(display.affected_area(), crop(0, 0, 64, 64));
    }

    #[test]
    fn extreme_positions_draw_the_visible_part_or_nothing() {
        let d = sample();
        // Displays far away from the image: nothing to draw, nothing overflows.
        for top_left in [
            Point::new(i32::MIN, i32::MIN),
            Point::new(i32::MAX, i32::MAX),
            Point::new(i32::MAX - 20, 0),
            Point::new(0, i32::MIN),
            Point::new(84, 0),
        ] {
            let mut display = Recorder::new(top_left, 64, 64);
            d.binary_dithered().scaled(3).draw(&mut display).unwrap();
            let mut colour = Recorder::new(top_left, 64, 64);
            d.rgb565(Rgb565::WHITE, Rgb565::BLACK)
                .draw_sub_image(&mut colour, &crop(0, 0, 5, 5))
                .unwrap();
            assert_eq!(
                display.pixels.len() + colour.pixels.len(),
                0,
                "{top_left:?}"
            );
        }
        // A display overlapping the image's last 3 × 2 pixels.
        let mut display = Recorder::new(Point::new(25, 26), 64, 64);
        d.gray8().draw(&mut display).unwrap();
        assert_eq!(display.pixels.len(), 3 * 2);
        // Through `Image` at extreme offsets (all but `i32::MIN`, see the module docs).
        for offset in [
            Point::new(i32::MAX, i32::MAX),
            Point::new(i32::MIN + 1, i32::MIN + 1),
            Point::new(i32::MAX, i32::MIN + 1),
            Point::new(-27, -27),
        ] {
            let mut display = MockDisplay::<Gray8>::new();
            display.set_allow_overdraw(true);
            Image::new(&d.gray8().scaled(u32::MAX), offset)
                .draw(&mut display)
                .unwrap();
            Image::new(&DigitGrid::new(&[d.clone(), d.clone()], Gray), offset)
                .draw(&mut display)
                .unwrap();
        }
        let mut display = MockDisplay::<Gray8>::new();
        Image::new(&d.gray8(), Point::new(-27, -27))
            .draw(&mut display)
            .unwrap();
        assert_eq!(display.affected_area(), crop(0, 0, 1, 1));
    }

    #[test]
    fn sub_images_at_extreme_areas_do_not_overflow() {
        let d = sample();
        let digits = [d.clone(), d.clone(), d.clone()];
        let grid = DigitGrid::new(&digits, Gray).columns(2).spacing(4);
        for area in [
            // `-area.top_left` overflowed here before.
            crop(i32::MIN, i32::MIN, u32::MAX, u32::MAX),
            crop(i32::MAX, i32::MAX, u32::MAX, u32::MAX),
            crop(i32::MIN, 0, 10, 10),
            crop(0, 0, u32::MAX, u32::MAX),
        ] {
            let mut display = Recorder::new(Point::zero(), 64, 64);
            d.gray8().draw_sub_image(&mut display, &area).unwrap();
            grid.draw_sub_image(&mut display, &area).unwrap();
            let expected = if area.top_left == Point::zero() {
                // The whole grid from its origin: digits at (0, 0), (32, 0) and (0, 32), all
                // inside the 64 × 64 display (the digit's own sub-image is refused: the area
                // reaches outside it).
                3 * 28 * 28
            } else {
                0
            };
            assert_eq!(display.pixels.len(), expected, "{area:?}");
        }
    }

    #[test]
    fn grids_with_huge_spacing_and_scale_saturate() {
        let d = sample();
        let digits = [d.clone(), d.clone(), d.clone()];
        let grid = DigitGrid::new(&digits, Threshold(100))
            .columns(0)
            .spacing(u32::MAX)
            .scaled(u32::MAX);
        // One column (0 counts as 1), every side capped at i32::MAX.
        assert_eq!(grid.size(), Size::new(28 * MAX_SCALE, i32::MAX as u32));
        assert!(grid.bounding_box().bottom_right().is_some());
        // The far corner of the first digit: 5 × 5 pixels of the display (starting 20 before
        // i32::MAX, the digit ends 15 before it) are drawn; the other digits lie beyond.
        let mut display = Recorder::new(Point::new(i32::MAX - 20, i32::MAX - 20), 16, 16);
        grid.draw(&mut display).unwrap();
        let far = 28 * MAX_SCALE as i64 - (i32::MAX as i64 - 20);
        assert_eq!(display.pixels.len() as i64, far * far);
        let mut display = Recorder::new(Point::zero(), 16, 16);
        grid.draw(&mut display).unwrap();
        assert_eq!(display.pixels.len(), 16 * 16);
    }
}
