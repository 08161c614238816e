//! Command-line options.

use crate::display::DisplayKind;
use crate::state::{Action, Shading, State, TextSource};
use clap::Parser;
use oled_screen::Key;
use std::{path::PathBuf, time::Duration};

/// Shows what firmware-core draws on a device: generated digits on a simulated display.
///
/// Without `--png` it opens a window (keys: space new seeds, ←/→ step, ↑/↓ page, t shading,
/// [/] threshold, d display, 0–9 digit class, q/Esc quit; on `--display ssd0323` the arrows and
/// ctrl/enter/space are the board's gamepad). With `--png` it writes the same frame to a file,
/// without any window.
#[derive(Debug, Clone, Parser)]
#[command(name = "sim", version)]
pub struct Args {
    /// Generator blob exported by the trainer [default: the blob firmware-core ships].
    #[arg(long, value_name = "FILE")]
    pub blob: Option<PathBuf>,

    /// Simulated panel.
    #[arg(long, value_enum, default_value_t = DisplayKind::Oled)]
    pub display: DisplayKind,

    /// Output pixels per panel pixel [default: 3 for oled and gray, 2 for tft, 4 for ssd0323].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub scale: Option<u32>,

    /// Seed of the first digit; digit i (reading order) uses seed + i [default: from the clock;
    /// 0 on ssd0323, the firmware's start state].
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

    /// Gamepad buttons pressed in order before the frame is drawn, comma-separated: up, down
    /// (class), left, right (seed), select (next eight seeds); what `oled.sh --keys` presses on
    /// the emulated board. Any other word is ignored with a warning: the board has no such
    /// button. Needs --display ssd0323.
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    pub keys: Vec<String>,
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

    /// `--keys` as gamepad buttons, and the words that name none (to be ignored).
    pub fn gamepad_keys(&self) -> (Vec<Key>, Vec<&str>) {
        let mut keys = Vec::new();
        let mut unknown = Vec::new();
        for word in self.keys.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
            match Key::from_name(word) {
                Some(key) => keys.push(key),
                None => unknown.push(word),
            }
        }
        (keys, unknown)
    }

    /// The initial state, with `--keys` pressed; `clock_seed` is used when `--seed` is absent
    /// (except on ssd0323, which starts where the firmware does).
    ///
    /// # Errors
    ///
    /// A message when `--shading` is impossible on `--display`, or an option does not apply to
    /// it.
    pub fn initial_state(&self, clock_seed: u32, conditional: bool) -> Result<State, String> {
        let ssd0323 = self.display == DisplayKind::Ssd0323;
        let default_seed = if ssd0323 {
            oled_screen::START_SEED
        } else {
            clock_seed
        };
        let mut state = State::new(self.seed.unwrap_or(default_seed), self.display);
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
                let supported: Vec<String> =
                    [Shading::Smooth, Shading::Dithered, Shading::Threshold]
                        .into_iter()
                        .filter(|&s| self.display.supports(s))
                        .map(|s| format!("{s:?}").to_lowercase())
                        .collect();
                return Err(format!(
                    "the {} display ({}) cannot show {shading:?} shading; use {}",
                    self.display,
                    self.display.description(),
                    supported.join(" or ")
                ));
            }
            state.shading = shading;
        }
        if ssd0323 && state.text.is_some() {
            return Err("--text and --clock are not part of the ssd0323 board's screen".into());
        }
        if !self.keys.is_empty() && !ssd0323 {
            return Err(
                "--keys presses the lm3s6965evb board's gamepad: it needs --display ssd0323".into(),
            );
        }
        for key in self.gamepad_keys().0 {
            state.apply(Action::Gamepad(key));
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
    fn ssd0323_starts_where_the_firmware_does_and_presses_keys_in_order() {
        let start = parse(&["--display", "ssd0323"]).unwrap();
        let state = start.initial_state(99, true).unwrap();
        assert_eq!((state.seed, state.class), (oled_screen::START_SEED, None));
        assert_eq!(state.shading, Shading::Smooth);

        let keys = parse(&["--display", "ssd0323", "--keys", "up,up,select,left"]).unwrap();
        let state = keys.initial_state(99, true).unwrap();
        assert_eq!((state.seed, state.class), (7, Some(1)));
        // An unconditional blob has no classes to step through.
        let state = keys.initial_state(99, false).unwrap();
        assert_eq!((state.seed, state.class), (7, None));
        let seeded = parse(&["--display", "ssd0323", "--seed", "40", "--keys", "right"]).unwrap();
        assert_eq!(seeded.initial_state(0, false).unwrap().seed, 41);
    }

    #[test]
    fn unknown_keys_are_ignored_and_reported() {
        let with = parse(&["--display", "ssd0323", "--keys", "up,bogus,,select,A"]).unwrap();
        let without = parse(&["--display", "ssd0323", "--keys", "up,select"]).unwrap();
        assert_eq!(with.gamepad_keys().1, ["bogus", "A"]);
        assert_eq!(
            with.initial_state(0, true).unwrap(),
            without.initial_state(0, true).unwrap()
        );
    }

    #[test]
    fn keys_and_text_are_refused_where_they_do_not_apply() {
        let err = parse(&["--keys", "up"]).unwrap().initial_state(0, true);
        assert!(err.unwrap_err().contains("--display ssd0323"));
        let err = parse(&["--display", "ssd0323", "--text", "12"]).unwrap();
        assert!(err.initial_state(0, true).unwrap_err().contains("ssd0323"));
        let err = parse(&["--display", "ssd0323", "--shading", "threshold"]).unwrap();
        let message = err.initial_state(0, true).unwrap_err();
        assert!(message.ends_with("use smooth"), "{message}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
