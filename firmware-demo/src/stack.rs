//! Peak stack use: cortex-m-rt's `paint-stack` fills the stack region with
//! [`STACK_PAINT_VALUE`] at reset; the deepest word no longer holding it marks the peak.

use cortex_m_rt::STACK_PAINT_VALUE;

/// Stack region size and the most of it used since reset.
pub struct StackUsage {
    /// Bytes from the top of the stack down to the deepest overwritten word.
    pub peak_bytes: usize,
    /// Bytes between the end of static RAM and the top of RAM (what the stack may grow into).
    pub region_bytes: usize,
}

extern "C" {
    // From cortex-m-rt's link.x: the initial stack pointer (top) and the lowest address the stack
    // may reach (end of .bss/.uninit).
    static _stack_start: u32;
    static _stack_end: u32;
}

/// Scans up from the bottom of the stack region for the first painted word that was overwritten.
pub fn usage() -> StackUsage {
    let top: *const u32 = core::ptr::addr_of!(_stack_start);
    let bottom: *const u32 = core::ptr::addr_of!(_stack_end);
    let mut p = bottom;
    // SAFETY: every word in `bottom..top` is RAM that cortex-m-rt painted at reset; volatile
    // reads because the compiler does not know the stack writes into it.
    while p < top && unsafe { core::ptr::read_volatile(p) } == STACK_PAINT_VALUE {
        // SAFETY: `p < top`, so one more word stays within the region or lands on `top`.
        p = unsafe { p.add(1) };
    }
    StackUsage {
        peak_bytes: top as usize - p as usize,
        region_bytes: top as usize - bottom as usize,
    }
}
