//! The simulated panels: size, colour type, layout of the frame and simulator output settings.

use crate::frame::Frame;
use crate::state::Shading;
use embedded_graphics::{
    mono_font::{
        ascii::{FONT_4X6, FONT_5X8, FONT_8X13},
        MonoFont,
    },
    pixelcolor::{BinaryColor, Gray4, Gray8, Rgb565, Rgb888},
    prelude::*,
};
use embedded_graphics_simulator::{
    BinaryColorTheme, OutputImage, OutputSettings, OutputSettingsBuilder, SimulatorDisplay,
};

/// Which panel to simulate (`--display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum DisplayKind {
    /// 128 × 64 monochrome OLED (SSD1306 class): `BinaryColor`, blue OLED theme.
    Oled,
    /// 240 × 240 colour TFT (ST7789 class): `Rgb565`.
    Tft,
    /// 128 × 128 greyscale OLED (SSD1327 class): `Gray8`.
    Gray,
    /// 128 × 64 OLED with 16 greys (SSD0323), as on QEMU's `lm3s6965evb`: `Gray4`, the
    /// firmware's own screen from `oled-screen` (arrow keys and ctrl as the board's gamepad).
    Ssd0323,
}

impl DisplayKind {
    /// Every kind, in the order the "switch display" key cycles through them.
    pub const ALL: [Self; 4] = [Self::Oled, Self::Tft, Self::Gray, Self::Ssd0323];

    /// The kind after this one.
    pub fn next(self) -> Self {
        match self {
            Self::Oled => Self::Tft,
            Self::Tft => Self::Gray,
            Self::Gray => Self::Ssd0323,
            Self::Ssd0323 => Self::Oled,
        }
    }

    /// The `--display` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Oled => "oled",
            Self::Tft => "tft",
            Self::Gray => "gray",
            Self::Ssd0323 => "ssd0323",
        }
    }

    /// Human description, for the window title.
    pub fn description(self) -> &'static str {
        match self {
            Self::Oled => "128x64 monochrome OLED",
            Self::Tft => "240x240 RGB565 TFT",
            Self::Gray => "128x128 greyscale OLED",
            Self::Ssd0323 => "128x64 16-grey SSD0323 OLED of the lm3s6965evb",
        }
    }

    /// Where things go on this panel.
    pub fn layout(self) -> Layout {
        match self {
            // One 6-pixel status line, then 4 × 2 digits filling the remaining 58 rows.
            Self::Oled => Layout {
                size: Size::new(128, 64),
                columns: 4,
                rows: 2,
                digit_scale: 1,
                spacing: 2,
                margin: 0,
                font: &FONT_4X6,
                compact: true,
            },
            Self::Tft => Layout {
                size: Size::new(240, 240),
                columns: 4,
                rows: 3,
                digit_scale: 2,
                spacing: 4,
                margin: 2,
                font: &FONT_8X13,
                compact: false,
            },
            Self::Gray => Layout {
                size: Size::new(128, 128),
                columns: 4,
                rows: 3,
                digit_scale: 1,
                spacing: 4,
                margin: 2,
                font: &FONT_5X8,
                compact: false,
            },
            // oled-screen's layout (it draws this panel; the fields here size the generation).
            Self::Ssd0323 => Layout {
                size: oled_screen::SIZE,
                columns: oled_screen::COLUMNS as u32,
                rows: (oled_screen::DIGITS / oled_screen::COLUMNS) as u32,
                digit_scale: 1,
                spacing: oled_screen::GAP,
                margin: 0,
                font: &FONT_5X8,
                compact: true,
            },
        }
    }

    /// Whether the panel can show `shading` (a 1-bit OLED has no grey levels; the SSD0323
    /// screen always shows oled-screen's 16 greys).
    pub fn supports(self, shading: Shading) -> bool {
        match self {
            Self::Oled => shading != Shading::Smooth,
            Self::Tft | Self::Gray => true,
            Self::Ssd0323 => shading == Shading::Smooth,
        }
    }

    /// The shading a device with this panel would most likely use.
    pub fn default_shading(self) -> Shading {
        match self {
            Self::Oled => Shading::Dithered,
            Self::Tft | Self::Gray | Self::Ssd0323 => Shading::Smooth,
        }
    }

    /// The supported shading after `shading`.
    pub fn next_shading(self, shading: Shading) -> Shading {
        let next = match shading {
            Shading::Smooth => Shading::Dithered,
            Shading::Dithered => Shading::Threshold,
            Shading::Threshold => Shading::Smooth,
        };
        if self.supports(next) {
            next
        } else {
            self.next_shading(next)
        }
    }

    /// Output pixels per panel pixel when `--scale` is not given: about 400–500 pixels wide.
    pub fn default_scale(self) -> u32 {
        match self {
            Self::Oled | Self::Gray => 3,
            Self::Tft => 2,
            // QEMU's screendump magnifies the panel 4×.
            Self::Ssd0323 => 4,
        }
    }

    /// How the simulator turns panel pixels into output pixels (window and PNG alike).
    pub fn output_settings(self, scale: Option<u32>) -> OutputSettings {
        let scale = scale.unwrap_or(self.default_scale()).max(1);
        match self {
            // A one-pixel gap between scaled pixels imitates the OLED's visible pixel grid.
            Self::Oled => OutputSettingsBuilder::new()
                .theme(BinaryColorTheme::OledBlue)
                .scale(scale)
                .pixel_spacing(u32::from(scale > 1))
                .build(),
            // Grey v is shown as v·17 in each channel, as QEMU's screendump does.
            Self::Tft | Self::Gray | Self::Ssd0323 => {
                OutputSettingsBuilder::new().scale(scale).build()
            }
        }
    }
}

impl std::fmt::Display for DisplayKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Geometry of one panel's frame: status text on top, a grid of digits below.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Panel resolution.
    pub size: Size,
    /// Digits per row.
    pub columns: u32,
    /// Rows of digits.
    pub rows: u32,
    /// Panel pixels per digit pixel.
    pub digit_scale: u32,
    /// Gap between digits, in panel pixels.
    pub spacing: u32,
    /// Free border below the grid and above the text, in panel pixels.
    pub margin: u32,
    /// Status text font.
    pub font: &'static MonoFont<'static>,
    /// One status line (seed, shading, timing) instead of one line each.
    pub compact: bool,
}

impl Layout {
    /// Digits on screen.
    pub fn digit_count(&self) -> u32 {
        self.columns * self.rows
    }

    /// Size of the digit grid in panel pixels.
    pub fn grid_size(&self) -> Size {
        let side = firmware_core::OUT_SIDE as u32 * self.digit_scale;
        let extent = |n: u32| n * side + (n - 1) * self.spacing;
        Size::new(extent(self.columns), extent(self.rows))
    }

    /// Top-left corner of the digit grid: centred horizontally, at the bottom.
    pub fn grid_origin(&self) -> Point {
        let grid = self.grid_size();
        let x = (self.size.width - grid.width) / 2;
        let y = self.size.height - grid.height - self.margin;
        Point::new(x as i32, y as i32)
    }

    /// Top-left corner of status line `line`.
    pub fn text_origin(&self, line: u32) -> Point {
        // Two blank rows between lines keep descenders clear of the next line.
        let pitch = self.font.character_size.height + 2;
        let left = self.margin.max(1);
        Point::new(left as i32, (self.margin + line * pitch) as i32)
    }
}

/// A simulator display of the right colour type for its [`DisplayKind`].
#[derive(Debug)]
pub enum Panel {
    /// [`DisplayKind::Oled`].
    Oled(SimulatorDisplay<BinaryColor>),
    /// [`DisplayKind::Tft`].
    Tft(SimulatorDisplay<Rgb565>),
    /// [`DisplayKind::Gray`].
    Gray(SimulatorDisplay<Gray8>),
    /// [`DisplayKind::Ssd0323`].
    Ssd0323(SimulatorDisplay<Gray4>),
}

impl Panel {
    /// A blank panel of `kind`.
    pub fn new(kind: DisplayKind) -> Self {
        let size = kind.layout().size;
        match kind {
            DisplayKind::Oled => Self::Oled(SimulatorDisplay::new(size)),
            DisplayKind::Tft => Self::Tft(SimulatorDisplay::new(size)),
            DisplayKind::Gray => Self::Gray(SimulatorDisplay::new(size)),
            DisplayKind::Ssd0323 => Self::Ssd0323(SimulatorDisplay::new(size)),
        }
    }

    /// Which panel this is.
    pub fn kind(&self) -> DisplayKind {
        match self {
            Self::Oled(_) => DisplayKind::Oled,
            Self::Tft(_) => DisplayKind::Tft,
            Self::Gray(_) => DisplayKind::Gray,
            Self::Ssd0323(_) => DisplayKind::Ssd0323,
        }
    }

    /// Draws `frame` over the whole panel.
    pub fn draw(&mut self, frame: &Frame<'_>) {
        let layout = self.kind().layout();
        // Simulator displays cannot fail to draw (their error type is `Infallible`).
        let Ok(()) = match self {
            Self::Oled(d) => frame.draw(d, &layout),
            Self::Tft(d) => frame.draw(d, &layout),
            Self::Gray(d) => frame.draw(d, &layout),
            Self::Ssd0323(d) => frame.draw_ssd0323(d),
        };
    }

    /// The panel as the window shows it: scaled and themed per `settings`.
    pub fn to_rgb_image(&self, settings: &OutputSettings) -> OutputImage<Rgb888> {
        match self {
            Self::Oled(d) => d.to_rgb_output_image(settings),
            Self::Tft(d) => d.to_rgb_output_image(settings),
            Self::Gray(d) => d.to_rgb_output_image(settings),
            Self::Ssd0323(d) => d.to_rgb_output_image(settings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_fits_its_panel_below_the_status_text() {
        // The SSD0323 screen is laid out by oled-screen (rows without a gap), whose tests check it.
        for kind in DisplayKind::ALL
            .into_iter()
            .filter(|&k| k != DisplayKind::Ssd0323)
        {
            let layout = kind.layout();
            let grid = layout.grid_size();
            let origin = layout.grid_origin();
            assert!(grid.width <= layout.size.width, "{kind}");
            let lines = if layout.compact { 1 } else { 3 };
            let text_bottom =
                layout.text_origin(lines - 1).y + layout.font.character_size.height as i32;
            assert!(text_bottom <= origin.y, "{kind}: text overlaps digits");
            assert!(origin.x >= 0);
        }
        assert_eq!(DisplayKind::Oled.layout().grid_origin(), Point::new(5, 6));
    }

    #[test]
    fn output_settings_scale_and_theme() {
        let oled = DisplayKind::Oled.output_settings(None);
        assert_eq!((oled.scale, oled.pixel_spacing), (3, 1));
        assert_eq!(oled.theme, BinaryColorTheme::OledBlue);
        let one = DisplayKind::Oled.output_settings(Some(1));
        assert_eq!((one.scale, one.pixel_spacing), (1, 0));
        let tft = DisplayKind::Tft.output_settings(Some(4));
        assert_eq!((tft.scale, tft.pixel_spacing), (4, 0));
        assert_eq!(tft.theme, BinaryColorTheme::Default);
    }

    #[test]
    fn kinds_cycle_and_name_their_cli_value() {
        use clap::ValueEnum;
        for kind in DisplayKind::ALL {
            assert_eq!(DisplayKind::from_str(kind.name(), false), Ok(kind));
        }
        let mut kind = DisplayKind::Oled;
        for expected in DisplayKind::ALL.into_iter().cycle().skip(1).take(4) {
            kind = kind.next();
            assert_eq!(kind, expected);
        }
        assert_eq!(kind, DisplayKind::Oled);
    }
}
