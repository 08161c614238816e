//! Command-line options.

use crate::display::DisplayKind;
use crate::state::{Shading, State, TextSource};
use clap::Parser;
use std::{path::PathBuf, time::Duration};

/// Shows what firmware-core draws on a device: generated digits on a simulated display.
///
/// Without `--png` it opens a window (keys: space new seeds, ←/→ step, ↑/↓ page, t shading,
/// [/] threshold, d display, 0–9 digit class, q/Esc quit). With `--png` it writes the same frame
/// to a file, without any window.
#[derive(Debug, Clone, Parser)]
#[command(name = "sim", version)]
pub struct Args {
    /// Generator blob exported by the trainer [default: the blob firmware-core ships].
    #[arg(long, value_name = "FILE")]
    pub blob: Option<PathBuf>,

    /// Simulated panel.
    #[arg(long, value_enum, default_value_t = DisplayKind::Oled)]
    pub display: DisplayKind,

    /// Output pixels per panel pixel [default: 3 for oled and gray, 2 for tft].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub scale: Option<u32>,

    /// Seed of the first digit; digit i (reading order) uses seed + i [default: from the clock].
    #[arg(long)]
    pub seed: Option<u32>,

    /// How grey pixels are shown [default: dithered on oled, smooth elsewhere].
    #[arg(long, value_enum)]
    pub shading: Option<Shading>,

    /// Level for `--shading threshold`: pixels at or above it are on.
    #[arg(long, default_value_t = 128)]
    pub threshold: u8,

    /// Write the frame to this PNG instead of opening a window (needs no display).
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,

    /// Close the window by itself after this many frames (at most 60 per second).
    #[arg(long, value_name = "N", conflicts_with = "png")]
    pub frames: Option<u64>,

    /// Close the window by itself after this many milliseconds.
    #[arg(long, value_name = "MS", conflicts_with = "png")]
    pub exit_after_ms: Option<u64>,

    /// Show the per-digit time on screen (default in the window).
    #[arg(long, overrides_with = "no_timing")]
    pub timing: bool,

    /// Leave the per-digit time off the screen (default for --png, which should be
    /// reproducible); it is still printed.
    #[arg(long, overrides_with = "timing")]
    pub no_timing: bool,

    /// Handwrite this string (digits, and `:` `.` `-` or spaces between them) instead of the
    /// grid; digit i uses seed + i. Needs a class-conditional blob.
    #[arg(long, value_name = "TEXT", conflicts_with = "clock")]
    pub text: Option<String>,

    /// Handwrite the local time (HH:MM), redrawn every minute. Needs a class-conditional blob.
    #[arg(long)]
    pub clock: bool,

    /// Draw only this digit (what keys 0–9 choose in the window). Needs a class-conditional blob.
    #[arg(long, value_name = "0-9", value_parser = clap::value_parser!(u8).range(0..=9))]
    pub class: Option<u8>,
}

impl Args {
    /// Whether the frame shows the per-digit time.
    pub fn timing_on_screen(&self) -> bool {
        if self.timing {
            true
        } else if self.no_timing {
            false
        } else {
            self.png.is_none()
        }
    }

    /// `--exit-after-ms` as a duration.
    pub fn exit_after(&self) -> Option<Duration> {
        self.exit_after_ms.map(Duration::from_millis)
    }

    /// The initial state; `clock_seed` is used when `--seed` is absent.
    ///
    /// # Errors
    ///
    /// A message when `--shading` is impossible on `--display`.
    pub fn initial_state(&self, clock_seed: u32, conditional: bool) -> Result<State, String> {
        let mut state = State::new(self.seed.unwrap_or(clock_seed), self.display);
        state.threshold = self.threshold;
        state.conditional = conditional;
        state.text = match (&self.text, self.clock) {
            (Some(text), _) => Some(TextSource::Fixed(text.clone())),
            (None, true) => Some(TextSource::Clock),
            (None, false) => None,
        };
        if (state.text.is_some() || self.class.is_some()) && !conditional {
            return Err(
                "--text, --clock and --class need a class-conditional blob (train --model cmcu, \
                        then pass its generator.postcard with --blob)"
                    .into(),
            );
        }
        state.class = self.class;
        if let Some(shading) = self.shading {
            if !self.display.supports(shading) {
                return Err(format!(
                    "the {} display ({}) cannot show {shading:?} shading; use dithered or threshold",
                    self.display,
                    self.display.description()
                ));
            }
            state.shading = shading;
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.display, DisplayKind::Oled);
        assert!(args.timing_on_screen());
        let state = args.initial_state(99, false).unwrap();
        assert_eq!((state.seed, state.shading), (99, Shading::Dithered));
    }

    #[test]
    fn png_mode_is_reproducible_by_default() {
        let args = parse(&["--png", "x.png", "--seed", "7", "--display", "tft"]).unwrap();
        assert!(!args.timing_on_screen());
        assert_eq!(args.initial_state(99, false).unwrap().seed, 7);
        let timed = parse(&["--png", "x.png", "--timing"]).unwrap();
        assert!(timed.timing_on_screen());
        let last_wins = parse(&["--timing", "--no-timing"]).unwrap();
        assert!(!last_wins.timing_on_screen());
    }

    #[test]
    fn bad_combinations_are_rejected() {
        assert!(parse(&["--png", "x.png", "--frames", "3"]).is_err());
        assert!(parse(&["--scale", "0"]).is_err());
        assert!(parse(&["--display", "lcd"]).is_err());
        let smooth_oled = parse(&["--shading", "smooth"]).unwrap();
        let err = smooth_oled.initial_state(0, false).unwrap_err();
        assert!(err.contains("oled"), "{err}");
        let ok = parse(&[
            "--display",
            "gray",
            "--shading",
            "threshold",
            "--threshold",
            "90",
        ]);
        let state = ok.unwrap().initial_state(0, false).unwrap();
        assert_eq!((state.shading, state.threshold), (Shading::Threshold, 90));
    }

    #[test]
    fn class_is_a_digit_and_needs_a_conditional_blob() {
        let seven = parse(&["--class", "7"]).unwrap();
        assert_eq!(seven.initial_state(0, true).unwrap().class, Some(7));
        let err = seven.initial_state(0, false).unwrap_err();
        assert!(err.contains("--class"), "{err}");
        assert!(parse(&["--class", "10"]).is_err());
        assert_eq!(
            parse(&[]).unwrap().initial_state(0, true).unwrap().class,
            None
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
