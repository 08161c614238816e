//! The shared screen drawn on the host: layout, text, digits, error screen.

use core::convert::Infallible;
use embedded_graphics::{
    framebuffer::{buffer_size, Framebuffer},
    image::GetPixel,
    mono_font::{ascii::FONT_5X8, MonoTextStyle},
    pixelcolor::{
        raw::{BigEndian, RawU4},
        Gray4,
    },
    prelude::*,
    primitives::Rectangle,
    text::{Baseline, Text, TextStyleBuilder},
};
use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
use oled_screen::{Key, Screen, DIGITS, SIZE};

type Buffer = Framebuffer<Gray4, RawU4, BigEndian, 128, 64, { buffer_size::<Gray4>(128, 64) }>;

/// A 128 × 64 framebuffer that fails the test on any pixel drawn outside it.
struct Panel(Buffer);

impl Panel {
    fn new() -> Self {
        Self(Buffer::new())
    }
    fn get(&self, x: i32, y: i32) -> u8 {
        self.0.pixel(Point::new(x, y)).unwrap().luma()
    }
}

impl OriginDimensions for Panel {
    fn size(&self) -> Size {
        SIZE
    }
}

impl DrawTarget for Panel {
    type Color = Gray4;
    type Error = Infallible;
    fn draw_iter<I: IntoIterator<Item = Pixel<Gray4>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        for Pixel(p, c) in pixels {
            assert!(
                self.bounding_box().contains(p),
                "pixel drawn outside the panel at {p:?}"
            );
            self.0.set_pixel(p, c);
        }
        Ok(())
    }
}

fn generator() -> Generator<'static> {
    Generator::new(DEFAULT_BLOB).unwrap()
}

fn generated(screen: &Screen) -> Vec<Digit> {
    let g = generator();
    let mut scratch = Scratch::new();
    (0..DIGITS)
        .map(|i| {
            let mut d = Digit::new();
            g.generate(None, screen.digit_seed(i), &mut scratch, &mut d)
                .unwrap();
            d
        })
        .collect()
}

fn draw(screen: &Screen) -> Panel {
    let mut panel = Panel::new();
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let Ok(()) = oled_screen::draw(&mut panel, screen, &generator(), &mut scratch, &mut digit);
    panel
}

#[test]
fn digits_sit_below_the_status_line_without_overlapping() {
    let cells: Vec<Rectangle> = (0..DIGITS)
        .map(|i| Rectangle::new(oled_screen::digit_origin(i).unwrap(), Size::new(28, 28)))
        .collect();
    let panel = Rectangle::new(Point::zero(), SIZE);
    for (i, a) in cells.iter().enumerate() {
        assert_eq!(panel.intersection(a), *a, "digit {i} leaves the panel");
        assert!(a.top_left.y >= oled_screen::STATUS_HEIGHT as i32);
        for b in &cells[i + 1..] {
            assert!(a.intersection(b).is_zero_sized(), "{a:?} overlaps {b:?}");
        }
    }
    assert_eq!(oled_screen::digit_origin(DIGITS), None);
    assert_eq!(cells[0].top_left, Point::new(2, 8));
    assert_eq!(cells[7].top_left, Point::new(2 + 3 * 32, 36));
}

#[test]
fn generating_on_the_fly_equals_drawing_pregenerated_digits() {
    let screen = Screen::START.apply(Key::Right, false);
    let on_the_fly = draw(&screen);
    let mut pregenerated = Panel::new();
    let Ok(()) = oled_screen::draw_with_digits(&mut pregenerated, &screen, &generated(&screen));
    assert_eq!(on_the_fly.0.data(), pregenerated.0.data());
}

#[test]
fn digits_are_drawn_in_sixteen_greys_at_their_cells() {
    let screen = Screen::START;
    let panel = draw(&screen);
    let digits = generated(&screen);
    for (i, digit) in digits.iter().enumerate() {
        let at = oled_screen::digit_origin(i).unwrap();
        for y in 0..28 {
            for x in 0..28 {
                let value = digit.pixel(x, y).unwrap();
                assert_eq!(
                    panel.get(at.x + x as i32, at.y + y as i32),
                    oled_screen::gray4(value).luma(),
                    "digit {i} at ({x}, {y})"
                );
            }
        }
        assert!(digit.pixels().iter().any(|&v| v > 200), "digit {i} has ink");
    }
}

/// Whether `text` drawn alone in the status font appears at `at`.
fn shows_text(panel: &Panel, text: &str, at: Point) -> bool {
    let mut alone = Panel::new();
    let style = MonoTextStyle::new(&FONT_5X8, oled_screen::TEXT);
    let top = TextStyleBuilder::new().baseline(Baseline::Top).build();
    let Ok(_) = Text::with_text_style(text, Point::zero(), style, top).draw(&mut alone);
    let width = 5 * text.len() as i32;
    (0..8).all(|y| (0..width).all(|x| alone.get(x, y) == panel.get(at.x + x, at.y + y)))
}

/// The x where `text` appears on the status line.
fn find_text(panel: &Panel, text: &str) -> Option<i32> {
    (0..128 - 5 * text.len() as i32 + 1).find(|&x| shows_text(panel, text, Point::new(x, 0)))
}

#[test]
fn status_line_names_seed_and_class() {
    let panel = draw(&Screen::new(4_000_000_000, None));
    assert!(shows_text(&panel, "seed 4000000000", Point::new(1, 0)));
    assert_eq!(find_text(&panel, "any digit"), Some(128 - 45));

    let mut status = Panel::new();
    let Ok(()) = oled_screen::draw_status(&mut status, &Screen::new(12, Some(7)));
    assert!(shows_text(&status, "seed 12", Point::new(1, 0)));
    assert_eq!(
        find_text(&status, "digit 7"),
        Some(128 - 35),
        "right-aligned"
    );
}

/// Rows 8–63: the digits, without the status line.
fn digit_rows(panel: &Panel) -> Vec<u8> {
    (8..64)
        .flat_map(|y| (0..128).map(move |x| panel.get(x, y)))
        .collect()
}

#[test]
fn a_chosen_class_is_drawn_by_a_conditional_blob() {
    let g = generator();
    assert!(
        g.is_conditional(),
        "the shipped blob is class-conditional (cmcu)"
    );
    let screen = Screen::new(5, Some(3));
    let mut scratch = Scratch::new();
    let threes: Vec<Digit> = (0..DIGITS)
        .map(|i| {
            let mut d = Digit::new();
            g.generate(Some(3), screen.digit_seed(i), &mut scratch, &mut d)
                .unwrap();
            d
        })
        .collect();
    let mut expected = Panel::new();
    let Ok(()) = oled_screen::draw_with_digits(&mut expected, &screen, &threes);
    assert_eq!(digit_rows(&draw(&screen)), digit_rows(&expected));
    assert_ne!(
        digit_rows(&draw(&screen)),
        digit_rows(&draw(&Screen::new(5, None)))
    );
}

#[test]
fn an_unconditional_blob_ignores_a_class() {
    use firmware_core::export::{quantize_model, FloatGenerator};
    let blob = quantize_model(&FloatGenerator::random(7), 0..8, false)
        .unwrap()
        .to_blob();
    let g = Generator::new(&blob).unwrap();
    assert!(!g.is_conditional());
    let draw_with = |screen: &Screen| {
        let mut panel = Panel::new();
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        let Ok(()) = oled_screen::draw(&mut panel, screen, &g, &mut scratch, &mut digit);
        panel
    };
    let with_class = draw_with(&Screen::new(5, Some(3)));
    let without = draw_with(&Screen::new(5, None));
    assert_eq!(digit_rows(&with_class), digit_rows(&without));
    assert!(
        digit_rows(&without).iter().any(|&v| v > 0),
        "random weights still draw something"
    );
}

#[test]
fn the_error_screen_wraps_the_reason_inside_the_panel() {
    let err = Generator::new(&DEFAULT_BLOB[..100]).unwrap_err();
    let mut panel = Panel::new();
    let Ok(()) = oled_screen::draw_error(&mut panel, &err);
    let lit_rows: Vec<i32> = (0..64)
        .filter(|&y| (0..128).any(|x| panel.get(x, y) != 0))
        .collect();
    assert!(lit_rows.contains(&1), "title on the first line");
    // The CRC message is longer than one line: at least two lines of reason below the title.
    assert!(
        lit_rows.iter().filter(|&&y| y >= 10).count() >= 10,
        "{lit_rows:?}"
    );
    assert!(
        shows_text(&panel, "blob CRC", Point::new(1, 10)),
        "reason starts under the title"
    );

    // Any length is fine: the text is cut, never drawn outside the panel.
    let long = "x".repeat(1000);
    let Ok(()) = oled_screen::draw_error(&mut Panel::new(), &long);
}

#[test]
fn the_driver_holds_the_same_pixels_as_a_plain_framebuffer() {
    struct NoBus;
    impl embedded_hal::spi::ErrorType for NoBus {
        type Error = Infallible;
    }
    impl embedded_hal::spi::SpiDevice for NoBus {
        fn transaction(
            &mut self,
            _: &mut [embedded_hal::spi::Operation<'_, u8>],
        ) -> Result<(), Infallible> {
            Ok(())
        }
    }
    impl embedded_hal::digital::ErrorType for NoBus {
        type Error = Infallible;
    }
    impl embedded_hal::digital::OutputPin for NoBus {
        fn set_low(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
    }
    let screen = Screen::START.apply(Key::Select, false);
    let mut display = ssd0323::Ssd0323::new(NoBus, NoBus);
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let Ok(()) = oled_screen::draw(
        &mut display,
        &screen,
        &generator(),
        &mut scratch,
        &mut digit,
    );
    assert_eq!(&display.frame().bytes()[..], &draw(&screen).0.data()[..]);
}
