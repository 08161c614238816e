//! The SDL window: shows the panel, turns keys into actions, regenerates on demand.

use crate::display::Panel;
use crate::frame::Frame;
use crate::keys;
use crate::model::{Model, Placed};
use crate::state::{Action, Effect, State};
use embedded_graphics_simulator::{SimulatorEvent, Window};
use firmware_core::Digit;
use std::{
    fmt,
    time::{Duration, Instant},
};

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
    /// No X11 or Wayland display to show a window on.
    NoDisplay,
    /// The blob cannot handwrite (not class-conditional).
    Class(firmware_core::ClassError),
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDisplay => f.write_str(
                "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); \
                 use --png FILE for a headless image",
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
/// [`WindowError::NoDisplay`] before anything opens.
pub fn run(
    model: &mut Model<'_>,
    mut state: State,
    options: &WindowOptions,
) -> Result<(), WindowError> {
    check_display()?;
    eprintln!("{} display, seed {}", state.display, state.seed);
    eprint!("{}", keys::help());
    let mut digits = Vec::new();
    let mut timing = regenerate(model, &state, &mut digits);
    let mut written = handwrite(model, &state)?;
    let mut panel = Panel::new(state.display);
    let mut window = new_window(&panel, options);
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
            dirty = false;
        }
        panel.show(&mut window);
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
        let actions: Vec<Action> = window.events().filter_map(action_of).collect();
        for action in actions {
            match state.apply(action) {
                Effect::Nothing => {}
                Effect::Redraw => dirty = true,
                Effect::Regenerate => {
                    timing = regenerate(model, &state, &mut digits);
                    written = handwrite(model, &state)?;
                    dirty = true;
                }
                Effect::Reopen => {
                    // The panel size changes, and a simulator window keeps its first size.
                    // `Window::new` opens nothing until the first update, so the old SDL window
                    // is gone (dropped here) before the next one is created.
                    panel = Panel::new(state.display);
                    window = new_window(&panel, options);
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

/// A key press (repeats only for actions that make sense held down) or the close button.
fn action_of(event: SimulatorEvent) -> Option<Action> {
    match event {
        SimulatorEvent::Quit => Some(Action::Quit),
        SimulatorEvent::KeyDown {
            keycode, repeat, ..
        } => keys::action_for(keycode).filter(|a| !repeat || a.repeats()),
        _ => None,
    }
}

fn new_window(panel: &Panel, options: &WindowOptions) -> Window {
    let kind = panel.kind();
    // The simulator cannot retitle a window, so the title names the panel and the seed is
    // drawn on the panel itself.
    let title = format!("sim: {} ({kind})", kind.description());
    Window::new(&title, &kind.output_settings(options.scale))
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

/// Without a display server SDL either fails obscurely or silently draws nowhere; say so
/// plainly instead (an explicit `SDL_VIDEODRIVER` is trusted).
fn check_display() -> Result<(), WindowError> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("SDL_VIDEODRIVER") {
            return Err(WindowError::NoDisplay);
        }
    }
    Ok(())
}
