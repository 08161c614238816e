//! # oled-screen
//!
//! The screen of the LM3S6965 evaluation board's OLED demo (`examples/oled-lm3s6965`), defined
//! once for the firmware and the sim (`--display ssd0323`), so both show identical pixels:
//!
//! * [`Screen`] + [`Key`] → next [`Screen`]: the gamepad state machine ([`Screen::apply`]).
//! * [`gray4`]: digit values (0–255) → the panel's 16 grey levels.
//! * [`draw()`]: the 128 × 64 [`Gray4`](embedded_graphics::pixelcolor::Gray4) screen on any
//!   `DrawTarget` — a status line with the seed and class, then two rows of four generated
//!   digits; [`draw_error`] the screen shown when the blob is rejected.
//!
//! `no_std`, no allocation; digits come from firmware-core one at a time.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs, unsafe_code)]

mod draw;
mod gray;
mod key;
mod state;

use embedded_graphics::prelude::Size;

pub use draw::{
    digit_origin, draw, draw_digit, draw_error, draw_status, draw_with_digits, COLUMNS, GAP,
    STATUS_HEIGHT, TEXT, TITLE,
};
pub use gray::{gray4, Gray16};
pub use key::Key;
pub use state::{Screen, START_SEED};

/// Panel size: the SSD0323's 128 × 64.
pub const SIZE: Size = Size::new(128, 64);

/// Digits on a screen (two rows of [`COLUMNS`]).
pub const DIGITS: usize = 8;
