//! Peak stack use: cortex-m-rt's `paint-stack` fills the stack region at reset; the deepest word
//! no longer holding the paint marks the peak.

use cortex_m_rt::STACK_PAINT_VALUE;

extern "C" {
    // From cortex-m-rt's link.x: the top of the stack and the lowest address it may reach.
    static _stack_start: u32;
    static _stack_end: u32;
}

/// Bytes from the top of the stack down to the deepest overwritten word.
pub fn peak_bytes() -> usize {
    let top: *const u32 = core::ptr::addr_of!(_stack_start);
    let bottom: *const u32 = core::ptr::addr_of!(_stack_end);
    let mut p = bottom;
    // SAFETY: every word in `bottom..top` is RAM that cortex-m-rt painted at reset; volatile
    // reads because the compiler does not know the stack writes into it.
    while p < top && unsafe { core::ptr::read_volatile(p) } == STACK_PAINT_VALUE {
        // SAFETY: `p < top`, so one more word stays within the region or lands on `top`.
        p = unsafe { p.add(1) };
    }
    top as usize - p as usize
}
