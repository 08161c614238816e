//! # sim
//!
//! `cargo run -p sim` shows what firmware drawn with `firmware-core` looks like: the same blob,
//! the same [`Generator`](firmware_core::Generator) API and the same embedded-graphics drawing
//! code, on `embedded-graphics-simulator` displays.
//!
//! * [`state`]: what is shown ([`State`](state::State)) and the pure
//!   [`apply`](state::State::apply) of user [`Action`](state::Action)s.
//! * [`frame`]: state + digits → pixels on any `DrawTarget` (shared by window and PNG).
//! * [`display`]: the simulated panels and their output settings.
//! * [`model`]: blob loading with file-naming errors, timed generation.
//! * [`headless`]: `--png`, no window or display needed.
//! * `window` and `keys` (feature `window`, minifb on X11): the interactive window.
//! * [`cli`]: command-line options.

#![deny(missing_docs, unsafe_code)]

pub mod cli;
pub mod display;
pub mod frame;
pub mod headless;
#[cfg(feature = "window")]
pub mod keys;
pub mod model;
pub mod state;
#[cfg(feature = "window")]
pub mod window;
