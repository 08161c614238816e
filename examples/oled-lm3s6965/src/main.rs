//! Generated handwritten digits on the SSD0323 OLED of a Stellaris LM3S6965 evaluation board
//! (Cortex-M3; QEMU `lm3s6965evb`), driven by its gamepad.
//!
//! The screen — seed and class on top, eight digits below — and what each button does are
//! `oled-screen`'s, shared with the sim (`cargo run -p sim -- --display ssd0323`): up/down
//! cycle the class (class-conditional blobs), left/right step the seed, select shows the next
//! eight seeds. Buttons are queued by GPIO interrupts while a screen is drawn, then applied in
//! order and drawn once.
//!
//! Progress goes out over semihosting, one `key=value` line per event (`oled.sh` waits for
//! them): `frame` after each screen reaches the panel, `ready` whenever every queued press has
//! been applied and drawn, `error` if the blob is rejected (the panel then shows why).

#![no_std]
#![no_main]

mod board;
mod icount;
mod keys;
mod stack;

use core::{fmt, hint::black_box};

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, heprintln, hprintln};
use firmware_core::{BlobError, Digit, Generator, Scratch};
use oled_screen::Screen;
use ssd0323::Ssd0323;

use crate::{
    board::{DcPin, Ssi0},
    icount::InstructionCounter,
};

type Display = Ssd0323<Ssi0, DcPin>;

/// The generator blob: firmware-core's default, or the file named by `OLED_BLOB` at build time.
fn blob() -> &'static [u8] {
    #[cfg(custom_blob)]
    {
        include_bytes!(env!("OLED_BLOB_PATH"))
    }
    #[cfg(not(custom_blob))]
    {
        firmware_core::DEFAULT_BLOB
    }
}

#[entry]
fn main() -> ! {
    // `#[entry]` hands these out as `&'static mut`: in .bss, not on the stack.
    static mut SCRATCH: Scratch = Scratch::new();
    static mut DIGIT: Digit = Digit::new();

    let (Some(core), Some(chip)) = (cortex_m::Peripherals::take(), pac::Peripherals::take()) else {
        panic!("peripherals taken twice");
    };
    let counter = InstructionCounter::start(core.SYST);
    hprintln!("boot board=lm3s6965evb blob_bytes={}", blob().len());
    let (instructions, ticks) = counter.calibration();
    hprintln!("calibration instructions={} ticks={}", instructions, ticks);

    let spi = Ssi0::new(chip.SSI0, &chip.SYSCTL, &chip.GPIO_PORTA);
    let dc = DcPin::new(chip.GPIO_PORTC, &chip.SYSCTL);
    board::init_gamepad(&chip.GPIO_PORTE, &chip.GPIO_PORTF, &chip.SYSCTL);
    keys::enable();
    let mut display = Ssd0323::new(spi, dc);
    let (Ok(()), instructions) = counter.measure(|| display.init());
    hprintln!("panel_init instructions={}", instructions);

    // `black_box`: validated at run time, like a blob read from external flash would be.
    let (generator, instructions) = counter.measure(|| Generator::new(black_box(blob())));
    match generator {
        Ok(generator) => {
            hprintln!("generator_new instructions={}", instructions);
            run(&mut display, &generator, &counter, SCRATCH, DIGIT)
        }
        Err(e) => show_error(&mut display, &e),
    }
}

/// The class as the report prints it.
struct Class(Option<u8>);

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, "{c}"),
            None => f.write_str("any"),
        }
    }
}

fn run(
    display: &mut Display,
    generator: &Generator<'_>,
    counter: &InstructionCounter,
    scratch: &mut Scratch,
    digit: &mut Digit,
) -> ! {
    let conditional = generator.is_conditional();
    let mut screen = Screen::START;
    let (mut frames, mut presses) = (0u32, 0u32);
    let mut redraw = true;
    loop {
        if redraw {
            let (Ok(()), draw) =
                counter.measure(|| oled_screen::draw(display, &screen, generator, scratch, digit));
            let (Ok(()), flush) = counter.measure(|| display.flush());
            frames += 1;
            hprintln!(
                "frame n={} seed={} class={} draw_instructions={} flush_instructions={}",
                frames,
                screen.seed(),
                Class(screen.class()),
                draw,
                flush
            );
            redraw = false;
        }
        // Everything queued meanwhile, in order; one redraw for all of it.
        while let Some(key) = keys::pop() {
            presses += 1;
            let next = screen.apply(key, conditional);
            hprintln!(
                "key {} seed={} class={}",
                key.name(),
                next.seed(),
                Class(next.class())
            );
            redraw |= next != screen;
            screen = next;
        }
        if !redraw {
            hprintln!(
                "ready keys={} dropped={} seed={} class={} stack_bytes={}",
                presses,
                keys::dropped(),
                screen.seed(),
                Class(screen.class()),
                stack::peak_bytes()
            );
            keys::wait();
        }
    }
}

/// The panel says why the blob was rejected; buttons are counted and otherwise ignored.
fn show_error(display: &mut Display, error: &BlobError) -> ! {
    let Ok(()) = oled_screen::draw_error(display, error);
    let Ok(()) = display.flush();
    hprintln!("error blob rejected: {}", error);
    let mut presses = 0u32;
    loop {
        hprintln!("ready keys={} dropped={} error", presses, keys::dropped());
        keys::wait();
        while keys::pop().is_some() {
            presses += 1;
        }
    }
}

/// Reports the panic and makes QEMU exit with a failure status instead of hanging.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    heprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
