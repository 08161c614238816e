//! Raspberry Pi Pico + 128 × 64 SSD1306 OLED: a row of four GAN-generated digits, dithered to one
//! bit, with their seeds and the inference time; the next four seeds every few seconds.
//!
//! Wiring (I²C0 at 400 kHz, display address 0x3C): GP4 → SDA, GP5 → SCL, 3V3 → VCC, GND → GND.
//! The RP2040's internal pull-ups are enabled; most SSD1306 breakout boards add their own.
//!
//! Build with `./build.sh` (release: unoptimised inference is far slower).

#![no_std]
#![no_main]

use core::fmt::Write as _;

use embedded_graphics::{
    image::Image,
    mono_font::{ascii::FONT_6X10, MonoTextStyle},
    pixelcolor::BinaryColor,
    prelude::*,
    text::{Baseline, Text},
};
use firmware_core::{
    draw::{Bayer4, DigitGrid},
    Digit, Generator, Scratch, DEFAULT_BLOB,
};
use panic_halt as _;
use rp_pico::{
    entry,
    hal::{
        clocks::init_clocks_and_plls,
        fugit::{ExtU64, RateExtU32},
        gpio::{FunctionI2c, Pin, PullUp},
        pac, Clock, Sio, Timer, Watchdog, I2C,
    },
};
use ssd1306::{prelude::*, I2CDisplayInterface, Ssd1306};

/// Digits per screen: 4 · 28 px + 3 · 4 px spacing = 124 px of the display's 128.
const DIGITS: usize = 4;
const SPACING: u32 = 4;
/// How long each row of digits stays up, in milliseconds.
const SHOW_MS: u64 = 3_000;

#[entry]
fn main() -> ! {
    // `#[entry]` hands these out as `&'static mut`: 12.3 KiB in .bss rather than on the stack.
    static mut SCRATCH: Scratch = Scratch::new();
    static mut ROW: [Digit; DIGITS] = [const { Digit::new() }; DIGITS];

    // Start-up failures are wiring or board faults; panic-halt stops there.
    let mut pac = pac::Peripherals::take().unwrap();
    let mut watchdog = Watchdog::new(pac.WATCHDOG);
    let clocks = init_clocks_and_plls(
        rp_pico::XOSC_CRYSTAL_FREQ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    )
    .ok()
    .unwrap();
    let timer = Timer::new(pac.TIMER, &mut pac.RESETS, &clocks);

    let sio = Sio::new(pac.SIO);
    let pins = rp_pico::Pins::new(
        pac.IO_BANK0,
        pac.PADS_BANK0,
        sio.gpio_bank0,
        &mut pac.RESETS,
    );
    let sda: Pin<_, FunctionI2c, PullUp> = pins.gpio4.reconfigure();
    let scl: Pin<_, FunctionI2c, PullUp> = pins.gpio5.reconfigure();
    let i2c = I2C::i2c0(
        pac.I2C0,
        sda,
        scl,
        400.kHz(),
        &mut pac.RESETS,
        clocks.system_clock.freq(),
    );

    let mut display = Ssd1306::new(
        I2CDisplayInterface::new(i2c),
        DisplaySize128x64,
        DisplayRotation::Rotate0,
    )
    .into_buffered_graphics_mode();
    display.init().unwrap();

    let text = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    let generator = match Generator::new(DEFAULT_BLOB) {
        Ok(generator) => generator,
        Err(_) => {
            // Only a firmware built with a corrupt blob gets here; say so instead of going dark.
            let _ = Text::with_baseline("blob rejected", Point::zero(), text, Baseline::Top)
                .draw(&mut display);
            let _ = display.flush();
            loop {
                cortex_m::asm::wfi();
            }
        }
    };

    let mut first_seed: u32 = 0;
    loop {
        let started = timer.get_counter();
        for (seed, digit) in (first_seed..).zip(ROW.iter_mut()) {
            // No class asked: cannot fail (a conditional blob draws a class from the seed).
            let _ = generator.generate(None, seed, SCRATCH, digit);
        }
        let per_digit_ms = (timer.get_counter() - started).to_millis() / DIGITS as u64;

        // 32 bytes hold the longest caption ("seeds 4294967292-4294967295"), so `write!` cannot
        // fail; past 21 characters the display clips the text.
        let mut caption = heapless::String::<32>::new();
        let last_seed = first_seed.wrapping_add(DIGITS as u32 - 1);
        let _ = write!(caption, "seeds {first_seed}-{last_seed}");
        let mut timing = heapless::String::<32>::new();
        let _ = write!(timing, "{per_digit_ms} ms/digit");

        // The frame buffer is in RAM: only `flush` touches the bus. A failed flush (loose cable)
        // is simply retried with the next row.
        display.clear_buffer();
        let grid = DigitGrid::new(ROW, Bayer4).spacing(SPACING);
        let _ = Image::new(&grid, Point::new(2, 4)).draw(&mut display);
        let _ = Text::with_baseline(&caption, Point::new(2, 38), text, Baseline::Top)
            .draw(&mut display);
        let _ =
            Text::with_baseline(&timing, Point::new(2, 50), text, Baseline::Top).draw(&mut display);
        let _ = display.flush();

        first_seed = first_seed.wrapping_add(DIGITS as u32);
        let until = started + SHOW_MS.millis();
        while timer.get_counter() < until {}
    }
}
