//! State and digits → one frame, on any embedded-graphics [`DrawTarget`].
//!
//! The window and `--png` both draw through [`Frame::draw`], so they show identical pixels, and
//! the digits go through firmware-core's own drawables (`DigitGrid`, `DigitImage`) and colour
//! maps (`Gray`, `Blend`, `Bayer4`, `Threshold`), as on a device.

use crate::display::Layout;
use crate::model::Placed;
use crate::state::{Shading, State};
use embedded_graphics::{
    image::Image,
    mono_font::MonoTextStyle,
    pixelcolor::{BinaryColor, Gray4, Gray8, Rgb565},
    prelude::*,
    primitives::{PrimitiveStyle, Rectangle},
    text::{Baseline, Text, TextStyleBuilder},
};
use firmware_core::{
    draw::{Bayer4, Blend, ColorMap, DigitGrid, Gray, Threshold},
    Digit,
};
use std::{marker::PhantomData, time::Duration};

/// The colours of one panel type.
pub trait PanelColor: PixelColor {
    /// Background (digit value 0).
    const PAPER: Self;
    /// Ink (digit value 255, or "on" in 1-bit shadings).
    const INK: Self;
    /// Status text.
    const TEXT: Self;
    /// Grey `value` at full colour depth, for [`Shading::Smooth`].
    fn smooth(value: u8, point: Point) -> Self;
}

impl PanelColor for BinaryColor {
    const PAPER: Self = BinaryColor::Off;
    const INK: Self = BinaryColor::On;
    const TEXT: Self = BinaryColor::On;
    fn smooth(value: u8, point: Point) -> Self {
        // A 1-bit panel has no grey levels: dithering is the closest it gets.
        Bayer4.color(value, point)
    }
}

impl PanelColor for Gray8 {
    const PAPER: Self = Gray8::BLACK;
    const INK: Self = Gray8::WHITE;
    const TEXT: Self = Gray8::new(0xA0);
    fn smooth(value: u8, point: Point) -> Self {
        Gray.color(value, point)
    }
}

/// The SSD0323 board's colours are oled-screen's.
impl PanelColor for Gray4 {
    const PAPER: Self = Gray4::BLACK;
    const INK: Self = Gray4::WHITE;
    const TEXT: Self = oled_screen::TEXT;
    fn smooth(value: u8, _: Point) -> Self {
        oled_screen::gray4(value)
    }
}

/// Dark navy, so the TFT visibly differs from the grey panel.
const NAVY: Rgb565 = Rgb565::new(1, 5, 9);

impl PanelColor for Rgb565 {
    const PAPER: Self = NAVY;
    const INK: Self = Rgb565::WHITE;
    const TEXT: Self = Rgb565::YELLOW;
    fn smooth(value: u8, point: Point) -> Self {
        let blend = Blend {
            foreground: Self::INK,
            background: Self::PAPER,
        };
        blend.color(value, point)
    }
}

/// firmware-core's colour map for the chosen [`Shading`], in a panel's colours.
#[derive(Debug)]
pub struct PanelMap<C> {
    shading: Shading,
    threshold: u8,
    color: PhantomData<fn() -> C>,
}

impl<C> PanelMap<C> {
    /// The map for `shading` (`threshold` is used by [`Shading::Threshold`] only).
    pub fn new(shading: Shading, threshold: u8) -> Self {
        Self {
            shading,
            threshold,
            color: PhantomData,
        }
    }
}

// Manual impls: derives would needlessly require `C: Clone`.
impl<C> Clone for PanelMap<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for PanelMap<C> {}

impl<C: PanelColor> ColorMap for PanelMap<C> {
    type Color = C;
    fn color(&self, value: u8, point: Point) -> C {
        let on = match self.shading {
            Shading::Smooth => return C::smooth(value, point),
            Shading::Dithered => Bayer4.color(value, point),
            Shading::Threshold => Threshold(self.threshold).color(value, point),
        };
        if on.is_on() {
            C::INK
        } else {
            C::PAPER
        }
    }
}

/// Everything one frame shows.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Seed, shading, class.
    pub state: &'a State,
    /// The generated digits, in reading order (`state.seed`, `state.seed + 1`, …).
    pub digits: &'a [Digit],
    /// Host time firmware-core took per digit, if it should be shown (it varies run to run, so
    /// reproducible frames leave it out).
    pub timing: Option<Duration>,
    /// A handwritten string (`--text`, `--clock`), shown instead of the grid of digits.
    pub text: Option<&'a [Placed]>,
}

impl Frame<'_> {
    /// The status text: one line for compact layouts, else seed, shading and timing lines.
    pub fn status_lines(&self, compact: bool) -> Vec<String> {
        let s = self.state;
        let class = s.class.map(|c| format!(" digit {c}")).unwrap_or_default();
        if compact {
            let shading = match s.shading {
                Shading::Smooth => "grey".to_owned(),
                Shading::Dithered => "dither".to_owned(),
                Shading::Threshold => format!("thr{}", s.threshold),
            };
            return vec![format!("seed {}{class} {shading}", s.seed)];
        }
        let shading = match s.shading {
            Shading::Smooth => "smooth".to_owned(),
            Shading::Dithered => "dithered".to_owned(),
            Shading::Threshold => format!("threshold {}", s.threshold),
        };
        let mut lines = vec![format!("seed {}{class}", s.seed), shading];
        if let Some(t) = self.timing {
            let build = if cfg!(debug_assertions) {
                " (debug)"
            } else {
                ""
            };
            lines.push(format!("{} ms/digit{build}", format_ms(t)));
        }
        lines
    }

    /// The lm3s6965evb firmware's screen (`oled-screen`, the very code the firmware runs) for the
    /// state's seed and class, from `digits` (seeds `seed, seed + 1, …`, as
    /// [`Model::generate`](crate::model::Model::generate) makes them). Handwritten text and
    /// timing are not part of that screen.
    ///
    /// # Errors
    ///
    /// Whatever `target` reports.
    pub fn draw_ssd0323<D>(&self, target: &mut D) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Gray4>,
    {
        oled_screen::draw_with_digits(target, &self.state.screen(), self.digits)
    }

    /// Clears `target` and draws the frame laid out per `layout`.
    ///
    /// # Errors
    ///
    /// Whatever `target` reports.
    pub fn draw<D>(&self, target: &mut D, layout: &Layout) -> Result<(), D::Error>
    where
        D: DrawTarget,
        D::Color: PanelColor,
    {
        target.clear(D::Color::PAPER)?;
        let style = MonoTextStyle::new(layout.font, D::Color::TEXT);
        let top = TextStyleBuilder::new().baseline(Baseline::Top).build();
        for (line, text) in (0..).zip(self.status_lines(layout.compact)) {
            Text::with_text_style(&text, layout.text_origin(line), style, top).draw(target)?;
        }
        if let (true, Some(t)) = (layout.compact, self.timing) {
            // Right-aligned on the status line.
            let text = format!("{}ms", format_ms(t));
            let width = text.len() as u32 * layout.font.character_size.width;
            let x = layout.size.width.saturating_sub(width + 1);
            let origin = Point::new(x as i32, layout.text_origin(0).y);
            Text::with_text_style(&text, origin, style, top).draw(target)?;
        }

        let map = PanelMap::<D::Color>::new(self.state.shading, self.state.threshold);
        if let Some(text) = self.text {
            return draw_text(target, layout, text, &map);
        }
        let grid = DigitGrid::new(self.digits, map)
            .columns(layout.columns)
            .spacing(layout.spacing)
            .scaled(layout.digit_scale);
        Image::new(&grid, layout.grid_origin()).draw(target)
    }
}

/// A handwritten string, centred horizontally where the grid would be; a `:` or `.` becomes
/// round-ish dots of ink, other separators stay blank.
fn draw_text<D>(
    target: &mut D,
    layout: &Layout,
    text: &[Placed],
    map: &PanelMap<D::Color>,
) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: PanelColor,
{
    let width = text
        .iter()
        .map(|p| match p {
            Placed::Digit(_, at) => {
                at.x as u32 + firmware_core::OUT_SIDE as u32 * layout.digit_scale
            }
            Placed::Separator(_, cell) => cell.top_left.x as u32 + cell.size.width,
        })
        .max()
        .unwrap_or(0);
    // Centred in the area the grid would take.
    let (grid, grid_size) = (layout.grid_origin(), layout.grid_size());
    let cell = firmware_core::OUT_SIDE as u32 * layout.digit_scale;
    let origin = Point::new(
        (layout.size.width.saturating_sub(width) / 2) as i32,
        grid.y + (grid_size.height.saturating_sub(cell) / 2) as i32,
    );
    for placed in text {
        match placed {
            Placed::Digit(digit, at) => {
                let one = DigitGrid::new(std::slice::from_ref(&**digit), *map)
                    .columns(1)
                    .scaled(layout.digit_scale);
                Image::new(&one, origin + *at).draw(target)?;
            }
            Placed::Separator(c @ (':' | '.'), cell) => {
                let side = (cell.size.width / 3).max(1);
                let x = cell.top_left.x + ((cell.size.width - side) / 2) as i32;
                // Dots at 2/7 and 4/7 of the cell's height for ':', at 5/7 for '.'.
                let rows: &[u32] = if *c == ':' { &[2, 4] } else { &[5] };
                for &seventh in rows {
                    let y = (cell.size.height * seventh / 7) as i32 - side as i32 / 2;
                    Rectangle::new(origin + Point::new(x, y), Size::new(side, side))
                        .into_styled(PrimitiveStyle::with_fill(D::Color::INK))
                        .draw(target)?;
                }
            }
            Placed::Separator(..) => {}
        }
    }
    Ok(())
}

/// Milliseconds with about three significant digits.
pub fn format_ms(t: Duration) -> String {
    let ms = t.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::DisplayKind;
    use embedded_graphics::primitives::Rectangle;
    use embedded_graphics_simulator::SimulatorDisplay;

    /// Digit `i` is a flat grey of value `20 * i`, so each grid cell is recognisable.
    fn flat_digits(n: u8) -> Vec<Digit> {
        (0..n).map(|i| Digit::from_pixels([20 * i; 784])).collect()
    }

    fn render<C: PanelColor>(frame: &Frame<'_>, kind: DisplayKind) -> SimulatorDisplay<C> {
        let layout = kind.layout();
        let mut display = SimulatorDisplay::with_default_color(layout.size, C::PAPER);
        let Ok(()) = frame.draw(&mut display, &layout);
        display
    }

    /// Where `text`, drawn alone in `layout`'s font and colours, appears pixel for pixel in
    /// `display` (glyph cells included, so neighbouring ink would break the match).
    fn find_text<C: PanelColor>(
        display: &SimulatorDisplay<C>,
        layout: &Layout,
        text: &str,
    ) -> Option<Point> {
        let cell = layout.font.character_size;
        let size = Size::new(cell.width * text.len() as u32, cell.height);
        let mut alone = SimulatorDisplay::with_default_color(size, C::PAPER);
        let style = MonoTextStyle::new(layout.font, C::TEXT);
        let top = TextStyleBuilder::new().baseline(Baseline::Top).build();
        Text::with_text_style(text, Point::zero(), style, top)
            .draw(&mut alone)
            .unwrap();
        let search = Rectangle::new(Point::zero(), display.size() - size + Size::new(1, 1));
        search.points().find(|&at| {
            alone
                .bounding_box()
                .points()
                .all(|p| display.get_pixel(at + p) == alone.get_pixel(p))
        })
    }

    #[test]
    fn every_display_shows_the_seed_as_text() {
        for kind in DisplayKind::ALL {
            let mut state = State::new(3_141_592_653, kind);
            state.shading = kind.next_shading(state.shading);
            let digits = flat_digits(state.digit_count() as u8);
            let frame = Frame {
                state: &state,
                digits: &digits,
                timing: Some(Duration::from_micros(1234)),
                text: None,
            };
            let layout = kind.layout();
            let found = match kind {
                DisplayKind::Oled => {
                    find_text(&render::<BinaryColor>(&frame, kind), &layout, "3141592653")
                }
                DisplayKind::Tft => {
                    find_text(&render::<Rgb565>(&frame, kind), &layout, "3141592653")
                }
                DisplayKind::Gray => {
                    find_text(&render::<Gray8>(&frame, kind), &layout, "3141592653")
                }
                DisplayKind::Ssd0323 => {
                    let mut panel = SimulatorDisplay::<Gray4>::new(layout.size);
                    let Ok(()) = frame.draw_ssd0323(&mut panel);
                    find_text(&panel, &layout, "3141592653")
                }
            };
            let at = found.unwrap_or_else(|| panic!("{kind}: seed text not found"));
            // In the status area, above the digits.
            assert!(at.y < layout.grid_origin().y, "{kind}: seed at {at:?}");
        }
    }

    #[test]
    fn status_text_names_seed_shading_class_and_timing() {
        let mut state = State::new(77, DisplayKind::Tft);
        let frame = Frame {
            state: &state,
            digits: &[],
            timing: Some(Duration::from_micros(12_345)),
            text: None,
        };
        let lines = frame.status_lines(false);
        assert_eq!(lines[0], "seed 77");
        assert_eq!(lines[1], "smooth");
        assert!(lines[2].starts_with("12.3 ms/digit"), "{lines:?}");
        let untimed = Frame {
            timing: None,
            ..frame
        };
        assert_eq!(untimed.status_lines(false).len(), 2);

        state.shading = Shading::Threshold;
        state.threshold = 96;
        state.class = Some(4);
        let frame = Frame {
            state: &state,
            digits: &[],
            timing: None,
            text: None,
        };
        assert_eq!(frame.status_lines(true), ["seed 77 digit 4 thr96"]);
        assert_eq!(
            frame.status_lines(false)[..2],
            ["seed 77 digit 4", "threshold 96"]
        );
    }

    #[test]
    fn timing_is_drawn_only_when_given() {
        let state = State::new(1, DisplayKind::Oled);
        let digits = flat_digits(8);
        let mut frame = Frame {
            state: &state,
            digits: &digits,
            timing: None,
            text: None,
        };
        let layout = DisplayKind::Oled.layout();
        let without = render::<BinaryColor>(&frame, DisplayKind::Oled);
        frame.timing = Some(Duration::from_micros(2500));
        let with = render::<BinaryColor>(&frame, DisplayKind::Oled);
        assert!(find_text(&with, &layout, "2.50ms").is_some());
        assert!(find_text(&without, &layout, "2.50ms").is_none());
    }

    #[test]
    fn shadings_map_grey_through_firmware_core() {
        let full = PanelMap::<Gray8>::new(Shading::Smooth, 128);
        assert_eq!(full.color(77, Point::zero()), Gray8::new(77));
        let thr = PanelMap::<Rgb565>::new(Shading::Threshold, 100);
        assert_eq!(thr.color(99, Point::zero()), NAVY);
        assert_eq!(thr.color(100, Point::zero()), Rgb565::WHITE);
        let smooth = PanelMap::<Rgb565>::new(Shading::Smooth, 0);
        assert_eq!(smooth.color(0, Point::zero()), NAVY);
        assert_eq!(smooth.color(255, Point::zero()), Rgb565::WHITE);
        // Dithering follows the Bayer matrix: value 128 is a checkerboard.
        let dith = PanelMap::<BinaryColor>::new(Shading::Dithered, 0);
        let row: Vec<_> = (0..4)
            .map(|x| dith.color(128, Point::new(x, 0)).is_on())
            .collect();
        assert_eq!(row, [true, false, true, false]);
    }

    #[test]
    fn digits_fill_the_grid_in_reading_order() {
        let state = State::new(0, DisplayKind::Gray);
        let digits = flat_digits(12);
        let frame = Frame {
            state: &state,
            digits: &digits,
            timing: None,
            text: None,
        };
        let layout = DisplayKind::Gray.layout();
        let display = render::<Gray8>(&frame, DisplayKind::Gray);
        let pitch = 28 + layout.spacing as i32;
        for (i, _) in digits.iter().enumerate() {
            let (col, row) = ((i % 4) as i32, (i / 4) as i32);
            let centre = layout.grid_origin() + Point::new(col * pitch + 14, row * pitch + 14);
            assert_eq!(
                display.get_pixel(centre),
                Gray8::new(20 * i as u8),
                "digit {i}"
            );
        }
    }
}
