//! The bare-metal entry point, report and panic handler.

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{
    debug::{self, ExitStatus, EXIT_FAILURE, EXIT_SUCCESS},
    heprintln, hprintln,
};
use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
use firmware_demo::{DigitLine, ModelLine, SEEDS};

use crate::{icount::InstructionCounter, stack};

#[cfg(feature = "mps2-an386")]
const BOARD: &str = "mps2-an386 core=cortex-m4f";
#[cfg(feature = "mps2-an385")]
const BOARD: &str = "mps2-an385 core=cortex-m3";
#[cfg(feature = "microbit")]
const BOARD: &str = "microbit core=cortex-m0";
#[cfg(not(any(feature = "mps2-an386", feature = "mps2-an385", feature = "microbit")))]
compile_error!("enable one board feature: `mps2-an386`, `mps2-an385` or `microbit`");

#[entry]
fn main() -> ! {
    // `#[entry]` hands these out as `&'static mut`: they live in .bss, so the measured stack is
    // the call frames alone.
    static mut SCRATCH: Scratch = Scratch::new();
    static mut DIGIT: Digit = Digit::new();

    debug::exit(run(SCRATCH, DIGIT));
    // Only reached if a debugger resumes after the exit request.
    loop {
        cortex_m::asm::wfi();
    }
}

fn run(scratch: &mut Scratch, digit: &mut Digit) -> ExitStatus {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        heprintln!("error: core peripherals already taken");
        return EXIT_FAILURE;
    };
    let counter = InstructionCounter::start(peripherals.SYST);
    hprintln!("firmware-demo board={}", BOARD);

    let (expected, measured) = counter.calibrate();
    hprintln!("calibration expected={} measured={}", expected, measured);

    // `black_box`: the blob must be validated at run time, not folded at compile time.
    let blob = black_box(DEFAULT_BLOB);
    let (generator, instructions) = counter.measure(|| Generator::new(blob));
    let generator = match generator {
        Ok(g) => g,
        Err(e) => {
            heprintln!("error: DEFAULT_BLOB rejected: {}", e);
            return EXIT_FAILURE;
        }
    };
    hprintln!("generator_new instructions={}", instructions);
    hprintln!(
        "{}",
        ModelLine {
            blob_bytes: blob.len()
        }
    );

    for seed in SEEDS {
        let (generated, instructions) =
            counter.measure(|| generator.generate(None, black_box(seed), scratch, digit));
        if let Err(e) = generated {
            heprintln!("error: seed {}: {}", seed, e);
            return EXIT_FAILURE;
        }
        hprintln!("{}", DigitLine::new(seed, digit, Some(instructions)));
    }

    let stack = stack::usage();
    hprintln!(
        "stack peak_bytes={} region_bytes={}",
        stack.peak_bytes,
        stack.region_bytes
    );
    hprintln!("done");
    EXIT_SUCCESS
}

/// Reports the panic and makes QEMU exit with a failure status instead of hanging until the
/// script's timeout.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    heprintln!("panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
