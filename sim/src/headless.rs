//! `--png`: the frame the window would show, written to a file without a window or a display.

use crate::display::{DisplayKind, Panel};
use crate::frame::Frame;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics_simulator::{OutputImage, OutputSettings, SimulatorDisplay};
use std::{
    fmt,
    path::{Path, PathBuf},
};

/// The frame as the window would show it: drawn on a fresh panel, then scaled and themed by the
/// simulator's own output code.
pub fn render(frame: &Frame<'_>, settings: &OutputSettings) -> OutputImage<Rgb888> {
    let mut panel = Panel::new(frame.state.display);
    panel.draw(frame);
    panel.to_rgb_image(settings)
}

/// The SSD0323 board's error screen for a blob that fails validation (`oled-screen`'s, as its
/// firmware shows it), scaled per `settings`.
pub fn render_ssd0323_error(
    reason: &dyn fmt::Display,
    settings: &OutputSettings,
) -> OutputImage<Rgb888> {
    let mut display = SimulatorDisplay::new(DisplayKind::Ssd0323.layout().size);
    let Ok(()) = oled_screen::draw_error(&mut display, reason);
    display.to_rgb_output_image(settings)
}

/// [`render_ssd0323_error`] saved as a PNG at `path`.
///
/// # Errors
///
/// [`PngError`] naming the file.
pub fn write_ssd0323_error_png(
    reason: &dyn fmt::Display,
    settings: &OutputSettings,
    path: &Path,
) -> Result<(), PngError> {
    render_ssd0323_error(reason, settings)
        .save_png(path)
        .map_err(|source| PngError {
            path: path.to_owned(),
            source,
        })
}

/// Could not write the PNG.
#[derive(Debug)]
pub struct PngError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub source: image::ImageError,
}

impl fmt::Display for PngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write `{}`: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PngError {}

/// Renders `frame` and saves it as an RGB PNG at `path`.
///
/// # Errors
///
/// [`PngError`] naming the file.
pub fn write_png(
    frame: &Frame<'_>,
    settings: &OutputSettings,
    path: &Path,
) -> Result<(), PngError> {
    render(frame, settings)
        .save_png(path)
        .map_err(|source| PngError {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::DisplayKind;
    use crate::state::State;
    use embedded_graphics::prelude::*;
    use firmware_core::Digit;

    #[test]
    fn output_is_scaled_like_the_window() {
        let state = State::new(0, DisplayKind::Oled);
        let digits = vec![Digit::new(); 8];
        let frame = Frame {
            state: &state,
            digits: &digits,
            timing: None,
            text: None,
        };
        let image = render(&frame, &DisplayKind::Oled.output_settings(None));
        // 128 pixels at scale 3 with 1-pixel gaps.
        assert_eq!(image.size(), Size::new(128 * 3 + 127, 64 * 3 + 63));
        let image = render(&frame, &DisplayKind::Oled.output_settings(Some(1)));
        assert_eq!(image.size(), Size::new(128, 64));
    }

    #[test]
    fn unwritable_path_is_reported() {
        let state = State::new(0, DisplayKind::Gray);
        let frame = Frame {
            state: &state,
            digits: &[],
            timing: None,
            text: None,
        };
        let path = Path::new("/nonexistent/dir/out.png");
        let err = write_png(&frame, &DisplayKind::Gray.output_settings(None), path).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/dir/out.png"),
            "{err}"
        );
    }
}
