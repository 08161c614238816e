//! The bare-metal entry point, report and panic handler for RISC-V (`riscv-virt` board:
//! QEMU `virt`, M-mode, riscv-rt), printing the same report as the Arm boards (`device.rs`).

use core::hint::black_box;
use core::ptr::addr_of_mut;

use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
use firmware_demo::{DigitLine, ModelLine, SEEDS};
use riscv_semihosting::{
    debug::{self, ExitStatus, EXIT_FAILURE, EXIT_SUCCESS},
    heprintln, hprintln,
};

// Critical sections for the semihosting output: `riscv`'s single-hart implementation.
use riscv as _;

const BOARD: &str = "riscv-virt core=rv32imc";

static mut SCRATCH: Scratch = Scratch::new();
static mut DIGIT: Digit = Digit::new();

#[riscv_rt::entry]
fn main() -> ! {
    stack::paint();
    // SAFETY: `main` runs once, on the only hart, and nothing else names these statics, so these
    // are the only references to them.
    #[allow(unsafe_code)]
    let (scratch, digit) = unsafe { (&mut *addr_of_mut!(SCRATCH), &mut *addr_of_mut!(DIGIT)) };
    debug::exit(run(scratch, digit));
    loop {
        riscv::asm::wfi();
    }
}

fn run(scratch: &mut Scratch, digit: &mut Digit) -> ExitStatus {
    let counter = icount::InstructionCounter::start();
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

/// Counting retired instructions with the `minstret` CSR, which QEMU advances by one per guest
/// instruction under `-icount` (without it, by host time).
mod icount {
    use riscv::register::minstret;

    pub struct InstructionCounter {
        /// Instructions [`measure`](Self::measure) itself adds around an empty closure.
        overhead: u64,
    }

    impl InstructionCounter {
        pub fn start() -> Self {
            let mut counter = Self { overhead: 0 };
            counter.overhead = counter.measure(|| ()).1;
            counter
        }

        /// Runs `f` and returns its result with the instructions it retired.
        pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
            let start = minstret::read64();
            let result = f();
            let retired = minstret::read64().wrapping_sub(start);
            (result, retired.saturating_sub(self.overhead))
        }

        /// Times a loop of known length: `(expected, measured)` instructions. They agree only
        /// when QEMU counts instructions (`-icount`), which the script checks.
        pub fn calibrate(&self) -> (u64, u64) {
            const ITERATIONS: u32 = 500_000;
            let ((), measured) = self.measure(|| spin(ITERATIONS));
            // Two instructions per iteration, plus the one that loads the count.
            (2 * u64::from(ITERATIONS) + 1, measured)
        }
    }

    /// Exactly `2 · iterations` instructions (`addi` + `bnez`) plus one `li`.
    #[inline(never)]
    fn spin(iterations: u32) {
        // SAFETY: the loop only decrements a register it owns; no memory, stack or flags escape.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!(
                "mv {n}, {count}",
                "2:",
                "addi {n}, {n}, -1",
                "bnez {n}, 2b",
                count = in(reg) iterations,
                n = out(reg) _,
                options(nomem, nostack),
            );
        }
    }
}

/// Peak stack use: `main` paints the unused stack at start, the report scans for the deepest
/// word no longer holding the paint (riscv-rt has no `paint-stack` feature).
mod stack {
    const PAINT: u32 = 0xCCCC_CCCC;

    extern "C" {
        // From riscv-rt's link.x: the stack region is `__estack` (lowest address) up to
        // `__sstack` (the initial stack pointer).
        static __estack: u32;
        static __sstack: u32;
    }

    pub struct StackUsage {
        pub peak_bytes: usize,
        pub region_bytes: usize,
    }

    fn bounds() -> (*mut u32, *mut u32) {
        (
            core::ptr::addr_of!(__estack).cast_mut(),
            core::ptr::addr_of!(__sstack).cast_mut(),
        )
    }

    /// Fills the stack region below the current frame (minus a margin) with [`PAINT`].
    #[inline(never)]
    pub fn paint() {
        let (bottom, _) = bounds();
        let here = 0u32;
        let limit = (core::ptr::addr_of!(here) as usize).saturating_sub(256) as *mut u32;
        let mut p = bottom;
        while p < limit {
            // SAFETY: `bottom..limit` is stack RAM below every live frame (256 bytes below this
            // one, which is the deepest while it runs).
            #[allow(unsafe_code)]
            unsafe {
                core::ptr::write_volatile(p, PAINT);
                p = p.add(1);
            }
        }
    }

    pub fn usage() -> StackUsage {
        let (bottom, top) = bounds();
        let mut p = bottom.cast_const();
        // SAFETY: every word in `bottom..top` is stack RAM; volatile because the compiler does
        // not know the stack writes into it.
        #[allow(unsafe_code)]
        while p < top.cast_const() && unsafe { core::ptr::read_volatile(p) } == PAINT {
            // SAFETY: `p < top`, so one more word stays within the region or lands on `top`.
            p = unsafe { p.add(1) };
        }
        StackUsage {
            peak_bytes: top as usize - p as usize,
            region_bytes: top as usize - bottom as usize,
        }
    }
}

/// Reports the panic and makes QEMU exit with a failure status instead of hanging until the
/// script's timeout.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    heprintln!("panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        riscv::asm::wfi();
    }
}
