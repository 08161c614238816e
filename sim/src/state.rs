//! What the simulator shows, and how each user action changes it.
//!
//! [`State`] is plain data and [`State::apply`] is pure: the window loop maps keys to [`Action`]s
//! and acts on the returned [`Effect`], so every key's behaviour is testable without a window.

use crate::display::DisplayKind;

/// How grey digit pixels become display colours (all through firmware-core's colour maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shading {
    /// Full grey levels (`Gray`, or an RGB565 `Blend`); needs a panel with more than one bit.
    Smooth,
    /// One bit per pixel, 4 × 4 ordered dithering (`Bayer4`).
    Dithered,
    /// One bit per pixel, on at or above the threshold (`Threshold`).
    Threshold,
}

/// Something the user asked for; keys map to these (see `keys.rs` for the bindings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Jump to a new pseudo-random first seed.
    Regenerate,
    /// Move the first seed by this many (±1 steps one digit, ± a page steps a screen).
    Step(i32),
    /// Move by one screenful of digits: `true` forwards.
    Page(bool),
    /// Cycle through the shadings the display supports.
    ToggleShading,
    /// Raise (`true`) or lower the threshold by [`THRESHOLD_STEP`]; selects threshold shading.
    AdjustThreshold(bool),
    /// Show the next display kind.
    NextDisplay,
    /// Choose which digit (0–9) a class-conditional model draws.
    PickClass(u8),
    /// A gamepad button of the SSD0323 board (`--display ssd0323`): what it does is
    /// `oled-screen`'s state machine, the firmware's own.
    Gamepad(oled_screen::Key),
    /// Close the simulator.
    Quit,
}

/// What the caller has to do after [`State::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing changed.
    Nothing,
    /// Same digits, drawn differently.
    Redraw,
    /// Different seeds or class: generate the digits again, then redraw.
    Regenerate,
    /// Another display (size and colour type): replace the display and window, regenerate.
    Reopen,
    /// Stop.
    Quit,
    /// The action needs something this model or display lacks; the message says what.
    Unsupported(&'static str),
}

/// Threshold change per [`Action::AdjustThreshold`].
pub const THRESHOLD_STEP: u8 = 16;

/// Everything that decides the frame, apart from the generated digits themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Seed of the first (top-left) digit; digit `i` in reading order uses `seed + i` (wrapping).
    pub seed: u32,
    /// The simulated panel.
    pub display: DisplayKind,
    /// How grey becomes colour.
    pub shading: Shading,
    /// Level for [`Shading::Threshold`].
    pub threshold: u8,
    /// Digit chosen for a class-conditional model; `None` for unconditional ones.
    pub class: Option<u8>,
    /// Whether the loaded model takes a class (set from the model).
    pub conditional: bool,
    /// A string to handwrite instead of the grid of digits (`--text`, `--clock`).
    pub text: Option<TextSource>,
}

/// What the text mode writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextSource {
    /// A fixed string (`--text 2026`).
    Fixed(String),
    /// The local time as `HH:MM`, redrawn when the minute changes (`--clock`).
    Clock,
}

impl TextSource {
    /// The string to write now.
    pub fn current(&self) -> String {
        match self {
            TextSource::Fixed(text) => text.clone(),
            TextSource::Clock => chrono::Local::now().format("%H:%M").to_string(),
        }
    }
}

impl State {
    /// Starts at `seed` on `display` with that display's default shading.
    pub fn new(seed: u32, display: DisplayKind) -> Self {
        Self {
            seed,
            display,
            shading: display.default_shading(),
            threshold: 128,
            class: None,
            conditional: false,
            text: None,
        }
    }

    /// How many digits the current display shows.
    pub fn digit_count(&self) -> u32 {
        self.display.layout().digit_count()
    }

    /// Applies `action` and says what must happen next.
    pub fn apply(&mut self, action: Action) -> Effect {
        match action {
            Action::Regenerate => {
                self.seed = scramble(self.seed);
                Effect::Regenerate
            }
            // Seeds wrap like u32 arithmetic: reinterpreting the i32 as u32 and adding wraps.
            Action::Step(delta) => self.move_seed(delta as u32),
            Action::Page(forward) => {
                let page = self.digit_count();
                self.move_seed(if forward { page } else { page.wrapping_neg() })
            }
            Action::ToggleShading => {
                self.shading = self.display.next_shading(self.shading);
                Effect::Redraw
            }
            Action::AdjustThreshold(up) => {
                let t = if up {
                    self.threshold.saturating_add(THRESHOLD_STEP)
                } else {
                    self.threshold.saturating_sub(THRESHOLD_STEP)
                };
                // 0 would light every pixel; keep it visible.
                self.threshold = t.max(1);
                self.shading = Shading::Threshold;
                Effect::Redraw
            }
            Action::NextDisplay => {
                self.display = self.display.next();
                if !self.display.supports(self.shading) {
                    self.shading = self.display.default_shading();
                }
                Effect::Reopen
            }
            Action::PickClass(class) if class <= 9 => {
                if !self.conditional {
                    return Effect::Unsupported(
                        "this blob is unconditional: choosing the digit needs a class-conditional model",
                    );
                }
                if self.class == Some(class) {
                    return Effect::Nothing;
                }
                self.class = Some(class);
                Effect::Regenerate
            }
            Action::PickClass(_) => Effect::Nothing,
            Action::Gamepad(key) => {
                let next = self.screen().apply(key, self.conditional);
                if next == self.screen() {
                    return Effect::Nothing;
                }
                (self.seed, self.class) = (next.seed(), next.class());
                Effect::Regenerate
            }
            Action::Quit => Effect::Quit,
        }
    }

    /// Seed and class as the SSD0323 firmware's screen state.
    pub fn screen(&self) -> oled_screen::Screen {
        oled_screen::Screen::new(self.seed, self.class)
    }

    fn move_seed(&mut self, delta: u32) -> Effect {
        self.seed = self.seed.wrapping_add(delta);
        Effect::Regenerate
    }
}

impl Action {
    /// Whether a held key should repeat this action (stepping does; toggles would flicker).
    pub fn repeats(self) -> bool {
        matches!(
            self,
            Self::Step(_) | Self::Page(_) | Self::AdjustThreshold(_)
        )
    }
}

/// A bijective 32-bit mix (golden-ratio increment, then the MurmurHash3 finaliser): "new seeds"
/// that look unrelated yet follow from the shown seed, so a session can be replayed.
pub fn scramble(seed: u32) -> u32 {
    let mut x = seed.wrapping_add(0x9E37_79B9);
    x = (x ^ (x >> 16)).wrapping_mul(0x85EB_CA6B);
    x = (x ^ (x >> 13)).wrapping_mul(0xC2B2_AE35);
    x ^ (x >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_state_uses_the_display_default_shading() {
        assert_eq!(State::new(1, DisplayKind::Oled).shading, Shading::Dithered);
        assert_eq!(State::new(1, DisplayKind::Tft).shading, Shading::Smooth);
        assert_eq!(State::new(1, DisplayKind::Gray).shading, Shading::Smooth);
    }

    #[test]
    fn stepping_wraps_around_u32() {
        let mut s = State::new(0, DisplayKind::Oled);
        assert_eq!(s.apply(Action::Step(-1)), Effect::Regenerate);
        assert_eq!(s.seed, u32::MAX);
        assert_eq!(s.apply(Action::Step(1)), Effect::Regenerate);
        assert_eq!(s.seed, 0);
        s.apply(Action::Step(5));
        assert_eq!(s.seed, 5);
    }

    #[test]
    fn paging_moves_by_one_screen() {
        let mut s = State::new(100, DisplayKind::Oled);
        let page = s.digit_count();
        assert_eq!(page, 8);
        s.apply(Action::Page(true));
        assert_eq!(s.seed, 100 + page);
        s.apply(Action::Page(false));
        s.apply(Action::Page(false));
        assert_eq!(s.seed, 100 - page);
    }

    #[test]
    fn regenerate_is_deterministic_and_changes_the_seed() {
        let mut a = State::new(42, DisplayKind::Tft);
        let mut b = a.clone();
        assert_eq!(a.apply(Action::Regenerate), Effect::Regenerate);
        b.apply(Action::Regenerate);
        assert_eq!(a, b);
        assert_ne!(a.seed, 42);
        // Consecutive seeds do not give consecutive "new" seeds.
        assert!(scramble(43).abs_diff(scramble(42)) > 1000);
    }

    #[test]
    fn shading_toggles_within_what_the_display_supports() {
        let mut oled = State::new(0, DisplayKind::Oled);
        assert_eq!(oled.apply(Action::ToggleShading), Effect::Redraw);
        assert_eq!(oled.shading, Shading::Threshold);
        oled.apply(Action::ToggleShading);
        assert_eq!(oled.shading, Shading::Dithered);

        let mut tft = State::new(0, DisplayKind::Tft);
        let seen: Vec<_> = (0..3)
            .map(|_| {
                tft.apply(Action::ToggleShading);
                tft.shading
            })
            .collect();
        assert_eq!(
            seen,
            [Shading::Dithered, Shading::Threshold, Shading::Smooth]
        );
    }

    #[test]
    fn threshold_adjusts_in_steps_and_selects_threshold_shading() {
        let mut s = State::new(0, DisplayKind::Gray);
        assert_eq!(s.apply(Action::AdjustThreshold(true)), Effect::Redraw);
        assert_eq!((s.threshold, s.shading), (144, Shading::Threshold));
        for _ in 0..20 {
            s.apply(Action::AdjustThreshold(false));
        }
        assert_eq!(s.threshold, 1);
        for _ in 0..20 {
            s.apply(Action::AdjustThreshold(true));
        }
        assert_eq!(s.threshold, 255);
    }

    #[test]
    fn switching_display_cycles_and_keeps_a_supported_shading() {
        let mut s = State::new(9, DisplayKind::Oled);
        s.apply(Action::ToggleShading); // threshold
        assert_eq!(s.apply(Action::NextDisplay), Effect::Reopen);
        assert_eq!(
            (s.display, s.shading),
            (DisplayKind::Tft, Shading::Threshold)
        );
        s.apply(Action::ToggleShading); // smooth: the OLED cannot show it
        s.apply(Action::NextDisplay);
        assert_eq!(s.display, DisplayKind::Gray);
        s.apply(Action::NextDisplay);
        assert_eq!(
            (s.display, s.shading),
            (DisplayKind::Ssd0323, Shading::Smooth)
        );
        s.apply(Action::NextDisplay);
        assert_eq!(
            (s.display, s.shading),
            (DisplayKind::Oled, Shading::Dithered)
        );
        assert_eq!(s.seed, 9);
    }

    #[test]
    fn picking_a_class_needs_a_conditional_model() {
        let mut s = State::new(0, DisplayKind::Oled);
        assert!(matches!(
            s.apply(Action::PickClass(3)),
            Effect::Unsupported(_)
        ));
        assert_eq!(s.class, None);

        s.conditional = true;
        assert_eq!(s.apply(Action::PickClass(3)), Effect::Regenerate);
        assert_eq!(s.class, Some(3));
        assert_eq!(s.apply(Action::PickClass(3)), Effect::Nothing);
        assert_eq!(s.apply(Action::PickClass(10)), Effect::Nothing);
        assert_eq!(s.class, Some(3));
    }

    #[test]
    fn gamepad_buttons_follow_the_firmware_state_machine() {
        use oled_screen::Key;
        let mut s = State::new(0, DisplayKind::Ssd0323);
        // Unconditional blob: up and down change nothing.
        assert_eq!(s.apply(Action::Gamepad(Key::Up)), Effect::Nothing);
        assert_eq!(s.apply(Action::Gamepad(Key::Right)), Effect::Regenerate);
        assert_eq!(s.apply(Action::Gamepad(Key::Select)), Effect::Regenerate);
        assert_eq!((s.seed, s.class), (9, None));
        s.conditional = true;
        s.apply(Action::Gamepad(Key::Up));
        s.apply(Action::Gamepad(Key::Up));
        s.apply(Action::Gamepad(Key::Left));
        assert_eq!((s.seed, s.class), (8, Some(1)));
        let keys = [Key::Right, Key::Right, Key::Down, Key::Select];
        let screen = keys
            .iter()
            .fold(s.screen(), |screen, &k| screen.apply(k, true));
        keys.iter().for_each(|&k| {
            s.apply(Action::Gamepad(k));
        });
        assert_eq!(s.screen(), screen);
    }

    #[test]
    fn quit_quits_and_only_steps_repeat() {
        let mut s = State::new(0, DisplayKind::Oled);
        assert_eq!(s.apply(Action::Quit), Effect::Quit);
        assert!(Action::Step(1).repeats());
        assert!(!Action::NextDisplay.repeats());
        assert!(!Action::Regenerate.repeats());
    }
}
