//! The window: shows the panel, turns keys into actions, regenerates on demand.
//!
//! The pixels are the image embedded-graphics-simulator renders for `--png`
//! ([`Panel::to_rgb_image`]), copied 1:1 into a [`minifb`] window. minifb's X11 backend loads
//! libX11 at run time, so building and testing the sim needs no system library; a desktop
//! without X11 (or XWayland) gets a one-line error pointing to `--png`.

use crate::display::{DisplayKind, Panel};
use crate::frame::Frame;
use crate::keys;
use crate::model::{Model, Placed};
use crate::state::{Action, Effect, State};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics_simulator::OutputImage;
use firmware_core::Digit;
use minifb::{InputCallback, Key, Scale, ScaleMode, WindowOptions as MinifbOptions};
use std::{
    cell::RefCell,
    collections::HashSet,
    fmt,
    rc::Rc,
    time::{Duration, Instant},
};

/// Frames per second at most (what `--frames` counts).
const FPS: usize = 60;

/// How the window runs.
#[derive(Debug, Clone, Default)]
pub struct WindowOptions {
    /// `--scale`.
    pub scale: Option<u32>,
    /// Close after this many frames.
    pub frames: Option<u64>,
    /// Close after this long.
    pub exit_after: Option<Duration>,
    /// Show the per-digit time on screen.
    pub timing_on_screen: bool,
}

/// Why the window could not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum WindowError {
    /// No X11 display to show a window on (`DISPLAY` unset).
    NoDisplay,
    /// The X11 display could not be used (no libX11, the connection failed, …).
    Open {
        /// `$DISPLAY`.
        display: String,
        /// What minifb reported.
        reason: String,
    },
    /// The blob cannot handwrite (not class-conditional).
    Class(firmware_core::ClassError),
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line each: `main` prints it after "cannot open the simulator window: ".
        match self {
            Self::NoDisplay => f.write_str(
                "no X11 display to open a window on (DISPLAY is unset; on Wayland the window \
                 needs XWayland); use --png FILE for a headless image",
            ),
            Self::Open { display, reason } => write!(
                f,
                "cannot use the X11 display `{display}` ({}); use --png FILE for a headless image",
                reason.replace('\n', " ")
            ),
            Self::Class(e) => write!(f, "cannot handwrite: {e}"),
        }
    }
}

impl std::error::Error for WindowError {}

/// Runs the window until the user quits or a limit in `options` is reached.
///
/// # Errors
///
/// [`WindowError::NoDisplay`] or [`WindowError::Open`] before anything is shown.
pub fn run(
    model: &mut Model<'_>,
    mut state: State,
    options: &WindowOptions,
) -> Result<(), WindowError> {
    let display = x11_display()?;
    let mut panel = Panel::new(state.display);
    // Opened before the digits are generated, so a missing display fails fast and quietly.
    let mut screen = Screen::open(&display, &panel, options)?;
    eprintln!("{} display, seed {}", state.display, state.seed);
    eprint!("{}", keys::help());
    let mut digits = Vec::new();
    let mut timing = regenerate(model, &state, &mut digits);
    let mut written = handwrite(model, &state)?;
    let mut dirty = true;
    let started = Instant::now();

    for frame_number in 1u64.. {
        if dirty {
            let shown = options.timing_on_screen.then_some(timing);
            panel.draw(&Frame {
                state: &state,
                digits: &digits,
                timing: shown,
                text: written.as_ref().map(|(_, placed)| placed.as_slice()),
            });
            screen.set_image(&panel.to_rgb_image(&screen.kind.output_settings(options.scale)));
            dirty = false;
        }
        if !screen.show()? {
            return Ok(()); // the close button
        }
        let out_of_frames = options.frames.is_some_and(|n| frame_number >= n);
        let out_of_time = options.exit_after.is_some_and(|t| started.elapsed() >= t);
        if out_of_frames || out_of_time {
            break;
        }

        // The clock: a new minute, a new handwritten time.
        if let (Some(source), Some((text, _))) = (&state.text, &written) {
            if source.current() != *text {
                written = handwrite(model, &state)?;
                dirty = true;
            }
        }
        for action in screen.actions() {
            match state.apply(action) {
                Effect::Nothing => {}
                Effect::Redraw => dirty = true,
                Effect::Regenerate => {
                    timing = regenerate(model, &state, &mut digits);
                    written = handwrite(model, &state)?;
                    dirty = true;
                }
                Effect::Reopen => {
                    // The panel size changes: a new window of the new size replaces the old one.
                    // The new one opens first: an X server whose last client disconnects resets
                    // itself and refuses connections meanwhile (Xvfb, a bare `xinit`).
                    panel = Panel::new(state.display);
                    screen = Screen::open(&display, &panel, options)?;
                    timing = regenerate(model, &state, &mut digits);
                    written = handwrite(model, &state)?;
                    dirty = true;
                }
                Effect::Quit => return Ok(()),
                Effect::Unsupported(why) => eprintln!("sim: {why}"),
            }
        }
    }
    Ok(())
}

/// One minifb window showing one panel's image, and the key presses it received.
struct Screen {
    window: minifb::Window,
    kind: DisplayKind,
    /// 0RGB pixels, row-major, `width × height`.
    pixels: Vec<u32>,
    width: usize,
    height: usize,
    presses: Rc<RefCell<Vec<Press>>>,
}

impl Screen {
    fn open(display: &str, panel: &Panel, options: &WindowOptions) -> Result<Self, WindowError> {
        let kind = panel.kind();
        // The window is exactly as large as the simulator's output image, shown unscaled.
        let size = panel
            .to_rgb_image(&kind.output_settings(options.scale))
            .as_image_buffer()
            .dimensions();
        let (width, height) = (size.0 as usize, size.1 as usize);
        // minifb cannot retitle a window, so the title names the panel and the seed is drawn on
        // the panel itself.
        let title = format!("sim: {} ({kind})", kind.description());
        let mut window = minifb::Window::new(
            &title,
            width,
            height,
            MinifbOptions {
                resize: false,
                scale: Scale::X1,
                scale_mode: ScaleMode::UpperLeft,
                ..MinifbOptions::default()
            },
        )
        .map_err(|e| WindowError::Open {
            display: display.to_owned(),
            reason: e.to_string(),
        })?;
        window.set_target_fps(FPS);
        let presses = Rc::new(RefCell::new(Vec::new()));
        window.set_input_callback(Box::new(KeyRecorder {
            presses: Rc::clone(&presses),
            held: HashSet::new(),
        }));
        Ok(Screen {
            window,
            kind,
            pixels: vec![0; width * height],
            width,
            height,
            presses,
        })
    }

    /// Replaces the shown pixels with `image` (the window's own size, by construction).
    fn set_image(&mut self, image: &OutputImage<Rgb888>) {
        let buffer = image.as_image_buffer();
        debug_assert_eq!(buffer.dimensions(), (self.width as u32, self.height as u32));
        for (out, pixel) in self.pixels.iter_mut().zip(buffer.pixels()) {
            let [r, g, b] = pixel.0;
            *out = u32::from_be_bytes([0, r, g, b]);
        }
    }

    /// Presents the pixels, waits for the frame rate and collects input. `false` once the user
    /// closed the window.
    fn show(&mut self) -> Result<bool, WindowError> {
        self.window
            .update_with_buffer(&self.pixels, self.width, self.height)
            .map_err(|e| WindowError::Open {
                display: std::env::var("DISPLAY").unwrap_or_default(),
                reason: e.to_string(),
            })?;
        Ok(self.window.is_open())
    }

    /// The actions of the keys pressed since the last call, in order.
    fn actions(&mut self) -> Vec<Action> {
        self.presses
            .borrow_mut()
            .drain(..)
            .filter_map(|press| {
                keys::action_for(press.key, self.kind).filter(|a| !press.repeat || a.repeats())
            })
            .collect()
    }
}

/// One key going down; `repeat` when it was already held (auto-repeat).
#[derive(Debug, Clone, Copy)]
struct Press {
    key: Key,
    repeat: bool,
}

/// Records every key press as it arrives. minifb's polled key state would miss a key pressed
/// and released between two frames (as `xdotool key` does).
struct KeyRecorder {
    presses: Rc<RefCell<Vec<Press>>>,
    held: HashSet<Key>,
}

impl InputCallback for KeyRecorder {
    fn add_char(&mut self, _: u32) {}

    fn set_key_state(&mut self, key: Key, down: bool) {
        if down {
            let repeat = !self.held.insert(key);
            self.presses.borrow_mut().push(Press { key, repeat });
        } else {
            self.held.remove(&key);
        }
    }
}

/// The state's text (if any) in handwriting at the panel's digit scale, with the string it shows.
fn handwrite(
    model: &mut Model<'_>,
    state: &State,
) -> Result<Option<(String, Vec<Placed>)>, WindowError> {
    let Some(source) = &state.text else {
        return Ok(None);
    };
    let text = source.current();
    let scale = state.display.layout().digit_scale;
    let placed = model
        .handwrite(&text, state.seed, scale)
        .map_err(WindowError::Class)?;
    Ok(Some((text, placed)))
}

fn regenerate(model: &mut Model<'_>, state: &State, digits: &mut Vec<Digit>) -> Duration {
    let timing = model.generate(state.seed, state.digit_count(), state.class, digits);
    eprintln!(
        "{}",
        crate::model::timing_report(state.seed, state.digit_count(), timing)
    );
    timing
}

/// `$DISPLAY`, the X11 display the window opens on. Without it, say so plainly (instead of an
/// obscure Xlib failure).
fn x11_display() -> Result<String, WindowError> {
    std::env::var("DISPLAY")
        .ok()
        .filter(|d| !d.is_empty())
        .ok_or(WindowError::NoDisplay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_keeps_quick_presses_and_marks_auto_repeat() {
        let presses = Rc::new(RefCell::new(Vec::new()));
        let mut recorder = KeyRecorder {
            presses: Rc::clone(&presses),
            held: HashSet::new(),
        };
        // Pressed and released before the next frame; then held down with auto-repeat.
        recorder.set_key_state(Key::Key7, true);
        recorder.set_key_state(Key::Key7, false);
        recorder.set_key_state(Key::Right, true);
        recorder.set_key_state(Key::Right, true);
        let seen: Vec<(Key, bool)> = presses.borrow().iter().map(|p| (p.key, p.repeat)).collect();
        assert_eq!(
            seen,
            [(Key::Key7, false), (Key::Right, false), (Key::Right, true)]
        );
    }

    #[test]
    fn errors_are_one_line_and_point_to_png() {
        let errors = [
            WindowError::NoDisplay,
            WindowError::Open {
                display: ":99".into(),
                reason: "XOpenDisplay failed\n".into(),
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.contains('\n') && text.contains("--png"), "{text}");
        }
    }
}
