//! Gamepad presses, queued in order by the GPIO interrupts: none is lost while the main loop
//! draws (up to [`CAPACITY`] pending; more are counted as dropped).

use core::{
    cell::RefCell,
    sync::atomic::{AtomicU32, Ordering},
};

use critical_section::Mutex;
use heapless::Deque;
use oled_screen::Key;
use pac::interrupt;

use crate::board::{PAD_PINS_E, PAD_PIN_F};

/// Presses that may wait while a screen is drawn.
pub const CAPACITY: usize = 16;

static QUEUE: Mutex<RefCell<Deque<Key, CAPACITY>>> = Mutex::new(RefCell::new(Deque::new()));
/// Presses that found the queue full.
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// The oldest waiting press.
pub fn pop() -> Option<Key> {
    critical_section::with(|cs| QUEUE.borrow_ref_mut(cs).pop_front())
}

/// Presses lost to a full queue since reset.
pub fn dropped() -> u32 {
    DROPPED.load(Ordering::Relaxed)
}

/// Sleeps until a press is queued. The check and the sleep happen with interrupts masked: a
/// press arriving in between stays pending and wakes `wfi`, instead of being slept through.
pub fn wait() {
    loop {
        let empty = critical_section::with(|cs| {
            let empty = QUEUE.borrow_ref(cs).is_empty();
            if empty {
                cortex_m::asm::wfi();
            }
            empty
        });
        if !empty {
            return;
        }
        // Woken: the pending interrupt runs once the critical section ends; look again.
    }
}

/// Unmasks the two gamepad interrupts (after `board::init_gamepad`).
pub fn enable() {
    // SAFETY: the handlers below only touch the queue through a critical section and their own
    // port's interrupt status/clear registers, so unmasking cannot break a critical section.
    unsafe {
        cortex_m::peripheral::NVIC::unmask(pac::Interrupt::GPIOE);
        cortex_m::peripheral::NVIC::unmask(pac::Interrupt::GPIOF);
    }
}

fn push_edges(port: &pac::gpio_porta::RegisterBlock, keys: &[(u32, Key)]) {
    let edges = port.mis.read().bits();
    // SAFETY: writing 1s to the interrupt clear register only clears those edges.
    port.icr.write(|w| unsafe { w.bits(edges) });
    critical_section::with(|cs| {
        let mut queue = QUEUE.borrow_ref_mut(cs);
        for &(pin, key) in keys {
            if edges & pin != 0 && queue.push_back(key).is_err() {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

#[interrupt]
fn GPIOE() {
    // SAFETY: main code configures port E once, before this interrupt is unmasked, and never
    // again; the handler reads and clears interrupt status only.
    let port = unsafe { &*pac::GPIO_PORTE::ptr() };
    const KEYS: [(u32, Key); 4] = [
        (1 << 0, Key::Up),
        (1 << 1, Key::Down),
        (1 << 2, Key::Left),
        (1 << 3, Key::Right),
    ];
    debug_assert_eq!(KEYS.iter().fold(0, |m, k| m | k.0), PAD_PINS_E);
    push_edges(port, &KEYS);
}

#[interrupt]
fn GPIOF() {
    // SAFETY: as for GPIOE, on port F.
    let port = unsafe { &*pac::GPIO_PORTF::ptr() };
    push_edges(port, &[(PAD_PIN_F, Key::Select)]);
}
