//! # ssd0323
//!
//! A `no_std`, allocation-free driver for the Solomon Systech SSD0323 OLED controller driving a
//! 128 × 64 panel with 16 grey levels (OSRAM Pictiva 128 × 64, as on the Stellaris LM3S6965
//! evaluation board and QEMU's `lm3s6965evb`).
//!
//! * The bus is an `embedded-hal` 1.0 [`SpiDevice`] (chip select is the device's business) plus
//!   an [`OutputPin`] for D/C (low: command bytes, high: display RAM data).
//! * [`Ssd0323`] is an `embedded-graphics` [`DrawTarget`] of [`Gray4`]: drawing only changes a
//!   4 KiB frame buffer in RAM, clipped to the panel, and never fails or panics, whatever the
//!   positions and sizes.
//! * [`Ssd0323::flush`] sends only what changed since the last flush: one column-window and one
//!   row-window command around the changed bytes, then those bytes. Nothing when nothing changed.
//! * [`Ssd0323::init`] sends the panel's power-on sequence ([`command::INIT_SEQUENCE`]), the
//!   whole frame, then display on.
//!
//! ```
//! # use core::convert::Infallible;
//! # use embedded_hal::{digital, spi};
//! # struct Spi; struct Pin;
//! # impl spi::ErrorType for Spi { type Error = Infallible; }
//! # impl spi::SpiDevice for Spi {
//! #     fn transaction(&mut self, _: &mut [spi::Operation<'_, u8>]) -> Result<(), Infallible> { Ok(()) }
//! # }
//! # impl digital::ErrorType for Pin { type Error = Infallible; }
//! # impl digital::OutputPin for Pin {
//! #     fn set_low(&mut self) -> Result<(), Infallible> { Ok(()) }
//! #     fn set_high(&mut self) -> Result<(), Infallible> { Ok(()) }
//! # }
//! # let (spi, dc) = (Spi, Pin);
//! use embedded_graphics::{pixelcolor::Gray4, prelude::*, primitives::{PrimitiveStyle, Rectangle}};
//! use ssd0323::Ssd0323;
//!
//! let mut display = Ssd0323::new(spi, dc);
//! display.init()?;
//! // Drawing only touches RAM: it cannot fail.
//! let Ok(()) = Rectangle::new(Point::new(10, 10), Size::new(20, 8))
//!     .into_styled(PrimitiveStyle::with_fill(Gray4::new(9)))
//!     .draw(&mut display);
//! display.flush()?; // column bytes 5–14, rows 10–17: 80 bytes
//! # Ok::<(), ssd0323::Error<Infallible, Infallible>>(())
//! ```
//!
//! Not covered: the panel's reset line and its 12–15 V supply (board wiring), reading RAM
//! back, scrolling and the other commands the datasheet lists.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs, unsafe_code)]

pub mod command;
mod frame;

use core::convert::Infallible;
use embedded_graphics_core::{pixelcolor::Gray4, prelude::*, primitives::Rectangle};
use embedded_hal::{digital::OutputPin, spi::SpiDevice};

pub use frame::{FrameBuffer, Window, FRAME_BYTES, HEIGHT, ROW_BYTES, WIDTH};

/// A bus error: which side failed, with its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<SpiError, PinError> {
    /// The SPI device.
    Spi(SpiError),
    /// The D/C pin.
    Pin(PinError),
}

impl<S: core::fmt::Debug, P: core::fmt::Debug> core::fmt::Display for Error<S, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Spi(e) => write!(f, "SSD0323 SPI error: {e:?}"),
            Self::Pin(e) => write!(f, "SSD0323 D/C pin error: {e:?}"),
        }
    }
}

/// An SSD0323 with a 128 × 64 panel, and its frame buffer.
pub struct Ssd0323<SPI, DC> {
    spi: SPI,
    dc: DC,
    frame: FrameBuffer,
}

impl<SPI, DC> Ssd0323<SPI, DC> {
    /// Takes the bus; sends nothing yet (see [`init`](Self::init)). The frame buffer starts
    /// black and entirely dirty.
    pub const fn new(spi: SPI, dc: DC) -> Self {
        Self {
            spi,
            dc,
            frame: FrameBuffer::new(),
        }
    }

    /// The frame buffer as drawn so far (flushed or not).
    pub fn frame(&self) -> &FrameBuffer {
        &self.frame
    }

    /// Gives the bus back.
    pub fn release(self) -> (SPI, DC) {
        (self.spi, self.dc)
    }
}

impl<SPI: SpiDevice, DC: OutputPin> Ssd0323<SPI, DC> {
    /// Powers the panel up: [`command::INIT_SEQUENCE`], the whole frame buffer, then
    /// [`command::DISPLAY_ON`]. Call once after the panel's supply is stable.
    ///
    /// # Errors
    ///
    /// The first bus error; the frame stays dirty, so calling `init` again resends everything.
    pub fn init(&mut self) -> Result<(), Error<SPI::Error, DC::Error>> {
        self.commands(command::INIT_SEQUENCE)?;
        self.frame.mark_dirty(Window::FULL);
        self.flush()?;
        self.commands(&[command::DISPLAY_ON])
    }

    /// Sends the bytes changed since the last flush, in the smallest window around them;
    /// nothing if none changed.
    ///
    /// # Errors
    ///
    /// The first bus error; the window stays dirty, so the next flush sends it again.
    pub fn flush(&mut self) -> Result<(), Error<SPI::Error, DC::Error>> {
        let Some(window) = self.frame.take_dirty() else {
            return Ok(());
        };
        let sent = self.send_window(window);
        if sent.is_err() {
            self.frame.mark_dirty(window);
        }
        sent
    }

    fn send_window(&mut self, window: Window) -> Result<(), Error<SPI::Error, DC::Error>> {
        let Window { columns, rows } = window;
        self.commands(&[
            command::SET_COLUMN_ADDRESS,
            columns.0,
            columns.1,
            command::SET_ROW_ADDRESS,
            rows.0,
            rows.1,
        ])?;
        self.dc.set_high().map_err(Error::Pin)?;
        let bytes = self.frame.bytes();
        let first_row = usize::from(rows.0);
        let row_count = usize::from(rows.1 - rows.0) + 1;
        if window.columns == Window::FULL.columns {
            // Whole rows lie next to each other in the buffer: one write.
            let start = first_row * ROW_BYTES;
            let all = bytes
                .get(start..start + row_count * ROW_BYTES)
                .unwrap_or(&[]);
            return self.spi.write(all).map_err(Error::Spi);
        }
        let span = usize::from(columns.0)..=usize::from(columns.1);
        for row in bytes
            .chunks_exact(ROW_BYTES)
            .skip(first_row)
            .take(row_count)
        {
            // The controller keeps its address pointer between writes, so one write per row
            // continues the window where the last one stopped.
            self.spi
                .write(row.get(span.clone()).unwrap_or(&[]))
                .map_err(Error::Spi)?;
        }
        Ok(())
    }

    fn commands(&mut self, bytes: &[u8]) -> Result<(), Error<SPI::Error, DC::Error>> {
        self.dc.set_low().map_err(Error::Pin)?;
        self.spi.write(bytes).map_err(Error::Spi)
    }
}

impl<SPI, DC> OriginDimensions for Ssd0323<SPI, DC> {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl<SPI, DC> DrawTarget for Ssd0323<SPI, DC> {
    type Color = Gray4;
    /// Drawing only touches RAM; bus errors come from [`flush`](Ssd0323::flush).
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Gray4>>,
    {
        for Pixel(point, color) in pixels {
            self.frame.set(point, color);
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Gray4) -> Result<(), Infallible> {
        self.frame.fill(area, color);
        Ok(())
    }

    fn clear(&mut self, color: Gray4) -> Result<(), Infallible> {
        self.frame
            .fill(&Rectangle::new(Point::zero(), self.size()), color);
        Ok(())
    }
}
