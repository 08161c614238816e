//! The exact bytes the driver sends for known drawings.

mod common;

use common::{Controller, Log, Sent};
use embedded_graphics::{
    pixelcolor::Gray4,
    prelude::*,
    primitives::{Line, PrimitiveStyle, Rectangle},
};
use ssd0323::Ssd0323;

fn commands(bytes: &[u8]) -> Sent {
    Sent::Commands(bytes.to_vec())
}

fn data(bytes: &[u8]) -> Sent {
    Sent::Data(bytes.to_vec())
}

/// An initialised display whose init traffic has been checked and discarded.
fn ready() -> (Log, Ssd0323<common::RecordingSpi, common::RecordingPin>) {
    let (log, spi, dc) = Log::new();
    let mut display = Ssd0323::new(spi, dc);
    display.init().unwrap();
    log.take();
    (log, display)
}

#[test]
fn init_sends_the_power_on_sequence_a_black_frame_then_display_on() {
    let (log, spi, dc) = Log::new();
    let mut display = Ssd0323::new(spi, dc);
    assert_eq!(log.take(), [], "new() sends nothing");
    display.init().unwrap();
    #[rustfmt::skip]
    let setup = [
        0xAE,             // display off
        0x81, 50,         // contrast
        0x85,             // half current range
        0xA0, 0x52,       // remap: nibble remap, COM remap, COM split; horizontal increment
        0xA1, 0,          // start line 0
        0xA2, 76,         // display offset (panel wiring)
        0xA4,             // normal display
        0xA8, 63,         // multiplex ratio: 64 rows
        0xB1, 0x22,       // phase length
        0xB2, 70,         // row period
        0xB3, 0xF1,       // display clock divider
        0xBF, 0x0D,       // VSL
        0xBE, 0x02,       // VCOMH
        0xBC, 0x10,       // precharge voltage
        0xB8, 0x01, 0x11, 0x22, 0x32, 0x43, 0x54, 0x65, 0x76, // grey-scale table
        0xAD, 0x03,       // DC-DC converter on
        0x15, 0, 63,      // column bytes 0–63
        0x75, 0, 63,      // rows 0–63
    ];
    assert_eq!(
        log.take(),
        [commands(&setup), data(&[0; 4096]), commands(&[0xAF])]
    );
}

#[test]
fn one_pixel_sends_one_byte_in_a_one_byte_window() {
    let (log, mut display) = ready();
    Pixel(Point::new(3, 5), Gray4::new(9))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();
    // x = 3 is the right (low) nibble of column byte 1.
    assert_eq!(
        log.take(),
        [commands(&[0x15, 1, 1, 0x75, 5, 5]), data(&[0x09])]
    );
}

#[test]
fn a_rectangle_with_odd_edges_keeps_its_neighbours_nibbles() {
    let (log, mut display) = ready();
    Pixel(Point::new(2, 0), Gray4::new(1))
        .draw(&mut display)
        .unwrap();
    Rectangle::new(Point::new(3, 0), Size::new(4, 2))
        .into_styled(PrimitiveStyle::with_fill(Gray4::new(0xC)))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();
    assert_eq!(
        log.take(),
        [
            commands(&[0x15, 1, 3, 0x75, 0, 1]),
            data(&[0x1C, 0xCC, 0xC0, 0x0C, 0xCC, 0xC0]),
        ]
    );
}

#[test]
fn flush_sends_nothing_when_nothing_changed() {
    let (log, mut display) = ready();
    display.flush().unwrap();
    assert_eq!(log.take(), []);
    // Drawing what is already there changes nothing either.
    display.clear(Gray4::BLACK).unwrap();
    display.flush().unwrap();
    assert_eq!(log.take(), []);
}

#[test]
fn full_width_windows_go_out_as_one_block() {
    let (log, mut display) = ready();
    Line::new(Point::new(-10, 40), Point::new(200, 40))
        .into_styled(PrimitiveStyle::with_stroke(Gray4::WHITE, 1))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();
    assert_eq!(
        log.take(),
        [commands(&[0x15, 0, 63, 0x75, 40, 40]), data(&[0xFF; 64])]
    );
    display.clear(Gray4::new(2)).unwrap();
    display.flush().unwrap();
    assert_eq!(
        log.take(),
        [commands(&[0x15, 0, 63, 0x75, 0, 63]), data(&[0x22; 4096])]
    );
}

#[test]
fn the_controller_ends_up_showing_the_frame_buffer() {
    let (log, spi, dc) = Log::new();
    let mut display = Ssd0323::new(spi, dc);
    let mut controller = Controller::default();
    // Power-up garbage in the controller's RAM must be overwritten by init.
    controller.ram = [[0xA5; 64]; 80];
    display.init().unwrap();
    Rectangle::new(Point::new(100, 50), Size::new(40, 3))
        .into_styled(PrimitiveStyle::with_stroke(Gray4::new(6), 1))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();
    Line::new(Point::new(0, 0), Point::new(127, 63))
        .into_styled(PrimitiveStyle::with_stroke(Gray4::new(11), 1))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();
    controller.replay(&log.take());
    assert!(controller.display_on);
    assert_eq!(controller.shown(), display.frame().bytes().to_vec());
}
