//! Counting guest instructions with SysTick under QEMU `-icount`.
//!
//! With `-icount shift=6,align=off,sleep=off` QEMU advances virtual time by exactly 2⁶ ns per
//! executed instruction, and SysTick (on the core clock) counts virtual time, so
//! `instructions = ticks · 10⁹ / (2⁶ · core_hz)`, identical run to run. The 24-bit counter wraps
//! every 2²⁴ ticks (10.5 M instructions on `mps2-an386`), so the SysTick exception counts wraps.
//! These are instructions, not cycles: QEMU does not model timing.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;

/// The `-icount shift` that `run-qemu.sh` passes: nanoseconds per instruction are `2^ICOUNT_SHIFT`.
const ICOUNT_SHIFT: u32 = 6;

/// SysTick's clock in QEMU: the mps2 boards run the core at 25 MHz, the nRF51 at 16 MHz.
#[cfg(any(feature = "mps2-an386", feature = "mps2-an385"))]
const CORE_HZ: u64 = 25_000_000;
#[cfg(feature = "microbit")]
const CORE_HZ: u64 = 16_000_000;

const RELOAD: u32 = 0x00FF_FFFF;

/// SysTick wraps since [`InstructionCounter::start`]; only the exception handler writes it.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // Load + store rather than `fetch_add`, which thumbv6m lacks; the handler is the only writer.
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// A free-running 24-bit SysTick extended to 64 bits by counting wraps.
pub struct InstructionCounter {
    _syst: SYST,
    /// Instructions [`measure`](Self::measure) itself adds around an empty closure.
    overhead: u64,
}

impl InstructionCounter {
    /// Starts SysTick on the core clock with its wrap interrupt enabled.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        let mut counter = Self {
            _syst: syst,
            overhead: 0,
        };
        counter.overhead = counter.measure(|| ()).1;
        counter
    }

    /// Ticks since `start`, consistent even if the counter wraps while it is being read.
    fn ticks() -> u64 {
        cortex_m::interrupt::free(|_| {
            let mut wraps = WRAPS.load(Ordering::Relaxed);
            let mut current = SYST::get_current();
            // A wrap after interrupts were masked is pending, not yet counted: count it and
            // re-read, so `current` belongs to the new period.
            if SCB::is_pendst_pending() {
                wraps = wraps.wrapping_add(1);
                current = SYST::get_current();
            }
            u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current)
        })
    }

    /// Runs `f` and returns its result with the instructions it executed.
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        let start = Self::ticks();
        let result = f();
        let ticks = Self::ticks() - start;
        let ns_per_instruction = 1u64 << ICOUNT_SHIFT;
        // Rounded to nearest.
        let denominator = ns_per_instruction * CORE_HZ;
        let instructions = (ticks * 1_000_000_000 + denominator / 2) / denominator;
        (result, instructions.saturating_sub(self.overhead))
    }

    /// Times a loop of known length: `(expected, measured)` instructions. They agree only when
    /// QEMU runs with `-icount shift=6` and `CORE_HZ` is right, which the script checks.
    pub fn calibrate(&self) -> (u64, u64) {
        const ITERATIONS: u32 = 500_000;
        let ((), measured) = self.measure(|| spin(ITERATIONS));
        // Two instructions per iteration, plus the move that loads the count.
        (2 * u64::from(ITERATIONS) + 1, measured)
    }
}

/// Exactly `2 · iterations` instructions (`subs` + `bne`), whatever the compiler does around it.
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
