//! Guest instructions counted with SysTick under QEMU `-icount shift=6,align=off,sleep=off`,
//! where virtual time advances by exactly 64 ns per instruction and SysTick counts virtual time.
//!
//! The board's SysTick clock depends on the clock tree, so the ratio is measured at start-up
//! over a loop of known length (`calibration` line) instead of assumed. Without `-icount` the
//! numbers are meaningless. Instructions, not cycles: QEMU does not model timing.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;

const RELOAD: u32 = 0x00FF_FFFF;

/// SysTick wraps since start; only the exception handler writes it.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// SysTick extended to 64 bits, with the ticks-per-instruction ratio measured at start.
pub struct InstructionCounter {
    _syst: SYST,
    /// Instructions of the calibration loop and the ticks it took.
    calibration: (u64, u64),
}

impl InstructionCounter {
    /// Starts SysTick on the core clock and calibrates it.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        const ITERATIONS: u32 = 500_000;
        let start = ticks();
        spin(ITERATIONS);
        let spent = ticks() - start;
        Self {
            _syst: syst,
            // Two instructions per iteration plus the move of the count; the reads around it
            // add a few ticks, well under 0.01 %.
            calibration: (2 * u64::from(ITERATIONS) + 1, spent.max(1)),
        }
    }

    /// The calibration loop's instructions and the ticks they took.
    pub fn calibration(&self) -> (u64, u64) {
        self.calibration
    }

    /// Runs `f` and returns its result with the instructions it executed (rounded).
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        let start = ticks();
        let result = f();
        let spent = ticks() - start;
        let (instructions, per) = self.calibration;
        (result, (spent * instructions + per / 2) / per)
    }
}

/// Ticks since start, consistent even if the counter wraps while it is read.
fn ticks() -> u64 {
    cortex_m::interrupt::free(|_| {
        let mut wraps = WRAPS.load(Ordering::Relaxed);
        let mut current = SYST::get_current();
        // A wrap after interrupts were masked is pending, not yet counted.
        if SCB::is_pendst_pending() {
            wraps = wraps.wrapping_add(1);
            current = SYST::get_current();
        }
        u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current)
    })
}

/// Exactly `2 · iterations` instructions (`subs` + `bne`).
#[inline(never)]
fn spin(iterations: u32) {
    // SAFETY: the loop only decrements a register it owns; no memory, stack or flags escape.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, #1",
            "bne 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
}
