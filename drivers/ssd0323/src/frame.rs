//! The RAM frame buffer in the controller's own layout, and the window that changed since the
//! last flush.

use embedded_graphics_core::{pixelcolor::Gray4, prelude::*, primitives::Rectangle};

/// Panel width in pixels.
pub const WIDTH: u32 = 128;
/// Panel height in pixels.
pub const HEIGHT: u32 = 64;
/// Bytes per row: two 4-bit pixels per byte, the left one in the high nibble.
pub const ROW_BYTES: usize = WIDTH as usize / 2;
/// Bytes of the whole frame.
pub const FRAME_BYTES: usize = ROW_BYTES * HEIGHT as usize;

/// An inclusive window of column bytes and rows: what the controller's column and row address
/// commands take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First and last column byte (0–63).
    pub columns: (u8, u8),
    /// First and last row (0–63).
    pub rows: (u8, u8),
}

impl Window {
    /// The whole panel.
    pub const FULL: Self = Self {
        columns: (0, ROW_BYTES as u8 - 1),
        rows: (0, HEIGHT as u8 - 1),
    };

    fn single(column: u8, row: u8) -> Self {
        Self {
            columns: (column, column),
            rows: (row, row),
        }
    }

    fn union(self, other: Self) -> Self {
        Self {
            columns: (
                self.columns.0.min(other.columns.0),
                self.columns.1.max(other.columns.1),
            ),
            rows: (self.rows.0.min(other.rows.0), self.rows.1.max(other.rows.1)),
        }
    }

    /// Bytes in the window.
    pub fn len(&self) -> usize {
        let columns = usize::from(self.columns.1 - self.columns.0) + 1;
        let rows = usize::from(self.rows.1 - self.rows.0) + 1;
        columns * rows
    }

    /// Never true: a window holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// 128 × 64 pixels at 4 bits, plus the bounding window of bytes changed since [`take_dirty`].
///
/// [`take_dirty`]: FrameBuffer::take_dirty
#[derive(Clone)]
pub struct FrameBuffer {
    bytes: [u8; FRAME_BYTES],
    dirty: Option<Window>,
}

impl FrameBuffer {
    /// All black, and all dirty: the controller's RAM is undefined after power-up.
    pub const fn new() -> Self {
        Self {
            bytes: [0; FRAME_BYTES],
            dirty: Some(Window::FULL),
        }
    }

    /// The raw bytes, row-major, [`ROW_BYTES`] per row.
    pub fn bytes(&self) -> &[u8; FRAME_BYTES] {
        &self.bytes
    }

    /// The pixel at `point`, `None` outside the panel.
    pub fn pixel(&self, point: Point) -> Option<Gray4> {
        let (index, high) = locate(point)?;
        let byte = *self.bytes.get(index)?;
        Some(Gray4::new(if high { byte >> 4 } else { byte & 0x0F }))
    }

    /// Sets one pixel; points outside the panel are ignored. Marks the byte dirty only if it
    /// changes.
    pub fn set(&mut self, point: Point, color: Gray4) {
        let Some((index, high)) = locate(point) else {
            return;
        };
        let Some(byte) = self.bytes.get_mut(index) else {
            return;
        };
        let luma = color.luma() & 0x0F;
        let updated = if high {
            (*byte & 0x0F) | (luma << 4)
        } else {
            (*byte & 0xF0) | luma
        };
        if updated != *byte {
            *byte = updated;
            // `locate` bounds x < 128 and y < 64, so both fit in a u8.
            let changed = Window::single((point.x / 2) as u8, point.y as u8);
            self.dirty = Some(self.dirty.map_or(changed, |d| d.union(changed)));
        }
    }

    /// Fills `area` clipped to the panel; any position and size (even past `i32` when added)
    /// is fine.
    pub fn fill(&mut self, area: &Rectangle, color: Gray4) {
        let Some((x0, x1)) = clip(area.top_left.x, area.size.width, WIDTH) else {
            return;
        };
        let Some((y0, y1)) = clip(area.top_left.y, area.size.height, HEIGHT) else {
            return;
        };
        for y in y0..=y1 {
            for x in x0..=x1 {
                self.set(Point::new(x, y), color);
            }
        }
    }

    /// The window changed since the last call, and forgets it.
    pub fn take_dirty(&mut self) -> Option<Window> {
        self.dirty.take()
    }

    /// Marks `window` as still to be sent (after a failed flush).
    pub fn mark_dirty(&mut self, window: Window) {
        self.dirty = Some(self.dirty.map_or(window, |d| d.union(window)));
    }

    /// The window that [`take_dirty`](Self::take_dirty) would return.
    pub fn dirty(&self) -> Option<Window> {
        self.dirty
    }
}

impl Default for FrameBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// Byte index and whether the pixel is the byte's high nibble; `None` outside the panel.
fn locate(point: Point) -> Option<(usize, bool)> {
    let x = usize::try_from(point.x).ok()?;
    let y = usize::try_from(point.y).ok()?;
    if x >= WIDTH as usize || y >= HEIGHT as usize {
        return None;
    }
    Some((y * ROW_BYTES + x / 2, x % 2 == 0))
}

/// The inclusive range of `start .. start + length` inside `0 .. limit`, computed in `i64` so no
/// position or length overflows.
fn clip(start: i32, length: u32, limit: u32) -> Option<(i32, i32)> {
    let first = i64::from(start).max(0);
    let last = (i64::from(start) + i64::from(length) - 1).min(i64::from(limit) - 1);
    if length == 0 || first > last {
        return None;
    }
    // Both lie in 0..limit, so they fit in i32.
    Some((first as i32, last as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_pixel_is_the_high_nibble() {
        let mut frame = FrameBuffer::new();
        frame.take_dirty();
        frame.set(Point::new(0, 0), Gray4::new(0xA));
        frame.set(Point::new(1, 0), Gray4::new(0x3));
        frame.set(Point::new(127, 63), Gray4::new(0xF));
        assert_eq!(frame.bytes()[0], 0xA3);
        assert_eq!(frame.bytes()[FRAME_BYTES - 1], 0x0F);
        assert_eq!(frame.pixel(Point::new(1, 0)), Some(Gray4::new(3)));
        assert_eq!(frame.pixel(Point::new(128, 0)), None);
        assert_eq!(frame.pixel(Point::new(0, -1)), None);
    }

    #[test]
    fn dirty_window_grows_only_for_changed_bytes() {
        let mut frame = FrameBuffer::new();
        assert_eq!(frame.take_dirty(), Some(Window::FULL));
        assert_eq!(frame.take_dirty(), None);
        frame.set(Point::new(10, 3), Gray4::BLACK);
        assert_eq!(frame.dirty(), None, "unchanged pixel");
        frame.set(Point::new(10, 3), Gray4::WHITE);
        frame.set(Point::new(3, 20), Gray4::new(7));
        let expected = Window {
            columns: (1, 5),
            rows: (3, 20),
        };
        assert_eq!(frame.take_dirty(), Some(expected));
        assert_eq!(expected.len(), 5 * 18);
    }

    #[test]
    fn clipping_never_overflows() {
        assert_eq!(clip(i32::MAX, u32::MAX, 128), None);
        assert_eq!(clip(i32::MIN, 1_000, 128), None);
        // From i32::MIN, u32::MAX pixels reach past 0: the whole width.
        assert_eq!(clip(i32::MIN, u32::MAX, 128), Some((0, 127)));
        assert_eq!(clip(-5, u32::MAX, 128), Some((0, 127)));
        assert_eq!(clip(-5, 6, 128), Some((0, 0)));
        assert_eq!(clip(-5, 5, 128), None);
        assert_eq!(clip(127, 0, 128), None);
        assert_eq!(clip(127, 9, 128), Some((127, 127)));
    }

    #[test]
    fn fill_covers_exactly_the_clipped_area() {
        let mut frame = FrameBuffer::new();
        frame.take_dirty();
        frame.fill(
            &Rectangle::new(Point::new(-3, 62), Size::new(6, 100)),
            Gray4::new(5),
        );
        for y in 0..64 {
            for x in 0..128 {
                let inside = x < 3 && y >= 62;
                let expected = if inside { 5 } else { 0 };
                assert_eq!(
                    frame.pixel(Point::new(x, y)),
                    Some(Gray4::new(expected)),
                    "({x}, {y})"
                );
            }
        }
        assert_eq!(
            frame.take_dirty(),
            Some(Window {
                columns: (0, 1),
                rows: (62, 63)
            })
        );
    }
}
