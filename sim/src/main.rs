//! `sim`: firmware-core's digits in a simulator window, or in a PNG with `--png`.

use anyhow::anyhow;
use clap::Parser;
use sim::{
    cli::Args,
    display::DisplayKind,
    frame::Frame,
    headless,
    model::{self, Blob, LoadError, Model},
};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sim: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    for word in args.gamepad_keys().1 {
        eprintln!(
            "sim: warning: `{word}` is no gamepad button (up, down, left, right, select); ignored"
        );
    }
    // The blob is checked before anything is drawn: a window never opens on garbage.
    let blob = Blob::read(args.blob.as_deref())?;
    let mut model = match Model::new(&blob) {
        Ok(model) => model,
        Err(e) => return Err(rejected(args, e)),
    };
    let state = args
        .initial_state(clock_seed(), model.is_conditional())
        .map_err(|e| anyhow!(e))?;

    if let Some(path) = &args.png {
        let mut digits = Vec::new();
        let timing = model.generate(state.seed, state.digit_count(), state.class, &mut digits);
        eprintln!(
            "{}",
            model::timing_report(state.seed, state.digit_count(), timing)
        );
        let text = match &state.text {
            Some(source) => {
                let scale = state.display.layout().digit_scale;
                Some(model.handwrite(&source.current(), state.seed, scale)?)
            }
            None => None,
        };
        let frame = Frame {
            state: &state,
            digits: &digits,
            timing: args.timing_on_screen().then_some(timing),
            text: text.as_deref(),
        };
        headless::write_png(&frame, &state.display.output_settings(args.scale), path)?;
        eprintln!(
            "wrote {} ({} display, seed {})",
            path.display(),
            state.display,
            state.seed
        );
        return Ok(());
    }
    window(args, &mut model, state)
}

#[cfg(feature = "window")]
fn window(args: &Args, model: &mut Model<'_>, state: sim::state::State) -> anyhow::Result<()> {
    let options = sim::window::WindowOptions {
        scale: args.scale,
        frames: args.frames,
        exit_after: args.exit_after(),
        timing_on_screen: args.timing_on_screen(),
    };
    use anyhow::Context as _;
    sim::window::run(model, state, &options).context("cannot open the simulator window")
}

#[cfg(not(feature = "window"))]
fn window(_: &Args, _: &mut Model<'_>, _: sim::state::State) -> anyhow::Result<()> {
    Err(anyhow!(
        "this sim was built without the `window` feature; pass --png FILE, or rebuild \
         with default features"
    ))
}

/// The error for a rejected blob. With `--display ssd0323 --png` the PNG shows what the board's
/// firmware shows then: its error screen with the reason.
fn rejected(args: &Args, error: LoadError) -> anyhow::Error {
    let (DisplayKind::Ssd0323, Some(path), LoadError::Invalid { source, .. }) =
        (args.display, &args.png, &error)
    else {
        return error.into();
    };
    let settings = DisplayKind::Ssd0323.output_settings(args.scale);
    match headless::write_ssd0323_error_png(source, &settings, path) {
        Ok(()) => anyhow!(
            "{error}; wrote the board's error screen to {}",
            path.display()
        ),
        Err(png) => anyhow!("{error}; and {png}"),
    }
}

/// A seed from the clock, so each run without `--seed` shows different digits (it is printed
/// and drawn, so any run can be reproduced).
fn clock_seed() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    sim::state::scramble(nanos as u32 ^ (nanos >> 32) as u32)
}
