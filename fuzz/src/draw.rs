//! The drawing API under any position, scale, class, seed and display size: what the `draw_api`
//! target draws, a bounded display that records it, and a plain reference for what each visible
//! pixel must be.
//!
//! Failures the fuzzer reports: any panic (an overflow in firmware-core or in the
//! embedded-graphics arithmetic it hands coordinates to: the target builds with overflow
//! checks), a pixel handed to the display outside its bounding box, more pixels than the display
//! has (unbounded work), or a visible pixel whose colour or presence differs from the reference.

use embedded_graphics::{
    image::{GetPixel, Image, ImageDrawable},
    pixelcolor::{raw::RawU16, BinaryColor, Gray8, Rgb565},
    prelude::*,
    primitives::Rectangle,
};
use firmware_core::draw::{Bayer4, Blend, ColorMap, DigitGrid, Gray, Threshold, MAX_SCALE};
use firmware_core::text::{Glyph, Handwriting};
use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Largest display side: bounds the work per input (and the pixels a drawable may produce).
pub const MAX_SIDE: u32 = 48;

/// A display anywhere in the `i32` plane (its far corner may lie past `i32::MAX`), at most
/// [`MAX_SIDE`] square, that records every pixel and fails on one outside its box.
pub struct Recorder<C> {
    top_left: Point,
    size: Size,
    pixels: Vec<Option<C>>,
    drawn: usize,
}

impl<C: PixelColor> Recorder<C> {
    pub fn new(top_left: Point, width: u32, height: u32) -> Self {
        let size = Size::new(width % (MAX_SIDE + 1), height % (MAX_SIDE + 1));
        Self {
            top_left,
            size,
            pixels: vec![None; (size.width * size.height) as usize],
            drawn: 0,
        }
    }

    /// The index of display point `p`, if the display has it.
    fn index(&self, p: Point) -> Option<usize> {
        let x = i64::from(p.x) - i64::from(self.top_left.x);
        let y = i64::from(p.y) - i64::from(self.top_left.y);
        let inside = (0..i64::from(self.size.width)).contains(&x)
            && (0..i64::from(self.size.height)).contains(&y);
        inside.then(|| (y * i64::from(self.size.width) + x) as usize)
    }

    /// Every display point with its recorded colour, in `i64` coordinates.
    fn points(&self) -> impl Iterator<Item = ((i64, i64), Option<C>)> + '_ {
        let w = self.size.width.max(1) as usize;
        self.pixels.iter().enumerate().map(move |(i, &c)| {
            let x = i64::from(self.top_left.x) + (i % w) as i64;
            let y = i64::from(self.top_left.y) + (i / w) as i64;
            ((x, y), c)
        })
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
            let i = self.index(p);
            assert!(
                i.is_some(),
                "{p:?} is outside the display {:?}",
                self.bounding_box()
            );
            self.pixels[i.unwrap_or(0)] = Some(c);
            self.drawn += 1;
        }
        Ok(())
    }
}

/// The generator every input draws with: the shipped blob (class-conditional), loaded once.
fn generator() -> &'static Generator<'static> {
    static GENERATOR: OnceLock<Generator<'static>> = OnceLock::new();
    GENERATOR.get_or_init(|| Generator::new(DEFAULT_BLOB).expect("the shipped blob is valid"))
}

/// `generate(class, seed)` with the shipped blob, memoised: inference is deterministic, and
/// libFuzzer mutates the other fields of an input far more often than its seed, so this skips
/// most of the inference that would otherwise take ~90 % of the time (the inference itself is
/// fuzzed by the blob targets).
fn generated(class: Option<u8>, seed: u32) -> Digit {
    thread_local! {
        static DIGITS: RefCell<HashMap<(Option<u8>, u32), Digit>> = RefCell::new(HashMap::new());
    }
    DIGITS.with_borrow_mut(|digits| {
        if digits.len() >= 4096 {
            digits.clear(); // ~3 MB at most
        }
        digits
            .entry((class, seed))
            .or_insert_with(|| {
                let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
                generator()
                    .generate(class, seed, &mut scratch, &mut digit)
                    .expect("the shipped blob draws every class");
                digit
            })
            .clone()
    })
}

/// A scale factor: mostly small ones (visible blocks), sometimes any `u32`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Scale {
    Small(u8),
    Max,
    Any(u32),
}

impl Scale {
    fn get(self) -> u32 {
        match self {
            Self::Small(s) => u32::from(s % 8),
            Self::Max => u32::MAX,
            Self::Any(s) => s,
        }
    }
}

/// A coordinate: mostly near the display, sometimes at or next to the `i32` extremes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Coord {
    Near(i8),
    Min,
    Max,
    Any(i32),
}

impl Coord {
    fn get(self) -> i32 {
        match self {
            Self::Near(v) => i32::from(v),
            Self::Min => i32::MIN,
            Self::Max => i32::MAX,
            Self::Any(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct At(Coord, Coord);

impl At {
    fn get(self) -> Point {
        Point::new(self.0.get(), self.1.get())
    }
}

/// Which colour mapping a single digit is drawn with.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Map {
    Gray8,
    Binary(u8),
    Dithered,
    Rgb565 { fg: u16, bg: u16 },
}

/// How a drawable meets the display.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Placement {
    /// `drawable.draw(display)`: the drawable at the origin, the display anywhere.
    Direct,
    /// `Image::new(drawable, offset).draw(display)`. embedded-graphics' `Translated` negates the
    /// offset (see `firmware_core::draw`), so `i32::MIN` is moved to `i32::MIN + 1` here.
    Image(At),
    /// `drawable.draw_sub_image(display, area)` with any area.
    SubImage { at: At, width: u32, height: u32 },
}

/// What to draw.
#[derive(Arbitrary, Debug, Clone)]
pub enum Scene {
    /// One digit from `(class, seed)`.
    Digit { map: Map, scale: Scale },
    /// Up to 12 digits (the generated one, then variants of it) in a grid.
    Grid {
        count: u8,
        columns: u32,
        spacing: Scale,
        scale: Scale,
        threshold: u8,
    },
    /// A string of up to 6 characters in handwriting, each glyph drawn at its place.
    Text {
        text: Vec<u8>,
        scale: Scale,
        digit_advance: Scale,
        separator_width: Scale,
    },
}

/// One fuzz input.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub display: At,
    pub width: u32,
    pub height: u32,
    /// `class % 11`: 10 means none (the seed picks one).
    pub class: u8,
    pub seed: u32,
    pub placement: Placement,
    pub scene: Scene,
    /// A point asked of `GetPixel`.
    pub probe: At,
}

/// Draws `input` and checks the result; panics on any failure.
pub fn run(input: &Input) {
    let class = (input.class % 11 < 10).then_some(input.class % 11);
    let (mut scratch, mut digit) = (Scratch::new(), generated(class, input.seed));
    let display = input.display.get();
    match input.scene {
        Scene::Digit { map, scale } => {
            let scale = scale.get();
            let display = image_display(input.placement, display);
            match map {
                Map::Gray8 => single(&digit, (Gray, scale), input, display),
                Map::Binary(t) => single(&digit, (Threshold(t), scale), input, display),
                Map::Dithered => single(&digit, (Bayer4, scale), input, display),
                Map::Rgb565 { fg, bg } => {
                    let blend = Blend {
                        foreground: Rgb565::from(RawU16::new(fg)),
                        background: Rgb565::from(RawU16::new(bg)),
                    };
                    single(&digit, (blend, scale), input, display)
                }
            }
        }
        Scene::Grid {
            count,
            columns,
            spacing,
            scale,
            threshold,
        } => {
            let digits: Vec<Digit> = (0..count % 13)
                .map(|i| {
                    // Variants of the generated digit, so neighbours differ.
                    let mut d = digit.clone();
                    d.pixels_mut().rotate_left(usize::from(i) * 29);
                    d
                })
                .collect();
            let grid = DigitGrid::new(&digits, Threshold(threshold))
                .columns(columns)
                .spacing(spacing.get())
                .scaled(scale.get());
            let display = image_display(input.placement, display);
            grid_scene(
                &grid,
                &digits,
                input,
                display,
                threshold,
                scale.get(),
                columns,
                spacing.get(),
            );
        }
        Scene::Text {
            ref text,
            scale,
            digit_advance,
            separator_width,
        } => {
            let text: String = text
                .iter()
                .take(6)
                .map(|&b| {
                    if b % 4 == 0 {
                        ':'
                    } else {
                        char::from(b'0' + b % 10)
                    }
                })
                .collect();
            let layout = Handwriting {
                seed: input.seed,
                scale: scale.get(),
                digit_advance: digit_advance.get(),
                separator_width: separator_width.get(),
            };
            // Glyphs are drawn through `Image` at x in 0..=i32::MAX: a display at x ≥ 0 keeps
            // `Translated`'s `display − offset` inside i32 (and its far corner must be too).
            let last = i32::MAX - MAX_SIDE as i32;
            let display = Point::new(display.x.clamp(0, last), display.y.min(last));
            text_scene(&layout, &text, input, display, &mut scratch, &mut digit);
        }
    }
}

/// The display position to use with `placement`. Through `Image`, embedded-graphics'
/// `Translated` computes `display − offset` and `point + offset` with overflow checks, so the
/// display must lie inside the `i32` plane (its far corner too) and `display − offset` must fit;
/// otherwise the display moves to the origin (the offset alone still reaches every position).
/// Drawn directly, the display may be anywhere.
fn image_display(placement: Placement, display: Point) -> Point {
    let Placement::Image(_) = placement else {
        return display;
    };
    let (offset, _) = placed(placement, (0, 0));
    let last = i32::MAX - MAX_SIDE as i32;
    let display = Point::new(display.x.min(last), display.y.min(last));
    if display.x.checked_sub(offset.x).is_none() || display.y.checked_sub(offset.y).is_none() {
        Point::zero()
    } else {
        display
    }
}

/// Where `placement` puts the drawable's origin on the display, and which part of the drawable
/// (in its own coordinates) may appear; `None` for a refused sub-image.
fn placed(placement: Placement, bounds: (i64, i64)) -> (Point, [i64; 4]) {
    let whole = [0, 0, bounds.0, bounds.1];
    match placement {
        Placement::Direct => (Point::zero(), whole),
        Placement::Image(at) => {
            let p = at.get();
            let p = Point::new(p.x.max(i32::MIN + 1), p.y.max(i32::MIN + 1));
            (p, whole)
        }
        Placement::SubImage { at, width, height } => {
            let p = at.get();
            let (x, y) = (i64::from(p.x), i64::from(p.y));
            // The drawable's point `q` lands on the display at `q − area.top_left`.
            (
                Point::new(p.x, p.y),
                [x, y, x + i64::from(width), y + i64::from(height)],
            )
        }
    }
}

fn draw_placed<T, D>(drawable: &T, placement: Placement, display: &mut D)
where
    T: ImageDrawable + OriginDimensions,
    D: DrawTarget<Color = T::Color, Error = core::convert::Infallible>,
{
    let result = match placement {
        Placement::Direct => drawable.draw(display),
        Placement::Image(_) => {
            let (at, _) = placed(placement, (0, 0));
            Image::new(drawable, at).draw(display)
        }
        Placement::SubImage { at, width, height } => {
            let area = Rectangle::new(at.get(), Size::new(width, height));
            drawable.draw_sub_image(display, &area)
        }
    };
    result.unwrap_or_else(|never| match never {});
}

/// Whether a display point can be drawn at all: the drawables hand out only rectangles whose
/// bottom-right corner embedded-graphics can compute (`top_left + size − 1` without overflow),
/// which leaves out coordinate `i32::MAX` and everything past it.
fn drawable_point((x, y): (i64, i64)) -> bool {
    let range = i64::from(i32::MIN)..i64::from(i32::MAX);
    range.contains(&x) && range.contains(&y)
}

/// The reference colour of display point `(x, y)` for a single digit image, or `None` where the
/// image does not reach.
fn single_reference<M: ColorMap>(
    digit: &Digit,
    map: &M,
    scale: u32,
    placement: Placement,
    (x, y): (i64, i64),
) -> Option<M::Color> {
    if !drawable_point((x, y)) {
        return None;
    }
    let scale = i64::from(scale.clamp(1, MAX_SCALE));
    let side = 28 * scale;
    let (origin, part) = placed(placement, (side, side));
    let (ix, iy) = match placement {
        // Sub-image: the display's origin shows the area's top-left corner.
        Placement::SubImage { .. } => (x + i64::from(origin.x), y + i64::from(origin.y)),
        _ => (x - i64::from(origin.x), y - i64::from(origin.y)),
    };
    let [l, t, r, b] = part;
    if let Placement::SubImage { .. } = placement {
        // Like `ImageRaw`: an area reaching outside the image (or empty) draws nothing.
        if l >= r || t >= b || l < 0 || t < 0 || r > side || b > side {
            return None;
        }
    }
    if !(l..r).contains(&ix) || !(t..b).contains(&iy) {
        return None;
    }
    let value = digit.pixel((ix / scale) as usize, (iy / scale) as usize)?;
    Some(map.color(value, Point::new(ix as i32, iy as i32)))
}

fn single<M>(digit: &Digit, (map, scale): (M, u32), input: &Input, display: Point)
where
    M: ColorMap + Copy,
    M::Color: core::fmt::Debug + PartialEq,
{
    let image = digit.image(map).scaled(scale);
    assert_eq!(image.scale(), scale.clamp(1, MAX_SCALE));
    let side = 28 * image.scale();
    assert_eq!(image.size(), Size::new(side, side));
    assert!(side <= i32::MAX as u32);
    let probe = input.probe.get();
    let inside = (0..i64::from(side)).contains(&i64::from(probe.x))
        && (0..i64::from(side)).contains(&i64::from(probe.y));
    assert_eq!(image.pixel(probe).is_some(), inside);

    let mut target = Recorder::new(display, input.width, input.height);
    draw_placed(&image, input.placement, &mut target);
    assert!(target.drawn <= target.pixels.len(), "a pixel drawn twice");
    for (p, got) in target.points() {
        let want = single_reference(digit, &map, scale, input.placement, p);
        assert_eq!(got, want, "display point {p:?}");
    }
}

#[allow(clippy::too_many_arguments)]
fn grid_scene(
    grid: &DigitGrid<'_, Threshold>,
    digits: &[Digit],
    input: &Input,
    display: Point,
    threshold: u8,
    scale: u32,
    columns: u32,
    spacing: u32,
) {
    let scale = i64::from(scale.clamp(1, MAX_SCALE));
    let side = 28 * scale;
    let pitch = side + i64::from(spacing);
    let n = digits.len() as i64;
    let columns = i64::from(columns.max(1));
    let (cols, rows) = (columns.min(n), (n + columns - 1) / columns);
    let extent = |cells: i64| {
        if cells == 0 {
            0
        } else {
            (cells * side + (cells - 1) * i64::from(spacing)).min(i64::from(i32::MAX))
        }
    };
    let size = grid.size();
    assert_eq!(
        (i64::from(size.width), i64::from(size.height)),
        (extent(cols), extent(rows))
    );
    assert!(grid.bounding_box().bottom_right().is_some() || size == Size::zero());

    let mut target = Recorder::new(display, input.width, input.height);
    draw_placed(grid, input.placement, &mut target);
    assert!(target.drawn <= target.pixels.len(), "a pixel drawn twice");
    let (origin, part) = placed(input.placement, (extent(cols), extent(rows)));
    for ((x, y), got) in target.points() {
        let (gx, gy) = match input.placement {
            // A grid's sub-image is clipped to the area, whatever the area.
            Placement::SubImage { .. } => (x + i64::from(origin.x), y + i64::from(origin.y)),
            _ => (x - i64::from(origin.x), y - i64::from(origin.y)),
        };
        let [l, t, r, b] = part;
        let in_grid = drawable_point((x, y))
            && (0..extent(cols)).contains(&gx)
            && (0..extent(rows)).contains(&gy);
        let want = (in_grid && (l..r).contains(&gx) && (t..b).contains(&gy))
            .then(|| {
                let (column, row) = (gx / pitch, gy / pitch);
                let (dx, dy) = (gx % pitch, gy % pitch);
                let index = row * columns + column;
                if column >= columns || dx >= side || dy >= side || index >= n {
                    return None; // a gap
                }
                let value =
                    digits[index as usize].pixel((dx / scale) as usize, (dy / scale) as usize)?;
                Some(BinaryColor::from(value >= threshold))
            })
            .flatten();
        assert_eq!(got, want, "display point ({x}, {y})");
    }
}

fn text_scene(
    layout: &Handwriting,
    text: &str,
    input: &Input,
    display: Point,
    scratch: &mut Scratch,
    digit: &mut Digit,
) {
    let mut target = Recorder::<Gray8>::new(display, input.width, input.height);
    let mut last_x = 0;
    let scale = layout.scale;
    let bounds = layout
        .write(generator(), scratch, digit, text, |glyph| {
            match glyph {
                Glyph::Digit {
                    digit, top_left, ..
                } => {
                    assert!(top_left.x >= last_x && top_left.y == 0);
                    last_x = top_left.x;
                    Image::new(&digit.gray8().scaled(scale), top_left).draw(&mut target)?;
                }
                Glyph::Separator { cell, .. } => {
                    assert!(cell.top_left.x >= last_x);
                    last_x = cell.top_left.x;
                    // Corners embedded-graphics computes with overflow checks.
                    let _ = cell.bottom_right();
                    assert!(
                        i64::from(cell.top_left.x) + i64::from(cell.size.width)
                            <= i64::from(i32::MAX)
                    );
                }
            }
            Ok::<(), core::convert::Infallible>(())
        })
        .expect("a conditional blob writes any digits");
    assert!(bounds.bottom_right().is_some() || bounds.size.width == 0 || text.is_empty());
    assert!(bounds.size.width <= i32::MAX as u32 && bounds.size.height <= i32::MAX as u32);
    // Glyphs may overlap (digits are closer than their cells), so each display pixel may be drawn
    // once per glyph, never more.
    assert!(target.drawn <= target.pixels.len() * text.len().max(1));
}
