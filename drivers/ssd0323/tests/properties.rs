//! Arbitrary drawing, including positions far outside the panel and huge sizes: no panic, the
//! frame buffer equals embedded-graphics' own `Framebuffer` (same 4-bit big-endian layout)
//! drawn the same way, and replaying every flush on a controller model shows that frame.

mod common;

use common::{Controller, Log};
use embedded_graphics::{
    framebuffer::{buffer_size, Framebuffer},
    image::GetPixel,
    mono_font::{ascii::FONT_6X10, MonoTextStyle},
    pixelcolor::{
        raw::{BigEndian, RawU4},
        Gray4,
    },
    prelude::*,
    primitives::{Circle, Line, PrimitiveStyleBuilder, Rectangle},
    text::Text,
};
use proptest::prelude::*;
use ssd0323::Ssd0323;
use std::convert::Infallible;

type Reference = Framebuffer<Gray4, RawU4, BigEndian, 128, 64, { buffer_size::<Gray4>(128, 64) }>;

/// embedded-graphics' framebuffer, with a brute-force `fill_solid` (its default walks every
/// point of the area, which never ends for the huge rectangles drawn here).
struct ReferenceTarget(Reference);

impl OriginDimensions for ReferenceTarget {
    fn size(&self) -> Size {
        Size::new(128, 64)
    }
}

impl DrawTarget for ReferenceTarget {
    type Color = Gray4;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Gray4>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        self.0.draw_iter(pixels)
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Gray4) -> Result<(), Infallible> {
        let (x, y) = (i64::from(area.top_left.x), i64::from(area.top_left.y));
        let (w, h) = (i64::from(area.size.width), i64::from(area.size.height));
        for py in 0..64i64 {
            for px in 0..128i64 {
                if (x..x + w).contains(&px) && (y..y + h).contains(&py) {
                    self.0.set_pixel(Point::new(px as i32, py as i32), color);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Op {
    Pixel(Point, u8),
    FillSolid(Point, Size, u8),
    Rectangle {
        corner: Point,
        size: Size,
        stroke: u32,
        fill: Option<u8>,
        color: u8,
    },
    Line {
        start: Point,
        end: Point,
        width: u32,
        color: u8,
    },
    Circle {
        corner: Point,
        diameter: u32,
        fill: bool,
        color: u8,
    },
    Text {
        at: Point,
        text: String,
        color: u8,
    },
    Flush,
}

fn any_point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point::new(x, y))
}

/// Near the panel, where most of the interesting clipping happens, or anywhere.
fn point_within(range: i32) -> impl Strategy<Value = Point> {
    prop_oneof![
        (-40..170, -40..110).prop_map(|(x, y)| Point::new(x, y)),
        (-range..range, -range..range).prop_map(|(x, y)| Point::new(x, y)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let level = 0u8..16;
    prop_oneof![
        (any_point(), level.clone()).prop_map(|(p, c)| Op::Pixel(p, c)),
        (point_within(1_000), level.clone()).prop_map(|(p, c)| Op::Pixel(p, c)),
        (any_point(), any::<u32>(), any::<u32>(), level.clone())
            .prop_map(|(p, w, h, c)| Op::FillSolid(p, Size::new(w, h), c)),
        (point_within(200), 0u32..300, 0u32..300, level.clone())
            .prop_map(|(p, w, h, c)| Op::FillSolid(p, Size::new(w, h), c)),
        // embedded-graphics' own primitive code adds positions and sizes in i32, so these stay
        // within its range; the driver gets whatever calls (clipped or not) it makes.
        (
            point_within(100_000),
            (0u32..200_000, 0u32..200_000),
            0u32..20,
            proptest::option::of(level.clone()),
            level.clone()
        )
            .prop_map(|(corner, (w, h), stroke, fill, color)| Op::Rectangle {
                corner,
                size: Size::new(w, h),
                stroke,
                fill,
                color
            }),
        // Thick lines: embedded-graphics squares length × width in i32 (overflows past ~2 000
        // pixels at width 6), a limit of the primitive, not of the driver.
        (
            point_within(1_000),
            point_within(1_000),
            0u32..5,
            level.clone()
        )
            .prop_map(|(start, end, width, color)| Op::Line {
                start,
                end,
                width,
                color
            }),
        (point_within(3_000), 0u32..600, any::<bool>(), level.clone()).prop_map(
            |(corner, diameter, fill, color)| Op::Circle {
                corner,
                diameter,
                fill,
                color
            }
        ),
        (point_within(100_000), "[ -~]{0,12}", level).prop_map(|(at, text, color)| Op::Text {
            at,
            text,
            color
        }),
        Just(Op::Flush),
    ]
}

fn draw<D: DrawTarget<Color = Gray4, Error = Infallible>>(target: &mut D, op: &Op) {
    let Ok(()) = match op {
        Op::Pixel(p, c) => Pixel(*p, Gray4::new(*c)).draw(target),
        Op::FillSolid(p, s, c) => target.fill_solid(&Rectangle::new(*p, *s), Gray4::new(*c)),
        Op::Rectangle {
            corner,
            size,
            stroke,
            fill,
            color,
        } => {
            let mut style = PrimitiveStyleBuilder::new()
                .stroke_color(Gray4::new(*color))
                .stroke_width(*stroke);
            if let Some(f) = fill {
                style = style.fill_color(Gray4::new(*f));
            }
            Rectangle::new(*corner, *size)
                .into_styled(style.build())
                .draw(target)
        }
        Op::Line {
            start,
            end,
            width,
            color,
        } => Line::new(*start, *end)
            .into_styled(
                PrimitiveStyleBuilder::new()
                    .stroke_color(Gray4::new(*color))
                    .stroke_width(*width)
                    .build(),
            )
            .draw(target),
        Op::Circle {
            corner,
            diameter,
            fill,
            color,
        } => {
            let style = if *fill {
                PrimitiveStyleBuilder::new().fill_color(Gray4::new(*color))
            } else {
                PrimitiveStyleBuilder::new()
                    .stroke_color(Gray4::new(*color))
                    .stroke_width(1)
            };
            Circle::new(*corner, *diameter)
                .into_styled(style.build())
                .draw(target)
        }
        Op::Text { at, text, color } => {
            let style = MonoTextStyle::new(&FONT_6X10, Gray4::new(*color));
            Text::new(text, *at, style).draw(target).map(|_| ())
        }
        Op::Flush => Ok(()),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_drawing_is_clipped_and_flushed_exactly(ops in proptest::collection::vec(op(), 1..24)) {
        let (log, spi, dc) = Log::new();
        let mut display = Ssd0323::new(spi, dc);
        let mut controller = Controller::default();
        controller.ram = [[0x5A; 64]; 80];
        display.init().unwrap();
        let mut reference = ReferenceTarget(Reference::new());

        for op in &ops {
            draw(&mut display, op);
            draw(&mut reference, op);
            if let Op::Flush = op {
                display.flush().unwrap();
                controller.replay(&log.take());
                prop_assert_eq!(controller.shown(), display.frame().bytes().to_vec());
            }
        }
        prop_assert_eq!(&display.frame().bytes()[..], &reference.0.data()[..]);
        for p in [Point::new(0, 0), Point::new(127, 63), Point::new(64, 32)] {
            prop_assert_eq!(display.frame().pixel(p), reference.0.pixel(p));
        }
        display.flush().unwrap();
        controller.replay(&log.take());
        prop_assert_eq!(controller.shown(), display.frame().bytes().to_vec());
        // A second flush has nothing left to send.
        display.flush().unwrap();
        prop_assert!(log.take().is_empty());
    }
}
